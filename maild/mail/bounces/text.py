"""A delivery report's text: its own words, the message it returns, and small text helpers. Pure.

A report is the mail system's words, then (often) a copy of the mail that bounced. Only the
report's own words (``report_region``) may decide that mail failed: wording that follows the
returned message is the sender's, not the mail system's. ``original_message_id`` finds the
Message-ID of the mail that bounced in the returned headers, the text or In-Reply-To.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from maild.mail.parse import ParsedMail, normalize_message_id

_IM = re.IGNORECASE | re.MULTILINE

# An address as mail systems write it in reports (RFC 5321 dot-atom local part).
ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
ADDR_RE = re.compile(ADDR)

# Where the returned message (or its headers) starts in a report's text.
ORIGINAL_START = re.compile(
    r"^[ \t-]*(?:-{2,}|={2,}|\*{2,})?\s*(?:original message|returned message|unsent message|"
    r"returned mail follows|this is a copy of the message|the header of the original message|"
    r"below this line is a copy|message headers follow|original message headers|"
    r"included is a copy of the message|your message reads|original message as received|"
    r"original message follows|the original message (?:headers?|is attached|follows)|"
    r"headers of the original message|here is a copy of the (?:first part of the )?message|"
    r"below is a copy of the original message)|"
    r"^content-type:[ \t]*(?:message/rfc822|text/rfc822-headers)|"
    r"^(?:Received|Return-Path|DKIM-Signature|Delivered-To|X-Received|ARC-Seal|Received-SPF|"
    r"Authentication-Results|X-Google-Smtp-Source|Return-path|X-Originating-IP)\s*:",
    _IM,
)

_MSGID_LINE = re.compile(r"^[>\s]*message-id:[ \t]*(?:\n[ \t]+)?(<[^<>\s]+>|\S+@\S+)", _IM)


def report_text(mail: ParsedMail) -> str:
    """The body text, plus text-like attachments a report sometimes hides its words in."""
    parts = [mail.text]
    for att in mail.attachments:
        if att.content_type in ("text/plain", "message/delivery-status", "message/global-delivery-status") or (
            att.content_type.startswith("text/") and att.content_type not in ("text/html", "text/rfc822-headers")
        ):
            parts.append(decode(att.content))
    text = "\n\n".join(p for p in parts if p and p.strip())
    return text.replace("\r\n", "\n").replace("\r", "\n")


def report_region(body: str) -> str:
    """The report's own words: the text before the returned message starts (or, when no
    start is recognised, the first 200 lines)."""
    found = ORIGINAL_START.search(body)
    if found is not None and found.start() > 0:
        return body[: found.start()][:20000]
    return "\n".join(body.split("\n")[:200])[:20000]


def returned_head(data: bytes) -> str:
    """The header section of a returned message (or of returned headers), unfolded."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").lstrip(b"\n")
    return re.sub(r"\n[ \t]+", " ", decode(data.split(b"\n\n", 1)[0]))


def original_message_id(mail: ParsedMail, body: str) -> str | None:
    """The normalised Message-ID of the mail that bounced: from the returned headers, the
    report's text, or (last) the report's In-Reply-To / References."""
    for att in mail.attachments:
        if att.content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                                "message/global", "message/global-headers"):
            mid = _msgid_in(returned_head(att.content))
            if mid:
                return mid
    mid = _msgid_in(body)
    if mid:
        return mid
    for value in (*mail.in_reply_to, *mail.references[-1:]):
        if value:
            return value
    return None


def _msgid_in(text: str) -> str | None:
    found = _MSGID_LINE.search(text)
    return normalize_message_id(found.group(1)) if found else None


def decode(data: bytes) -> str:
    """Bytes of a report part as text: UTF-8, else Latin-1 (which never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, whitespace collapsed, an unmatched closing parenthesis dropped,
    cut to ``limit`` characters."""
    text = " ".join(text.split())
    if text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def unique(items: Iterable[str | None]) -> tuple[str, ...]:
    """Addresses trimmed and lowercased, in order, without repeats or blanks."""
    out: list[str] = []
    for item in items:
        item = (item or "").strip().strip(".").lower()
        if item and item not in out:
            out.append(item)
    return tuple(out)
