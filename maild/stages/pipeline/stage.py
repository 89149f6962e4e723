"""Stage 2: inbound rows to tickets, events and queued mail. One message, top to bottom.

The batch is claimed in one statement and each message runs in its own savepoint
(``stages.protocol``): all of a message's effects (ticket, events, outbox rows, ledger entry)
commit together or not at all. A message that fails is retried; after ``max_attempts``
failures it is dead (quarantined) with the reason, and the daemon goes on.

    bytes -> facts (parsed once: mail, sender, person or machine, bounce report)
          -> decisions (which ticket? threads.decide)
          -> one handler, by what the message is:
               oversized   kept, no ticket, sender told the limit
               own loop    ledger only
               bounce      recorded on the ticket whose mail bounced
               machine     ledger only (not about a ticket of ours)
               reply       replies.handle: the reporter, or the team's answer and commands
               new report  new_report.handle -> service.intake.open_ticket (as phone and import)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import Row, Update, bindparam, func, select, update
from sqlalchemy.orm import Session, defer, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from maild.base.clock import Clock
from maild.mail import screen as screening
from maild.mail.quotes import split_reply
from maild.mail.tokens import find_number
from maild.service.mailer import Mailer
from maild.sop import threads
from maild.sop.rules import RuleSet
from maild.sop.vocabulary import MessageState
from maild.stages.pipeline import bounce, new_report, oversized, replies
from maild.stages.pipeline.context import Facts, Message, Outcome, PipelineSettings, Services, read_facts
from maild.stages.protocol import count_failure, each_in_savepoint
from maild.store.db import holding, transaction
from maild.store.models import InboundMessage, Party, Ticket
from maild.store.queries import ticket_by_number, ticket_by_references, ticket_ref

log = logging.getLogger(__name__)

__all__ = ["Outcome", "Pipeline", "PipelineSettings", "record_outcome"]


class Pipeline:
    """Turns stored inbound messages into tickets and replies."""

    def __init__(
        self, factory: sessionmaker[Session], mailer: Mailer, ruleset: RuleSet, settings: PipelineSettings,
        clock: Clock,
    ) -> None:
        self.factory = factory
        self.mailer = mailer
        self.ruleset = ruleset
        self.services = Services(mailer, ruleset, settings)
        self.settings = settings
        self.clock = clock

    def run_once(self, limit: int = 200, stopping: Callable[[], bool] = lambda: False, quiet: bool = False) -> int:
        """Process up to ``limit`` waiting messages; return how many were handled.

        ``quiet`` is for importing an old mailbox: nothing is mailed to anyone, each message
        counts as received at its own Date, and its tickets are marked as imported (channel
        ``import``), which the SLA clock leaves alone."""
        with transaction(self.factory) as session:
            claimed = self._claim(session, limit, self.clock(), self.settings.batch_bytes, self.settings.mailbox)
            if not claimed:
                return 0
            # Each message's raw bytes are read when it is processed and let go after it: with
            # the claim bounded by bytes, one batch is never all in memory at once.
            rows = {r.id: r for r in session.scalars(select(InboundMessage).options(defer(InboundMessage.raw))
                                                     .where(InboundMessage.id.in_(claimed)))}
            # The batch's parties and tickets stay in memory while it runs: every message's
            # steps look them up again (``holding``), and the same staff and reporters recur.
            with holding(session, Party, Ticket):
                done = each_in_savepoint(session, [rows[i] for i in claimed],
                                         lambda s, row: self._one(s, row, quiet), self._failed, stopping)
            if done.stopped_at is not None:
                self._unclaim(session, claimed[done.stopped_at:])
                return done.stopped_at
            return len(claimed)

    @staticmethod
    def _claim(session: Session, limit: int, now: datetime, max_bytes: int, mailbox: str) -> list[int]:
        # Senders take turns: each sender's first waiting message, then each one's second...
        # so a flood from one address does not hold back everyone else's reports.
        turn = func.row_number().over(partition_by=InboundMessage.sender, order_by=InboundMessage.id)
        waiting = (select(InboundMessage.id, InboundMessage.size, turn.label("turn"))
                   .where(InboundMessage.state == MessageState.NEW, InboundMessage.mailbox == mailbox)
                   .order_by(InboundMessage.id).limit(limit * 20).subquery())
        ids = _within(session.execute(select(waiting.c.id, waiting.c.size)
                                      .order_by(waiting.c.turn, waiting.c.id).limit(limit)).all(), max_bytes)
        if not ids:
            return []
        # Claim the batch in one statement: with two daemons on one PostgreSQL database the
        # second blocks here until the first commits, then claims nothing.
        return sorted(session.scalars(
            update(InboundMessage)
            .where(InboundMessage.id.in_(ids), InboundMessage.state == MessageState.NEW)
            .values(state=MessageState.DONE, processed_at=now)
            .returning(InboundMessage.id)
        ).all())

    def _one(self, session: Session, row: InboundMessage, quiet: bool) -> None:
        # No autoflush: the rows a message writes are Core inserts, visible at once; the ORM
        # changes (the ticket, the ledger row) are flushed when they are needed and at the
        # savepoint. Autoflush before every query cost more than the queries (profiled).
        with session.no_autoflush:
            outcome = self.process(session, row, self.clock(), quiet)
            record_outcome(session, row, outcome)
        if outcome.hand_to is not None:
            log.info("message %s (Message-ID %s): %s", row.id, row.message_id, outcome.reason)
        session.expire(row, ["raw"])  # unchanged; read again only if asked for

    @staticmethod
    def _unclaim(session: Session, ids: list[int]) -> None:
        session.execute(update(InboundMessage).where(InboundMessage.id.in_(ids))
                        .values(state=MessageState.NEW, processed_at=None))

    def _failed(self, session: Session, row: InboundMessage, exc: Exception) -> None:
        session.refresh(row)
        if count_failure(row, exc, self.settings.max_attempts):
            row.disposition = "quarantined"
            row.reason = f"failed {row.attempts} times: {row.last_error}"
        log.error("message %s (Message-ID %s) failed, attempt %s/%s: %s", row.id, row.message_id, row.attempts,
                  self.settings.max_attempts, row.last_error, exc_info=exc)

    # -- one message, top to bottom ---------------------------------------------------------
    def process(self, session: Session, row: InboundMessage, now: datetime, quiet: bool = False) -> Outcome:
        """Decide and record everything one message causes. Runs inside the caller's transaction."""
        s = self.settings
        if row.size > s.max_message_bytes:
            return oversized.handle(self.services, session, row, now, quiet)
        facts = read_facts(_raw(session, row), s)
        if quiet and facts.mail.date is not None and facts.mail.date < now:
            now = facts.mail.date.astimezone(timezone.utc)
        outcome = self._handle(Message(session, row, facts, now, quiet))
        return replace(outcome, sender=facts.sender, subject=facts.mail.subject)  # bounded by read_facts

    def _handle(self, msg: Message) -> Outcome:
        session, facts, now, s = msg.session, msg.facts, msg.now, self.settings
        if facts.screening.kind == screening.OWN_LOOP:
            return Outcome("own_loop", None, facts.screening.reason)

        decision = threads.decide(facts.sender, self._candidates(session, facts), s.team, now, s.reopen_window)
        target = session.get(Ticket, decision.ticket.id) if decision.ticket else None
        if target is not None and target.mailbox != s.mailbox:
            return Outcome("handed_over", None, f"about ticket {target.number} of mailbox {target.mailbox}: "
                           "handed to that mailbox", hand_to=target.mailbox)
        if facts.bounce is not None or facts.screening.kind == screening.BOUNCE:
            return bounce.handle(self.services, msg, target)
        if not facts.screening.may_answer and (target is None or decision.action == threads.NEW_LINKED):
            return Outcome(facts.screening.kind, None, f"{facts.screening.reason}; not a report: recorded, no ticket")
        if target is not None and decision.action in (threads.FOLLOW_UP, threads.REOPEN):
            return replies.handle(self.services, msg, target, decision)
        if target is not None and decision.action == threads.NEW_LINKED and replies.survey_rating(
                self.services, msg, target, split_reply(facts.mail.text).own) is not None:
            # A rating sent after the reopen window is still the answer the closing mail asked for.
            return replies.handle(self.services, msg, target, decision)
        return new_report.handle(self.services, msg, decision)

    def _candidates(self, session: Session, facts: Facts) -> threads.Candidates:
        mail, served = facts.mail, self.settings.served
        found = ticket_by_references(session, [*mail.in_reply_to, *reversed(mail.references)])
        if found and found[0].mailbox not in served:
            found = None  # a mailbox no longer configured: nobody here may act on its tickets
        by_ref = ticket_ref(session, _merged_target(session, found[0])) if found else None
        number, by_token = None, None
        for tag, mailbox in self.settings.tokens:
            number = find_number(mail.subject, tag)
            if number:
                ticket = ticket_by_number(session, number, mailbox)
                if ticket is not None:
                    ticket = _merged_target(session, ticket)
                    # A reply usually carries both, naming one ticket: its parties are read once.
                    by_token = by_ref if by_ref is not None and by_ref.id == ticket.id else ticket_ref(session, ticket)
                break
        return threads.Candidates(by_ref, found[1] if found else "", by_token, number)


_LEDGER = InboundMessage.__table__
_RAW = select(_LEDGER.c.raw).where(_LEDGER.c.id == bindparam("id"))


def record_outcome(session: Session, row: InboundMessage, outcome: Outcome) -> None:
    """Write what became of a message on its ledger row: one plain UPDATE, set on the object
    as written. The handlers leave the row itself alone: a changed object costs every
    savepoint a flush of the unit of work, five times the statement (profiled)."""
    result: dict[str, object] = {"ticket_id": outcome.ticket_id, "disposition": outcome.disposition,
                                 "reason": outcome.reason}
    if outcome.sender is not None:
        result.update(sender=outcome.sender, subject=outcome.subject or "")
    if outcome.hand_to is not None:
        result.update(mailbox=outcome.hand_to, state=MessageState.NEW, processed_at=None)
    session.execute(_set_result(tuple(result)), {**result, "row_id": row.id})
    for name, value in result.items():
        set_committed_value(row, name, value)


@lru_cache(maxsize=8)
def _set_result(columns: tuple[str, ...]) -> Update:
    return update(_LEDGER).where(_LEDGER.c.id == bindparam("row_id")).values({c: bindparam(c) for c in columns})


def _raw(session: Session, row: InboundMessage) -> bytes:
    """The message's bytes, read by a plain query and set on the row as loaded (later steps
    read ``row.raw`` without a query): the ORM's load of a deferred column cost ten times
    the query (profiled)."""
    raw: bytes = session.execute(_RAW, {"id": row.id}).scalar_one()
    set_committed_value(row, "raw", raw)
    return raw


def _within(rows: Sequence[Row[tuple[int, int]]], max_bytes: int) -> list[int]:
    """The ids of ``rows`` (id, size) up to ``max_bytes`` in all, the first whatever its size:
    a batch's raw bytes are all in memory together, so they are bounded by bytes, not count."""
    ids: list[int] = []
    total = 0
    for row_id, size in rows:
        if ids and max_bytes and total + size > max_bytes:
            break
        ids.append(row_id)
        total += size
    return ids


def _merged_target(session: Session, ticket: Ticket) -> Ticket:
    """Follow merges: mail about a merged ticket belongs to the one it was merged into."""
    for _ in range(10):
        if ticket.merged_into_id is None:
            break
        target = session.get(Ticket, ticket.merged_into_id)
        if target is None:
            break
        ticket = target
    return ticket
