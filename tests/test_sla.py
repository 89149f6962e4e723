"""SLA targets in working time (WITA, Indonesian holidays), with clock pauses. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from maild.sop import sla
from maild.base.settings import SlaSettings
from maild.base.errors import ConfigError
from maild.sop.workcal_config import calendar_from

WITA = ZoneInfo("Asia/Makassar")
CAL = calendar_from("Asia/Makassar", None, [], [])
POLICY = sla.policy_from(SlaSettings())


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=WITA)


def test_friday_1555_before_independence_day_monday() -> None:
    assert "Independence" in holidays.country_holidays("ID", years=2026)[wita(2026, 8, 17).date()]
    received = wita(2026, 8, 14, 15, 55)  # Friday; the office closes at 16:30
    target = POLICY.target("incident", "high")  # 2 h response, 8 h resolution
    assert (target.response, target.resolution) == (timedelta(hours=2), timedelta(hours=8))
    # 35 minutes on Friday, nothing on the weekend or on Monday 17 August, then Tuesday.
    assert sla.due(CAL, received, target.response, []) == wita(2026, 8, 18, 8, 55)
    assert sla.due(CAL, received, target.resolution, []) == wita(2026, 8, 18, 14, 55)


def test_a_pause_moves_the_deadline_by_the_working_time_paused() -> None:
    received = wita(2026, 8, 14, 15, 55)
    paused = [(wita(2026, 8, 18, 8, 0), wita(2026, 8, 18, 10, 0))]  # escalated for two hours
    assert sla.due(CAL, received, timedelta(hours=8), paused) == wita(2026, 8, 19, 8, 25)
    assert sla.used(CAL, received, wita(2026, 8, 18, 12, 0), paused) == timedelta(minutes=35 + 30 + 120)


def test_paused_spans_from_state_changes() -> None:
    t = [wita(2026, 11, 2, 9), wita(2026, 11, 2, 10), wita(2026, 11, 2, 11), wita(2026, 11, 3, 9)]
    changes = [(t[0], "new"), (t[1], "escalated"), (t[2], "in_progress"), (t[3], "escalated")]
    now = wita(2026, 11, 3, 12)
    assert sla.paused_spans(changes, frozenset({"escalated"}), now) == [(t[1], t[2]), (t[3], now)]


def test_weekend_and_boundaries() -> None:
    saturday = wita(2026, 11, 7, 10)
    assert sla.due(CAL, saturday, timedelta(hours=1), []) == wita(2026, 11, 9, 8, 30)
    assert sla.due(CAL, wita(2026, 11, 9, 16, 0), timedelta(minutes=1), []) == wita(2026, 11, 10, 7, 31)
    assert sla.used(CAL, wita(2026, 11, 6, 16, 0), wita(2026, 11, 9, 7, 45), []) == timedelta(minutes=45)


def test_most_specific_target_wins() -> None:
    policy = sla.policy_from(SlaSettings(targets=("medium 4 24", "service_request.medium 8 40")))
    assert policy.target("service_request", "medium").resolution == timedelta(hours=40)
    assert policy.target("incident", None).resolution == timedelta(hours=24)


@pytest.mark.parametrize(
    ("targets", "default", "words"),
    [(("urgent 1 2",), "medium", "priority"), (("medium 5 2",), "medium", "response <= resolution"),
     (("medium x 2",), "medium", "RESPONSE_HOURS"), (("high 1 2",), "medium", "default_priority")],
)
def test_bad_targets_are_one_line(targets: tuple[str, ...], default: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        sla.policy_from(SlaSettings(targets=targets, default_priority=default))
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("settings", "words"),
    [(SlaSettings(pause_states=("escalated", "wating")), "sla.pause_states: 'wating' is not one of"),
     (SlaSettings(default_priority="sedang"), "sla.default_priority: 'sedang' is not one of low, medium"),
     (SlaSettings(targets=("incident.medium 4 24", "medium 4 24"), default_priority="incident.medium"),
      "sla.default_priority: 'incident.medium' is not one of")],
)
def test_unknown_pause_state_or_default_priority_names_the_key(settings: SlaSettings, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        sla.policy_from(settings)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_every_state_and_waiting_may_pause_the_clock() -> None:
    states = ("new", "in_progress", "escalated", "with_coordinator", "closed", "waiting")
    assert sla.policy_from(SlaSettings(pause_states=states)).pause_states == frozenset(states)


def test_waiting_for_the_reporter_stops_the_clock_until_they_reply() -> None:
    t = [wita(2026, 11, 2, 9), wita(2026, 11, 2, 10), wita(2026, 11, 4, 9), wita(2026, 11, 4, 10)]
    events = [
        (t[0], "report_received", None, "new", {}),
        (t[1], "status_updated", "new", "in_progress", {"status": "waiting"}),
        (t[2], "reporter_replied", "in_progress", "in_progress", {"text": "ini datanya"}),
        (t[3], "escalated", "in_progress", "escalated", {}),
    ]
    changes = sla.clock_changes(events)
    assert changes == [(t[0], "new"), (t[1], "waiting"), (t[2], "in_progress"), (t[3], "escalated")]
    pauses = frozenset({"escalated", "waiting"})
    spans = sla.paused_spans(changes, pauses, wita(2026, 11, 4, 12))
    # One working hour on Monday, then paused Monday 10:00 to Wednesday 09:00 and from 10:00.
    assert sla.used(CAL, t[0], wita(2026, 11, 4, 12), spans) == timedelta(hours=2)
