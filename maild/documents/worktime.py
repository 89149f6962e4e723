"""Working time of a ticket, read back from its events: to the first response, to closing, or to
any moment, with the time the SLA clock stood still taken out (as the SLA timers count it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maild.sop import sla
from maild.sop.vocabulary import State
from maild.sop.workcal import WorkCalendar

EventRow = tuple[datetime, str, str | None, str | None, dict[str, Any]]
"""One event as the SLA functions read it: (time, event, old state, new state, detail)."""


@dataclass(frozen=True)
class Durations:
    """Working time to the first staff action and to closing, less the time the clock stood still."""

    response: timedelta | None
    resolution: timedelta | None


def working_time(calendar: WorkCalendar, pause_states: frozenset[str], events: Sequence[EventRow],
                 start: datetime, end: datetime) -> timedelta:
    """Working time from ``start`` to ``end`` with the pauses of the SLA clock taken out.

    ``closed`` counts as a pause too: a ticket reopened after a week was not being worked on
    during that week. Only events before ``end`` are considered.
    """
    changes = sla.clock_changes([e for e in events if e[0] < end])
    paused = sla.paused_spans(changes, pause_states | {State.CLOSED}, end)
    return sla.used(calendar, start, end, paused)


def durations(calendar: WorkCalendar, pause_states: frozenset[str], events: Sequence[EventRow],
              created_at: datetime, first_response_at: datetime | None,
              closed_at: datetime | None) -> Durations:
    """A ticket's response and resolution times in working hours (None: not yet)."""
    response = (working_time(calendar, pause_states, events, created_at, first_response_at)
                if first_response_at else None)
    resolution = working_time(calendar, pause_states, events, created_at, closed_at) if closed_at else None
    return Durations(response, resolution)
