"""The SOP state machine (pure core)."""

from __future__ import annotations

import pytest

from maild.base.errors import IllegalTransition
from maild.sop.workflow import CLOSED, ESCALATED, IN_PROGRESS, NEW, WITH_COORDINATOR, advance


@pytest.mark.parametrize(
    ("state", "event", "new_state", "step"),
    [
        (None, "report_received", NEW, 1),
        (NEW, "reporter_replied", NEW, 5),
        (NEW, "staff_answered", IN_PROGRESS, 5),
        (IN_PROGRESS, "escalated", ESCALATED, 4),
        (ESCALATED, "reported_to_coordinator", WITH_COORDINATOR, 6),
        (WITH_COORDINATOR, "recommended", IN_PROGRESS, 7),
        (IN_PROGRESS, "resolved", CLOSED, 8),
        (CLOSED, "reopened", IN_PROGRESS, 5),
    ],
)
def test_legal_moves(state: str | None, event: str, new_state: str, step: int) -> None:
    t = advance(state, event)
    assert (t.old_state, t.new_state, t.step) == (state, new_state, step)


@pytest.mark.parametrize(
    ("state", "event"),
    [(CLOSED, "resolved"), (CLOSED, "escalated"), (NEW, "reopened"), (NEW, "report_received"), (NEW, "nonsense")],
)
def test_illegal_moves_are_refused_with_a_sentence(state: str, event: str) -> None:
    with pytest.raises(IllegalTransition) as err:
        advance(state, event)
    assert str(err.value)
