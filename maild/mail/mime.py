"""MIME walking: the body text, the HTML and the attachments of a message. Pure.

``read_content`` walks the part tree the standard library parsed: the first text/plain of an
alternative is the body text (the HTML is kept for display and, when there is no plain text,
turned into text), everything else is an ``Attachment``. An attachment's type is what its
content shows (``sniff_type``) when the sender's label says nothing or lies; its filename is
made safe for any disk (``safe_filename``). Whatever looked wrong is appended to ``defects``.
"""

from __future__ import annotations

import binascii

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import Message

import html2text
import puremagic

from maild.mail import tnef
from maild.mail.charsets import decode_bytes, header_text

__all__ = ["Attachment", "Content", "forwardable_type", "html_to_text", "read_content", "safe_filename", "sniff_type"]


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
class Content:
    """A message's readable content: body text, HTML (if any) and attachments."""

    text: str
    html: str | None
    attachments: tuple[Attachment, ...]


def read_content(msg: Message, defects: list[str]) -> Content:
    """The body text, HTML and attachments of a parsed message; problems go to ``defects``."""
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[Attachment] = []
    _walk(msg, text_parts, html_parts, attachments, defects)
    html = "\n".join(html_parts) if html_parts else None
    text = "\n\n".join(t for t in text_parts if t.strip())
    if not text and html:
        text = html_to_text(html)
    return Content(text, html, tuple(attachments))


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
        attachment = _attachment(part, ctype, filename, disposition, defects)
        attachments.append(attachment)
        if tnef.is_tnef(ctype, filename):
            # The files Outlook wrapped, beside the winmail.dat itself (kept as received).
            for inner in tnef.unpack(attachment.content, defects):
                content_type = sniff_type(inner.content) or mimetypes.guess_type(inner.filename)[0] or "application/octet-stream"
                attachments.append(Attachment(safe_filename(inner.filename), content_type, inner.content))
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


_LARGE = 1024 * 1024


def _large_base64(part: Message) -> bytes | None:
    """A large base64 body decoded in one pass, or None to let the library do it.

    ``get_payload(decode=True)`` splits the text into a bytes object per line before joining
    and decoding it: a 24 MB attachment cost 140 MB at its peak. ``a2b_base64`` skips the line
    breaks itself. Only for well-formed input; anything it refuses goes the library's way."""
    payload = part.get_payload()
    if not isinstance(payload, str) or len(payload) < _LARGE:
        return None
    if str(part.get("content-transfer-encoding", "")).strip().lower() != "base64":
        return None
    try:
        return binascii.a2b_base64(payload.encode("ascii"), strict_mode=False)
    except (binascii.Error, UnicodeEncodeError):
        return None


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
            content = _large_base64(part) or part.get_payload(decode=True) or b""
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


# RFC 6838 restricted-name, both halves: nothing else may stand in a Content-Type we write.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def forwardable_type(content_type: str) -> str:
    """The type to label a stored attachment with when maild sends it on: the declared (or
    sniffed) type when it is a well-formed ``type/subtype``, else application/octet-stream.

    ``message/*`` and ``multipart/*`` go out as application/octet-stream too: a forwarded
    message shown inline by the mail client would put a stranger's From and Subject (which may
    name the helpdesk or the coordinator) inside our own mail, and RFC 2046 forbids the base64
    our attachments are sent in for those types. As a file it is opened deliberately."""
    ctype = content_type.strip().lower()
    if not _MEDIA_TYPE.fullmatch(ctype) or ctype.split("/", 1)[0] in ("message", "multipart"):
        return "application/octet-stream"
    return ctype


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
