"""A WorkCalendar from the ``[calendar]`` settings: day names, hours and dates as text. Pure.

The configuration writes weekly hours as day groups (``"mon-thu 07:30-16:00"``, ``"sat,sun
closed"``) and days off or extra working days as YYYY-MM-DD strings; this module reads them
into a ``maild.sop.workcal.WorkCalendar`` and says, in one ConfigError line naming the key,
what is wrong with a value it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, time

from maild.base.errors import ConfigError
from maild.base.settings import Settings
from maild.sop.workcal import DEFAULT_HOURS, EXTRA_DAY_HOURS_FROM, Span, WorkCalendar, time_zone

_DAY_NAMES: Mapping[str, int] = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_SPAN_RE = re.compile(r"(\d{1,2}):(\d{2})[ \t]*-[ \t]*(\d{1,2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def calendar_from(
    timezone: str,
    hours: Mapping[str, str] | Iterable[str] | None,
    days_off: Iterable[str],
    working_days: Iterable[str],
) -> WorkCalendar:
    """A WorkCalendar from configuration strings; ConfigError (one line) names a bad value.

    ``hours``: None for DEFAULT_HOURS, else either a mapping ``{"mon-thu": "07:30-16:00",
    "fri": "07:30-16:30"}`` or a list ``["mon-thu 07:30-16:00", "fri 07:30-16:30"]``. Day
    groups are mon..sun, ranges (mon-thu) or comma lists (mon,wed); "closed" closes them.
    Weekdays not named are closed. ``days_off`` and ``working_days`` are YYYY-MM-DD dates.
    """
    try:
        time_zone(timezone)
    except ValueError:
        raise ConfigError(f"helpdesk.timezone: unknown time zone {timezone!r}") from None
    weekly = DEFAULT_HOURS if hours is None else _parse_hours(hours)
    off = _parse_dates("calendar.days_off", days_off)
    extra = _parse_dates("calendar.working_days", working_days)
    both = sorted(off & extra)
    if both:
        raise ConfigError(f"calendar: {both[0].isoformat()!r} is in both days_off and working_days")
    if extra and EXTRA_DAY_HOURS_FROM not in weekly:
        first = min(extra).isoformat()
        raise ConfigError(f"calendar.working_days: {first!r} needs the Monday hours, but Monday is closed")
    try:
        return WorkCalendar(timezone=timezone, hours=weekly, extra_days_off=off, extra_working_days=extra)
    except ValueError as exc:  # pragma: no cover - the checks above catch these first
        raise ConfigError(f"calendar: {exc}") from None


def _parse_hours(hours: Mapping[str, str] | Iterable[str]) -> dict[int, Span]:
    """Weekday -> span from either config form; a weekday named twice is an error."""
    if isinstance(hours, str):
        raise ConfigError(f"calendar.hours: expected a list or table of day groups, got {hours!r}")
    if isinstance(hours, Mapping):
        pairs = [(str(k), str(v)) for k, v in hours.items()]
    else:
        pairs = [_split_entry(str(entry)) for entry in hours]
    weekly: dict[int, Span] = {}
    seen: dict[int, str] = {}
    for group, value in pairs:
        span = _parse_span(group, value)
        for weekday in _parse_days(group):
            if weekday in seen:
                name = _day_name(weekday)
                raise ConfigError(f"calendar.hours: day {name!r} is in both {seen[weekday]!r} and {group!r}")
            seen[weekday] = group
            if span is not None:
                weekly[weekday] = span
    return weekly


def _split_entry(entry: str) -> tuple[str, str]:
    """'mon-thu 07:30-16:00' -> ('mon-thu', '07:30-16:00')."""
    group, _, value = entry.strip().partition(" ")
    if not value.strip():
        raise ConfigError(f"calendar.hours: expected 'DAYS HH:MM-HH:MM', got {entry!r}")
    return group, value.strip()


def _day_name(weekday: int) -> str:
    return next(name for name, number in _DAY_NAMES.items() if number == weekday)


def _parse_days(group: str) -> list[int]:
    """'mon-thu' -> [0, 1, 2, 3]; 'sat,sun' -> [5, 6]; ranges do not wrap past Sunday."""
    days: list[int] = []
    for part in group.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
            raise ConfigError(f"calendar.hours: bad day group {group!r} (use mon..sun, mon-thu or mon,wed)")
        lo, hi = _DAY_NAMES[first], _DAY_NAMES[last or first]
        if hi < lo:
            raise ConfigError(f"calendar.hours: day range {group!r} runs backwards")
        days.extend(range(lo, hi + 1))
    return days


def _parse_span(group: str, value: str) -> Span | None:
    """'07:30-16:00' -> (07:30, 16:00); 'closed' -> None."""
    text = value.strip().lower()
    if text == "closed":
        return None
    match = _SPAN_RE.fullmatch(text)
    if match is None:
        raise ConfigError(f"calendar.hours: bad hours {value!r} for {group!r} (expected HH:MM-HH:MM or closed)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"calendar.hours: no such time in {value!r} for {group!r}")
    start, end = time(h1, m1), time(h2, m2)
    if not start < end:
        raise ConfigError(f"calendar.hours: {value!r} for {group!r} does not end after it starts")
    return start, end


def _parse_dates(key: str, values: Iterable[str]) -> frozenset[date]:
    """Strict YYYY-MM-DD dates (no week dates, no compact form) as a frozenset."""
    if isinstance(values, str):
        raise ConfigError(f"{key}: expected a list of YYYY-MM-DD dates, got {values!r}")
    days: set[date] = set()
    for value in values:
        text = str(value).strip()
        try:
            if not _DATE_RE.fullmatch(text):
                raise ValueError
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not a date (expected YYYY-MM-DD)") from None
    return frozenset(days)


def calendar_for(settings: Settings) -> WorkCalendar:
    """The helpdesk's calendar from its configuration (``[calendar]`` and the time zone)."""
    c = settings.calendar
    return calendar_from(settings.helpdesk.timezone, list(c.hours), list(c.days_off), list(c.working_days))
