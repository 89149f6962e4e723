"""Turning bytes of unknown or mis-declared encoding into text, never failing.

Order: the declared charset (through the aliases that mail in the wild needs), then strict
UTF-8, then charset-normalizer's detection, then windows-1252 with replacement characters.
Pure functions; part of the core.
"""

from __future__ import annotations

import binascii
import codecs
import re

import charset_normalizer

# Declared charsets that lie in practice: decode with the superset mail clients really used.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
_UNKNOWN = {"", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "x-user-defined"}


def codec_for(declared: str | None) -> str | None:
    """Return a Python codec name for a declared charset, or None when it names nothing usable."""
    if not declared:
        return None
    name = declared.strip().strip('"').lower().split("*", 1)[0]
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the name (fuzz-found)
        return None


def decode_bytes(data: bytes, declared: str | None = None, ascii_safe: bool = False) -> tuple[str, str]:
    """Decode ``data`` and return ``(text, how)``; ``how`` names the codec that worked.

    ``ascii_safe`` (headers): never guess an encoding in which ASCII bytes mean something
    else (UTF-16/32), so a ticket token beside 8-bit junk in a Subject survives (fuzz-found)."""
    codec = codec_for(declared)
    if codec:
        try:
            return data.decode(codec), codec
        except (UnicodeError, LookupError, ValueError, TypeError):
            # Not only bad bytes: some codec names are not text encodings at all
            # ("idna", "undefined"); the fuzz test found both.
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Detection needs some text to go on; on a few bytes it guesses wildly, and windows-1252
    # (what most unlabelled Western mail really is) is the better bet.
    best = charset_normalizer.from_bytes(data).best() if len(data) >= 40 else None
    if best is not None and best.encoding and not (ascii_safe and best.encoding.startswith(("utf_16", "utf_32"))):
        try:
            return data.decode(best.encoding), f"detected:{best.encoding}"
        except (UnicodeError, LookupError, ValueError, TypeError):
            pass
    # A declared UTF-8 that failed is usually windows-1252 mislabelled; any other declared
    # charset is kept, with its few bad bytes replaced.
    fallback = codec if codec and codec != "utf-8" else "cp1252"
    try:
        return data.decode(fallback, errors="replace"), f"{fallback}+replace"
    except (UnicodeError, LookupError, ValueError, TypeError):
        return data.decode("cp1252", errors="replace"), "cp1252+replace"


# The payload may hold spaces: broken mailers write them unencoded (seen in Zammad's corpus).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")


def decode_encoded_words(value: str) -> str:
    """Decode RFC 2047 encoded words, tolerating bad padding, bad bytes and unknown charsets."""
    if "=?" not in value:
        return value
    # Whitespace between two adjacent encoded words is not part of the text (RFC 2047 6.2).
    value = _BETWEEN_WORDS.sub(r"\1\2", value)

    def one(match: re.Match[str]) -> str:
        charset, enc, payload = match.group(1), match.group(2).lower(), match.group(3)
        try:
            if enc == "b":
                payload = payload + "=" * (-len(payload) % 4)
                raw = binascii.a2b_base64(payload.encode("ascii", "replace"))
            else:
                raw = binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
        except (binascii.Error, ValueError):
            return match.group(0)
        return decode_bytes(raw, charset)[0]

    return _ENCODED_WORD.sub(one, value)


def header_text(raw: str | bytes) -> str:
    """Turn a raw header value (possibly unencoded 8-bit) into clean, unfolded text."""
    if isinstance(raw, bytes):
        raw = decode_bytes(raw, ascii_safe=True)[0]
    elif any("\udc80" <= ch <= "\udcff" for ch in raw):
        raw = decode_bytes(raw.encode("utf-8", "surrogateescape"), ascii_safe=True)[0]
    # Unfold first: an encoded word folded over several lines is still one word.
    text = decode_encoded_words(re.sub(r"\r?\n[ \t]*", " ", raw))
    return "".join(ch if ch >= " " or ch == "\t" else " " for ch in text).strip()
