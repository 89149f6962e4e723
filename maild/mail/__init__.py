"""Facts from bytes: parsing, charsets, quotes, bounces, screening, tokens. Pure: no I/O."""
