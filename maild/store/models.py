"""The database schema (SQLAlchemy 2). The Alembic migrations in ``migrations/`` create it.

The database is the queue: inbound messages, outgoing mail and events are rows with states,
and every effect that could repeat carries a UNIQUE idempotency key.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    literal_column,
    or_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from maild.sop.vocabulary import Channel, MailState, MessageState, State

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class unindexed_time(FunctionElement[datetime]):
    """A time column that SQLite must not look up by its index: SQLite's unary ``+`` (its
    documented way to disqualify a term from an index), the column itself elsewhere. For a
    bound like ``created_at < end`` that nearly every row meets: without statistics SQLite
    would take it for selective and read the whole history by it."""

    type = UTCDateTime()
    inherit_cache = True
    name = "unindexed_time"


@compiles(unindexed_time)
def _unindexed_time(element: unindexed_time, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed_time, "sqlite")
def _unindexed_time_sqlite(element: unindexed_time, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sql_constant(value: str) -> ColumnElement[str]:
    """``value`` written into the SQL rather than bound: a planner uses a partial index only
    when it can prove the query's WHERE implies the index's, and a bound parameter proves nothing."""
    assert "'" not in value
    return literal_column(f"'{value}'")


class Party(Base):
    """A person or group address: reporter, staff, coordinator or a service group's manager."""

    __tablename__ = "parties"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Indexed: the few staff and the coordinator are looked up among every reporter ever seen.
    role: Mapped[str] = mapped_column(String(20), default="reporter", index=True)
    group: Mapped[str | None] = mapped_column(String(64))
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# A mailbox's name (maild.base.settings.DEFAULT_MAILBOX for the top level's): the rows of a
# database from before several mailboxes are the default mailbox's.
MAILBOX_NAME = String(32)
_DEFAULT_MAILBOX = literal_column("'default'")


def _mailbox_column() -> Mapped[str]:
    return mapped_column(MAILBOX_NAME, default="default", server_default=_DEFAULT_MAILBOX)


class TicketCounter(Base):
    """The last sequence number handed out per mailbox and year (ticket numbers are YY-NNNN,
    counted in each mailbox: the register of each helpdesk has no gaps)."""

    __tablename__ = "ticket_counters"
    mailbox: Mapped[str] = mapped_column(MAILBOX_NAME, primary_key=True, server_default=_DEFAULT_MAILBOX)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = _mailbox_column()
    number: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    type: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default=Channel.EMAIL)
    language: Mapped[str] = mapped_column(String(8), default="id")
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    linked_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Set when this ticket was merged into another: mail about it goes to that one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Indexed: the monthly report asks for the tickets still open or closed since a day.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    reporter: Mapped[Party | None] = relationship(foreign_keys=[reporter_id])
    contact: Mapped[str | None] = mapped_column(String(200))
    # The reporter's name when there is no reporter party (a phone report without an address).
    reporter_name: Mapped[str | None] = mapped_column(String(200))

    # A number names a ticket within its mailbox: [LPSE #26-0001] and [VERIF #26-0001] are two.
    __table_args__ = (UniqueConstraint("mailbox", "number"),)


# Every ticket not closed: the timers' and the digest's work, a few among years of closed ones.
# Per-mailbox indexes lead with the mailbox: without them SQLite (never ANALYZEd) answers
# ``mailbox = ?`` with the unique (mailbox, number) index, i.e. by reading every ticket.
OPEN_TICKET = Ticket.state != _sql_constant(State.CLOSED)
Index("ix_tickets_open", Ticket.id, sqlite_where=OPEN_TICKET, postgresql_where=OPEN_TICKET)
Index("ix_tickets_mailbox_open", Ticket.mailbox, Ticket.id, sqlite_where=OPEN_TICKET, postgresql_where=OPEN_TICKET)
Index("ix_tickets_mailbox_created_at", Ticket.mailbox, Ticket.created_at)
Index("ix_tickets_mailbox_closed_at", Ticket.mailbox, Ticket.closed_at)


class TicketParty(Base):
    """Who takes part in a ticket (reporter, people in Cc, recipients of our mail)."""

    __tablename__ = "ticket_parties"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))


class InboundMessage(Base):
    """Every message received, with its raw bytes and what became of it (the ledger)."""

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    # The mailbox it was read from, or the one it was handed to: its ticket's mailbox.
    mailbox: Mapped[str] = _mailbox_column()
    message_id: Mapped[str | None] = mapped_column(String(900), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int | None] = mapped_column(Integer)
    uid: Mapped[int | None] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12), default=MessageState.NEW)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_inbound_messages_state_id", "state", "id"),)


# The messages still to be copied to the quarantine folder: dead, oversized or spam, and not
# copied yet. Few at any time; without this index, finding them reads every message ever received.
TO_QUARANTINE = and_(
    InboundMessage.quarantined_at.is_(None),
    or_(InboundMessage.state == _sql_constant(MessageState.DEAD),
        InboundMessage.disposition.in_([_sql_constant("oversized"), _sql_constant("spam")])),
)
Index("ix_inbound_messages_to_quarantine", InboundMessage.id, sqlite_where=TO_QUARANTINE,
      postgresql_where=TO_QUARANTINE)


class Blob(Base):
    """Attachment content, stored once per distinct content."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AttachmentRow(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    content_id: Mapped[str] = mapped_column(String(255), default="")
    inline: Mapped[bool] = mapped_column(Boolean, default=False)


class OutgoingMail(Base):
    """The outbox: a mail we owe, rendered to bytes in the transaction that caused it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    # Whose mail it is: the SMTP envelope sender is that mailbox's.
    mailbox: Mapped[str] = _mailbox_column()
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12), default=MailState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_recipient_created_at", "recipient", "created_at"),
    )


class Event(Base):
    """The append-only audit trail: one row per thing that happened to a ticket."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(320))
    step: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(String(400))
    old_state: Mapped[str | None] = mapped_column(String(20))
    new_state: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # The digest's and the report's counts of one kind of event over a span of days.
    __table_args__ = (Index("ix_events_event_created_at", "event", "created_at"),)


class TimerFiring(Base):
    """A clock-driven effect that happened (an SLA level, a digest): its UNIQUE key makes it
    happen once, across restarts, clock jumps and several daemons on one database."""

    __tablename__ = "timer_firings"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SurveyResponse(Base):
    """A reporter's answer to the satisfaction survey (SKM) the closing mail asks for: one per
    ticket (UNIQUE), so a reporter is never asked, counted or thanked twice for one ticket.

    ``overall`` holds a single rating of the whole service; ``u1``..``u9`` the regulation's nine
    elements when the reporter rated them (Permenpan RB 14/2017; see maild.sop.skm)."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    reporter: Mapped[str] = mapped_column(String(320))
    overall: Mapped[int | None] = mapped_column(Integer)
    u1: Mapped[int | None] = mapped_column(Integer)
    u2: Mapped[int | None] = mapped_column(Integer)
    u3: Mapped[int | None] = mapped_column(Integer)
    u4: Mapped[int | None] = mapped_column(Integer)
    u5: Mapped[int | None] = mapped_column(Integer)
    u6: Mapped[int | None] = mapped_column(Integer)
    u7: Mapped[int | None] = mapped_column(Integer)
    u8: Mapped[int | None] = mapped_column(Integer)
    u9: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(900))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class MailboxLease(Base):
    """Which daemon reads a mailbox: one at a time. The holder renews ``expires_at``; a daemon
    may take a lease that has expired (its holder died or hangs) or that a dead process on its
    own host held. See maild.store.leases."""

    __tablename__ = "mailbox_leases"
    mailbox: Mapped[str] = mapped_column(MAILBOX_NAME, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
