"""What a staff proof may cover, as stored: the tickets a digest listed, and merged tickets.

A digest's Message-ID proves its recipient only for the tickets that digest listed
(``sop.proof``). The listing is stored when the digest is queued, as one ``timer_firings``
row per ticket (kind ``digest_listed``, key ``listed:{key hash}:{ticket number}``): the key
hash is the one in the digest's Message-ID (``tokens.key_hash`` of its outbox key), so a
reply's proof is looked up from the id alone, and the UNIQUE key makes the listing part of
the digest's once-only firing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.store.models import Ticket, TimerFiring
from maild.store.queries import insert_ignore

LISTED = "digest_listed"
_MAX_MERGE_DEPTH = 10


def _key(key_hash: str, number: str) -> str:
    return f"listed:{key_hash}:{number}"


def record_digest_listing(session: Session, key_hash: str, numbers: Iterable[str], now: datetime,
                          mailbox: str) -> int:
    """Remember that the digest of ``mailbox`` whose Message-ID carries ``key_hash`` listed
    ``numbers`` (its tickets: a number names a ticket within its mailbox)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return 0
    ids = {n: i for n, i in session.execute(select(Ticket.number, Ticket.id)
                                            .where(Ticket.mailbox == mailbox, Ticket.number.in_(wanted)))}
    return sum(insert_ignore(session, TimerFiring, {"key": _key(key_hash, n), "ticket_id": ids.get(n),
                                                    "kind": LISTED, "fired_at": now}, ["key"])
               for n in wanted)


def digest_lists(session: Session, key_hashes: Iterable[str], numbers: frozenset[str]) -> dict[str, frozenset[str]]:
    """For each digest key hash, which of ``numbers`` that digest listed (only those it did)."""
    keys = {_key(h, n): (h, n) for h in set(key_hashes) for n in numbers}
    if not keys:
        return {}
    out: dict[str, set[str]] = {}
    for key in session.scalars(select(TimerFiring.key).where(TimerFiring.kind == LISTED,
                                                              TimerFiring.key.in_(list(keys)))):
        h, n = keys[key]
        out.setdefault(h, set()).add(n)
    return {h: frozenset(ns) for h, ns in out.items()}


def ticket_numbers(session: Session, ticket: Ticket) -> frozenset[str]:
    """``ticket``'s number and those of the tickets merged into it (a reply to a mail about a
    merged ticket acts on the ticket it was merged into)."""
    numbers, frontier = {ticket.number}, [ticket.id]
    for _ in range(_MAX_MERGE_DEPTH):
        rows = session.execute(select(Ticket.id, Ticket.number).where(Ticket.merged_into_id.in_(frontier))).all()
        frontier = [i for i, n in rows if n not in numbers]
        numbers.update(n for _, n in rows)
        if not frontier:
            break
    return frozenset(numbers)
