"""Delivery failure reports (bounces): recognise them and say which addresses failed. Pure.

The entry is ``maild.mail.bounces.report``: ``parse_bounce(mail)`` returns a ``Bounce`` or None.
The other modules are its parts: ``dsn`` (RFC 3464 fields), ``recognise`` (is it a report, a
delay or a hard failure), ``recipients`` (who failed, status and diagnostic from the text),
``systems`` (which mail system wrote it) and ``text`` (the report's own words, the returned
message and its Message-ID).
"""
