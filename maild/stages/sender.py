"""Stage 4: the outbox to the SMTP server. The only module that sends mail.

Mail is taken twenty rows at a time with ``SELECT ... FOR UPDATE SKIP LOCKED``: two daemons
on one PostgreSQL database never send the same row, and a daemon that dies releases its rows
at once (its connection goes, and the locks with it; a lease column would keep the mail
waiting until it expired). On SQLite (one daemon) the rows are sent outside a transaction, so
the pipeline can write meanwhile. The results of those rows are committed together:
``sent``; ``queued`` again with exponential backoff for 4xx and network trouble; ``failed``
for 5xx or after ``give_up_after_hours``, recorded as an event on the ticket. The one
at-least-once window: SMTP accepted a mail but the process died before its batch was
committed; the resend has the same Message-ID, so mail clients show it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, defer, sessionmaker

from maild.base.clock import Clock
from maild.store.db import transaction
from maild.base.errors import DeliveryDeferred, DeliveryRefused
from maild.store.models import InboundMessage, OutgoingMail, Ticket
from maild.transport.smtp import Transport
from maild.store.queries import note_event
from maild.sop.vocabulary import MailState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderSettings:
    envelope_from: str
    # The mailbox whose mail this sender sends (from its envelope address).
    mailbox: str = "default"
    retry_min_seconds: int = 60
    retry_max_seconds: int = 3600
    give_up_after_hours: int = 96
    batch_size: int = 200
    # Results are committed every this many mails: a crash resends at most these (with the
    # same Message-IDs), and commits stay cheap.
    commit_every: int = 20
    # The kinds of mail that acknowledge a report ("ack" and the rules' ack_template names).
    ack_templates: frozenset[str] = frozenset({"ack"})


@dataclass(frozen=True)
class Delivered:
    """A mail the SMTP server took, for whoever watches the sender (the daemon's metrics)."""

    template: str
    sent_at: datetime
    # For an acknowledgement: when the report it acknowledges was received (None otherwise).
    report_received_at: datetime | None = None


@dataclass(frozen=True)
class _Mail:
    """A due mail as read for sending outside a transaction (SQLite)."""

    id: int
    recipient: str
    raw: bytes


@dataclass(frozen=True)
class _Unreachable:
    """The server could not be reached: no mail of the batch was tried."""

    error: DeliveryDeferred


_Result = str | DeliveryDeferred | DeliveryRefused | _Unreachable


class Sender:
    """Delivers due outbox rows; ``on_delivered`` (optional) hears of each mail the server took."""

    def __init__(
        self, factory: sessionmaker[Session], transport: Transport, settings: SenderSettings, clock: Clock,
        on_delivered: Callable[[Delivered], None] | None = None,
    ) -> None:
        self.factory = factory
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.on_delivered = on_delivered

    def next_due(self) -> datetime | None:
        """When the earliest queued mail falls due (for the daemon's sleep)."""
        with transaction(self.factory) as session:
            return session.scalar(
                select(OutgoingMail.next_attempt_at)
                .where(OutgoingMail.state == MailState.QUEUED, OutgoingMail.mailbox == self.settings.mailbox)
                .order_by(OutgoingMail.next_attempt_at)
                .limit(1)
            )

    def run_once(self) -> int:
        """Try due mail (up to a batch) over one connection; return how many were tried."""
        due = self.next_due()
        if due is None or due > self.clock():
            return 0
        return asyncio.run(self._deliver_due())

    async def _deliver_due(self) -> int:
        tried = 0
        opened = False
        # PostgreSQL locks the rows being sent (SKIP LOCKED keeps another daemon off them) and
        # lets the pipeline write beside them. SQLite has one writer for the whole file: a
        # transaction open through twenty SMTP conversations would hold the pipeline up, so
        # there the rows are read, sent outside any transaction, and their results recorded in
        # a short one after (one daemon per SQLite file: nobody else sends them meanwhile).
        hold_rows = self.factory.kw["bind"].dialect.name != "sqlite"
        try:
            while tried < self.settings.batch_size:
                with transaction(self.factory) as session:
                    if hold_rows:
                        rows = session.scalars(self._due_rows()).all()
                        if not rows:
                            break
                        tried += len(rows)
                        results = await self._try(rows, opened)
                        opened = opened or bool(results) and not isinstance(results[0], _Unreachable)
                        if self._record(session, rows, results):
                            return tried
                        continue
                    # Only what is sent, read plainly: these rows are not changed here.
                    batch = [_Mail(*r) for r in session.execute(self._due_mail())]
                    if not batch:
                        break
                    tried += len(batch)
                results = await self._try(batch, opened)
                opened = opened or bool(results) and not isinstance(results[0], _Unreachable)
                with transaction(self.factory) as session:
                    # One query for the batch, without the bytes just sent (twenty reads did this).
                    again = {r.id: r for r in session.scalars(
                        select(OutgoingMail).options(defer(OutgoingMail.raw))
                        .where(OutgoingMail.id.in_([m.id for m in batch])))}
                    if self._record(session, [again[m.id] for m in batch], results):
                        return tried
        finally:
            if opened:
                await self.transport.close()
        return tried

    def _due(self, *columns: Any) -> Select[Any]:
        """``columns`` of the due mail of this mailbox, oldest first, one commit's worth."""
        t = OutgoingMail.__table__
        return (select(*columns)
                .where(t.c.state == MailState.QUEUED, t.c.next_attempt_at <= self.clock(),
                       t.c.mailbox == self.settings.mailbox)
                .order_by(t.c.id)
                .limit(self.settings.commit_every))

    def _due_mail(self) -> Select[tuple[int, str, bytes]]:
        """The due mail by the columns a send needs (SQLite: these rows are not changed here)."""
        t = OutgoingMail.__table__
        return self._due(t.c.id, t.c.recipient, t.c.raw)

    def _due_rows(self) -> Select[tuple[OutgoingMail]]:
        """The due rows, locked (PostgreSQL): another daemon skips them while they are sent."""
        return self._due(OutgoingMail).with_for_update(skip_locked=True)

    async def _try(self, mails: Sequence[_Mail | OutgoingMail], opened: bool) -> list[_Result]:
        """Hand each mail to the server over one connection: the server's answer, or why not.
        An unreachable server ends the batch at its first mail."""
        if not opened:
            try:
                await self.transport.open()
            except DeliveryDeferred as exc:
                log.warning("outbox: %s unreachable: %s", self.transport.description, exc)
                return [_Unreachable(exc)]
        results: list[_Result] = []
        for mail in mails:
            try:
                results.append(await self.transport.send(self.settings.envelope_from, mail.recipient, mail.raw))
            except (DeliveryDeferred, DeliveryRefused) as exc:
                results.append(exc)
        return results

    def _record(self, session: Session, rows: Sequence[OutgoingMail], results: list[_Result]) -> bool:
        """Write what became of each mail; True when the server could not be reached (the rest
        of the due mail then waits too, without counting an attempt)."""
        if results and isinstance(results[0], _Unreachable):
            error = str(results[0].error)
            self._deferred(session, rows[0], error)
            self._postpone_rest(session, rows[0].id, error)
            return True
        for row, result in zip(rows, results):
            if isinstance(result, DeliveryDeferred):
                self._deferred(session, row, str(result))
            elif isinstance(result, DeliveryRefused):
                self._failed(session, row, str(result))
            elif isinstance(result, str):
                self._sent(session, row, result)
        return False

    def _sent(self, session: Session, row: OutgoingMail, answer: str) -> None:
        sent_at = self.clock()
        row.state, row.sent_at, row.attempts, row.last_error = MailState.SENT, sent_at, row.attempts + 1, None
        log.info("outbox %s: sent to %s <%s>: %s", row.id, row.recipient, row.message_id, answer.strip()[:120])
        if self.on_delivered is not None:
            self.on_delivered(Delivered(row.template, sent_at, self._report_received(session, row)))

    def _report_received(self, session: Session, row: OutgoingMail) -> datetime | None:
        """When the report an acknowledgement answers came in: the ticket's first message."""
        if row.template not in self.settings.ack_templates or row.ticket_id is None:
            return None
        return session.scalar(select(InboundMessage.received_at).where(InboundMessage.ticket_id == row.ticket_id)
                              .order_by(InboundMessage.id).limit(1))

    def _deferred(self, session: Session, row: OutgoingMail, error: str) -> None:
        now = self.clock()
        row.attempts += 1
        row.last_error = error[:2000]
        if now - row.created_at >= timedelta(hours=self.settings.give_up_after_hours):
            self._failed(session, row, f"gave up after {self.settings.give_up_after_hours} hours: {error}", count=False)
            return
        delay = min(self.settings.retry_max_seconds, self.settings.retry_min_seconds * 2 ** (row.attempts - 1))
        row.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("outbox %s to %s deferred (attempt %d, next in %ds): %s", row.id, row.recipient, row.attempts,
                    delay, error)

    def _postpone_rest(self, session: Session, tried_id: int, error: str) -> None:
        """The server is unreachable: the other due mail waits too, without counting an attempt."""
        now = self.clock()
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.state == MailState.QUEUED, OutgoingMail.next_attempt_at <= now, OutgoingMail.id != tried_id,
                   OutgoingMail.mailbox == self.settings.mailbox)
            .values(next_attempt_at=now + timedelta(seconds=self.settings.retry_min_seconds),
                    last_error=f"not tried: {error}"[:2000])
        )

    def _failed(self, session: Session, row: OutgoingMail, error: str, count: bool = True) -> None:
        row.state = MailState.FAILED
        row.attempts += 1 if count else 0
        row.last_error = error[:2000]
        ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
        if ticket is not None:
            note_event(session, ticket, "delivery_failed", "maild", f"outbox:{row.id}", self.clock(),
                       {"recipient": row.recipient, "error": error[:500]})
        log.error("outbox %s to %s failed for good: %s", row.id, row.recipient, error)
