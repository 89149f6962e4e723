"""The SOP 05 procedure as a state machine. Pure.

The transition table is data; ``advance`` is the only way a ticket's state changes. Each
transition names the SOP step it records, so the event log doubles as the SOP's record of
status updates (steps 2 and 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from maild.base.errors import IllegalTransition
from maild.sop.vocabulary import OPEN_STATES, State

NEW, IN_PROGRESS, ESCALATED, WITH_COORDINATOR, CLOSED = (
    State.NEW, State.IN_PROGRESS, State.ESCALATED, State.WITH_COORDINATOR, State.CLOSED)
STATES = tuple(State)

# SOP step that each state stands for (../shared/DESIGN.md).
STATE_STEP = {NEW: 2, IN_PROGRESS: 5, ESCALATED: 4, WITH_COORDINATOR: 6, CLOSED: 8}


@dataclass(frozen=True)
class Transition:
    """The result of an event: the new state, the SOP step it records, and the effects due."""

    old_state: str | None
    new_state: str
    event: str
    step: int
    effects: tuple[str, ...] = ()


_OPEN = OPEN_STATES

# (event, from-states) -> (to-state or None for "unchanged", SOP step, effects)
_TABLE: dict[str, tuple[tuple[str | None, ...], str | None, int, tuple[str, ...]]] = {
    "report_received": ((None,), NEW, 1, ("acknowledge_reporter", "notify_staff")),
    "reporter_replied": (_OPEN, None, 5, ("notify_assignee",)),
    "reopened": ((CLOSED,), IN_PROGRESS, 5, ("notify_assignee",)),
    "staff_answered": (_OPEN, IN_PROGRESS, 5, ("send_answer",)),
    "status_updated": (_OPEN, IN_PROGRESS, 5, ()),
    "thanks_received": ((CLOSED,), None, 8, ()),
    "survey_answered": ((CLOSED,), None, 8, ("thank_reporter",)),
    "note_added": ((*_OPEN, CLOSED), None, 5, ()),
    "classified": (_OPEN, None, 2, ()),
    "assigned": (_OPEN, None, 2, ("notify_assignee",)),
    "escalated": ((NEW, IN_PROGRESS, WITH_COORDINATOR, ESCALATED), ESCALATED, 4, ("mail_group", "tell_reporter")),
    "group_replied": ((ESCALATED, IN_PROGRESS, WITH_COORDINATOR), None, 4, ("forward_to_assignee",)),
    "reported_to_coordinator": ((NEW, IN_PROGRESS, ESCALATED), WITH_COORDINATOR, 6, ("mail_coordinator",)),
    "recommended": ((WITH_COORDINATOR, ESCALATED, IN_PROGRESS), IN_PROGRESS, 7, ("forward_to_assignee",)),
    "resolved": (_OPEN, CLOSED, 8, ("send_closing",)),
    "merged": (_OPEN, CLOSED, 8, ()),
}

EVENTS = tuple(_TABLE)


def advance(state: str | None, event: str) -> Transition:
    """Apply ``event`` to a ticket in ``state`` (None: not yet recorded).

    Raises IllegalTransition with a sentence a person can read when the SOP has no such move.
    """
    try:
        sources, target, step, effects = _TABLE[event]
    except KeyError:
        raise IllegalTransition(f"unknown event {event!r}", state or "", event) from None
    if state not in sources:
        raise IllegalTransition(f"a ticket that is {state or 'not recorded'} cannot be {event.replace('_', ' ')}",
                                state or "", event)
    return Transition(state, target or state or NEW, event, step, effects)  # type: ignore[arg-type]
