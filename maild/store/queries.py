"""Queries and writes on tickets, parties, messages and events.

Small functions over a Session; no commits here (the caller owns the transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import hashlib
import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, literal, select, text, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from maild.store.models import (
    OPEN_TICKET,
    UTCDateTime,
    AttachmentRow,
    Blob,
    Event,
    InboundMessage,
    OutgoingMail,
    Party,
    Ticket,
    TicketCounter,
    TicketParty,
)
from maild.mail.bounds import NAME_CHARS, clean_line
from maild.mail.mime import Attachment
from maild.sop.threads import TicketRef
from maild.mail.tokens import format_number
from maild.sop.workflow import Transition
from maild.sop.vocabulary import Channel, State


def open_work(mailbox: str) -> Select[tuple[Ticket]]:
    """The open tickets of ``mailbox`` the clock works on, oldest first; not the imported ones
    (an old mailbox brought in is history, not work that is late). The partial index of open
    tickets answers it; without it, it would read every ticket ever closed, once a minute."""
    return (select(Ticket).where(OPEN_TICKET, Ticket.channel != Channel.IMPORT, Ticket.mailbox == mailbox)
            .order_by(Ticket.id))


def insert_ignore(session: Session, model: type, values: dict[str, Any], unique: Sequence[str]) -> bool:
    """INSERT unless a row with the same unique columns exists; True when a row was inserted."""
    stmt = _insert_ignore(session.get_bind().dialect.name, model, tuple(unique))
    return session.execute(stmt, values).first() is not None


def insert_ignore_many(session: Session, model: type, rows: Sequence[dict[str, Any]], unique: str) -> set[Any]:
    """INSERT each of ``rows`` unless a row with the same ``unique`` value exists (or comes
    earlier in ``rows``), in one statement (SQLAlchemy sends multi-row VALUES); the ``unique``
    values of the rows inserted."""
    stmt = _insert_ignore(session.get_bind().dialect.name, model, (unique,))
    return set(session.scalars(stmt, list(rows)))


@lru_cache(maxsize=64)
def _insert_ignore(dialect: str, model: type, unique: tuple[str, ...]) -> Any:
    """One statement per table, values bound at execution: building and compiling a new
    statement for every row cost more than the insert itself (profiled). On the table, not
    the mapped class: the session then runs it as plain Core, a quarter of the ORM's bulk
    insert path for the same SQL (measured 34 against 135 us a row on SQLite)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(unique))
    # RETURNING, not rowcount: through the ORM session rowcount is -1 on PostgreSQL.
    return stmt.returning(table.c[unique[0]])


# Hot statements are built once, with bound parameters: constructing a statement costs
# SQLAlchemy more than SQLite takes to run it (profiled on the benchmark's mailbox).
_PARTY_BY_ADDRESS = select(Party).where(Party.address == bindparam("address"))
_AUTOMATIC_SINCE = select(func.count(OutgoingMail.__table__.c.id)).where(
    OutgoingMail.__table__.c.recipient == bindparam("recipient"),
    OutgoingMail.__table__.c.automatic.is_(True),
    OutgoingMail.__table__.c.created_at >= bindparam("since", type_=UTCDateTime()),
)
# Writes that need no ORM object are made on the tables (plain Core), not the mapped classes:
# the ORM's bulk insert and its update-with-synchronisation cost 4-6x the statement itself.
_INSERT_EVENT = insert(Event.__table__)
_COUNTERS = TicketCounter.__table__
_BUMP_COUNTER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.mailbox == bindparam("m"), _COUNTERS.c.year == bindparam("y"))
    .values(last_seq=_COUNTERS.c.last_seq + 1)
    .returning(_COUNTERS.c.last_seq)
)


def party(session: Session, address: str, now: datetime, name: str = "", role: str = "reporter") -> Party:
    """The party with this address, created as a reporter if new."""
    return get_or_create_party(session, address, now, name, role)[0]


def get_or_create_party(
    session: Session, address: str, now: datetime, name: str = "", role: str = "reporter"
) -> tuple[Party, bool]:
    """The party with this address and whether it was created just now."""
    address = address.lower()
    name = clean_line(name, NAME_CHARS)  # parties.name is VARCHAR(200): a longer name is refused by PostgreSQL
    found = session.scalars(_PARTY_BY_ADDRESS, {"address": address}).first()
    if found is not None:
        if name and not found.name:
            found.name = name
        return found, False
    # The new row comes back as the Party itself (ORM INSERT ... RETURNING), not read again;
    # only when another writer inserted the address first is it looked up.
    values = {"address": address, "name": name, "role": role, "created_at": now}
    inserted = session.scalars(_insert_party(session.get_bind().dialect.name), values).first()
    if inserted is not None:
        return inserted, True
    return session.scalars(_PARTY_BY_ADDRESS, {"address": address}).one(), False


@lru_cache(maxsize=4)
def _insert_party(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Party).on_conflict_do_nothing(index_elements=["address"]).returning(Party)


def sync_staff(session: Session, members: Iterable[tuple[str, str, str]], now: datetime) -> None:
    """Make the parties table agree with the configured staff: (address, name, role) triples."""
    for address, name, role in members:
        p = party(session, address, now, name, role)
        p.role, p.name = role, name or p.name


def next_number(session: Session, year: int, mailbox: str) -> str:
    """Hand out the next ticket number of ``year`` in ``mailbox``; safe under concurrent writers."""
    seq = session.execute(_BUMP_COUNTER, {"m": mailbox, "y": year}).scalar_one_or_none()
    if seq is None:  # the mailbox's first ticket of the year
        insert_ignore(session, TicketCounter, {"mailbox": mailbox, "year": year, "last_seq": 0}, ["mailbox", "year"])
        seq = session.execute(_BUMP_COUNTER, {"m": mailbox, "y": year}).scalar_one()
    return format_number(year, seq)


def add_ticket_party(session: Session, ticket_id: int, party_id: int, role: str) -> None:
    insert_ignore(
        session, TicketParty, {"ticket_id": ticket_id, "party_id": party_id, "role": role}, ["ticket_id", "party_id"]
    )


def ticket_by_number(session: Session, number: str, mailbox: str) -> Ticket | None:
    """The ticket ``number`` of ``mailbox`` (a number names a ticket within its mailbox)."""
    return session.scalars(select(Ticket).where(Ticket.mailbox == mailbox, Ticket.number == number)).first()


_OUTBOX, _LEDGER = OutgoingMail.__table__, InboundMessage.__table__
# One round trip for both tables; our own mail (0) wins over a message on a ticket (1).
_OWNERS = union_all(
    select(literal(0).label("rank"), _OUTBOX.c.message_id, _OUTBOX.c.ticket_id).where(
        _OUTBOX.c.message_id.in_(bindparam("ids", expanding=True)), _OUTBOX.c.ticket_id.is_not(None)),
    select(literal(1).label("rank"), _LEDGER.c.message_id, _LEDGER.c.ticket_id).where(
        _LEDGER.c.message_id.in_(bindparam("ids", expanding=True)), _LEDGER.c.ticket_id.is_not(None)),
).order_by(text("1"))


def ticket_by_references(session: Session, message_ids: Sequence[str]) -> tuple[Ticket, str] | None:
    """The ticket of the first Message-ID (in the order given) that is one of ours or on a ticket."""
    if not message_ids:
        return None
    ids = list(message_ids)
    owners: dict[str, int] = {}
    for _, mid, tid in session.execute(_OWNERS, {"ids": ids}):
        owners.setdefault(mid, tid)
    for mid in ids:
        if mid in owners:
            ticket = session.get(Ticket, owners[mid])
            if ticket is not None:
                return ticket, mid
    return None


_PARTIES, _TICKET_PARTIES = Party.__table__, TicketParty.__table__
_ADDRESSES_OF = (select(_PARTIES.c.address).join(_TICKET_PARTIES, _TICKET_PARTIES.c.party_id == _PARTIES.c.id)
                 .where(_TICKET_PARTIES.c.ticket_id == bindparam("ticket_id")))


def ticket_ref(session: Session, ticket: Ticket) -> TicketRef:
    """The threading view of a ticket: its state and the addresses that take part in it."""
    addresses = session.scalars(_ADDRESSES_OF, {"ticket_id": ticket.id}).all()
    return TicketRef(ticket.id, ticket.number, ticket.state, ticket.closed_at, frozenset(addresses))


def record_event(
    session: Session,
    ticket: Ticket,
    transition: Transition,
    actor: str,
    cause: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Apply a workflow transition to the ticket and append its event row.

    The row is written at once (Core insert): it is visible to the queries that follow in the
    same message without an ORM flush. Its key joins ticket, cause, event and a digest of the
    detail, so one message may, say, set a type and a priority (two ``classified`` events),
    while doing the same thing for the same cause twice is refused by the UNIQUE key.
    """
    # Only what changes is set: an unchanged object (the ticket just opened) then costs the
    # message's savepoint no flush.
    if ticket.state != transition.new_state:
        ticket.state = transition.new_state
    if ticket.updated_at != now:
        ticket.updated_at = now
    if transition.new_state == State.CLOSED:
        ticket.closed_at = now
    elif transition.old_state == State.CLOSED:
        ticket.closed_at = None
    detail = detail or {}
    digest = hashlib.sha256(json.dumps(detail, sort_keys=True, default=str).encode()).hexdigest()[:12]
    session.execute(_INSERT_EVENT, {
        "key": f"{ticket.id}:{cause}:{transition.event}:{digest}"[:500],
        "ticket_id": ticket.id,
        "event": transition.event,
        "actor": actor[:320],
        "step": transition.step,
        "cause": cause,
        "old_state": transition.old_state,
        "new_state": transition.new_state,
        "detail": detail,
        "created_at": now,
    })


def note_event(
    session: Session, ticket: Ticket, event: str, actor: str, cause: str, now: datetime, detail: dict[str, Any]
) -> None:
    """An event that changes no state (a suppressed mail, a failed delivery, a link)."""
    insert_ignore(
        session,
        Event,
        {
            "key": f"{ticket.id}:{cause}:{event}",
            "ticket_id": ticket.id,
            "event": event,
            "actor": actor,
            "step": None,
            "cause": cause,
            "old_state": ticket.state,
            "new_state": ticket.state,
            "detail": detail,
            "created_at": now,
        },
        ["key"],
    )


def store_attachments(
    session: Session, inbound_id: int, ticket_id: int | None, attachments: Sequence[Attachment]
) -> None:
    """Keep every attachment; identical content is stored once. Its labels come from the
    sender: bounded to the columns (VARCHAR(255)) and without control characters."""
    for att in attachments:
        digest = att.sha256
        insert_ignore(session, Blob, {"sha256": digest, "size": att.size, "content": att.content}, ["sha256"])
        session.add(
            AttachmentRow(
                inbound_id=inbound_id,
                ticket_id=ticket_id,
                filename=clean_line(att.filename, 255) or "attachment",
                content_type=clean_line(att.content_type, 255),
                size=att.size,
                sha256=digest,
                content_id=clean_line(att.content_id, 255),
                inline=att.inline,
            )
        )


def automatic_mails_since(session: Session, recipient: str, since: datetime) -> int:
    """How many automatic mails we queued for ``recipient`` since ``since`` (the rate limit)."""
    return session.scalar(_AUTOMATIC_SINCE, {"recipient": recipient, "since": since}) or 0
