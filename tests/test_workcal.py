"""The working calendar (pure core): hours, holidays, days off and SLA arithmetic.

Expected deadlines are worked out by hand in the comments; the property tests compare the
day-stepping implementation with a minute-by-minute reference built straight on the
``holidays`` package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.base.errors import ConfigError
from maild.sop.workcal import DEFAULT_HOURS, WorkCalendar, in_working_hours
from maild.sop.workcal_config import calendar_from

WITA = ZoneInfo("Asia/Makassar")
WIB = ZoneInfo("Asia/Jakarta")
UTC = timezone.utc
CAL = WorkCalendar()

# The real holidays the tests rely on, checked against the library in the first test.
INDEPENDENCE_DAY = date(2026, 8, 17)  # Monday
PROPHETS_BIRTHDAY = date(2026, 8, 25)  # Tuesday
CHRISTMAS_EVE_CUTI = date(2026, 12, 24)  # Thursday, cuti bersama ("government" category only)
CHRISTMAS = date(2026, 12, 25)  # Friday
DAY_OF_SILENCE = date(2026, 3, 19)  # Thursday (Nyepi)
EID_AL_FITR = date(2026, 3, 21)  # Saturday


def wita(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=WITA)


def hm(h: int, m: int = 0, s: int = 0) -> timedelta:
    return timedelta(hours=h, minutes=m, seconds=s)


# -- the holiday data the deadlines below are built on ------------------------------------
def test_the_library_really_has_these_holidays() -> None:
    public = holidays.country_holidays("ID", years=2026)
    joint = holidays.country_holidays("ID", years=2026, categories=("government",))
    assert public.get(INDEPENDENCE_DAY) == "Independence Day"
    assert INDEPENDENCE_DAY.weekday() == 0
    assert public.get(PROPHETS_BIRTHDAY) == "Prophet's Birthday"
    assert public.get(CHRISTMAS) == "Christmas Day"
    assert public.get(DAY_OF_SILENCE) == "Day of Silence"
    assert public.get(EID_AL_FITR) == "Eid al-Fitr"
    assert CHRISTMAS_EVE_CUTI not in public
    assert joint.get(CHRISTMAS_EVE_CUTI) == "Christmas Joint Holiday"
    # The days around them that the tests treat as ordinary working days.
    for day in (date(2026, 8, 14), date(2026, 8, 18), date(2026, 8, 19), date(2026, 12, 23), date(2026, 12, 28)):
        assert day not in public, day


def test_calendar_sees_the_public_holidays() -> None:
    assert not CAL.is_working_day(INDEPENDENCE_DAY)
    assert CAL.is_public_holiday(INDEPENDENCE_DAY)
    assert CAL.is_working_day(CHRISTMAS_EVE_CUTI)  # cuti bersama are not in the default
    assert not WorkCalendar(holiday_categories=frozenset({"public", "government"})).is_working_day(CHRISTMAS_EVE_CUTI)
    assert WorkCalendar(country="").is_working_day(INDEPENDENCE_DAY)  # no holidays at all


# -- SLA deadlines --------------------------------------------------------------------------
OFF_TUESDAY = WorkCalendar(extra_days_off=frozenset({date(2026, 8, 18)}))
OFF_CHRISTMAS_EVE = WorkCalendar(extra_days_off=frozenset({CHRISTMAS_EVE_CUTI}))
WITH_CUTI = WorkCalendar(holiday_categories=frozenset({"public", "government"}))


@pytest.mark.parametrize(
    ("cal", "start", "amount", "deadline"),
    [
        # Friday 15:55 before Independence Day (Mon 17 Aug 2026). Friday closes at 16:30:
        # 35 min on Friday, then Tuesday 07:30 + 3h25 = 10:55.
        (CAL, wita(2026, 8, 14, 15, 55), hm(4), wita(2026, 8, 18, 10, 55)),
        # Five minutes before Friday's closing: 5 min, then Tuesday 07:30 + 3h55 = 11:25.
        (CAL, wita(2026, 8, 14, 16, 25), hm(4), wita(2026, 8, 18, 11, 25)),
        # 8 working hours: 35 min + 7h25 -> Tuesday 14:55; 5 min + 7h55 -> Tuesday 15:25.
        (CAL, wita(2026, 8, 14, 15, 55), hm(8), wita(2026, 8, 18, 14, 55)),
        (CAL, wita(2026, 8, 14, 16, 25), hm(8), wita(2026, 8, 18, 15, 25)),
        # 16 h: 35 min + Tuesday 8h30 = 9h05, then Wednesday 07:30 + 6h55 = 14:25.
        (CAL, wita(2026, 8, 14, 15, 55), hm(16), wita(2026, 8, 19, 14, 25)),
        # Weekend + holiday Monday + an extra day off on Tuesday: everything moves to Wednesday.
        (OFF_TUESDAY, wita(2026, 8, 14, 15, 55), hm(4), wita(2026, 8, 19, 10, 55)),
        (OFF_TUESDAY, wita(2026, 8, 14, 16, 25), hm(8), wita(2026, 8, 19, 15, 25)),
        # An ordinary Thursday 15:55 (closes 16:00): 5 min, then Friday 07:30 + 3h55 = 11:25.
        (CAL, wita(2026, 8, 13, 15, 55), hm(4), wita(2026, 8, 14, 11, 25)),
        # Wednesday 23 Dec 2026 15:55: 5 min; Thursday 24 is a working day by default...
        (CAL, wita(2026, 12, 23, 15, 55), hm(4), wita(2026, 12, 24, 11, 25)),
        # ... but not with cuti bersama (given by hand or from the library): Christmas Friday,
        # the weekend, then Monday 28 Dec 07:30 + 3h55 = 11:25, or + 7h55 = 15:25.
        (OFF_CHRISTMAS_EVE, wita(2026, 12, 23, 15, 55), hm(4), wita(2026, 12, 28, 11, 25)),
        (WITH_CUTI, wita(2026, 12, 23, 15, 55), hm(4), wita(2026, 12, 28, 11, 25)),
        (OFF_CHRISTMAS_EVE, wita(2026, 12, 23, 15, 55), hm(8), wita(2026, 12, 28, 15, 25)),
        # A 40 h target from Wednesday 18 Mar 2026 10:00, Eid week, public holidays only:
        # Wed 6h, Thu 19 Nyepi, Fri 9h (15), Sat/Sun Eid, Mon 8h30 (23h30), Tue 8h30 (32),
        # Wed 25 07:30 + 8h = 15:30.
        (CAL, wita(2026, 3, 18, 10), hm(40), wita(2026, 3, 25, 15, 30)),
        # The same with the library's cuti bersama (18, 20, 23, 24 Mar closed too):
        # Wed 25 8h30, Thu 8h30 (17), Fri 9h (26), Mon 30 8h30 (34h30), Tue 31 07:30 + 5h30.
        (WITH_CUTI, wita(2026, 3, 18, 10), hm(40), wita(2026, 3, 31, 13, 0)),
        # A whole month: August 2026 has 15 Mon–Thu working days (17 and 25 are holidays)
        # of 8h30 and 4 Fridays of 9h = 163h30, ending at closing on Monday 31 August.
        (CAL, wita(2026, 8, 1), hm(163, 30), wita(2026, 8, 31, 16, 0)),
    ],
)
def test_deadlines(cal: WorkCalendar, start: datetime, amount: timedelta, deadline: datetime) -> None:
    got = cal.add_working_time(start, amount)
    assert got == deadline, got.isoformat()
    assert cal.working_time_between(start, got) == amount


@pytest.mark.parametrize(
    ("start", "amount", "deadline"),
    [
        (wita(2026, 8, 10, 6, 0), hm(1), wita(2026, 8, 10, 8, 30)),  # before opening: from 07:30
        (wita(2026, 8, 10, 10, 0), hm(1), wita(2026, 8, 10, 11, 0)),  # inside hours
        (wita(2026, 8, 10, 16, 0), hm(1), wita(2026, 8, 11, 8, 30)),  # exactly at closing
        (wita(2026, 8, 10, 20, 0), hm(1), wita(2026, 8, 11, 8, 30)),  # evening
        (wita(2026, 8, 10, 15, 0), hm(1), wita(2026, 8, 10, 16, 0)),  # ends at closing: today
        (wita(2026, 8, 10, 15, 0), hm(1, 0, 1), wita(2026, 8, 11, 7, 30, 1)),  # one second more
        (wita(2026, 8, 10, 10, 0, 7), hm(0, 0, 1), wita(2026, 8, 10, 10, 0, 8)),
        (wita(2026, 8, 10, 10, 0), timedelta(0), wita(2026, 8, 10, 10, 0)),  # zero, inside
        (wita(2026, 8, 10, 20, 0), timedelta(0), wita(2026, 8, 11, 7, 30)),  # zero, outside
        (wita(2026, 8, 15, 10, 0), hm(1), wita(2026, 8, 18, 8, 30)),  # Saturday, holiday Monday
        (wita(2026, 8, 22, 10, 0), hm(1), wita(2026, 8, 24, 8, 30)),  # Saturday
        (wita(2026, 8, 23, 23, 59, 59), hm(1), wita(2026, 8, 24, 8, 30)),  # Sunday night
        (wita(2026, 8, 10, 7, 30), hm(40), wita(2026, 8, 14, 13, 30)),  # 4 x 8h30, then 6h Friday
    ],
)
def test_start_inside_and_outside_hours(start: datetime, amount: timedelta, deadline: datetime) -> None:
    assert CAL.add_working_time(start, amount) == deadline


def test_result_keeps_the_start_time_zone() -> None:
    start_utc = wita(2026, 8, 14, 15, 55).astimezone(UTC)
    got = CAL.add_working_time(start_utc, hm(4))
    assert got.tzinfo is UTC and got == datetime(2026, 8, 18, 2, 55, tzinfo=UTC)
    got_wib = CAL.add_working_time(wita(2026, 8, 14, 15, 55).astimezone(WIB), hm(4))
    assert got_wib.tzinfo is WIB and (got_wib.hour, got_wib.minute) == (9, 55)
    assert CAL.add_working_time(wita(2026, 8, 14, 15, 55), hm(4)).tzinfo is WITA


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_time(wita(2026, 8, 10, 10), timedelta(seconds=-1))


# -- is it open now? ------------------------------------------------------------------------
BOUNDARIES = [
    (wita(2026, 8, 10, 7, 29, 59), False),  # Monday, a second before opening
    (wita(2026, 8, 10, 7, 30), True),  # opening is inside
    (wita(2026, 8, 10, 15, 59, 59), True),
    (wita(2026, 8, 10, 16, 0), False),  # closing is outside
    (wita(2026, 8, 13, 16, 0), False),  # Thursday closes at 16:00 too
    (wita(2026, 8, 14, 16, 0), True),  # Friday is open until 16:30
    (wita(2026, 8, 14, 16, 29, 59), True),
    (wita(2026, 8, 14, 16, 30), False),
    (wita(2026, 8, 15, 10, 0), False),  # Saturday
    (wita(2026, 8, 16, 10, 0), False),  # Sunday
    (wita(2026, 8, 17, 10, 0), False),  # Independence Day, a Monday
    (wita(2026, 8, 18, 10, 0), True),
    (datetime(2026, 8, 13, 23, 30, tzinfo=UTC), True),  # = Friday 07:30 WITA
    (datetime(2026, 8, 13, 23, 29, 59, tzinfo=UTC), False),  # = Friday 07:29:59 WITA
    (datetime(2026, 8, 10, 6, 30, tzinfo=WIB), True),  # WIB 06:30 = WITA 07:30
    (datetime(2026, 8, 10, 15, 0, tzinfo=WIB), False),  # WIB 15:00 = WITA 16:00
]


@pytest.mark.parametrize(("moment", "expected"), BOUNDARIES)
def test_in_working_hours(moment: datetime, expected: bool) -> None:
    assert CAL.in_working_hours(moment) is expected


@pytest.mark.parametrize(("moment", "expected"), BOUNDARIES)
def test_module_function_agrees(moment: datetime, expected: bool) -> None:
    assert in_working_hours(moment, "Asia/Makassar") is expected


def test_module_function_takes_custom_hours() -> None:
    saturday_morning = {5: (time(8, 0), time(12, 0))}
    assert in_working_hours(wita(2026, 8, 15, 9), "Asia/Makassar", saturday_morning)
    assert not in_working_hours(wita(2026, 8, 10, 9), "Asia/Makassar", saturday_morning)
    assert not in_working_hours(wita(2026, 8, 10, 9), "Asia/Makassar", {})  # never open
    # 07:30 WITA is 06:30 in Jakarta, so the same instant is closed on a WIB calendar.
    assert not in_working_hours(wita(2026, 8, 10, 7, 30), "Asia/Jakarta")


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (wita(2026, 8, 10, 10, 0), wita(2026, 8, 10, 10, 0)),  # open now: itself
        (wita(2026, 8, 10, 6, 0), wita(2026, 8, 10, 7, 30)),
        (wita(2026, 8, 10, 16, 0), wita(2026, 8, 11, 7, 30)),
        (wita(2026, 8, 14, 16, 30), wita(2026, 8, 18, 7, 30)),  # over the holiday weekend
        (wita(2026, 8, 15, 12, 0), wita(2026, 8, 18, 7, 30)),
        (wita(2026, 3, 18, 16, 0), wita(2026, 3, 20, 7, 30)),  # Nyepi Thursday
    ],
)
def test_next_opening(moment: datetime, opening: datetime) -> None:
    assert CAL.next_opening(moment) == opening


def test_next_opening_in_utc() -> None:
    got = CAL.next_opening(datetime(2026, 8, 14, 8, 30, tzinfo=UTC))  # Friday 16:30 WITA
    assert got == datetime(2026, 8, 17, 23, 30, tzinfo=UTC) and got.tzinfo is UTC


# -- working time between two instants --------------------------------------------------------
@pytest.mark.parametrize(
    ("cal", "start", "end", "expected"),
    [
        # Independence Day week: Tue–Thu 3 x 8h30 + Friday 9h.
        (CAL, wita(2026, 8, 17), wita(2026, 8, 24), hm(34, 30)),
        (CAL, wita(2026, 8, 10), wita(2026, 8, 17), hm(43)),  # the week before: 4 x 8h30 + 9h
        # Eid week 2026: Mon–Wed + Fri (Nyepi Thursday, Eid on the weekend) ...
        (CAL, wita(2026, 3, 16), wita(2026, 3, 23), hm(34, 30)),
        # ... and only Mon + Tue with the library's cuti bersama (18 and 20 March).
        (WITH_CUTI, wita(2026, 3, 16), wita(2026, 3, 23), hm(17)),
        (CAL, wita(2026, 8, 14, 15, 55), wita(2026, 8, 18, 8, 0), hm(1, 5)),  # 35 + 30 min
        (CAL, wita(2026, 8, 1), wita(2026, 9, 1), hm(163, 30)),  # August 2026
        (CAL, wita(2026, 8, 10, 10), wita(2026, 8, 10, 10), timedelta(0)),  # empty
        (CAL, wita(2026, 8, 11, 10), wita(2026, 8, 10, 10), timedelta(0)),  # reversed
        (CAL, wita(2026, 8, 15), wita(2026, 8, 17, 23, 59), timedelta(0)),  # weekend + holiday
        (CAL, wita(2026, 8, 10, 7, 29, 59), wita(2026, 8, 10, 7, 30, 1), hm(0, 0, 1)),
        (OFF_TUESDAY, wita(2026, 8, 17), wita(2026, 8, 24), hm(26)),  # Wed, Thu + Friday
    ],
)
def test_working_time_between(cal: WorkCalendar, start: datetime, end: datetime, expected: timedelta) -> None:
    assert cal.working_time_between(start, end) == expected
    # The same instants written in UTC give the same answer.
    assert cal.working_time_between(start.astimezone(UTC), end.astimezone(UTC)) == expected


def _reference_day_hours(day: date, public: Mapping[date, str]) -> timedelta:
    """Working time of one whole day, computed without the module."""
    if day in public or day.weekday() >= 5:
        return timedelta(0)
    return hm(9) if day.weekday() == 4 else hm(8, 30)


def test_two_whole_years_against_a_day_by_day_count() -> None:
    public = holidays.country_holidays("ID", years=[2026, 2027])
    expected = timedelta(0)
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        expected += _reference_day_hours(day, public)
        day += timedelta(days=1)
    start = wita(2026, 1, 1)
    assert CAL.working_time_between(start, wita(2028, 1, 1)) == expected
    assert CAL.add_working_time(start, expected) == wita(2027, 12, 31, 16, 30)  # a Friday


# -- extra days off and extra working days ----------------------------------------------------
EXTRA_SATURDAY = date(2026, 8, 22)


def test_extra_working_saturday_has_the_monday_thursday_hours() -> None:
    cal = WorkCalendar(extra_working_days=frozenset({EXTRA_SATURDAY}))
    assert cal.is_working_day(EXTRA_SATURDAY) and not CAL.is_working_day(EXTRA_SATURDAY)
    assert cal.hours_on(EXTRA_SATURDAY) == (time(7, 30), time(16, 0))
    assert cal.in_working_hours(wita(2026, 8, 22, 15, 59, 59))
    assert not cal.in_working_hours(wita(2026, 8, 22, 16, 0))  # not Friday's 16:30
    assert not cal.in_working_hours(wita(2026, 8, 22, 7, 29))
    # Friday 16:25: 5 min, then Saturday 07:30 + 55 min.
    assert cal.add_working_time(wita(2026, 8, 21, 16, 25), hm(1)) == wita(2026, 8, 22, 8, 25)
    assert cal.working_time_between(wita(2026, 8, 22), wita(2026, 8, 23)) == hm(8, 30)


def test_extra_working_day_beats_a_public_holiday() -> None:
    cal = WorkCalendar(extra_working_days=frozenset({INDEPENDENCE_DAY}))
    assert cal.in_working_hours(wita(2026, 8, 17, 10))


def test_extra_day_off_on_an_ordinary_weekday() -> None:
    cal = WorkCalendar(extra_days_off=frozenset({date(2026, 8, 12)}))
    assert not cal.is_working_day(date(2026, 8, 12))
    assert not cal.in_working_hours(wita(2026, 8, 12, 10))
    # Tuesday 15:55: 5 min, Wednesday off, Thursday 07:30 + 55 min.
    assert cal.add_working_time(wita(2026, 8, 11, 15, 55), hm(1)) == wita(2026, 8, 13, 8, 25)
    assert cal.next_opening(wita(2026, 8, 11, 16)) == wita(2026, 8, 13, 7, 30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extra_days_off": frozenset({EXTRA_SATURDAY}), "extra_working_days": frozenset({EXTRA_SATURDAY})},
         "2026-08-22"),
        ({"hours": {1: (time(7, 30), time(16, 0))}, "extra_working_days": frozenset({EXTRA_SATURDAY})}, "Monday"),
        ({"hours": {0: (time(16, 0), time(7, 30))}}, "not before"),
        ({"hours": {0: (time(7, 30), time(7, 30))}}, "not before"),
        ({"hours": {7: (time(7, 30), time(16, 0))}}, "weekday"),
        ({"timezone": "Asia/Makasar"}, "Asia/Makasar"),
        ({"country": "XX"}, "XX"),
        ({"holiday_categories": frozenset({"bank"})}, "bank"),
    ],
)
def test_bad_calendars_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar(**kwargs)


def test_calendar_is_an_immutable_hashable_value() -> None:
    hours = dict(DEFAULT_HOURS)
    cal = WorkCalendar(hours=hours, extra_days_off={date(2026, 12, 24)})  # type: ignore[arg-type]
    assert cal == WorkCalendar(extra_days_off=frozenset({date(2026, 12, 24)}))
    assert hash(cal) == hash(WorkCalendar(extra_days_off=frozenset({date(2026, 12, 24)})))
    assert isinstance(cal.extra_days_off, frozenset)
    hours[5] = (time(8, 0), time(12, 0))  # the caller's dict changes; the calendar does not
    assert 5 not in cal.hours and not cal.is_working_day(EXTRA_SATURDAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cal.hours[5] = (time(8, 0), time(12, 0))  # type: ignore[index]


# -- naive datetimes --------------------------------------------------------------------------
NAIVE = datetime(2026, 8, 10, 10, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: CAL.in_working_hours(NAIVE),
        lambda: CAL.next_opening(NAIVE),
        lambda: CAL.add_working_time(NAIVE, hm(1)),
        lambda: CAL.working_time_between(NAIVE, wita(2026, 8, 11)),
        lambda: CAL.working_time_between(wita(2026, 8, 9), NAIVE),
        lambda: in_working_hours(NAIVE, "Asia/Makassar"),
    ],
)
def test_naive_datetimes_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="naive"):
        call()


# -- configuration strings --------------------------------------------------------------------
@pytest.mark.parametrize(
    "hours",
    [
        None,
        {"mon-thu": "07:30-16:00", "fri": "07:30-16:30"},
        ["mon-thu 07:30-16:00", "fri 07:30-16:30"],
        ("MON-THU 07:30 - 16:00", "fri 7:30-16:30", "sat-sun closed"),
        {"mon,tue": "07:30-16:00", "wed-thu": "07:30-16:00", "fri": "07:30-16:30", "sat": "closed"},
    ],
)
def test_calendar_from_default_hours(hours: Any) -> None:
    assert calendar_from("Asia/Makassar", hours, [], []) == WorkCalendar()


def test_calendar_from_days() -> None:
    cal = calendar_from("Asia/Makassar", {"mon,wed": "08:00-12:00"}, ["2026-12-24", " 2026-12-31 "], ["2026-08-22"])
    assert cal.hours == {0: (time(8), time(12)), 2: (time(8), time(12))}
    assert cal.extra_days_off == {date(2026, 12, 24), date(2026, 12, 31)}
    assert cal.extra_working_days == {EXTRA_SATURDAY}
    assert cal.in_working_hours(wita(2026, 8, 22, 11, 59)) and not cal.in_working_hours(wita(2026, 8, 22, 12))


@pytest.mark.parametrize(
    ("timezone_name", "hours", "days_off", "working_days", "named"),
    [
        ("Asia/Makasar", None, [], [], "'Asia/Makasar'"),
        ("Asia/Makassar", {"mon-thur": "07:30-16:00"}, [], [], "'mon-thur'"),
        ("Asia/Makassar", {"senin": "07:30-16:00"}, [], [], "'senin'"),
        ("Asia/Makassar", {"fri-mon": "07:30-16:00"}, [], [], "'fri-mon'"),
        ("Asia/Makassar", {"fri": "07:30-1630"}, [], [], "'07:30-1630'"),
        ("Asia/Makassar", {"fri": "16:30-07:30"}, [], [], "'16:30-07:30'"),
        ("Asia/Makassar", {"fri": "07:30-24:00"}, [], [], "'07:30-24:00'"),
        ("Asia/Makassar", {"fri": "07:30-\n16:30"}, [], [], "'07:30-\\n16:30'"),
        ("Asia/Makassar", {"mon-fri": "07:30-16:00", "fri": "07:30-16:30"}, [], [], "'fri'"),
        ("Asia/Makassar", ["mon-thu"], [], [], "'mon-thu'"),
        ("Asia/Makassar", "mon-thu 07:30-16:00", [], [], "'mon-thu 07:30-16:00'"),
        ("Asia/Makassar", None, ["2026-13-01"], [], "'2026-13-01'"),
        ("Asia/Makassar", None, ["24-12-2026"], [], "'24-12-2026'"),
        ("Asia/Makassar", None, ["20261224"], [], "'20261224'"),
        ("Asia/Makassar", None, [], ["2026-02-30"], "'2026-02-30'"),
        ("Asia/Makassar", None, "2026-12-24", [], "'2026-12-24'"),
        ("Asia/Makassar", None, ["2026-12-24"], ["2026-12-24"], "'2026-12-24'"),
        ("Asia/Makassar", {"tue-fri": "07:30-16:00"}, [], ["2026-08-22"], "'2026-08-22'"),
    ],
)
def test_config_errors_name_the_value(
    timezone_name: str, hours: Any, days_off: Any, working_days: Any, named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        calendar_from(timezone_name, hours, days_off, working_days)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


# -- properties ---------------------------------------------------------------------------------
START = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 15), timezones=st.just(WITA)
).map(lambda d: d.replace(microsecond=0))
AMOUNT = st.integers(min_value=0, max_value=300 * 3600).map(lambda s: timedelta(seconds=s))
CALENDARS = st.sampled_from([CAL, OFF_TUESDAY, WITH_CUTI, WorkCalendar(extra_working_days=frozenset({EXTRA_SATURDAY}))])


@settings(max_examples=300, deadline=None)
@given(cal=CALENDARS, raw=START, amount=AMOUNT)
def test_round_trip_from_inside_hours(cal: WorkCalendar, raw: datetime, amount: timedelta) -> None:
    start = cal.next_opening(raw)
    assert cal.in_working_hours(start)
    end = cal.add_working_time(start, amount)
    assert cal.working_time_between(start, end) == amount
    if amount:  # the earliest such instant: one second less is not enough
        assert cal.working_time_between(start, end - timedelta(seconds=1)) < amount


@settings(max_examples=200, deadline=None)
@given(start=START, amount=AMOUNT, more=st.integers(min_value=1, max_value=50 * 3600))
def test_round_trip_from_anywhere_and_splitting(start: datetime, amount: timedelta, more: int) -> None:
    end = CAL.add_working_time(start, amount)
    assert CAL.working_time_between(start, end) == amount
    extra = timedelta(seconds=more)
    assert CAL.add_working_time(start, amount + extra) == CAL.add_working_time(end, extra)


_PUBLIC = holidays.country_holidays("ID", years=[2026, 2027])


def _reference_open(minute: datetime) -> bool:
    """Open during this minute? Straight from the holiday table and the SOP hours."""
    local = minute.astimezone(WITA)
    if local.date() in _PUBLIC or local.weekday() >= 5:
        return False
    closing = time(16, 30) if local.weekday() == 4 else time(16, 0)
    return time(7, 30) <= local.time() < closing


MINUTE_START = START.map(lambda d: d.replace(second=0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=MINUTE_START, minutes=st.integers(min_value=0, max_value=8 * 24 * 60))
def test_working_time_between_matches_a_minute_count(start: datetime, minutes: int) -> None:
    step = timedelta(minutes=1)
    counted = sum(_reference_open(start + i * step) for i in range(minutes))
    assert CAL.working_time_between(start, start + minutes * step) == counted * step


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=MINUTE_START, minutes=st.integers(min_value=1, max_value=30 * 60))
def test_add_working_time_matches_a_minute_walk(start: datetime, minutes: int) -> None:
    step, moment, left = timedelta(minutes=1), start, minutes
    while True:
        if _reference_open(moment):
            left -= 1
            if left == 0:
                break
        moment += step
    assert CAL.add_working_time(start, minutes * step) == moment + step
