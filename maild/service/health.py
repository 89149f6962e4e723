"""How maild is doing, in figures: what ``maild status`` prints and what the metrics read.

One function gathers the figures from the database (the one place every daemon and command
shares), so the status screen and a Prometheus scrape never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maild.service import admin
from maild.sop import sla
from maild.sop.vocabulary import Alarm, MailState
from maild.sop.workcal import WorkCalendar
from maild.store.leases import leases
from maild.store.models import OPEN_TICKET, InboundMessage, OutgoingMail, Ticket, TimerFiring

# How long mail may wait in the outbox before ``maild status`` calls it stuck (the sender
# retries a failing server from a minute up to an hour apart, so an hour is a real problem).
DEFAULT_MAX_OUTBOX_AGE = timedelta(hours=1)


class Problem(StrEnum):
    """What makes ``maild status`` exit non-zero: each needs a person."""

    MAIL_FAILED = "mail_failed"
    MESSAGES_DEAD = "messages_dead"
    OUTBOX_STUCK = "outbox_stuck"
    SCHEMA_BEHIND = "schema_behind"
    ALERT_OPEN = "alert_open"


@dataclass(frozen=True)
class OpenAlert:
    """An alert the admin was mailed about and that has not recovered (``stages.alerts``)."""

    mailbox: str
    alarm: Alarm
    since: datetime  # when the trouble began


def alert_key(mailbox: str, alarm: Alarm) -> str:
    """The ``timer_firings`` key present while the alert is open: one per mailbox and alarm."""
    return f"alert:{mailbox}:{alarm}"


def alert_kind(alarm: Alarm) -> str:
    """The ``timer_firings`` kind of an open alert."""
    return f"alert_{alarm}"


def open_alerts(session: Session) -> tuple[OpenAlert, ...]:
    """Every open alert, by mailbox and alarm."""
    kinds = {alert_kind(a): a for a in Alarm}
    rows = session.execute(select(TimerFiring.key, TimerFiring.kind, TimerFiring.fired_at)
                           .where(TimerFiring.kind.in_(kinds)).order_by(TimerFiring.key))
    return tuple(OpenAlert(key.removeprefix("alert:").rpartition(":")[0], kinds[kind], since)
                 for key, kind, since in rows)


@dataclass(frozen=True)
class MailboxHealth:
    """One mailbox: who it is, its open tickets and queued mail, and the daemon reading it."""

    name: str
    tag: str  # its ticket tag ("" for rows of a mailbox no longer configured)
    address: str
    tickets_open: int
    mail_queued: int
    lease_holder: str | None  # host:boot:pid:token of the daemon that reads it (None: none ever has)
    lease_expires_at: datetime | None  # held until then unless renewed; past: nobody reads it now


@dataclass(frozen=True)
class Health:
    """The figures of one look at the database."""

    mail_queued: int
    mail_failed: int
    oldest_queued_seconds: float | None
    messages_waiting: int
    messages_dead: int
    tickets_open: int
    tickets_overdue: int
    last_received_at: datetime | None
    last_sent_at: datetime | None
    db_revision: str | None
    db_newest: str
    problems: tuple[Problem, ...] = field(default=())
    alerts: tuple[OpenAlert, ...] = field(default=())
    mailboxes: tuple[MailboxHealth, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        """Nothing needs a person."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The figures with stable keys, times as ISO strings (``maild status --json``)."""
        data = asdict(self)
        for key in ("last_received_at", "last_sent_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["problems"] = [str(p) for p in self.problems]
        data["alerts"] = [{"mailbox": a.mailbox, "alarm": str(a.alarm), "since": a.since.isoformat()}
                          for a in self.alerts]
        for box in data["mailboxes"]:
            box["lease_expires_at"] = box["lease_expires_at"].isoformat() if box["lease_expires_at"] else None
        data["healthy"] = self.healthy
        return data


@dataclass(frozen=True)
class Queues:
    """The figures a metrics scrape reads every time (cheap, indexed queries only)."""

    mail_queued: int
    mail_failed: int
    oldest_queued_seconds: float
    messages_waiting: int
    messages_dead: int
    dispositions: dict[str, int]
    sla_breaches: dict[str, int]
    alerts: tuple[OpenAlert, ...] = ()


def _count(session: Session, q: Any) -> int:
    return int(session.scalar(q) or 0)


def oldest_queued_seconds(session: Session, now: datetime) -> float | None:
    """Seconds the oldest queued mail has waited since it was queued; None when none waits."""
    oldest = session.scalar(select(func.min(OutgoingMail.created_at)).where(OutgoingMail.state == MailState.QUEUED))
    return max(0.0, (now - oldest).total_seconds()) if oldest else None


def queues(session: Session, now: datetime) -> Queues:
    """The outbox, the ledger's messages by disposition and the SLA levels missed so far."""
    n = admin.counts(session)
    dispositions = dict(session.execute(
        select(InboundMessage.disposition, func.count(InboundMessage.id))
        .where(InboundMessage.disposition.is_not(None)).group_by(InboundMessage.disposition)).all())
    breaches = dict(session.execute(
        select(TimerFiring.kind, func.count(TimerFiring.id))
        .where(TimerFiring.kind.like("sla_%")).group_by(TimerFiring.kind)).all())
    return Queues(n["mail_queued"], n["mail_failed"], oldest_queued_seconds(session, now) or 0.0,
                  n["messages_waiting"], n["messages_dead"],
                  {str(k): int(v) for k, v in dispositions.items()},
                  {str(k).removeprefix("sla_"): int(v) for k, v in breaches.items()}, open_alerts(session))


def mailbox_health(session: Session, configured: Sequence[tuple[str, str, str]]) -> tuple[MailboxHealth, ...]:
    """Each mailbox of ``configured`` ((name, tag, address), the top level's first), then any
    other the database has rows of: its open tickets, queued mail and lease."""
    figures = admin.by_mailbox(session)
    held = {lease.mailbox: lease for lease in leases(session)}
    names = [*(name for name, _, _ in configured)]
    names += sorted((set(figures) | set(held)) - set(names))
    about = {name: (tag, address) for name, tag, address in configured}
    out = []
    for name in names:
        tag, address = about.get(name, ("", ""))
        n, lease = figures.get(name, {}), held.get(name)
        out.append(MailboxHealth(name, tag, address, n.get("tickets_open", 0), n.get("mail_queued", 0),
                                 lease.holder if lease else None, lease.expires_at if lease else None))
    return tuple(out)


def gather(session: Session, now: datetime, policy: sla.Policy, calendar: WorkCalendar,
           revisions: tuple[str | None, str], max_outbox_age: timedelta = DEFAULT_MAX_OUTBOX_AGE,
           mailboxes: Sequence[tuple[str, str, str]] = ()) -> Health:
    """Every figure of ``maild status`` and the problems among them; per mailbox for each of
    ``mailboxes`` ((name, tag, address))."""
    n = admin.counts(session)
    everything_open = admin.TicketFilter(state="open", limit=1_000_000)
    # Counted by the database (the partial index of open tickets), not loaded to be counted.
    tickets_open = _count(session, select(func.count(Ticket.id)).where(OPEN_TICKET))
    overdue = admin.overdue_tickets(session, everything_open, policy, calendar, now)
    age = oldest_queued_seconds(session, now)
    current, newest = revisions
    problems = []
    if n["mail_failed"]:
        problems.append(Problem.MAIL_FAILED)
    if n["messages_dead"]:
        problems.append(Problem.MESSAGES_DEAD)
    if age is not None and age > max_outbox_age.total_seconds():
        problems.append(Problem.OUTBOX_STUCK)
    if current != newest:
        problems.append(Problem.SCHEMA_BEHIND)
    alerts = open_alerts(session)
    if alerts:
        problems.append(Problem.ALERT_OPEN)
    return Health(
        mail_queued=n["mail_queued"], mail_failed=n["mail_failed"], oldest_queued_seconds=age,
        messages_waiting=n["messages_waiting"], messages_dead=n["messages_dead"],
        tickets_open=tickets_open, tickets_overdue=len(overdue),
        last_received_at=session.scalar(select(func.max(InboundMessage.received_at))),
        last_sent_at=session.scalar(select(func.max(OutgoingMail.sent_at))),
        db_revision=current, db_newest=newest, problems=tuple(problems), alerts=alerts,
        mailboxes=mailbox_health(session, mailboxes),
    )
