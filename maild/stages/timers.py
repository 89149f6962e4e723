"""Stage 3: the SLA clock. A ticket that waits too long is brought to someone's attention.

Levels, each fired once per ticket and round (a round starts when the ticket opens and again
each time it is reopened; a UNIQUE key ``sla:{ticket}:{level}[:r{round}]`` in
``timer_firings``, inserted in the same transaction as its effects, so a restart, a clock
jump or a second daemon on the same PostgreSQL database never fires it twice, and a crash in
the middle fires it again whole):

- ``response``: no staff action within the response target -> a reminder to the assignee
  (or every staff member);
- ``resolution``: not closed within the resolution target -> reported to the coordinator
  (SOP step 6), as ``#koordinator`` would;
- ``head``: still open ``head_after_hours`` later -> the head of the LPSE is told.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maild.service import actions

from maild.sop import sla
from maild.service.actions import SYSTEM_ACTOR, Act, ActionRefused, Roles
from maild.base.clock import Clock
from maild.store.db import transaction
from maild.base.errors import IllegalTransition
from maild.service.mailer import Mailer
from maild.store.models import Event, Ticket, TimerFiring
from maild.store.queries import insert_ignore, note_event, open_work
from maild.sop.workcal import WorkCalendar
from maild.stages.protocol import each_in_savepoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimerSettings:
    policy: sla.Policy
    calendar: WorkCalendar
    roles: Roles
    head_address: str = ""
    head_name: str = ""
    check_every: float = 60.0


@dataclass(frozen=True)
class _Life:
    changes: list[tuple[datetime, str]]
    round: sla.Round


@dataclass(frozen=True)
class _Due:
    ticket: Ticket
    level: str
    now: datetime
    spent: timedelta
    round: int


class Timers:
    """Looks at every open ticket now and then, and fires the levels that are due."""

    def __init__(self, factory: sessionmaker[Session], mailer: Mailer, settings: TimerSettings, clock: Clock) -> None:
        self.factory = factory
        self.mailer = mailer
        self.settings = settings
        self.clock = clock
        self._next_check = 0.0

    def run_once(self, force: bool = False) -> int:
        """Fire what is due; return how many levels fired. Runs at most every ``check_every`` s."""
        if not force and time.monotonic() < self._next_check:
            return 0
        self._next_check = time.monotonic() + self.settings.check_every
        now = self.clock()
        with transaction(self.factory) as session:
            # Imported tickets (an old mailbox brought in) are history, not work that is late.
            tickets = session.scalars(open_work(self.mailer.settings.identity.mailbox)).all()
            lives = self._lives(session, list(tickets))
            due = [level for ticket in tickets for level in self._due(ticket, lives[ticket.id], now)]
            fired: list[int] = []
            # Each level fires in its own savepoint: one that cannot fire (a broken template, say)
            # is tried again at the next check and does not hold back the others.
            each_in_savepoint(session, due, lambda s, d: fired.append(self._fire(s, d)), self._failed)
        return sum(fired)

    @staticmethod
    def _failed(session: Session, due: _Due, exc: Exception) -> None:
        log.error("ticket %s: SLA level %s could not fire, tried again at the next check: %s", due.ticket.number,
                  due.level, exc, exc_info=exc)

    @staticmethod
    def _lives(session: Session, tickets: list[Ticket]) -> dict[int, _Life]:
        """Each ticket's clock changes and SLA round, from its events."""
        if not tickets:
            return {}
        rows = session.execute(
            select(Event.ticket_id, Event.created_at, Event.event, Event.old_state, Event.new_state, Event.detail,
                   Event.actor)
            .where(Event.ticket_id.in_([t.id for t in tickets])).order_by(Event.id)
        )
        events: dict[int, list[tuple[datetime, str, str | None, str | None, dict[str, object]]]] = defaultdict(list)
        acts: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
        for tid, at, event, old, new, detail, actor in rows:
            events[tid].append((at, event, old, new, detail or {}))
            acts[tid].append((at, event, actor))
        return {t.id: _Life(sla.clock_changes(events[t.id]),
                            sla.current_round(t.created_at, t.first_response_at, acts[t.id], SYSTEM_ACTOR))
                for t in tickets}

    def _due(self, ticket: Ticket, life: _Life, now: datetime) -> list[_Due]:
        """The levels of the ticket's current round whose targets it has passed (each fires
        once per round: ``_fire`` keys it)."""
        s = self.settings
        paused = sla.paused_spans(life.changes, s.policy.pause_states, now)
        spent = sla.used(s.calendar, life.round.start, now, paused)
        target = s.policy.target(ticket.type, ticket.priority)
        levels = []
        if not life.round.answered and spent >= target.response:
            levels.append("response")
        if spent >= target.resolution:
            levels.append("resolution")
        if s.policy.head_after is not None and s.head_address and spent >= target.resolution + s.policy.head_after:
            levels.append("head")
        return [_Due(ticket, level, now, spent, life.round.number) for level in levels]

    def _fire(self, session: Session, due: _Due) -> int:
        ticket, level, now, spent = due.ticket, due.level, due.now, due.spent
        # Round 0 keeps the key it always had, so databases from before rounds never refire.
        key = f"sla:{ticket.id}:{level}" + (f":r{due.round}" if due.round else "")
        if not insert_ignore(session, TimerFiring,
                             {"key": key, "ticket_id": ticket.id, "kind": f"sla_{level}", "fired_at": now}, ["key"]):
            return 0
        hours = round(spent.total_seconds() / 3600, 1)
        act = Act(session, self.mailer, self.settings.roles, ticket, "maild", key, now)
        note_event(session, ticket, f"sla_{level}_missed", "maild", key, now,
                   {"working_hours": hours, **({"round": due.round} if due.round else {})})
        if level == "response":
            for address, name in act.team():
                act.mail("sla_reminder", address, act.view(name, extra={"hours": str(hours), "level": level}))
        elif level == "resolution":
            self._report_to_coordinator(act, hours)
        else:
            s = self.settings
            act.mail("sla_head", s.head_address, act.view(s.head_name, extra={"hours": str(hours), "level": level}))
        log.warning("ticket %s: SLA %s target missed after %s working hours", ticket.number, level, hours)
        return 1

    def _report_to_coordinator(self, act: Act, hours: float) -> None:
        note = f"Otomatis: batas waktu penyelesaian terlewati ({hours} jam kerja)."
        savepoint = act.session.begin_nested()
        try:
            actions.to_coordinator(act, note)
            savepoint.commit()
        except (IllegalTransition, ActionRefused):
            # Already with the coordinator (or none configured): remind instead of moving it.
            savepoint.rollback()
            address, name = self.settings.roles.coordinator
            for to, who in ([(address, name)] if address else act.team()):
                act.mail("sla_reminder", to, act.view(who, extra={"hours": str(hours), "level": "resolution"}))
