"""Which ticket does a message belong to? Pure: the pipeline looks the candidates up.

Order (each step recorded as the reason): a Message-ID of ours, or of a message already on a
ticket, in In-Reply-To/References; then the subject token; then a new ticket. A token or
reference from someone who is not a party to the ticket never attaches silently (a known hole
in Zammad and django-helpdesk): it opens a new ticket linked to the one named. A reply to a
closed ticket reopens it within the reopen window, and opens a new linked ticket after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.sop.vocabulary import State

NEW = "new_ticket"
FOLLOW_UP = "follow_up"
REOPEN = "reopen"
NEW_LINKED = "new_linked"


@dataclass(frozen=True)
class TicketRef:
    """What threading needs to know about an existing ticket."""

    id: int
    number: str
    state: str
    closed_at: datetime | None
    parties: frozenset[str]


@dataclass(frozen=True)
class Candidates:
    """The tickets a message points at, found by the pipeline."""

    by_reference: TicketRef | None = None
    reference: str = ""
    by_token: TicketRef | None = None
    token: str | None = None


@dataclass(frozen=True)
class ThreadDecision:
    """Where the message goes and why. ``ticket`` is the followed, reopened or linked ticket."""

    action: str
    ticket: TicketRef | None
    reason: str


def decide(
    sender: str,
    candidates: Candidates,
    staff: frozenset[str],
    now: datetime,
    reopen_window: timedelta,
) -> ThreadDecision:
    """Decide the thread for a message from ``sender``."""
    target, why = _target(candidates)
    if target is None:
        return ThreadDecision(NEW, None, why)
    if sender not in target.parties and sender not in staff:
        return ThreadDecision(
            NEW_LINKED, target, f"{why}, but sender {sender or '(none)'} is not a party to ticket {target.number}"
        )
    if target.state == State.CLOSED:
        closed_at = target.closed_at
        if closed_at is not None and now - closed_at <= reopen_window:
            return ThreadDecision(REOPEN, target, f"{why}; ticket was closed {_ago(now - closed_at)} ago: reopened")
        return ThreadDecision(
            NEW_LINKED, target, f"{why}; ticket was closed more than {reopen_window.days} days ago: new ticket"
        )
    return ThreadDecision(FOLLOW_UP, target, why)


def _target(c: Candidates) -> tuple[TicketRef | None, str]:
    if c.by_reference is not None:
        why = f"In-Reply-To/References names <{c.reference}> of ticket {c.by_reference.number}"
        if c.by_token is not None and c.by_token.id != c.by_reference.id:
            why += f" (subject token names {c.by_token.number}; the reference wins)"
        return c.by_reference, why
    if c.by_token is not None:
        return c.by_token, f"subject token names ticket {c.by_token.number}"
    if c.token:
        return None, f"subject token names {c.token}, which does not exist: new ticket"
    return None, "no known reference or subject token: new ticket"


def _ago(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hours"
