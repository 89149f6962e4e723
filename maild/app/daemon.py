"""The daemon: the stages, wired by ``factory.Services``, run ``tick`` until told to stop.

One tick is ingest -> pipeline -> timers, the digest, the monthly report and the admin's alerts -> sender. Between ticks the daemon waits on the mailbox
(IMAP IDLE where offered, polling otherwise) no longer than until the next queued mail is due.
A mailbox that fails is retried with backoff while the other stages go on.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from maild.app.factory import Services
from maild.app.metrics import Metrics
from maild.base.memory import return_large_blocks
from maild.base.clock import Clock
from maild.base.settings import Settings
from maild.base.errors import MailboxError
from maild.documents.digest import Digest
from maild.documents.report_mail import ReportMail
from maild.render.renderer import Renderer
from maild.stages.alerts import Alerts, MailboxLook
from maild.stages.ingest import Ingest
from maild.stages.pipeline import Pipeline
from maild.stages.sender import Sender
from maild.stages.timers import Timers
from maild.transport.smtp import Transport
from maild.transport.sources import Mailbox
from maild.sop.vocabulary import DEFAULT_MAILBOX

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Seconds to wait after consecutive failures: 1, 2, 4 ... up to ``cap``."""

    cap: float = 60.0
    failures: int = 0
    retry_at: float = 0.0

    def failed(self, now: float) -> float:
        delay = min(self.cap, 2.0 ** self.failures)
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def ok(self) -> None:
        self.failures, self.retry_at = 0, 0.0


@dataclass
class Daemon:
    """All stages of one running maild."""

    settings: Settings
    clock: Clock
    mailbox: Mailbox
    transport: Transport
    engine: Engine
    factory: sessionmaker[Session]
    ingest: Ingest
    pipeline: Pipeline
    timers: Timers
    digest: Digest
    report_mail: ReportMail
    sender: Sender
    renderer: Renderer
    alerts: Alerts
    backoff: Backoff = field(default_factory=Backoff)
    mailbox_error: str = ""
    mailbox_failing_since: datetime | None = None  # the first failed read since the last good one
    metrics: Metrics | None = None

    def tick(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Run every stage once; return how much work was done."""
        work = 0
        if monotonic_time.monotonic() >= self.backoff.retry_at:
            try:
                work += self.ingest.run_once()
                self.backoff.ok()
                self.mailbox_error = ""
            except MailboxError as exc:
                self.mailbox.close()
                delay = self.backoff.failed(monotonic_time.monotonic())
                self.mailbox_error = str(exc)
                log.error("mailbox: %s (retry in %.0fs)", exc, delay)
            self._mailbox_seen()
        started = monotonic_time.monotonic()
        done = self.pipeline.run_once(stopping=stopping)
        if done and self.metrics is not None:
            self.metrics.pipeline_seconds.observe(monotonic_time.monotonic() - started)
        work += done
        work += self.timers.run_once()
        work += self.digest.run_once()
        work += self.report_mail.run_once()
        work += self.alerts.run_once(MailboxLook(DEFAULT_MAILBOX, self.mailbox.description,
                                                 self.mailbox_failing_since, self.mailbox_error))
        work += self.sender.run_once()
        return work

    def run_once(self, stopping: Callable[[], bool] = lambda: False, mailbox_tries: int = 3) -> bool:
        """Work until nothing is left to do. False if the mailbox stayed unreachable."""
        tries = 0
        while not stopping():
            if self.tick(stopping) > 0:
                continue
            if not self.mailbox_error:
                return True
            tries += 1
            if tries >= mailbox_tries:
                return False
            self._sleep_until(self.backoff.retry_at, stopping)
        return not self.mailbox_error

    def run_forever(self, stopping: Callable[[], bool], alive: Callable[[], None] = lambda: None) -> None:
        """The long-running loop; returns when ``stopping()`` turns true (after a commit).

        ``alive`` (the systemd watchdog) is called wherever the loop asks whether to stop: every
        message of a batch and about every second of a wait, so it stops only if the loop hangs."""
        asked = stopping

        def stopping() -> bool:
            alive()
            return asked()

        log.info("maild running: mailbox %s, transport %s", self.mailbox.description, self.transport.description)
        while not stopping():
            if self.tick(stopping) > 0:
                continue
            if self.mailbox_error:
                self._sleep_until(self.backoff.retry_at, stopping)
                continue
            timeout = self.settings.mailbox.poll_interval
            due = self.sender.next_due()
            if due is not None:
                timeout = max(0.0, min(timeout, (due - self.clock()).total_seconds()))
            try:
                self.mailbox.wait(timeout, lambda: stopping() or self._mail_due())
            except MailboxError as exc:
                self.mailbox.close()
                self.mailbox_error = str(exc)
                log.error("mailbox: %s (retry in %.0fs)", exc, self.backoff.failed(monotonic_time.monotonic()))
                self._mailbox_seen()

    def _mailbox_seen(self) -> None:
        failing = self.mailbox_failing_since or self.clock()
        self.mailbox_failing_since = failing if self.mailbox_error else None
        if self.metrics is not None:
            self.metrics.mailbox_up.set(0 if self.mailbox_error else 1)

    def _mail_due(self) -> bool:
        """Mail someone else queued while we wait (the CLI's `tickets new` or `reply`, an
        import, a second daemon) is sent now, not at the next poll: the wait checks the outbox
        every second or so, one indexed query, which works on SQLite and PostgreSQL alike and
        across machines, where a signal or a socket would not."""
        due = self.sender.next_due()
        return due is not None and due <= self.clock()

    def _sleep_until(self, deadline: float, stopping: Callable[[], bool]) -> None:
        while not stopping() and monotonic_time.monotonic() < deadline:
            monotonic_time.sleep(min(0.25, max(0.0, deadline - monotonic_time.monotonic())))

    def close(self) -> None:
        self.mailbox.close()
        self.engine.dispose()


def build(
    settings: Settings,
    clock: Clock,
    mailbox: Mailbox | None = None,
    transport: Transport | None = None,
    renderer: Renderer | None = None,
    metrics: Metrics | None = None,
) -> Daemon:
    """Wire a daemon from settings; any part may be given instead (tests, ``maild inject``).

    Templates, rules and the database are checked here, in that order, so a daemon that
    cannot work stops at the start rather than at the first mail.
    """
    return_large_blocks()  # a message's bytes go back to the system when done with (base.memory)
    parts = Services(settings, clock, mailbox=mailbox, transport=transport, renderer=renderer).prepare()
    if metrics is not None:
        metrics.factory = parts.factory  # the scrape reads the database this daemon works on
        parts.sender.on_delivered = metrics.delivered
    return Daemon(
        settings=settings,
        clock=clock,
        renderer=parts.renderer,
        engine=parts.engine,
        factory=parts.factory,
        pipeline=parts.pipeline,
        mailbox=parts.mailbox,
        transport=parts.transport,
        ingest=parts.ingest,
        timers=parts.timers,
        digest=parts.digest,
        report_mail=parts.report_mail,
        sender=parts.sender,
        alerts=parts.alerts,
        metrics=metrics,
    )
