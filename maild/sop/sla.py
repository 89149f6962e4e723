"""Service level targets in working time, and how much of it a ticket has used. Pure.

A target is a number of working hours to the first staff action ("response") and to closing
("resolution"), per priority or per type and priority. The clock stops while a ticket is in
a pause state (by default ``escalated``: waiting on another service group, as Znuny and
Zammad allow), so a ticket is not counted late for time it spent with someone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.base.settings import SlaSettings
from maild.base.errors import ConfigError
from maild.sop.vocabulary import Priority, State, Status
from maild.sop.workcal import WorkCalendar

# What the clock can be stopped in: a ticket's states, and ``waiting`` for the reporter.
_CLOCK_STATES: tuple[str, ...] = (*State, Status.WAITING)


@dataclass(frozen=True)
class Target:
    response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class Policy:
    targets: dict[str, Target]
    default_priority: str
    pause_states: frozenset[str]
    head_after: timedelta | None

    def target(self, type_: str | None, priority: str | None) -> Target:
        """The most specific target: ``type.priority``, then ``priority``, then the default."""
        prio = priority or self.default_priority
        return (self.targets.get(f"{type_}.{prio}") or self.targets.get(prio)
                or self.targets[self.default_priority])


def policy_from(settings: SlaSettings) -> Policy:
    """Read the ``[sla]`` settings; a bad target, priority or pause state is one ConfigError line."""
    targets: dict[str, Target] = {}
    for line in settings.targets:
        parts = line.split()
        try:
            key, response, resolution = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ConfigError(f"sla.targets: {line!r}: write 'PRIORITY RESPONSE_HOURS RESOLUTION_HOURS'") from None
        if key.rpartition(".")[2] not in tuple(Priority):
            raise ConfigError(f"sla.targets: {line!r}: priority must be one of {', '.join(Priority)}")
        if not 0 < response <= resolution:
            raise ConfigError(f"sla.targets: {line!r}: need 0 < response <= resolution")
        targets[key] = Target(timedelta(hours=response), timedelta(hours=resolution))
    _check_words(settings)
    if settings.default_priority not in targets:
        raise ConfigError(f"sla.default_priority: {settings.default_priority!r} has no target in sla.targets")
    head = timedelta(hours=settings.head_after_hours) if settings.head_address else None
    return Policy(targets, settings.default_priority, frozenset(settings.pause_states), head)


def _check_words(settings: SlaSettings) -> None:
    """The settings name priorities and states as plain strings (base cannot import the
    vocabulary); refuse one the vocabulary does not know, naming the key."""
    if settings.default_priority not in tuple(Priority):
        raise ConfigError(f"sla.default_priority: {settings.default_priority!r} is not one of {', '.join(Priority)}")
    for state in settings.pause_states:
        if state not in _CLOCK_STATES:
            raise ConfigError(f"sla.pause_states: {state!r} is not one of {', '.join(_CLOCK_STATES)}")


def clock_changes(events: Sequence[tuple[datetime, str, str | None, str | None, dict[str, object]]]
                  ) -> list[tuple[datetime, str]]:
    """The ``(time, state)`` changes that start and stop the clock, from a ticket's events
    ``(time, event, old state, new state, detail)``. Besides the real states there is
    ``waiting``: from ``#status tunggu`` until the reporter replies or the state changes."""
    changes: list[tuple[datetime, str]] = []
    waiting = False
    for at, event, old, new, detail in events:
        if event == "status_updated" and detail.get("status") == Status.WAITING:
            changes.append((at, Status.WAITING))
            waiting = True
        elif waiting and (event in ("reporter_replied", "status_updated") or (new and new != old)):
            changes.append((at, new or State.IN_PROGRESS))
            waiting = False
        elif new and new != old:
            changes.append((at, new))
    return changes


def paused_spans(
    transitions: Sequence[tuple[datetime, str]], pause_states: frozenset[str], now: datetime
) -> list[tuple[datetime, datetime]]:
    """The spans a ticket spent in a pause state, from its ``(time, new state)`` changes."""
    spans: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    for at, state in transitions:
        if state in pause_states and since is None:
            since = at
        elif state not in pause_states and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, now))
    return spans


def used(calendar: WorkCalendar, start: datetime, now: datetime, paused: Sequence[tuple[datetime, datetime]]) -> timedelta:
    """Working time from ``start`` to ``now``, less the working time spent paused."""
    total = calendar.working_time_between(start, now)
    for a, b in paused:
        total -= calendar.working_time_between(max(a, start), min(b, now))
    return max(total, timedelta(0))


def due(
    calendar: WorkCalendar, start: datetime, amount: timedelta, paused: Sequence[tuple[datetime, datetime]]
) -> datetime:
    """When ``amount`` of unpaused working time will have passed since ``start``."""
    moment = calendar.add_working_time(start, amount)
    for _ in range(100):  # each round adds the paused time found inside; converges fast
        extra = sum((calendar.working_time_between(max(a, start), min(b, moment)) for a, b in paused
                     if a < moment), timedelta(0))
        later = calendar.add_working_time(start, amount + extra)
        if later == moment:
            break
        moment = later
    return moment


# What counts as the team acting on a ticket (the events ``staff_touched`` goes with).
_TEAM_EVENTS = frozenset({
    "staff_answered", "note_added", "status_updated", "classified", "assigned", "escalated",
    "reported_to_coordinator", "recommended", "resolved",
})


@dataclass(frozen=True)
class Round:
    """The part of a ticket's life its SLA levels measure: from its opening, or from its
    latest reopening. Each round has its own levels, so a reopened ticket is reminded and
    escalated again (RT and Zammad restart their SLA on reopen too)."""

    number: int  # 0 until the ticket is first reopened
    start: datetime
    answered: bool  # the team acted on it since ``start``


def current_round(created_at: datetime, first_response_at: datetime | None,
                  events: Sequence[tuple[datetime, str, str]], system_actor: str) -> Round:
    """The round a ticket is in, from its ``(time, event, actor)`` events in order."""
    number, start, answered = 0, created_at, first_response_at is not None
    for at, event, actor in events:
        if event == "reopened":
            number, start, answered = number + 1, at, False
        elif number and event in _TEAM_EVENTS and actor != system_actor:
            answered = True
    return Round(number, start, answered)
