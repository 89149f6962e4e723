"""Working hours of the helpdesk. Pure.

Default: Monday–Thursday 07:30–16:00 and Friday 07:30–16:30, in the helpdesk's time zone
(WITA). Public holidays are not counted yet (the SLA work brings the holiday calendar).
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

DEFAULT_HOURS: dict[int, tuple[time, time]] = {
    0: (time(7, 30), time(16, 0)),
    1: (time(7, 30), time(16, 0)),
    2: (time(7, 30), time(16, 0)),
    3: (time(7, 30), time(16, 0)),
    4: (time(7, 30), time(16, 30)),
}


def in_working_hours(moment: datetime, timezone: str, hours: dict[int, tuple[time, time]] | None = None) -> bool:
    """True when ``moment`` falls inside the working hours of its local weekday."""
    local = moment.astimezone(ZoneInfo(timezone))
    span = (hours or DEFAULT_HOURS).get(local.weekday())
    return span is not None and span[0] <= local.time() < span[1]
