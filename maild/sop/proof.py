"""Does a staff member's mail prove who sent it? Pure.

A From header is trivially forged, and the peers we compared (RT, Zammad, osTicket,
django-helpdesk) trust it. maild accepts commands only from a registered party whose message
also proves it, in one of two ways:

1. it answers a mail we sent to that very address: its In-Reply-To/References hold a
   Message-ID we minted for that recipient, whose HMAC (server secret) covers the address;
2. a receiving server we trust says so: the topmost Authentication-Results header, from a
   configured authserv-id, reports ``dmarc=pass`` for the sender's domain, or ``dkim=pass``
   with a signing domain aligned with it. Only the topmost header counts, because anyone can
   write such headers further down; the trusted server must strip forged copies of its own
   (RFC 8601, section 5), as Postfix, Exim and Microsoft 365 do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.mail.parse import ParsedMail
from maild.mail.tokens import read_minted_id, verify_minted_id


@dataclass(frozen=True)
class Proof:
    ok: bool
    how: str


_RESULT = re.compile(r"\b(dkim|dmarc|spf)\s*=\s*(\w+)([^;]*)", re.IGNORECASE)
_PROP = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom)\s*=\s*([^\s;()]+)", re.IGNORECASE)


def prove(mail: ParsedMail, sender: str, key: bytes, mid_domain: str, trusted: tuple[str, ...]) -> Proof:
    """Check whether ``mail`` proves that ``sender`` wrote it."""
    for mid in (*mail.in_reply_to, *mail.references):
        minted = read_minted_id(mid, mid_domain)
        if minted is not None and verify_minted_id(key, minted, sender):
            return Proof(True, f"answers our mail <{mid}> sent to {sender}")
    results = mail.header_all("authentication-results")
    if results and trusted:
        verdict = _authentication_results(results[0], sender, trusted)
        if verdict is not None:
            return verdict
    return Proof(False, "no reply to a mail we sent to this address, and no trusted DKIM/DMARC pass")


def _authentication_results(value: str, sender: str, trusted: tuple[str, ...]) -> Proof | None:
    authserv = value.split(";", 1)[0].strip().split()[0].lower() if value.strip() else ""
    if authserv not in {t.lower() for t in trusted}:
        return None
    domain = sender.rpartition("@")[2].lower()
    for method, result, rest in _RESULT.findall(value):
        if result.lower() != "pass":
            continue
        props = {k.lower(): v.lower().rpartition("@")[2] for k, v in _PROP.findall(rest)}
        if method.lower() == "dmarc" and props.get("header.from") == domain:
            return Proof(True, f"{authserv}: dmarc=pass for {domain}")
        signer = props.get("header.d", "")
        if method.lower() == "dkim" and signer and (domain == signer or domain.endswith("." + signer)):
            return Proof(True, f"{authserv}: dkim=pass, signed by {signer}")
    return None
