"""Raw message bytes to a ``ParsedMail`` value. Never raises.

The standard library parser with the ``compat32`` policy does the MIME structure: it accepts
everything, never raises on access, and is about three times faster than ``policy.default``
(measured in ../shared/TEST-SERVERS.md). Header and body text are decoded here with tolerant
rules (``charsets``), because mail-parser and ``policy.default`` both fail or guess silently on
the broken mail a public helpdesk address receives. Whatever looked wrong is listed in
``defects`` so it can be shown and counted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

import html2text
import puremagic

from maild.mail.charsets import decode_bytes, header_text


@dataclass(frozen=True)
class Address:
    """One mailbox: a lowercased address and the display name as written."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    """One attachment (or inline part that is not the body text)."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)
    content_id: str = ""
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


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


_PARSER = BytesParser(policy=policy.compat32)
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
    return ParsedMail(
        message_id=normalize_message_id(get("message-id")), in_reply_to=message_id_list(get("in-reply-to")),
        references=message_id_list(get("references")), sender=_first_address(get("from"), defects, "from"),
        to=_addresses(headers, "to"), cc=_addresses(headers, "cc"), reply_to=(), return_path=None,
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
    msg = _PARSER.parsebytes(raw)
    headers = tuple((name.lower(), header_text(value)) for name, value in msg.raw_items())
    get = dict(reversed(headers)).get  # first occurrence wins
    for d in msg.defects:
        defects.append(type(d).__name__)

    sender = _first_address(get("from"), defects, "from")
    if sender is None:
        sender = _first_address(get("sender"), defects, "sender") or _first_address(
            get("return-path"), defects, "return-path"
        )
    if "message-id" not in dict(headers):
        defects.append("MissingMessageId")
    date = _parse_date(get("date"), defects)

    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    _walk(msg, text_parts, html_parts, attachments, defects)
    html = "\n".join(html_parts) if html_parts else None
    text = "\n\n".join(t for t in text_parts if t.strip())
    if not text and html:
        text = html_to_text(html)

    return ParsedMail(
        message_id=normalize_message_id(get("message-id")),
        in_reply_to=message_id_list(get("in-reply-to")),
        references=message_id_list(get("references")),
        sender=sender,
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        reply_to=_addresses(headers, "reply-to"),
        return_path=_return_path(get("return-path")),
        subject=get("subject") or "",
        date=date,
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers=headers,
        content_type=msg.get_content_type(),
        size=len(raw),
        defects=tuple(defects),
    )


def _first_address(value: str | None, defects: list[str], where: str) -> Address | None:
    if not value:
        return None
    for name, addr in getaddresses([value]):
        addr = addr.strip().lower()
        if "@" in addr and " " not in addr:
            return Address(addr, name.strip())
    defects.append(f"BadAddress:{where}")
    return None


def _addresses(headers: tuple[tuple[str, str], ...], name: str) -> tuple[Address, ...]:
    values = [v for k, v in headers if k == name]
    out: list[Address] = []
    seen: set[str] = set()
    for disp, addr in getaddresses(values):
        addr = addr.strip().lower()
        if "@" in addr and addr not in seen:
            seen.add(addr)
            out.append(Address(addr, disp.strip()))
    return tuple(out)


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


def _walk(
    part: Message,
    text_parts: list[str],
    html_parts: list[str],
    attachments: list[Attachment],
    defects: list[str],
) -> None:
    ctype = part.get_content_type()
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        # compat32 parses these into header blocks; keep them whole, as the report they are.
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        content = b"\n".join(b.as_bytes(policy=policy.compat32) for b in blocks) if blocks else (
            payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b"")
        attachments.append(Attachment("delivery-status.txt", ctype, content))
        return
    if part.is_multipart() and ctype != "message/rfc822":
        payload = part.get_payload()
        children = payload if isinstance(payload, list) else []
        if ctype == "multipart/alternative":
            _alternative(children, text_parts, html_parts, attachments, defects)
            return
        for child in children:
            _walk(child, text_parts, html_parts, attachments, defects)
        return
    disposition = _part_header(part, "content-disposition").split(";", 1)[0].strip().lower()
    filename = _filename(part)
    is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
    if ctype == "message/rfc822" or not is_body:
        attachments.append(_attachment(part, ctype, filename, disposition, defects))
        return
    text = _part_text(part, defects)
    if ctype == "text/html":
        html_parts.append(text)
    else:
        text_parts.append(text)


def _part_header(part: Message, name: str) -> str:
    """A MIME part's header as text; raw 8-bit values (which compat32 hands out as Header
    objects) are decoded like any other header."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return header_text(value)
    return ""


def _alternative(
    children: list[Message],
    text_parts: list[str],
    html_parts: list[str],
    attachments: list[Attachment],
    defects: list[str],
) -> None:
    """Take the plain text of an alternative, and keep the HTML for display."""
    plain = [c for c in children if c.get_content_type() == "text/plain"]
    html = [c for c in children if c.get_content_type() == "text/html"]
    rest = [c for c in children if c not in plain and c not in html]
    if plain:
        text_parts.append(_part_text(plain[0], defects))
    if html:
        html_parts.append(_part_text(html[0], defects))
    for child in rest:
        # A related/mixed part inside an alternative (HTML with inline images) still counts;
        # its plain text is only the body when the alternative had no text/plain of its own.
        sub_text: list[str] = []
        _walk(child, sub_text, html_parts, attachments, defects)
        if not plain:
            text_parts.extend(sub_text)


def _part_text(part: Message, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding must not lose the message
        defects.append("BadTransferEncoding")
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    declared = part.get_param("charset")
    text, how = decode_bytes(data, declared if isinstance(declared, str) else None)
    if "+replace" in how or how.startswith("detected:"):
        defects.append(f"Charset:{declared or 'none'}->{how}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        name = None
    if isinstance(name, str) and name:
        return header_text(name)
    return ""


def _attachment(
    part: Message, ctype: str, filename: str, disposition: str, defects: list[str]
) -> Attachment:
    if ctype == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        content = _message_bytes(inner, defects) if isinstance(inner, Message) else b""
        filename = filename or "forwarded-message.eml"
    else:
        try:
            content = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001
            defects.append("BadTransferEncoding")
            content = b""
    cid = _part_header(part, "content-id").strip().strip("<>")
    detected = sniff_type(content) if ctype != "message/rfc822" else None
    if detected and _content_wins(ctype, detected):
        # The content decides, not the sender's label: an executable named "penawaran.pdf"
        # is recorded as what it is.
        defects.append(f"ContentType:{ctype}->{detected}")
        ctype = detected
    return Attachment(
        filename=safe_filename(filename or _default_name(ctype)),
        content_type=ctype,
        content=content,
        content_id=cid,
        inline=disposition == "inline" or (bool(cid) and disposition != "attachment"),
    )


# Labels that say nothing about the content, and labels a sniffer cannot confirm (text).
_VAGUE = {"application/octet-stream", "application/x-download", "application/force-download", "binary/octet-stream"}


_EXECUTABLE = ("executable", "msdownload", "x-elf", "x-mach", "x-sh", "x-dosexec", "java-archive")


def _content_wins(declared: str, detected: str) -> bool:
    """Replace a label that says nothing, names another kind of thing, or hides a program;
    keep a more precise one of the same kind (a .docx declared as such, sniffed as zip)."""
    if detected == declared:
        return False
    if declared in _VAGUE or declared.split("/")[0] != detected.split("/")[0]:
        return True
    return any(word in detected for word in _EXECUTABLE)


def sniff_type(content: bytes) -> str | None:
    """The MIME type the content's own signature shows (puremagic), or None when unknown.

    Text formats have no signature; they are left as declared."""
    if len(content) < 4:
        return None
    try:
        found = puremagic.from_string(content[:8192], mime=True)
    except (puremagic.PureError, ValueError):
        return None
    return found or None


def _message_bytes(inner: Message, defects: list[str]) -> bytes:
    """A forwarded message as bytes; the generator chokes on some broken ones (fuzz-found)."""
    try:
        return inner.as_bytes(policy=policy.compat32)
    except Exception:  # noqa: BLE001 - Unicode, header and value errors all seen (fuzz-found)
        defects.append("BrokenForwardedMessage")
        try:
            return inner.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
        except Exception:  # noqa: BLE001 - keep the rest of the mail
            return b""


def _default_name(ctype: str) -> str:
    ext = {"text/plain": "txt", "text/html": "html", "text/calendar": "ics", "image/png": "png",
           "image/jpeg": "jpg", "application/pdf": "pdf"}.get(ctype, "bin")
    return f"attachment.{ext}"


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_filename(name: str, limit: int = 120) -> str:
    """A filename that is safe on any disk: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name)
    # Every control or format character (C0, C1, bidi overrides that disguise ".exe"): gone.
    name = "".join("_" if unicodedata.category(ch).startswith("C") else ch for ch in name).strip(" .")
    if not name:
        name = "attachment"
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: limit - len(ext) - 1] + ("." + ext if ext else "")
    return name


def html_to_text(html: str) -> str:
    """Readable text from HTML, links kept as text, images dropped (nothing is fetched)."""
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.protect_links = True
    converter.inline_links = True
    try:
        return converter.handle(html).strip()
    except Exception:  # noqa: BLE001 - html2text on pathological markup
        return re.sub(r"<[^>]+>", " ", html).strip()
