"""Stage 4: the outbox to the SMTP server. The only module that sends mail.

Rows are claimed with a lease (two daemons never send the same row at once), sent over one
connection per batch, and each result is committed at once: ``sent``; ``queued`` again with
exponential backoff for 4xx and network trouble; ``failed`` for 5xx or after
``give_up_after_hours``, recorded as an event on the ticket. The one at-least-once window:
SMTP accepted the mail but the process died before ``sent`` was committed; the resend has the
same Message-ID, so mail clients show it once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from maild.clock import Clock
from maild.db import transaction
from maild.errors import DeliveryDeferred, DeliveryRefused
from maild.models import OutgoingMail, Ticket
from maild.smtp import Transport
from maild.store import note_event

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SenderSettings:
    envelope_from: str
    retry_min_seconds: int = 60
    retry_max_seconds: int = 3600
    give_up_after_hours: int = 96
    batch_size: int = 100


@dataclass(frozen=True)
class Claimed:
    """A snapshot of an outbox row taken for delivery."""

    id: int
    recipient: str
    raw: bytes
    attempts: int
    created_at: datetime
    ticket_id: int | None
    message_id: str


class Sender:
    """Delivers due outbox rows."""

    def __init__(
        self, factory: sessionmaker[Session], transport: Transport, settings: SenderSettings, clock: Clock
    ) -> None:
        self.factory = factory
        self.transport = transport
        self.settings = settings
        self.clock = clock

    def next_due(self) -> datetime | None:
        """When the earliest queued mail falls due (for the daemon's sleep)."""
        with transaction(self.factory) as session:
            return session.scalar(
                select(OutgoingMail.next_attempt_at)
                .where(OutgoingMail.state == "queued")
                .order_by(OutgoingMail.next_attempt_at)
                .limit(1)
            )

    def run_once(self) -> int:
        """Try every due mail once (up to a batch); return how many were tried."""
        claimed = self._claim()
        if claimed:
            asyncio.run(self._deliver(claimed))
        return len(claimed)

    def _claim(self) -> list[Claimed]:
        now = self.clock()
        due = (
            OutgoingMail.state == "queued",
            OutgoingMail.next_attempt_at <= now,
            or_(OutgoingMail.lease_until.is_(None), OutgoingMail.lease_until < now),
        )
        with transaction(self.factory) as session:
            ids = session.scalars(
                select(OutgoingMail.id).where(*due).order_by(OutgoingMail.id).limit(self.settings.batch_size)
            ).all()
            if not ids:
                return []
            ids = session.scalars(
                update(OutgoingMail)
                .where(OutgoingMail.id.in_(ids), *due)
                .values(lease_until=now + LEASE)
                .returning(OutgoingMail.id)
            ).all()
            rows = session.scalars(select(OutgoingMail).where(OutgoingMail.id.in_(ids)).order_by(OutgoingMail.id))
            return [
                Claimed(r.id, r.recipient, r.raw, r.attempts, r.created_at, r.ticket_id, r.message_id) for r in rows
            ]

    async def _deliver(self, claimed: list[Claimed]) -> None:
        try:
            await self.transport.open()
        except DeliveryDeferred as exc:
            for item in claimed:
                self._deferred(item, str(exc))
            log.warning("outbox: %s unreachable, %d mails deferred: %s", self.transport.description, len(claimed), exc)
            return
        try:
            for item in claimed:
                try:
                    answer = await self.transport.send(self.settings.envelope_from, item.recipient, item.raw)
                except DeliveryDeferred as exc:
                    self._deferred(item, str(exc))
                except DeliveryRefused as exc:
                    self._failed(item, str(exc))
                else:
                    self._sent(item, answer)
        finally:
            await self.transport.close()

    def _sent(self, item: Claimed, answer: str) -> None:
        with transaction(self.factory) as session:
            session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == item.id)
                .values(state="sent", sent_at=self.clock(), attempts=item.attempts + 1, lease_until=None,
                        last_error=None)
            )
        log.info("outbox %s: sent to %s <%s>: %s", item.id, item.recipient, item.message_id, answer.strip()[:120])

    def _deferred(self, item: Claimed, error: str) -> None:
        now = self.clock()
        attempts = item.attempts + 1
        if now - item.created_at >= timedelta(hours=self.settings.give_up_after_hours):
            self._failed(item, f"gave up after {self.settings.give_up_after_hours} hours: {error}")
            return
        delay = min(self.settings.retry_max_seconds, self.settings.retry_min_seconds * 2 ** (attempts - 1))
        with transaction(self.factory) as session:
            session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == item.id)
                .values(attempts=attempts, next_attempt_at=now + timedelta(seconds=delay), lease_until=None,
                        last_error=error[:2000])
            )
        log.warning("outbox %s to %s deferred (attempt %d, next in %ds): %s", item.id, item.recipient, attempts,
                    delay, error)

    def _failed(self, item: Claimed, error: str) -> None:
        now = self.clock()
        with transaction(self.factory) as session:
            session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == item.id)
                .values(state="failed", attempts=item.attempts + 1, lease_until=None, last_error=error[:2000])
            )
            ticket = session.get(Ticket, item.ticket_id) if item.ticket_id else None
            if ticket is not None:
                note_event(session, ticket, "delivery_failed", "maild", f"outbox:{item.id}", now,
                           {"recipient": item.recipient, "error": error[:500]})
        log.error("outbox %s to %s failed for good: %s", item.id, item.recipient, error)
