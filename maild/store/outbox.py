"""Queueing outgoing mail inside the transaction that caused it.

The mail is rendered to its final bytes here, so the sender only moves bytes and a resend is
byte-for-byte the same mail with the same Message-ID. The row's key,
``{cause}/{template}/{recipient}``, is UNIQUE: queueing the same mail twice is a no-op.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from maild.mail.bounds import clean_line
from maild.mail.mime import forwardable_type, safe_filename
from maild.store.models import OutgoingMail
from maild.render.renderer import Rendered
from maild.store.queries import insert_ignore
from maild.mail.tokens import day_number, mint_message_id
from maild.sop.vocabulary import MailState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who our mail comes from, and the secret that signs its Message-IDs."""

    name: str
    address: str
    mid_domain: str
    hmac_key: bytes = field(repr=False)
    timezone: str = "Asia/Makassar"
    # The mailbox whose helpdesk this is (the outbox files its mail under it).
    mailbox: str = "default"


@dataclass(frozen=True)
class OutgoingFile:
    """A file sent with a mail (a reporter's attachment passed on to staff)."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Outgoing:
    """One mail to queue."""

    cause: str
    template: str
    recipient: str
    recipient_name: str
    ticket_id: int | None
    ticket_number: str
    rendered: Rendered
    language: str
    automatic: bool = True
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # Images the HTML part shows by ``cid:NAME`` (e.g. the digest's chart): (name, PNG, JPEG or GIF bytes).
    images: tuple[tuple[str, bytes], ...] = ()
    # Files attached after the text and HTML (multipart/mixed); labelled and named safely here.
    attachments: tuple[OutgoingFile, ...] = ()

    @property
    def key(self) -> str:
        return outgoing_key(self.cause, self.template, self.recipient)


def outgoing_key(cause: str, template: str, recipient: str) -> str:
    """``{cause}/{template}/{recipient}``: one per cause, kind of mail and recipient. A cause
    too long for the column (outbox.key is VARCHAR(400); a Message-ID may be 900 characters) is
    replaced by its digest, so two mails never share a key by truncation."""
    key = f"{cause}/{template}/{recipient}"
    if len(key) <= 400:
        return key
    return f"sha256:{hashlib.sha256(cause.encode()).hexdigest()}/{template}/{recipient}"[:400]


def build_message(identity: Identity, mail: Outgoing, message_id: str, now: datetime) -> bytes:
    """The complete RFC 5322 message: text plus an HTML alternative, threading headers set,
    and the files of ``mail.attachments`` after them (multipart/mixed) when there are any.

    Written out directly rather than through ``email.generator``: every header is ours and
    ASCII (encoded words made here), and the generator's per-header folding machinery cost
    more than the rest of the pipeline's work on a message (profiled). The boundary comes
    from the Message-ID, so a resend is the same bytes.

    Whatever the input, every header is one field (no CR or LF of a name or subject survives),
    ASCII, and folded into lines of at most 998 octets; a Message-ID that is not valid msg-id
    syntax is left out of In-Reply-To and References. Raises ValueError for a recipient that
    is not a ``usable_address`` (``enqueue`` checks first).
    """
    if not usable_address(mail.recipient):
        raise ValueError(f"not an address to write to: {mail.recipient!r}")
    headers = [
        ("From", _address(identity.name, identity.address)),
        ("To", _address(mail.recipient_name, mail.recipient)),
        ("Subject", _encode(clean_line(mail.rendered.subject, SUBJECT_HEADER_CHARS, strip=False))),
        ("Date", format_datetime(now.astimezone(ZoneInfo(identity.timezone)))),
        ("Message-ID", f"<{message_id}>"),
    ]
    in_reply_to = mail.in_reply_to if mail.in_reply_to and valid_msg_id(mail.in_reply_to) else None
    if in_reply_to:
        headers.append(("In-Reply-To", f"<{in_reply_to}>"))
    refs = [r for r in (*mail.references, *([in_reply_to] if in_reply_to else [])) if valid_msg_id(r)]
    if refs:
        headers.append(("References", " ".join(f"<{r}>" for r in dict.fromkeys(refs))))
    if mail.automatic:
        # RFC 3834: tells other robots not to answer us; Exchange honours the second header.
        headers += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
    boundary = "=_maild_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    alternative = f'multipart/alternative; boundary="{boundary}"'
    mixed = boundary + "_m"
    headers += [
        ("X-Maild-Loop", identity.address),
        ("Content-Language", mail.language),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{mixed}"' if mail.attachments else alternative),
    ]
    out = [_fold(name, value) for name, value in headers]
    if mail.attachments:
        out += ["", f"--{mixed}", f"Content-Type: {alternative}"]
    out += ["", f"--{boundary}", *_text_part("plain", mail.rendered.text), f"--{boundary}"]
    if mail.images:
        related = boundary + "_r"
        out += [f'Content-Type: multipart/related; boundary="{related}"; type="text/html"', "",
                f"--{related}", *_text_part("html", mail.rendered.html)]
        for name, data in mail.images:
            subtype = _image_subtype(data)
            out += [f"--{related}", f"Content-Type: image/{subtype}", "Content-Transfer-Encoding: base64",
                    f"Content-ID: <{name}>", f'Content-Disposition: inline; filename="{name}.{subtype}"', "",
                    _base64_bytes(data)]
        out += [f"--{related}--"]
    else:
        out += _text_part("html", mail.rendered.html)
    out += [f"--{boundary}--"]
    if mail.attachments:
        for file in mail.attachments:
            out += [f"--{mixed}", *_file_part(file)]
        out += [f"--{mixed}--"]
    out += [""]
    return "\r\n".join(out).encode("ascii")


SUBJECT_HEADER_CHARS = 600  # the ticket's subject (at most 500, mail.bounds) and our prefix
_NAME_CHARS = 200
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
# RFC 5322 msg-id (id-left "@" id-right), dots allowed anywhere as obs-id-left does; ASCII only.
_MSG_ID = re.compile(rf"{_ATEXT}(?:{_ATEXT}|\.)*@{_ATEXT}(?:{_ATEXT}|\.)*")
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# A word longer than this cannot be folded onto a line of its own under 78 characters.
_LONGEST_WORD = 70


def valid_msg_id(value: str) -> bool:
    """True when ``value`` (without brackets) can stand in In-Reply-To/References as sent."""
    return len(value) <= 900 and _MSG_ID.fullmatch(value) is not None


def _text_part(subtype: str, body: str) -> list[str]:
    return [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: base64", "",
            _base64(body)]


def _image_subtype(data: bytes) -> str:
    """``png``, ``jpeg`` or ``gif`` by the image's first bytes (the charts are PNG; a configured
    logo may be JPEG)."""
    return "jpeg" if data.startswith(b"\xff\xd8") else "gif" if data.startswith(b"GIF8") else "png"


def _file_part(file: OutgoingFile) -> list[str]:
    """An attachment's MIME part: a type that is well-formed (else application/octet-stream)
    and a filename that is one safe line, whatever the reporter's mail called it."""
    return [f"Content-Type: {forwardable_type(file.content_type)}", "Content-Transfer-Encoding: base64",
            *_disposition(safe_filename(file.filename)), "", _base64_bytes(file.content)]


# Printable ASCII without the characters a quoted-string would have to escape.
_PLAIN_NAME = re.compile(r'[ !#-\[\]-~]{1,60}')


def _disposition(name: str) -> list[str]:
    """``Content-Disposition: attachment`` with the filename: a quoted string when it is short
    printable ASCII, else RFC 2231 percent-encoded UTF-8 in continuations of at most 60
    characters, so a long or non-Latin name can neither break nor overlong the header."""
    if _PLAIN_NAME.fullmatch(name):
        return [f'Content-Disposition: attachment; filename="{name}"']
    encoded = quote(name.encode("utf-8"), safe="")
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        while end < len(encoded) and "%" in encoded[end - 2:end]:
            end -= 1  # never split a %XX triple
        chunks.append(encoded[start:end])
        start = end
    chunks[0] = "utf-8''" + chunks[0]
    params = [f"filename*{i}*={chunk}" for i, chunk in enumerate(chunks)]
    return ["Content-Disposition: attachment;", *(f" {p}{';' if i < len(params) - 1 else ''}"
                                                  for i, p in enumerate(params))]


def _encode(value: str) -> str:
    """RFC 2047 encoded words for a value that cannot go out as it is; ASCII stays readable.

    Written here because ``email.header.Header.encode`` was the costliest step of building a
    mail (profiled): base64 words of at most 45 bytes (75 characters), never splitting a
    UTF-8 sequence, one per folded line. ASCII text is encoded too when it holds something
    that reads as an encoded word (``=?``) or a word too long to fold."""
    if value.isascii() and "=?" not in value and all(len(w) <= _LONGEST_WORD for w in value.split(" ")):
        return value
    return _encoded_words(value)


def _encoded_words(value: str) -> str:
    words, chunk = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _address(name: str, address: str) -> str:
    """``Name <address>``: the name one line, bounded, quoted or RFC 2047-encoded as it needs;
    nothing in it can end the header (a ``\\r\\nBcc:`` in a name stays inside the name)."""
    name = clean_line(name, _NAME_CHARS)
    if not name:
        return address
    if name.isascii() and "=?" not in name:
        return formataddr((name, address))  # quotes (and escapes) when the name needs it
    return f"{_encoded_words(name)} <{address}>"


def _fold(name: str, value: str) -> str:
    """``Name: value`` with lines kept under 78 characters where there is a space to break at;
    never between the name and the first word (a lone ``Message-ID:`` line trips up parsers).
    A value already folded (encoded words, one per line) is kept as it is."""
    line = f"{name}: {value}"
    if len(line) <= 78 or "\r\n " in value:
        return line
    words = value.split(" ")
    lines, current = [], f"{name}: {words[0]}"
    for word in words[1:]:
        if len(current) + 1 + len(word) > 78:
            lines.append(current)
            current = " " + word
        else:
            current = f"{current} {word}"
    lines.append(current)
    return "\r\n".join(lines)


def _base64(text: str) -> str:
    return _base64_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))


def _base64_bytes(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n").rstrip("\r\n")


@lru_cache(maxsize=4096)
def usable_address(address: str) -> bool:
    """True when ``address`` can stand in a To header and an SMTP envelope as it is: an ASCII
    dot-atom local part and a domain of letter-digit-hyphen labels (we do not speak SMTPUTF8,
    and ``budi@cv\uff0eexample``, with a full-width dot, is not ``budi@cv.example``)."""
    local, at, domain = address.rpartition("@")
    if not at or len(address) > 254 or len(local) > 64 or len(domain) > 253:
        return False
    labels = domain.split(".")
    return (_LOCAL.fullmatch(local) is not None
            and all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit())


def enqueue(session: Session, identity: Identity, mail: Outgoing, now: datetime) -> bool:
    """Queue ``mail``; False when it was already queued (same key) or cannot be sent to its
    recipient (not a ``usable_address``: logged; the callers that mail on their own check
    ``usable_address`` first and record why they did not write).

    The Message-ID carries the day it was minted (``now``), which bounds how long a reply to it
    proves its sender; the row keeps the id, so a resend of the row is the same mail."""
    if not usable_address(mail.recipient):
        log.warning("not queueing %s for %r: not an address we can write to", mail.template, mail.recipient)
        return False
    message_id = mint_message_id(identity.hmac_key, identity.mid_domain, mail.ticket_number, mail.key, mail.recipient,
                                 day_number(now))
    raw = build_message(identity, mail, message_id, now)
    return insert_ignore(
        session,
        OutgoingMail,
        {
            "key": mail.key,
            "mailbox": identity.mailbox,
            "message_id": message_id,
            "ticket_id": mail.ticket_id,
            "recipient": mail.recipient,
            "template": mail.template,
            "automatic": mail.automatic,
            "subject": clean_line(mail.rendered.subject, SUBJECT_HEADER_CHARS),
            "raw": raw,
            "state": MailState.QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
        ["key"],
    )
