"""Does a team member's mail prove who sent it, for the ticket it acts on? Pure.

A From header is trivially forged, and the peers we compared (RT, Zammad, osTicket,
django-helpdesk) trust it. maild accepts commands only from a registered party whose message
also proves it, in one of two ways:

1. it answers a mail we sent to that very address about this ticket, not long ago: its
   In-Reply-To/References hold a Message-ID we minted (``mail.tokens``) whose HMAC (server
   secret) covers the recipient, the ticket number and the day it was minted. It proves the
   sender only for that ticket (or a ticket merged into the one acted on); a digest's id
   proves its recipient only for the tickets that digest listed (the pipeline looks them up);
   and only for ``max_age_days`` after it was minted. Ids minted before they carried their
   date prove nothing (they would never expire).
2. a receiving server we trust says so: the topmost Authentication-Results field, from a
   configured authserv-id, read by the RFC 8601 grammar (``mail.authresults``), reports
   ``dmarc=pass`` with ``header.from`` the sender's domain, or ``dkim=pass`` with a signing
   domain (``header.d``, else the domain of ``header.i``) that the sender's domain equals or
   is under. Only the topmost field counts: anyone can write such fields further down, and the
   trusted server must strip forged copies of its own (RFC 8601, section 5). Microsoft 365
   writes its field without an authserv-id; list ``microsoft365`` to believe such a field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from maild.mail.authresults import AuthResults, parse_authentication_results
from maild.mail.parse import ParsedMail
from maild.mail.tokens import MintedId, read_minted_id, verify_minted_id

DIGEST = "digest"  # the "ticket number" a digest's Message-ID carries
NO_AUTHSERV_ID = "microsoft365"  # trusts a field written without an authserv-id
# A minted day a little ahead of today is our own clock having stepped back, not a forgery
# (the HMAC covers the day): tolerated.
_CLOCK_SLACK_DAYS = 1


@dataclass(frozen=True)
class Proof:
    ok: bool
    how: str


@dataclass(frozen=True)
class Trust:
    """What a proof is checked against: our secret and Message-ID domain, the receiving
    servers whose Authentication-Results we believe, and how long a minted id proves."""

    key: bytes = field(repr=False)
    mid_domain: str
    authserv_ids: tuple[str, ...] = ()
    max_age_days: int = 30


@dataclass(frozen=True)
class Scope:
    """What the message would act on, as the pipeline found it.

    ``tickets``: the number of the ticket acted on and of the tickets merged into it.
    ``today``: the day (``tokens.day_number``) the message counts as received.
    ``digest_lists``: for a digest we sent (by the key hash in its Message-ID), the ticket
    numbers of ``tickets`` that it listed."""

    tickets: frozenset[str]
    today: int
    digest_lists: Mapping[str, frozenset[str]] = field(default_factory=dict)


def prove(mail: ParsedMail, sender: str, trust: Trust, scope: Scope, auth_results: Sequence[str] = ()) -> Proof:
    """Check whether ``mail`` proves that ``sender`` wrote it, for the tickets in ``scope``.

    ``auth_results``: the raw Authentication-Results values, topmost first."""
    refused: list[str] = []
    for mid in dict.fromkeys((*mail.in_reply_to, *mail.references)):
        minted = read_minted_id(mid, trust.mid_domain)
        if minted is None or not verify_minted_id(trust.key, minted, sender):
            continue
        why = _refusal(minted, trust, scope)
        if why is None:
            return Proof(True, f"answers our mail <{mid}> sent to {sender}")
        refused.append(f"<{mid}> {why}")
    if auth_results and trust.authserv_ids:
        verdict = _authentication_results(auth_results[0], sender, trust.authserv_ids)
        if verdict is not None:
            return verdict
    answered = f"; our mail it answers proves nothing here: {'; '.join(refused[:3])}" if refused else ""
    return Proof(False, "no reply to a mail we sent to this address about this ticket, and no trusted "
                        f"DKIM/DMARC pass{answered}")


def _refusal(minted: MintedId, trust: Trust, scope: Scope) -> str | None:
    """Why a genuine id of ours for this sender does not prove this message; None if it does."""
    if minted.day is None:
        return "was minted before our Message-IDs carried their date (they never expire, so prove nothing)"
    age = scope.today - minted.day
    if age > trust.max_age_days or age < -_CLOCK_SLACK_DAYS:
        return f"was sent {age} days ago (a mail proves its recipient for {trust.max_age_days} days)"
    if minted.number == DIGEST:
        if scope.digest_lists.get(minted.key_hash):
            return None
        return f"is a digest that did not list ticket {_numbers(scope)}"
    if minted.number in scope.tickets:
        return None
    return f"is about ticket {minted.number}, not {_numbers(scope)}"


def _numbers(scope: Scope) -> str:
    return ", ".join(sorted(scope.tickets)) or "(none)"


def _authentication_results(value: str, sender: str, trusted: tuple[str, ...]) -> Proof | None:
    parsed = parse_authentication_results(value)
    if parsed is None or not _trusted(parsed, trusted):
        return None
    writer = parsed.authserv_id or NO_AUTHSERV_ID
    domain = _domain(sender)
    if not domain:
        return None
    for result in parsed.results:
        if result.result != "pass":
            continue
        if result.method == "dmarc" and _domain(result.prop("header.from") or "") == domain:
            return Proof(True, f"{writer}: dmarc=pass for {domain}")
        signer = _domain(result.prop("header.d") or result.prop("header.i") or "")
        if result.method == "dkim" and signer and (domain == signer or domain.endswith("." + signer)):
            return Proof(True, f"{writer}: dkim=pass, signed by {signer}")
    return None


def _trusted(parsed: AuthResults, trusted: tuple[str, ...]) -> bool:
    names = {t.strip().lower() for t in trusted}
    return parsed.authserv_id in names if parsed.authserv_id else NO_AUTHSERV_ID in names


def _domain(value: str) -> str:
    """The domain of an address, ``@domain`` or a bare domain, lowercased, without a final dot."""
    return value.rpartition("@")[2].strip().lower().rstrip(".")
