"""Stage 3b: the coordinator's daily digest (SOP step 7: "monitors the follow-up status").

Every working day at ``digest.time`` (WITA), one mail to the coordinator (and ``also_to``):
open tickets grouped by SOP step, overdue first, with their age in working hours and the last
action; escalations awaiting an answer; tickets with the coordinator; failed outgoing mail
and quarantined messages, so a broken pipeline is seen; and the week's intake and closings
per category, as a chart in the HTML part and as numbers in the text part. Each firing is
keyed ``digest:{recipient}:{date}``: once a day, whatever restarts or daemons.

Each mailbox has its own digest, of its own tickets, failed mail and dead messages, for its
own coordinator; a mailbox other than the top level's keys its firings
``{mailbox}:digest:{recipient}:{date}`` (``cause_key``), so one coordinator of two mailboxes
gets both digests, and the top level's keys stay those of a database from before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from maild.sop import sla
from maild.documents.chart import Bar, bar_chart_png
from maild.base.clock import Clock
from maild.base.settings import DEFAULT_MAILBOX
from maild.store.db import transaction
from maild.store.models import Event, InboundMessage, OutgoingMail, Ticket, TimerFiring
from maild.service.mailer import Mailer
from maild.store.outbox import Identity, outgoing_key
from maild.store.proof_scope import record_digest_listing
from maild.sop.proof import DIGEST
from maild.render.renderer import local_time
from maild.store.queries import insert_ignore, open_work
from maild.mail.tokens import format_token, key_hash
from maild.sop.vocabulary import MailState, MessageState, State, label
from maild.render.views import DigestGroup, DigestLine, DigestView, WeekRow
from maild.sop.workcal import WorkCalendar

_CHUNK = 500  # tickets whose events one query reads (bounded IN lists on either database)

_STEPS = (
    (State.NEW, "1-2"), (State.IN_PROGRESS, "3, 5"), (State.ESCALATED, "4"), (State.WITH_COORDINATOR, "6-7"),
)


@dataclass(frozen=True)
class DigestSettings:
    identity: Identity
    language: str
    timezone: str
    tag: str
    at: time
    recipients: tuple[tuple[str, str], ...]  # (address, name)
    all_clear: bool
    policy: sla.Policy
    calendar: WorkCalendar


class Digest:
    """Composes and queues the digest when it is due."""

    def __init__(self, factory: sessionmaker[Session], mailer: Mailer, settings: DigestSettings,
                 clock: Clock) -> None:
        self.factory = factory
        self.mailer = mailer
        self.settings = settings
        self.clock = clock

    def run_once(self) -> int:
        """Queue today's digest if it is due and not sent yet; return how many were queued."""
        s = self.settings
        now = self.clock()
        local = now.astimezone(ZoneInfo(s.timezone))
        if not s.calendar.is_working_day(local.date()) or local.time() < s.at or not s.recipients:
            return 0
        queued = 0
        with transaction(self.factory) as session:
            view: DigestView | None = None
            for address, name in s.recipients:
                key = cause_key(s.identity.mailbox, f"digest:{address}:{local.date().isoformat()}")
                if not insert_ignore(session, TimerFiring, {"key": key, "ticket_id": None, "kind": "digest",
                                                            "fired_at": now}, ["key"]):
                    continue
                view = view or self.compose(session, now)
                if view.all_clear and not s.all_clear:
                    continue
                queued += self.queue(session, view, address, name, key, now)
        return queued

    def queue(self, session: Session, view: DigestView, address: str, name: str, cause: str, now: datetime) -> int:
        """Render the digest for one recipient and put it in the outbox."""
        personal = DigestView(**{**{f: getattr(view, f) for f in view.__dataclass_fields__}, "recipient_name": name})
        if not self.mailer.queue_notice(session, "digest", address, name, personal, cause, DIGEST, now,
                                        automatic=False, images=self.images(view)):
            return 0
        # A reply to this digest proves its recipient only for the tickets it lists (sop.proof).
        record_digest_listing(session, key_hash(outgoing_key(cause, "digest", address)), listed(view), now,
                              self.settings.identity.mailbox)
        return 1

    def images(self, view: DigestView) -> tuple[tuple[str, bytes], ...]:
        """The images the digest's HTML shows by ``cid:``: the week's chart."""
        s = self.settings
        chart = bar_chart_png([Bar(w.category, w.intake, w.closed) for w in view.week],
                              "Laporan masuk dan selesai, 7 hari terakhir" if s.language == "id"
                              else "Reports in and closed, last 7 days",
                              legend=("Masuk", "Selesai") if s.language == "id" else ("In", "Closed"))
        return (("chart", chart),)

    def compose(self, session: Session, now: datetime) -> DigestView:
        """What the digest says, from the database, as of ``now``."""
        s = self.settings
        lines = self._open_lines(session, now)
        groups = tuple(
            DigestGroup(step, label(state, s.language),
                        tuple(sorted((l for l in lines if l.state == state),
                                     key=lambda l: (not l.overdue, -l.age_hours))))
            for state, step in _STEPS
        )
        return DigestView(
            date=local_time(now, s.timezone, s.language).rsplit(" ", 2)[0],
            helpdesk_name=s.identity.name,
            helpdesk_address=s.identity.address,
            recipient_name="",
            groups=tuple(g for g in groups if g.lines),
            awaiting_group=tuple(l for l in lines if l.state == State.ESCALATED),
            awaiting_coordinator=tuple(l for l in lines if l.state == State.WITH_COORDINATOR),
            failed_mail=self._failed_mail(session, s.identity.mailbox),
            dead_messages=self._dead(session, s.identity.mailbox),
            week=self._week(session, now, s.identity.mailbox),
            open_count=len(lines),
            overdue_count=sum(l.overdue for l in lines),
        )

    def _open_lines(self, session: Session, now: datetime) -> list[DigestLine]:
        s = self.settings
        tickets = session.scalars(open_work(self.settings.identity.mailbox)).all()
        out = []
        # The open tickets' events in one query per chunk of tickets, not one per ticket.
        history: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for start in range(0, len(tickets), _CHUNK):
            for tid, *event in session.execute(
                select(Event.ticket_id, Event.created_at, Event.event, Event.old_state, Event.new_state, Event.detail,
                       Event.actor)
                .where(Event.ticket_id.in_([t.id for t in tickets[start:start + _CHUNK]])).order_by(Event.id)
            ):
                history[tid].append(tuple(event))
        for t in tickets:
            events = history[t.id]
            changes = sla.clock_changes([(at, ev, old, new, detail or {}) for at, ev, old, new, detail, _ in events])
            spent = sla.used(s.calendar, t.created_at, now, sla.paused_spans(changes, s.policy.pause_states, now))
            last = (events[-1][1], events[-1][5]) if events else None
            out.append(DigestLine(
                token=format_token(s.tag, t.number), number=t.number, subject=t.subject, state=t.state,
                priority=label(t.priority, s.language),
                age_hours=round(spent.total_seconds() / 3600, 1),
                overdue=spent >= s.policy.target(t.type, t.priority).resolution,
                last_action=last[0] if last else "-", last_actor=last[1] if last else "-",
            ))
        return out

    @staticmethod
    def _failed_mail(session: Session, mailbox: str) -> tuple[str, ...]:
        rows = session.execute(select(OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.last_error)
                               .where(OutgoingMail.state == MailState.FAILED, OutgoingMail.mailbox == mailbox)
                               .order_by(OutgoingMail.id.desc()).limit(20))
        return tuple(f"{r} | {subj[:60]} | {(err or '')[:80]}" for r, subj, err in rows)

    @staticmethod
    def _dead(session: Session, mailbox: str) -> tuple[str, ...]:
        rows = session.execute(select(InboundMessage.id, InboundMessage.sender, InboundMessage.last_error)
                               .where(InboundMessage.state == MessageState.DEAD, InboundMessage.mailbox == mailbox)
                               .order_by(InboundMessage.id.desc()).limit(20))
        return tuple(f"#{i} {sender or '-'} | {(err or '')[:80]}" for i, sender, err in rows)

    @staticmethod
    def _week(session: Session, now: datetime, mailbox: str) -> tuple[WeekRow, ...]:
        since = now - timedelta(days=7)
        intake: Counter[str] = Counter()
        for category, n in session.execute(week_intake(since, mailbox)):
            intake[category or "lainnya"] += n
        closed: Counter[str] = Counter()
        for category, n in session.execute(week_closings(since, mailbox)):
            closed[category or "lainnya"] += n
        categories = sorted(set(intake) | set(closed), key=lambda c: (-intake[c] - closed[c], c))
        return tuple(WeekRow(c, intake[c], closed[c]) for c in categories)


def week_intake(since: datetime, mailbox: str) -> Select[tuple[str | None, int]]:
    """Tickets of ``mailbox`` received since ``since`` per category (the index on tickets.created_at)."""
    return (select(Ticket.category, func.count(Ticket.id)).where(Ticket.created_at >= since, Ticket.mailbox == mailbox)
            .group_by(Ticket.category))


def week_closings(since: datetime, mailbox: str) -> Select[tuple[str | None, int]]:
    """Tickets of ``mailbox`` resolved since ``since`` per category: the index on (event,
    created_at) reads the week's closings, not every event ever recorded."""
    return (select(Ticket.category, func.count(Event.id)).join(Ticket, Ticket.id == Event.ticket_id)
            .where(Event.event == "resolved", Event.created_at >= since, Ticket.mailbox == mailbox)
            .group_by(Ticket.category))


def cause_key(mailbox: str, key: str) -> str:
    """A digest's firing and outbox cause ``key`` as ``mailbox`` files it: the top level's
    unchanged (the keys of a database from before several mailboxes), the others' prefixed
    with their name, so two mailboxes with one coordinator do not take each other's day."""
    return key if mailbox == DEFAULT_MAILBOX else f"{mailbox}:{key}"


def listed(view: DigestView) -> set[str]:
    """The numbers of the tickets ``view`` shows (a reply to the digest may act on these only)."""
    lines = [*(l for g in view.groups for l in g.lines), *view.awaiting_group, *view.awaiting_coordinator]
    return {l.number for l in lines}


def recipients(coordinator: tuple[str, str], also_to: tuple[str, ...], names: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The coordinator first, then the extra addresses, without repeats."""
    out: list[tuple[str, str]] = []
    for address, name in [coordinator, *[(a.lower(), names.get(a.lower(), "")) for a in also_to]]:
        if address and address not in [a for a, _ in out]:
            out.append((address, name))
    return tuple(out)


