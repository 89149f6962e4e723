"""The one seam through which maild reads the time.

Every component takes a ``Clock`` (any callable returning an aware UTC datetime) so tests can
move time without sleeping or patching globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(timezone.utc)


@dataclass
class FrozenClock:
    """A clock for tests: it only moves when told to."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        """Move the clock forward by ``timedelta(**kwargs)`` and return the new time."""
        self.now = self.now + timedelta(**kwargs)
        return self.now
