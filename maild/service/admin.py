"""What the CLI shows and changes: read models of tickets, messages and the outbox.

Thin service functions over a Session; each returns plain dicts with stable keys (the
``--json`` output), so the CLI only formats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from maild.sop import sla
from maild.store.models import OPEN_TICKET, AttachmentRow, Event, InboundMessage, OutgoingMail, Party, Ticket
from maild.sop.workcal import WorkCalendar
from maild.sop.vocabulary import MailState, MessageState
from maild.store.queries import ticket_by_number


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


@dataclass(frozen=True)
class TicketFilter:
    state: str | None = None  # a state, or "open" for every state but closed
    type: str | None = None
    category: str | None = None
    assignee: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    search: str | None = None
    limit: int = 100
    mailbox: str | None = None  # one mailbox's tickets; None: every mailbox's


def list_tickets(session: Session, filters: TicketFilter | None = None) -> list[dict[str, Any]]:
    """Tickets matching ``filters``, newest first."""
    f = filters or TicketFilter()
    rows = session.execute(ticket_query(f).order_by(Ticket.id.desc()).limit(f.limit)).all()
    return [ticket_dict(t, addr) for t, addr in rows]


def ticket_query(f: TicketFilter) -> Select[tuple[Ticket, str | None]]:
    """Tickets with their reporter's address matching ``f``, unordered and unlimited."""
    assignee = aliased(Party)
    q = select(Ticket, Party.address).outerjoin(Party, Party.id == Ticket.reporter_id)
    if f.mailbox is not None:
        q = q.where(Ticket.mailbox == f.mailbox)
    if f.state == "open":
        q = q.where(OPEN_TICKET)
    elif f.state:
        q = q.where(Ticket.state == f.state)
    if f.type:
        q = q.where(Ticket.type == f.type)
    if f.category:
        q = q.where(Ticket.category == f.category)
    if f.assignee:
        q = q.join(assignee, assignee.id == Ticket.assignee_id).where(assignee.address == f.assignee)
    if f.created_from:
        q = q.where(Ticket.created_at >= f.created_from)
    if f.created_to:
        q = q.where(Ticket.created_at < f.created_to)
    if f.search:
        like = f"%{f.search.lower()}%"
        text_hit = select(Event.ticket_id).where(Event.event == "report_received",
                                                 func.lower(cast(Event.detail, String)).like(like))
        q = q.where(or_(func.lower(Ticket.subject).like(like), Ticket.id.in_(text_hit)))
    return q


_OVERDUE_CHUNK = 500


def overdue_tickets(session: Session, filters: TicketFilter, policy: sla.Policy, calendar: WorkCalendar,
                    now: datetime) -> list[dict[str, Any]]:
    """The open tickets matching ``filters`` past their resolution target in working time,
    newest first, at most ``filters.limit``: the limit applies to the overdue ones, not to the
    tickets looked at (an old overdue ticket behind fifty newer ones is still listed)."""
    # Working time never runs faster than the wall clock: a ticket younger than the smallest
    # resolution target cannot be overdue, so the database leaves those out.
    youngest = now - min(t.resolution for t in policy.targets.values())
    q = (ticket_query(filters).where(OPEN_TICKET, Ticket.created_at <= youngest)
         .order_by(Ticket.id.desc()))
    out: list[dict[str, Any]] = []
    before: int | None = None
    while len(out) < filters.limit:
        chunk = session.execute((q.where(Ticket.id < before) if before else q).limit(_OVERDUE_CHUNK)).all()
        if not chunk:
            break
        before = chunk[-1][0].id
        spent = _working_time(session, [t for t, _ in chunk], policy, calendar, now)
        for t, addr in chunk:
            if spent[t.id] >= policy.target(t.type, t.priority).resolution and len(out) < filters.limit:
                out.append({**ticket_dict(t, addr), "working_hours": round(spent[t.id].total_seconds() / 3600, 1)})
    return out


def _working_time(session: Session, tickets: list[Ticket], policy: sla.Policy, calendar: WorkCalendar,
                  now: datetime) -> dict[int, timedelta]:
    """Each ticket's working time since it came in, without the spans its clock was paused."""
    events: dict[int, list[tuple[datetime, str, str | None, str | None, dict[str, Any]]]] = defaultdict(list)
    for tid, at, event, old, new, detail in session.execute(
            select(Event.ticket_id, Event.created_at, Event.event, Event.old_state, Event.new_state, Event.detail)
            .where(Event.ticket_id.in_([t.id for t in tickets])).order_by(Event.id)):
        events[tid].append((at, event, old, new, detail or {}))
    return {t.id: sla.used(calendar, t.created_at, now,
                           sla.paused_spans(sla.clock_changes(events[t.id]), policy.pause_states, now))
            for t in tickets}


def ticket_dict(t: Ticket, reporter: str | None) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state,
        "type": t.type,
        "category": t.category,
        "priority": t.priority,
        "reporter": reporter,
        "subject": t.subject,
        "created_at": _iso(t.created_at),
        "updated_at": _iso(t.updated_at),
        "closed_at": _iso(t.closed_at),
        "mailbox": t.mailbox,
    }


def show_ticket(session: Session, number: str, mailbox: str) -> dict[str, Any] | None:
    """Ticket ``number`` of ``mailbox`` with its events, messages and mail, oldest first."""
    ticket = ticket_by_number(session, number, mailbox)
    if ticket is None:
        return None
    base = ticket_dict(ticket, ticket.reporter.address if ticket.reporter else None)
    # A report taken by phone may have no address: who it was and how to reach them.
    base["reporter_name"] = (ticket.reporter.name if ticket.reporter else None) or ticket.reporter_name
    base["contact"] = ticket.contact
    linked = session.get(Ticket, ticket.linked_ticket_id) if ticket.linked_ticket_id else None
    base["linked_to"] = linked.number if linked else None
    base["events"] = [
        {"at": _iso(e.created_at), "event": e.event, "actor": e.actor, "step": e.step, "old_state": e.old_state,
         "new_state": e.new_state, "detail": e.detail}
        for e in session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id))
    ]
    base["messages"] = [
        {"id": m.id, "received_at": _iso(m.received_at), "sender": m.sender, "subject": m.subject,
         "disposition": m.disposition, "reason": m.reason}
        for m in session.scalars(select(InboundMessage).where(InboundMessage.ticket_id == ticket.id)
                                 .order_by(InboundMessage.id))
    ]
    base["attachments"] = [
        {"id": a.id, "message": a.inbound_id, "filename": a.filename, "content_type": a.content_type,
         "size": a.size, "sha256": a.sha256, "inline": a.inline}
        for a in session.scalars(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)
                                 .order_by(AttachmentRow.id))
    ]
    base["mail"] = [outbox_dict(o) for o in session.scalars(
        select(OutgoingMail).where(OutgoingMail.ticket_id == ticket.id).order_by(OutgoingMail.id))]
    return base


def message_dict(m: InboundMessage, ticket_number: str | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "received_at": _iso(m.received_at),
        "message_id": m.message_id,
        "sender": m.sender,
        "subject": m.subject,
        "size": m.size,
        "state": m.state,
        "disposition": m.disposition,
        "ticket": ticket_number,
        "reason": m.reason,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "source": m.source,
    }


def list_messages(
    session: Session, state: str | None = None, disposition: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The message ledger, newest first."""
    q = select(InboundMessage, Ticket.number).outerjoin(Ticket, Ticket.id == InboundMessage.ticket_id)
    if state:
        q = q.where(InboundMessage.state == state)
    if disposition:
        q = q.where(InboundMessage.disposition == disposition)
    rows = session.execute(q.order_by(InboundMessage.id.desc()).limit(limit)).all()
    return [message_dict(m, n) for m, n in rows]


def get_message(session: Session, message_id: int) -> tuple[dict[str, Any], bytes] | None:
    row = session.execute(
        select(InboundMessage, Ticket.number)
        .outerjoin(Ticket, Ticket.id == InboundMessage.ticket_id)
        .where(InboundMessage.id == message_id)
    ).first()
    if row is None:
        return None
    return message_dict(row[0], row[1]), row[0].raw


def requeue_dead(session: Session, message_id: int) -> bool:
    """Give a quarantined message another round of attempts."""
    return session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_id, InboundMessage.state == MessageState.DEAD)
        .values(state=MessageState.NEW, attempts=0, disposition=None)
        .returning(InboundMessage.id)
    ).first() is not None


def outbox_dict(o: OutgoingMail) -> dict[str, Any]:
    return {
        "id": o.id,
        "created_at": _iso(o.created_at),
        "recipient": o.recipient,
        "template": o.template,
        "subject": o.subject,
        "message_id": o.message_id,
        "state": o.state,
        "attempts": o.attempts,
        "next_attempt_at": _iso(o.next_attempt_at),
        "sent_at": _iso(o.sent_at),
        "last_error": o.last_error,
    }


def list_outbox(session: Session, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    q = select(OutgoingMail)
    if state:
        q = q.where(OutgoingMail.state == state)
    return [outbox_dict(o) for o in session.scalars(q.order_by(OutgoingMail.id.desc()).limit(limit))]


def retry_outbox(session: Session, now: datetime, mail_id: int | None = None) -> int:
    """Make failed (or deferred) mail due now; all failed mail when no id is given."""
    q = update(OutgoingMail).values(state=MailState.QUEUED, next_attempt_at=now)
    if mail_id is not None:
        q = q.where(OutgoingMail.id == mail_id, OutgoingMail.state.in_((MailState.FAILED, MailState.QUEUED)))
    else:
        q = q.where(OutgoingMail.state == MailState.FAILED)
    return len(session.execute(q.returning(OutgoingMail.id)).all())


def counts(session: Session) -> dict[str, int]:
    """Health figures: waiting and dead messages, queued and failed mail."""
    def n(q: Any) -> int:
        return int(session.scalar(q) or 0)

    return {
        "tickets": n(select(func.count(Ticket.id))),
        "messages_waiting": n(select(func.count(InboundMessage.id)).where(InboundMessage.state == MessageState.NEW)),
        "messages_dead": n(select(func.count(InboundMessage.id)).where(InboundMessage.state == MessageState.DEAD)),
        "mail_queued": n(select(func.count(OutgoingMail.id)).where(OutgoingMail.state == MailState.QUEUED)),
        "mail_failed": n(select(func.count(OutgoingMail.id)).where(OutgoingMail.state == MailState.FAILED)),
    }


def by_mailbox(session: Session) -> dict[str, dict[str, int]]:
    """Per mailbox: its open tickets and its queued mail (``maild status``, the metrics)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"tickets_open": 0, "mail_queued": 0})
    for name, n in session.execute(select(Ticket.mailbox, func.count(Ticket.id)).where(OPEN_TICKET)
                                   .group_by(Ticket.mailbox)):
        out[name]["tickets_open"] = int(n)
    for name, n in session.execute(select(OutgoingMail.mailbox, func.count(OutgoingMail.id))
                                   .where(OutgoingMail.state == MailState.QUEUED).group_by(OutgoingMail.mailbox)):
        out[name]["mail_queued"] = int(n)
    return dict(out)
