"""Ticket numbers, the subject token, and the Message-IDs we mint. Pure.

Ticket numbers are ``YY-NNNN``: the two-digit year in the helpdesk's time zone and a sequence
that restarts each year (``26-0001``; it grows past four digits if a year needs it). Staff say
"tiket 26-0042" on the phone without ambiguity, and the year tells its age at a glance.
The token is ``[TAG #YY-NNNN]``, e.g. ``[LPSE #26-0001]``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|balas|bls|fw|fwd|tr|trs|wg|rv|enc|doorst|r)\s*(?:\[\d+\])?\s*[:：]\s*"
    r"|\[[^\]]{0,40}\]\s*)+",
    re.IGNORECASE,
)


def format_number(year: int, seq: int) -> str:
    """``26-0001`` for the first ticket of 2026."""
    return f"{year % 100:02d}-{seq:04d}"


def format_token(tag: str, number: str) -> str:
    """The subject token, e.g. ``[LPSE #26-0001]``."""
    return f"[{tag} #{number}]"


def token_pattern(tag: str) -> re.Pattern[str]:
    """Regex finding our token anywhere in a decoded subject, tolerant of spacing and case."""
    return re.compile(r"\[\s*" + re.escape(tag) + r"\s*#\s*(\d{2}-\d{4,7})\s*\]", re.IGNORECASE)


def find_number(subject: str, tag: str) -> str | None:
    """The ticket number named by our token in ``subject``, or None."""
    found = token_pattern(tag).search(subject)
    return found.group(1) if found else None


# A ticket of a named mailbox, where a number alone would be ambiguous (``maild tickets show
# VERIF#26-0001``): the mailbox's ticket tag or name, ``#``, the number; a bracketed subject
# token (``[VERIF #26-0001]``) is read the same.
_TICKET_NAME = re.compile(r"\[?\s*(?:([A-Za-z0-9_-]{1,32})\s*#\s*)?(\d{2}-\d{4,7})\s*\]?\Z")


def format_ticket_name(tag: str, number: str) -> str:
    """How a ticket is named across mailboxes, e.g. ``VERIF#26-0001``."""
    return f"{tag}#{number}"


def parse_ticket_name(text: str) -> tuple[str | None, str]:
    """``(mailbox tag or name as written, number)`` of ``VERIF#26-0001``; ``(None, text)`` for a
    bare number or anything else (left to the caller's lookup, which says it is not found)."""
    found = _TICKET_NAME.match(text.strip())
    if found is None:
        return None, text.strip()
    return found.group(1), found.group(2)


def clean_subject(subject: str, tag: str) -> str:
    """The subject as the reporter meant it: reply/forward prefixes, tags and our token removed."""
    pattern = token_pattern(tag)
    cleaned = " ".join(subject.split())
    while True:  # removing one token can join the pieces of another: repeat until stable
        again = " ".join(_PREFIX.sub("", pattern.sub(" ", cleaned)).split())
        if again == cleaned:  # ends: every change makes the text shorter
            return cleaned
        cleaned = again


@dataclass(frozen=True)
class MintedId:
    """The parts of a Message-ID we minted: ticket number (or ``digest``), the day it was minted
    (days since 1970-01-01 UTC; None for an id minted before ids carried their date), key hash
    and signature."""

    number: str
    key_hash: str
    signature: str
    day: int | None = None


_EPOCH = date(1970, 1, 1)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def day_number(moment: datetime) -> int:
    """The UTC day of ``moment`` as days since 1970-01-01: the date a minted id carries."""
    return (moment.astimezone(timezone.utc).date() - _EPOCH).days


def key_hash(cause_key: str) -> str:
    """The short hash of an outgoing mail's idempotency key, as it stands in its Message-ID."""
    return hashlib.sha256(cause_key.encode()).hexdigest()[:16]


def mint_message_id(key: bytes, domain: str, number: str, cause_key: str, recipient: str, day: int) -> str:
    """A Message-ID derived from an outgoing mail's idempotency key, signed for its recipient.

    ``maild.NUMBER.DAY.KEYHASH.SIGNATURE@DOMAIN``: the HMAC covers the ticket number (or
    ``digest``), the day it was minted (``day_number``, base36) and the recipient, so a reply
    proves that its sender received this mail, about this ticket, at that date (without a
    database lookup). The outbox stores the id with the mail, so a resend keeps it.
    """
    hashed, stamp = key_hash(cause_key), _base36(day)
    return f"maild.{number}.{stamp}.{hashed}.{_sign(key, f'{number}.{stamp}.{hashed}', recipient)}@{domain}"


def read_minted_id(message_id: str, domain: str) -> MintedId | None:
    """Split one of our Message-IDs into its parts; None if it is not ours by its shape.

    Ids minted before they carried a date (``maild.NUMBER.KEYHASH.SIGNATURE``) are read with
    ``day`` None: still ours (a bounce of them is ours), but they prove no sender (``sop.proof``).
    """
    local, at, dom = message_id.rpartition("@")
    if not at or dom.lower() != domain.lower():
        return None
    parts = local.split(".")
    if parts[0] != "maild" or not all(parts):
        return None
    if len(parts) == 4:
        return MintedId(parts[1], parts[2], parts[3])
    if len(parts) == 5 and len(parts[2]) <= 6 and all(c in _BASE36 for c in parts[2]):
        return MintedId(parts[1], parts[3], parts[4], int(parts[2], 36))
    return None


def verify_minted_id(key: bytes, minted: MintedId, recipient: str) -> bool:
    """True when ``minted`` was signed by us for ``recipient`` (its number and day included)."""
    signed = f"{minted.number}.{minted.key_hash}" if minted.day is None else \
        f"{minted.number}.{_base36(minted.day)}.{minted.key_hash}"
    return hmac.compare_digest(minted.signature, _sign(key, signed, recipient))


def _base36(value: int) -> str:
    digits = ""
    while True:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
        if not value:
            return digits


def _sign(key: bytes, signed: str, recipient: str) -> str:
    msg = f"{signed}.{recipient.strip().lower()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:20]
