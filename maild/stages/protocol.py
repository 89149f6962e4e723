"""The protocol every stage follows for the work it claims, as Mailman's runners share one
switchboard: claim a batch in one transaction, do each item in its own savepoint, and let one
item's failure be that item's alone (rolled back, counted, quarantined after N tries) while the
rest of the batch goes on and commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from maild.sop.vocabulary import MessageState

log = logging.getLogger(__name__)

T = TypeVar("T")


class Attempted(Protocol):
    """A unit of work that remembers its failures (an inbound message)."""

    id: int
    state: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Done:
    """How a batch went: items done, and items that failed (each rolled back alone)."""

    done: int = 0
    failed: int = 0
    stopped_at: int | None = None  # index of the first item left undone because the daemon is stopping


def each_in_savepoint(
    session: Session,
    items: Sequence[T],
    work: Callable[[Session, T], None],
    failed: Callable[[Session, T, Exception], None],
    stopping: Callable[[], bool] = lambda: False,
) -> Done:
    """Run ``work`` for each item in its own savepoint of the caller's transaction.

    A failing item's effects are rolled back and ``failed`` records why (in the same
    transaction, so the record commits with the batch); the other items are unaffected."""
    done = bad = 0
    for position, item in enumerate(items):
        if stopping():
            return Done(done, bad, position)
        savepoint = session.begin_nested()
        try:
            work(session, item)
            savepoint.commit()
            done += 1
        except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the others
            savepoint.rollback()
            bad += 1
            failed(session, item, exc)
    return Done(done, bad)


def count_failure(row: Attempted, exc: Exception, max_attempts: int) -> bool:
    """Record one failed attempt on ``row``; after ``max_attempts`` it is dead (quarantined).

    Returns whether the row died now."""
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    row.state = MessageState.NEW  # it waits for its next attempt
    if row.attempts >= max_attempts:
        row.state = MessageState.DEAD
        return True
    return False
