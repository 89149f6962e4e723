"""Raw message bytes to a ``ParsedMail`` value. Never raises.

The standard library parser with the ``compat32`` policy does the MIME structure: it accepts
everything, never raises on access, and is about three times faster than ``policy.default``
(measured in ../shared/TEST-SERVERS.md). Header and body text are decoded here with tolerant
rules (``charsets``), because mail-parser and ``policy.default`` both fail or guess silently on
the broken mail a public helpdesk address receives. Whatever looked wrong is listed in
``defects`` so it can be shown and counted.

This module reads the header section (addresses, dates, Message-IDs) and builds the value;
``mime`` walks the parts for the body text, HTML and attachments.

Addresses are read from the RAW header values by ``addresses`` (encoded words are never
addresses). The sender is the one addr-spec of From (else of Sender, else Return-Path). A From
naming several addresses proves nothing and is none of them: ``sender`` is ``None``, the defect
``SeveralFromAddresses`` says why, and Sender/Return-Path are NOT consulted (they would let the
same mail claim whichever address suits it). Such a message is still recorded and becomes a
ticket, with no sender identity: nothing matches it to staff or to a ticket's parties, and its
acknowledgement goes nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.feedparser import BytesFeedParser
from email.message import Message
from email.utils import parsedate_to_datetime

from maild.mail.addresses import SEVERAL_FROM, header_fields, mailboxes, raw_text, single_sender
from maild.mail.charsets import decode_bytes, header_text
from maild.mail.mime import Attachment, read_content


@dataclass(frozen=True)
class Address:
    """One mailbox: a lowercased address and the display name as written."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class ParsedMail:
    """What the rest of maild needs to know about one message."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    return_path: str | None
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    content_type: str
    size: int
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header (decoded), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every value of a header (decoded)."""
        lname = name.lower()
        return [value for key, value in self.headers if key == lname]


_CHUNK = 64 * 1024
_MSGID = re.compile(r"<([^<>\s]+)>")


def normalize_message_id(value: str | None) -> str | None:
    """Canonical form of a Message-ID: no brackets or spaces, domain part lowercased."""
    if not value:
        return None
    found = _MSGID.search(value)
    mid = found.group(1) if found else value.strip().strip("<>").strip()
    mid = "".join(mid.split())
    if not mid or len(mid) > 900:
        return None
    local, at, domain = mid.rpartition("@")
    return f"{local}@{domain.lower()}" if at else mid


def message_id_list(value: str | None) -> tuple[str, ...]:
    """All Message-IDs in an In-Reply-To or References header, in order, without repeats."""
    if not value:
        return ()
    found = _MSGID.findall(value) or value.split()
    out: list[str] = []
    for item in found:
        mid = normalize_message_id(item)
        if mid and mid not in out:
            out.append(mid)
    return tuple(out)


def parse(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes. Bare LF, missing headers and broken MIME are all accepted.

    Never raises: should a part of the standard library's parser fail on some input nobody
    has seen yet, the message is still returned, with its headers if they could be read, the
    raw text as its body, and the failure listed in ``defects``. The raw bytes are kept by
    the caller in every case."""
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001 - the promise above; the fuzz test holds us to it
        return _fallback(raw, exc)


def _fallback(raw: bytes, exc: Exception) -> ParsedMail:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = _plain_headers(head)
    get = dict(reversed(headers)).get
    defects: list[str] = [f"ParseError:{type(exc).__name__}"]
    fields = {name: header_fields(head, name) for name in ("from", "sender", "to", "cc")}
    return ParsedMail(
        message_id=normalize_message_id(get("message-id")), in_reply_to=message_id_list(get("in-reply-to")),
        references=message_id_list(get("references")), sender=_sender(fields, defects),
        to=_addresses(fields, "to"), cc=_addresses(fields, "cc"), reply_to=(), return_path=None,
        subject=get("subject") or "", date=None, text=decode_bytes(body)[0], html=None, attachments=(),
        headers=headers, content_type="text/plain", size=len(raw), defects=tuple(defects),
    )


def _plain_headers(head: bytes) -> tuple[tuple[str, str], ...]:
    """The header block read line by line, without the email package: when its parser fails
    on a header, the others (From, Subject with our token) must still be known."""
    fields: list[list[bytes]] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b" " + line.strip()
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append([name.strip(), value.strip()])
    out: list[tuple[str, str]] = []
    for name, value in fields:
        try:
            out.append((name.decode("ascii", "replace").lower(), header_text(value)))
        except Exception:  # noqa: BLE001 - one bad header must not cost the others
            out.append((name.decode("ascii", "replace").lower(), value.decode("latin-1")))
    return tuple(out)


def _parse(raw: bytes) -> ParsedMail:
    defects: list[str] = []
    msg = _message(raw)
    items = list(msg.raw_items())
    headers = tuple((name.lower(), header_text(value)) for name, value in items)
    get = dict(reversed(headers)).get  # first occurrence wins
    fields: dict[str, list[str]] = {}
    for name, value in items:
        # Addresses come from the raw values: RFC 2047 forbids encoded words in an addr-spec.
        fields.setdefault(name.lower(), []).append(raw_text(value) if isinstance(value, str) else str(value))
    for d in msg.defects:
        defects.append(type(d).__name__)

    sender = _sender(fields, defects)
    if "message-id" not in dict(headers):
        defects.append("MissingMessageId")
    date = _parse_date(get("date"), defects)

    content = read_content(msg, defects)

    return ParsedMail(
        message_id=normalize_message_id(get("message-id")),
        in_reply_to=message_id_list(get("in-reply-to")),
        references=message_id_list(get("references")),
        sender=sender,
        to=_addresses(fields, "to"),
        cc=_addresses(fields, "cc"),
        reply_to=_addresses(fields, "reply-to"),
        return_path=_return_path(get("return-path")),
        subject=get("subject") or "",
        date=date,
        text=content.text,
        html=content.html,
        attachments=content.attachments,
        headers=headers,
        content_type=msg.get_content_type(),
        size=len(raw),
        defects=tuple(defects),
    )


def _sender(fields: dict[str, list[str]], defects: list[str]) -> Address | None:
    """The one mailbox of From, else of Sender, else the Return-Path; None when From names
    several addresses (see the module docstring) or nothing usable is found."""
    for where in ("from", "sender", "return-path"):
        values = fields.get(where)
        if not values:
            continue
        box, defect = single_sender(values)
        if box is not None:
            return Address(box.address, box.name)
        defects.append(SEVERAL_FROM if defect == SEVERAL_FROM and where == "from" else f"{defect}:{where}")
        if where == "from" and defect == SEVERAL_FROM:
            return None  # proves nothing: no fallback that would pick one of them
    return None


def _addresses(fields: dict[str, list[str]], name: str) -> tuple[Address, ...]:
    return tuple(Address(box.address, box.name) for box in mailboxes(fields.get(name, [])))


def _message(raw: bytes) -> Message:
    """The standard library's parse of ``raw``, fed in chunks. ``BytesParser.parsebytes``
    decodes the whole message to one string and reads it through a StringIO, which holds four
    bytes a character: a 24 MB message peaked at 200 MB. Fed by pieces, the parser (the same
    one) holds about its lines."""
    parser = BytesFeedParser(policy=policy.compat32)
    for start in range(0, len(raw), _CHUNK):
        parser.feed(raw[start:start + _CHUNK])
    return parser.close()


def _return_path(value: str | None) -> str | None:
    """None when there is no Return-Path; '' for the null sender ``<>``."""
    if value is None:
        return None
    found = re.search(r"<([^<>]*)>", value)
    return (found.group(1) if found else value).strip().lower()


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        defects.append("MissingDate")
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("BadDate")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
