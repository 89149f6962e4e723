"""The monthly report for the head of the LPSE: intake, closings, working time against the SLA
targets, escalations, the coordinator's part, and the oldest open tickets.

Read side only, built from the tickets and their append-only events, so a month can be
reported again later and says the same thing: states "at the end of the month" are rebuilt
from the events before that moment, not taken from the tickets' current state.

The figures only: ``monthly_report`` queries the month's tickets and events once and computes
a ``Report`` of frozen dataclasses; ``maild.documents.report_output`` renders it.

Definitions (also printed in the report):

- *Masuk* (intake): tickets created in the month (WITA calendar month).
- *Selesai* (closed): tickets closed in the month: resolved (``resolved`` event) or merged into
  another ticket as a duplicate (``merged``, counted apart too); a ticket closed twice in the
  month counts once.
- *Terbuka* at the start or end of the month: not closed at that moment. For the current
  month "the end" is now (the injected clock): its open tickets, their age and whether they
  are overdue are measured to now, never to a moment that has not come yet.
- *Dibuka kembali* (reopened): tickets open again in the month after a closing, counted once
  as *Selesai* is, so that the figures reconcile: terbuka awal + masuk + dibuka kembali -
  selesai = terbuka akhir. A ticket that was open at the start (or came in) and was closed,
  reopened and closed again within the month counts once in *Selesai* and not here.
- *Waktu tanggapan pertama*: working time from the report to the first staff action, for the
  tickets that came in this month and had one before its end. *Waktu penyelesaian*: working
  time from the report to the (last) closing in the month, for the tickets closed this month.
  Both leave out the time the SLA clock stands still (waiting on another service group or on
  the reporter, and time spent closed before a reopening), as the SLA timers do.
- Median and 90th percentile by linear interpolation between the nearest ranks (the method of
  numpy's default and of ``statistics.quantiles(method="inclusive")``).
- *Dalam target*: at most the ticket's SLA target (by type and priority).
- *Survei Kepuasan Masyarakat*: the responses received in the month, against the tickets
  closed with a result in it; the index as Permenpan RB 14/2017 computes it
  (``maild.documents.survey_figures``, ``maild.sop.skm``).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CompoundSelect, Select, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from maild.documents.labels import (
    CHANNELS,
    category_label,
    channel_key,
    channel_label,
    format_number,
    hours_of,
    local_date,
    priority_label,
    type_label,
)
from maild.documents.settings import FormSettings, read_logo
from maild.documents.survey_figures import SurveyFigures, survey_figures
from maild.documents.worktime import EventRow, working_time
from maild.render.renderer import local_time
from maild.sop.vocabulary import Priority, Role, State, TicketType, label, labels
from maild.store.models import Event, Party, Ticket, unindexed_time

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")
OLDEST = 10


# -- values ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CountRow:
    """One line of a breakdown: tickets in and tickets closed in the month."""

    key: str
    label: str
    intake: int
    closed: int


@dataclass(frozen=True)
class TimeStats:
    """Working time to the first response or to closing, over the month's tickets."""

    measure: str  # "response" or "resolution"
    label: str
    count: int  # tickets measured
    median_hours: float | None  # exact; the HTML and CSV round them
    p90_hours: float | None
    within_target: int
    pending: int  # tickets of the month not responded to (or not closed) by its end

    @property
    def share_within(self) -> float | None:
        """Share of the measured tickets within their target, 0..1 (None: none measured)."""
        return self.within_target / self.count if self.count else None

    @property
    def percent_within(self) -> str:
        share = self.share_within
        return "-" if share is None else format_number(100 * share, 1) + "%"


@dataclass(frozen=True)
class GroupRow:
    """Escalations to one service group (SOP step 4) in the month."""

    group: str
    title: str
    escalations: int
    tickets: int
    answered: int
    waiting_at_end: int
    median_answer_hours: float | None


@dataclass(frozen=True)
class CoordinatorStats:
    """The coordinator's part (SOP steps 6-7) in the month."""

    reported: int  # reports to the coordinator (events)
    tickets: int  # distinct tickets reported
    automatic: int  # of the reports, made by the SLA timer
    recommendations: int
    tickets_recommended: int
    waiting_at_end: int  # tickets with the coordinator at the end of the month
    median_recommendation_hours: float | None


@dataclass(frozen=True)
class OpenTicket:
    """A ticket still open at the end of the month."""

    number: str
    subject: str
    state: str
    state_label: str
    type_label: str
    category_label: str
    priority_label: str
    created_at: str
    age_hours: float
    calendar_days: int
    overdue: bool
    assignee: str


@dataclass(frozen=True)
class Report:
    """The month's figures, ready to render (HTML, CSV) or to check."""

    month: str
    title: str
    lpse_name: str
    logo: bytes | None
    start: datetime
    end: datetime
    intake: int
    closed: int
    merged: int  # of the closed, merged into another ticket as duplicates
    open_at_start: int
    open_at_end: int
    reopened: int  # open again after a closing; see the definitions above
    by_type: tuple[CountRow, ...]
    by_category: tuple[CountRow, ...]
    by_channel: tuple[CountRow, ...]
    by_priority: tuple[CountRow, ...]
    response: TimeStats
    resolution: TimeStats
    escalations: tuple[GroupRow, ...]
    coordinator: CoordinatorStats
    oldest_open: tuple[OpenTicket, ...]
    targets: tuple[tuple[str, float, float], ...]  # (priority label, response h, resolution h)
    period: str = ""  # "1-30 November 2026"
    place: str = "Tideng Pale"
    coordinator_name: str = ""
    as_of: datetime | None = None  # the open figures' moment: the month's end, or now in the current month
    # The satisfaction survey (SKM) of the month; None when the survey is off and nobody answered.
    survey: SurveyFigures | None = None

    @property
    def partial(self) -> bool:
        """The month is not over yet: the open figures are as of now."""
        return self.as_of is not None and self.as_of < self.end

    @property
    def escalated(self) -> int:
        return sum(g.escalations for g in self.escalations)


# -- helpers --------------------------------------------------------------------------------
def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants of the first moment of ``YYYY-MM`` and of the next month, in ``tz``."""
    found = _MONTH.match(month.strip())
    if found is None:
        raise ValueError(f"month must be YYYY-MM (e.g. 2026-11), got {month!r}")
    year, mon = int(found.group(1)), int(found.group(2))
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def last_full_month(now: datetime, tz: str) -> str:
    """``YYYY-MM`` of the last month that is over in ``tz`` at ``now``."""
    local = now.astimezone(ZoneInfo(tz))
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks; None if empty."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)



@dataclass(frozen=True)
class _Ticket:
    """A ticket with its events, as the report needs it."""

    row: Ticket
    events: tuple[Event, ...]

    def sla_events(self) -> list[EventRow]:
        return [(e.created_at, e.event, e.old_state, e.new_state, e.detail or {}) for e in self.events]

    def state_at(self, moment: datetime) -> str | None:
        """The state just before ``moment`` (None: not yet reported)."""
        state = None
        for e in self.events:
            if e.created_at >= moment:
                break
            state = e.new_state or state
        return state

    def between(self, kind: str, start: datetime, end: datetime) -> list[Event]:
        return [e for e in self.events if e.event == kind and start <= e.created_at < end]


def load_month(session: Session, start: datetime, end: datetime, mailbox: str) -> list[_Ticket]:
    """The tickets of ``mailbox`` that can matter for the month, with their events."""
    tickets = sorted(session.scalars(month_tickets(start, end, mailbox)), key=lambda t: t.id)
    events: dict[int, list[Event]] = defaultdict(list)
    for e in session.scalars(month_events(start, end, mailbox)):
        events[e.ticket_id].append(e)
    return [_Ticket(t, tuple(events[t.id])) for t in tickets]


def _month_rows(start: datetime, end: datetime, mailbox: str, *columns: Any) -> CompoundSelect:
    """``columns`` of the tickets of ``mailbox`` created before the month's end and not closed
    before its start: the open ones and those closed since the start, each found by the index
    on closed_at (nearly every ticket of a long history was created before the end, so
    created_at narrows nothing; and an OR of the two keeps a planner from using the index at all)."""
    mine = Ticket.mailbox == mailbox
    # ``created_at < end`` holds for nearly every ticket of a long history: never the index.
    before_end = unindexed_time(Ticket.created_at) < end
    return union_all(select(*columns).where(Ticket.closed_at.is_(None), before_end, mine),
                     select(*columns).where(Ticket.closed_at >= start, before_end, mine))


def month_tickets(start: datetime, end: datetime, mailbox: str) -> Select[tuple[Ticket]]:
    """The tickets of ``mailbox`` that can matter for the month [start, end), in no order
    (ordered in the database, SQLite would merge the two halves by reading every ticket in id order)."""
    rows = _month_rows(start, end, mailbox, Ticket).subquery()
    return select(aliased(Ticket, rows))


def month_events(start: datetime, end: datetime, mailbox: str) -> Select[tuple[Event]]:
    """The events of ``month_tickets``, in order."""
    return select(Event).where(Event.ticket_id.in_(_month_rows(start, end, mailbox, Ticket.id))).order_by(Event.id)


# -- the report -----------------------------------------------------------------------------
def monthly_report(session: Session, month: str, settings: FormSettings, now: datetime) -> Report:
    """The report of ``month`` (``YYYY-MM``, a calendar month in the helpdesk's time zone) on
    the tickets of ``settings.mailbox``, as known at ``now``: for the current month the open
    tickets are measured to ``now``."""
    start, end = month_bounds(month, settings.timezone)
    as_of = max(start, min(now, end))
    tickets = load_month(session, start, end, settings.mailbox)
    intake = [t for t in tickets if start <= t.row.created_at < end]
    closed = [t for t in tickets if t.between("resolved", start, end) or t.between("merged", start, end)]
    resolved = [t for t in closed if t.between("resolved", start, end)]
    open_end = [t for t in tickets if _open(t.state_at(end))]
    lang = settings.language
    return Report(
        month=month, title=" ".join(local_time(start, settings.timezone, lang).split()[1:3]),
        lpse_name=settings.lpse_name, logo=read_logo(settings.logo), start=start, end=end,
        intake=len(intake), closed=len(closed), merged=len(closed) - len(resolved),
        open_at_start=sum(_open(t.state_at(start)) for t in tickets),
        open_at_end=len(open_end), reopened=_reopened(tickets, start, end, {t.row.id for t in closed}),
        by_type=_breakdown(intake, closed, lambda t: t.type or "", list(labels(TicketType)),
                           lambda k: type_label(k, lang)),
        by_category=_breakdown(intake, closed, lambda t: t.category or "", (), category_label),
        by_channel=_breakdown(intake, closed, lambda t: channel_key(t.channel), [k for k, _ in CHANNELS],
                              channel_label),
        by_priority=_breakdown(intake, closed, lambda t: t.priority or "", list(labels(Priority)),
                               lambda k: priority_label(k, lang)),
        response=_response(intake, end, settings), resolution=_resolution(resolved, start, end, settings),
        escalations=_escalations(tickets, start, end, settings),
        coordinator=_coordinator(tickets, start, end, settings),
        oldest_open=_oldest(session, open_end, as_of, settings),
        targets=_targets(settings),
        period=f"1-{local_date(min(as_of, end - timedelta(seconds=1)), settings.timezone, lang)}",
        place=settings.place, coordinator_name=settings.coordinator_name, as_of=as_of,
        survey=_survey(session, start, end, settings),
    )


def _survey(session: Session, start: datetime, end: datetime, settings: FormSettings) -> SurveyFigures | None:
    figures = survey_figures(session, start, end, settings.timezone, settings.language, settings.mailbox)
    return None if settings.survey_mode == "off" and not figures.responses else figures


def _open(state: str | None) -> bool:
    return state not in (None, State.CLOSED)


def _reopened(tickets: Sequence[_Ticket], start: datetime, end: datetime, closed: set[int]) -> int:
    """Tickets open again in the month after a closing, as the definitions count them: per
    ticket, what its closing (counted once) and its coming in leave unexplained of its
    being open at the end (0 or 1)."""
    count = 0
    for t in tickets:
        came = start <= t.row.created_at < end
        count += (t.row.id in closed) + _open(t.state_at(end)) - _open(t.state_at(start)) - came
    return count


def _breakdown(intake: Sequence[_Ticket], closed: Sequence[_Ticket], key_of: Callable[[Ticket], str],
               always: Sequence[str], label_of: Callable[[str | None], str]) -> tuple[CountRow, ...]:
    """Counts per key: the ``always`` keys first (zero rows too), then the rest by intake."""
    came: Counter[str] = Counter(key_of(t.row) for t in intake)
    done: Counter[str] = Counter(key_of(t.row) for t in closed)
    rest = sorted((set(came) | set(done)) - set(always), key=lambda k: (-came[k], -done[k], k))
    return tuple(CountRow(k, label_of(k or None), came[k], done[k]) for k in [*always, *rest])


def _stats(measure: str, label: str, values: Sequence[tuple[timedelta, timedelta]], pending: int) -> TimeStats:
    """Median, p90 and share within target of (time used, target) pairs."""
    hours = [used.total_seconds() / 3600 for used, _ in values]
    return TimeStats(measure, label, len(values), percentile(hours, 0.5), percentile(hours, 0.9),
                     sum(used <= target for used, target in values), pending)


def _response(intake: Sequence[_Ticket], end: datetime, s: FormSettings) -> TimeStats:
    values, pending = [], 0
    for t in intake:
        first = t.row.first_response_at
        if first is None or first >= end:
            pending += 1
            continue
        used = working_time(s.calendar, s.policy.pause_states, t.sla_events(), t.row.created_at, first)
        values.append((used, s.policy.target(t.row.type, t.row.priority).response))
    return _stats("response", "Tanggapan pertama", values, pending)


def _resolution(closed: Sequence[_Ticket], start: datetime, end: datetime, s: FormSettings) -> TimeStats:
    values = []
    for t in closed:
        at = t.between("resolved", start, end)[-1].created_at
        used = working_time(s.calendar, s.policy.pause_states, t.sla_events(), t.row.created_at, at)
        values.append((used, s.policy.target(t.row.type, t.row.priority).resolution))
    return _stats("resolution", "Penyelesaian", values, 0)


def _first_after(t: _Ticket, event: Event, kind: str, stop_kind: str, end: datetime) -> Event | None:
    """The first ``kind`` event after ``event`` and before the next ``stop_kind`` event or ``end``."""
    for e in t.events:
        if e.id <= event.id:
            continue
        if e.created_at >= end or e.event == stop_kind:
            return None
        if e.event == kind:
            return e
    return None


def _escalations(tickets: Sequence[_Ticket], start: datetime, end: datetime,
                 s: FormSettings) -> tuple[GroupRow, ...]:
    count: Counter[str] = Counter()
    tickets_of: dict[str, set[int]] = defaultdict(set)
    answered: Counter[str] = Counter()
    waits: dict[str, list[float]] = defaultdict(list)
    for t in tickets:
        for e in t.between("escalated", start, end):
            group = str((e.detail or {}).get("group", "")) or "-"
            count[group] += 1
            tickets_of[group].add(t.row.id)
            reply = _first_after(t, e, "group_replied", "escalated", end)
            if reply is not None:
                answered[group] += 1
                waits[group].append(s.calendar.working_time_between(e.created_at, reply.created_at)
                                    .total_seconds() / 3600)
    waiting = Counter(_last_group(t, end) for t in tickets if t.state_at(end) == State.ESCALATED)
    groups = sorted(set(count) | {g for g in waiting if g}, key=lambda g: (-count[g], g))
    return tuple(GroupRow(g, s.group_titles.get(g, g), count[g], len(tickets_of[g]), answered[g], waiting[g],
                          percentile(waits[g], 0.5)) for g in groups)


def _last_group(t: _Ticket, end: datetime) -> str:
    last = [e for e in t.events if e.event == "escalated" and e.created_at < end]
    if not last:
        return "-"
    return str((last[-1].detail or {}).get("group", "")) or "-"


def _coordinator(tickets: Sequence[_Ticket], start: datetime, end: datetime, s: FormSettings) -> CoordinatorStats:
    reports = [(t, e) for t in tickets for e in t.between("reported_to_coordinator", start, end)]
    recs = [(t, e) for t in tickets for e in t.between("recommended", start, end)]
    waits = []
    for t, e in reports:
        rec = _first_after(t, e, "recommended", "reported_to_coordinator", end)
        if rec is not None:
            waits.append(s.calendar.working_time_between(e.created_at, rec.created_at).total_seconds() / 3600)
    return CoordinatorStats(
        reported=len(reports), tickets=len({t.row.id for t, _ in reports}),
        automatic=sum(e.actor == "maild" for _, e in reports),
        recommendations=len(recs), tickets_recommended=len({t.row.id for t, _ in recs}),
        waiting_at_end=sum(t.state_at(end) == State.WITH_COORDINATOR for t in tickets),
        median_recommendation_hours=percentile(waits, 0.5),
    )


def _oldest(session: Session, open_end: Sequence[_Ticket], end: datetime, s: FormSettings) -> tuple[OpenTicket, ...]:
    """The oldest tickets open at ``end`` (the month's end, or now), their age measured to it."""
    oldest = sorted(open_end, key=lambda t: (t.row.created_at, t.row.id))[:OLDEST]
    officers = _officers(session, oldest, end)
    out = []
    for t in oldest:
        r, state = t.row, t.state_at(end) or State.NEW
        age = working_time(s.calendar, s.policy.pause_states, t.sla_events(), r.created_at, end)
        out.append(OpenTicket(
            number=r.number, subject=r.subject, state=state, state_label=label(state),
            type_label=type_label(r.type, s.language), category_label=category_label(r.category),
            priority_label=priority_label(r.priority, s.language),
            created_at=local_time(r.created_at, s.timezone, s.language), age_hours=hours_of(age) or 0.0,
            calendar_days=(end - r.created_at).days, overdue=age >= s.policy.target(r.type, r.priority).resolution,
            assignee=officers.get(r.id, "-"),
        ))
    return tuple(out)


def _officers(session: Session, tickets: Sequence[_Ticket], end: datetime) -> dict[int, str]:
    """Who handles each ticket: its assignee, else the staff member who acted on it last before ``end``."""
    actors = {e.actor for t in tickets for e in t.events}
    ids = {t.row.assignee_id for t in tickets if t.row.assignee_id}
    parties = session.scalars(select(Party).where(or_(Party.id.in_(ids), Party.address.in_(actors)))).all()
    by_id = {p.id: p.name or p.address for p in parties}
    staff = {p.address: p.name or p.address for p in parties if p.role == Role.STAFF}
    out: dict[int, str] = {}
    for t in tickets:
        acted = [staff[e.actor] for e in t.events if e.actor in staff and e.created_at < end]
        name = by_id.get(t.row.assignee_id or 0) or (acted[-1] if acted else "")
        if name:
            out[t.row.id] = name
    return out


def _targets(s: FormSettings) -> tuple[tuple[str, float, float], ...]:
    rows = []
    for prio in (Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW):
        target = s.policy.target(None, prio)
        rows.append((priority_label(prio, s.language), hours_of(target.response) or 0.0,
                     hours_of(target.resolution) or 0.0))
    return tuple(rows)



__all__ = [
    "CountRow", "CoordinatorStats", "GroupRow", "OpenTicket", "Report", "TimeStats", "last_full_month",
    "month_bounds", "monthly_report", "percentile",
]
