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
    """The parts of a Message-ID we minted: ticket number, key hash and signature."""

    number: str
    key_hash: str
    signature: str


def mint_message_id(key: bytes, domain: str, number: str, cause_key: str, recipient: str) -> str:
    """A Message-ID derived from an outgoing mail's idempotency key, signed for its recipient.

    The same key gives the same Message-ID, so a resend is recognisable; the HMAC lets a reply
    prove that its sender received the mail it answers (without a database lookup).
    """
    key_hash = hashlib.sha256(cause_key.encode()).hexdigest()[:16]
    return f"maild.{number}.{key_hash}.{_sign(key, number, key_hash, recipient)}@{domain}"


def read_minted_id(message_id: str, domain: str) -> MintedId | None:
    """Split one of our Message-IDs into its parts; None if it is not ours by its shape."""
    local, at, dom = message_id.rpartition("@")
    if not at or dom.lower() != domain.lower():
        return None
    parts = local.split(".")
    if len(parts) != 4 or parts[0] != "maild":
        return None
    return MintedId(parts[1], parts[2], parts[3])


def verify_minted_id(key: bytes, minted: MintedId, recipient: str) -> bool:
    """True when ``minted`` was signed by us for ``recipient``."""
    return hmac.compare_digest(minted.signature, _sign(key, minted.number, minted.key_hash, recipient))


def _sign(key: bytes, number: str, key_hash: str, recipient: str) -> str:
    msg = f"{number}.{key_hash}.{recipient.strip().lower()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:20]
