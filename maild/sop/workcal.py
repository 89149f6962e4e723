"""The helpdesk's working calendar: opening hours, public holidays, days off. Pure.

Default hours: Monday–Thursday 07:30–16:00 and Friday 07:30–16:30, closed on Saturday and
Sunday, in the helpdesk's time zone (WITA, Asia/Makassar). Indonesian public holidays come
from the maintained ``holidays`` package; the office's own decisions (cuti bersama, local
holidays, a Saturday made a working day) are given explicitly.

Everything here is a function of its arguments: no clock is read and nothing is stored, so
SLA deadlines computed from the same inputs are always the same. Times passed in must be
timezone-aware; the arithmetic is done in UTC, so it is exact (to the microsecond) also in
zones with daylight saving time, which Indonesia does not have.

Precedence for one calendar date, first match wins:

1. ``extra_days_off`` -> closed;
2. ``extra_working_days`` -> open, with the Monday hours (by default the Monday–Thursday
   07:30–16:00 hours: a Saturday made a working day is a normal full day, not a Friday);
3. a public holiday of ``country`` -> closed;
4. otherwise the weekday's hours (none: closed).

Building a calendar from the ``[calendar]`` settings is ``maild.sop.workcal_config``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as _tz
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

Span = tuple[time, time]
"""Opening and closing time of one day, local wall-clock, opening < closing."""

_UTC = _tz.utc
_ONE_DAY = timedelta(days=1)
# A run of closed days longer than this means the calendar has (almost) no working days
# left; stop instead of looping for ever. Lebaran plus cuti bersama is about ten days.
_MAX_CLOSED_RUN = 3 * 366
# Extra working days take the hours of this weekday (Monday).
EXTRA_DAY_HOURS_FROM = 0


class _WeeklyHours(Mapping[int, Span]):
    """An immutable, hashable weekday -> (start, end) mapping (Monday = 0).

    A frozen dataclass hashes its fields; a plain dict field would make ``hash()`` fail and
    could be changed behind the calendar's back, so the hours are copied into this.
    """

    __slots__ = ("_spans",)

    def __init__(self, spans: Mapping[int, Span]) -> None:
        for weekday, span in spans.items():
            _check_span(weekday, span)
        self._spans: tuple[tuple[int, Span], ...] = tuple(sorted((int(k), (v[0], v[1])) for k, v in spans.items()))

    def __getitem__(self, weekday: int) -> Span:
        for key, span in self._spans:
            if key == weekday:
                return span
        raise KeyError(weekday)

    def __iter__(self) -> Iterator[int]:
        return (key for key, _ in self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def __hash__(self) -> int:
        return hash(self._spans)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k}: ({s[0]}, {s[1]})' for k, s in self._spans)}}}"


def _check_span(weekday: int, span: Span) -> None:
    """Refuse what the day arithmetic cannot handle: bad weekdays, empty or overnight spans."""
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
    start, end = span
    if not (isinstance(start, time) and isinstance(end, time)) or start.tzinfo or end.tzinfo:
        raise ValueError(f"hours of weekday {weekday} must be two naive datetime.time values")
    if not start < end:  # overnight shifts are not supported: a span lies within one date
        raise ValueError(f"hours of weekday {weekday}: start {start} is not before end {end}")


DEFAULT_HOURS: Mapping[int, Span] = _WeeklyHours({
    0: (time(7, 30), time(16, 0)),
    1: (time(7, 30), time(16, 0)),
    2: (time(7, 30), time(16, 0)),
    3: (time(7, 30), time(16, 0)),
    4: (time(7, 30), time(16, 30)),
})
"""Monday–Thursday 07:30–16:00, Friday 07:30–16:30, weekend closed (read-only)."""


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


@lru_cache(maxsize=32)
def _check_country(country: str, categories: frozenset[str]) -> None:
    """ValueError unless ``holidays`` knows the country and its holiday categories."""
    if country not in holidays.list_supported_countries():
        raise ValueError(f"the holidays package has no calendar for country {country!r}")
    supported = set(holidays.country_holidays(country).supported_categories)
    unknown = sorted(categories - supported)
    if unknown:
        raise ValueError(f"holiday categories {unknown} not known for {country!r} (known: {sorted(supported)})")


@lru_cache(maxsize=256)
def _public_holidays(country: str, categories: frozenset[str], year: int) -> frozenset[date]:
    """The holiday dates of one year, looked up once per (country, categories, year).

    Module level, not on the calendar object: a frozen, hashable dataclass has no good
    place for a mutable cache, and calendars with the same country share the result.
    """
    table = holidays.country_holidays(country, years=year, categories=tuple(sorted(categories)))
    return frozenset(day for day in table if day.year == year)


def _as_utc(moment: datetime, what: str = "moment") -> datetime:
    """``moment`` in UTC; ValueError for naive datetimes, whose wall clock is ambiguous."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(_UTC)


@dataclass(frozen=True)
class WorkCalendar:
    """When the helpdesk works: weekly hours minus holidays and days off, plus extra days.

    ``hours`` maps weekday (Monday = 0) to local (start, end), start < end; a missing
    weekday is closed. ``country`` selects the public holidays of the ``holidays`` package
    ("" for none); ``holiday_categories`` its categories: "public" by default, add
    "government" to also close on the cuti bersama the package knows (for Indonesia the
    SKB joint holidays). ``extra_working_days`` use the Monday hours (module docstring).
    Hashable and immutable; collections given are copied into immutable ones.
    """

    timezone: str = "Asia/Makassar"
    hours: Mapping[int, Span] = DEFAULT_HOURS
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    country: str = "ID"
    holiday_categories: frozenset[str] = field(default=frozenset({"public"}))

    def __post_init__(self) -> None:
        # Copy whatever was given (dict, set, list) into immutable values: the object is
        # hashed and shared, so nobody may change it later through an alias.
        object.__setattr__(self, "hours", _WeeklyHours(self.hours))
        object.__setattr__(self, "extra_days_off", frozenset(self.extra_days_off))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        object.__setattr__(self, "holiday_categories", frozenset(self.holiday_categories))
        time_zone(self.timezone)
        both = sorted(self.extra_days_off & self.extra_working_days)
        if both:
            raise ValueError(f"dates both off and working: {', '.join(d.isoformat() for d in both)}")
        if self.extra_working_days and EXTRA_DAY_HOURS_FROM not in self.hours:
            raise ValueError("extra working days take the Monday hours, but Monday has no hours")
        if self.country:
            _check_country(self.country, self.holiday_categories)

    # -- days -------------------------------------------------------------------------
    def is_public_holiday(self, day: date) -> bool:
        """True when ``day`` is a holiday of ``country`` in the ``holidays`` package."""
        return bool(self.country) and day in _public_holidays(self.country, self.holiday_categories, day.year)

    def hours_on(self, day: date) -> Span | None:
        """The local (start, end) of ``day``, or None when the helpdesk is closed all day."""
        if day in self.extra_days_off:
            return None
        if day in self.extra_working_days:
            return self.hours[EXTRA_DAY_HOURS_FROM]
        if self.is_public_holiday(day):
            return None
        return self.hours.get(day.weekday())

    def is_working_day(self, day: date) -> bool:
        """True when the helpdesk opens at all on the local date ``day``."""
        return self.hours_on(day) is not None

    def first_working_day(self, year: int, month: int) -> date | None:
        """The first working day of a calendar month (the monthly report's day); None when
        the helpdesk is closed the whole month."""
        day = date(year, month, 1)
        while day.month == month:
            if self.is_working_day(day):
                return day
            day += _ONE_DAY
        return None

    # -- moments ----------------------------------------------------------------------
    def in_working_hours(self, moment: datetime) -> bool:
        """True when the aware ``moment`` lies in [opening, closing) of its local day."""
        at = _as_utc(moment)
        span = self._span(self._local_date(at))
        return span is not None and span[0] <= at < span[1]

    def next_opening(self, moment: datetime) -> datetime:
        """The earliest instant >= ``moment`` at which the helpdesk is open.

        That is ``moment`` itself when it lies inside working hours, else the next opening
        time. The result is in ``moment``'s time zone.
        """
        at = _as_utc(moment)
        for opening, closing in self._spans_from(self._local_date(at)):
            if at < closing:
                return max(opening, at).astimezone(moment.tzinfo)
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when ``end <= start``.

        Walks the local dates from start to end once each (a few hundred steps for a span
        of months), intersecting each day's opening span with the interval.
        """
        a, b = _as_utc(start, "start"), _as_utc(end, "end")
        total = timedelta(0)
        if b <= a:
            return total
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            span = self._span(day)
            if span is not None:
                total += max(timedelta(0), min(span[1], b) - max(span[0], a))
            day += _ONE_DAY
        return total

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The first instant by which ``amount`` of working time has passed since ``start``.

        Counting starts at ``next_opening(start)`` when ``start`` is outside hours. When the
        amount runs out exactly at closing time, that closing time is the answer (not the
        next opening): an SLA target of "the rest of today" ends today. The result is in
        ``start``'s time zone; ``working_time_between(start, result) == amount`` always.
        """
        if amount < timedelta(0):
            raise ValueError(f"amount must not be negative, got {amount}")
        at = _as_utc(start, "start")
        remaining = amount
        for opening, closing in self._spans_from(self._local_date(at)):
            if closing <= at:
                continue  # the start day's hours are already over
            begin = max(opening, at)
            if remaining <= closing - begin:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= closing - begin
        raise AssertionError("unreachable: _spans_from never ends")  # pragma: no cover

    # -- helpers ----------------------------------------------------------------------
    def _local_date(self, at: datetime) -> date:
        """The helpdesk's calendar date at the instant ``at``."""
        return at.astimezone(time_zone(self.timezone)).date()

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing of the local date ``day`` as UTC instants, None if closed.

        In UTC because subtracting two aware datetimes that share a tzinfo uses wall-clock
        time, which is wrong across a daylight-saving change.
        """
        hours = self.hours_on(day)
        if hours is None:
            return None
        zone = time_zone(self.timezone)
        opening = datetime.combine(day, hours[0], tzinfo=zone).astimezone(_UTC)
        closing = datetime.combine(day, hours[1], tzinfo=zone).astimezone(_UTC)
        return opening, closing

    def _spans_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The UTC (opening, closing) of every working day from ``day`` on, without end.

        ValueError after a run of _MAX_CLOSED_RUN closed days: a calendar with no hours
        would otherwise loop for ever.
        """
        closed_run = 0
        while True:
            span = self._span(day)
            if span is not None:
                closed_run = 0
                yield span
            else:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    raise ValueError(f"no working day in the {_MAX_CLOSED_RUN} days before {day.isoformat()}")
            day += _ONE_DAY


@lru_cache(maxsize=16)
def _default_calendar(timezone: str, hours: Mapping[int, Span]) -> WorkCalendar:
    return WorkCalendar(timezone=timezone, hours=hours)


def in_working_hours(moment: datetime, timezone: str, hours: Mapping[int, Span] | None = None) -> bool:
    """True when ``moment`` falls inside the working hours of its local day in ``timezone``.

    Shorthand for ``WorkCalendar(timezone, hours or DEFAULT_HOURS).in_working_hours(moment)``.
    Changed from the first version: Indonesian public holidays now count as closed days, and
    a naive ``moment`` raises ValueError instead of being read as the host's local time.
    """
    weekly = _WeeklyHours(hours if hours is not None else DEFAULT_HOURS)
    return _default_calendar(timezone, weekly).in_working_hours(moment)
