"""The daemon: the stages, wired by ``factory.Services``, run ``tick`` until told to stop.

One desk per configured mailbox. One tick reads the mailboxes this daemon holds the lease of,
then runs each desk's pipeline -> timers, the digest, the monthly report and the admin's
alerts -> sender. Between
ticks the daemon waits on its mailboxes (IMAP IDLE where offered, polling otherwise) no longer
than until the next queued mail is due or the leases are to be renewed. A mailbox that fails
is retried with backoff while everything else goes on.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time as monotonic_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from maild.app.factory import Services
from maild.app.metrics import Metrics
from maild.app.sending import SendingThread
from maild.base.memory import return_large_blocks
from maild.base.clock import Clock
from maild.base.settings import DEFAULT_MAILBOX, Settings
from maild.base.errors import MailboxError
from maild.documents.digest import Digest
from maild.documents.report_mail import ReportMail
from maild.render.renderer import Renderer
from maild.stages.alerts import Alerts, MailboxLook
from maild.stages.ingest import Ingest
from maild.stages.pipeline import Pipeline
from maild.stages.sender import Sender
from maild.stages.timers import Timers
from maild.store.leases import Leases, this_process
from maild.transport.smtp import Transport
from maild.transport.sources import Mailbox

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
class Desk:
    """One mailbox's helpdesk inside the daemon: its stages, and how its mailbox is doing."""

    name: str
    mailbox: Mailbox
    ingest: Ingest
    pipeline: Pipeline
    timers: Timers
    digest: Digest
    report_mail: ReportMail
    sender: Sender
    renderer: Renderer
    alerts: Alerts
    clock: Clock
    backoff: Backoff = field(default_factory=Backoff)
    mailbox_error: str = ""
    failing_since: datetime | None = None  # the first failed read since the last good one

    def read(self) -> int:
        """One ingest of this desk's mailbox, unless it is backing off after failures."""
        if monotonic_time.monotonic() < self.backoff.retry_at:
            return 0
        try:
            done = self.ingest.run_once()
        except MailboxError as exc:
            self.failed(exc)
            return 0
        self.backoff.ok()
        self.mailbox_error, self.failing_since = "", None
        return done

    def failed(self, exc: MailboxError) -> None:
        """The mailbox could not be read: close it and back off."""
        self.mailbox.close()
        delay = self.backoff.failed(monotonic_time.monotonic())
        self.mailbox_error = str(exc)
        self.failing_since = self.failing_since or self.clock()
        log.error("mailbox %s: %s (retry in %.0fs)", self.name, exc, delay)

    def work(self, stopping: Callable[[], bool], metrics: Metrics | None, reading: bool, send: bool) -> int:
        """Everything but reading the mailbox: pipeline, clock, documents, and the outbox when
        ``send`` (else the sending thread does); and, when this daemon reads the mailbox (only
        its reader knows how it is doing), the alerts."""
        started = monotonic_time.monotonic()
        done = self.pipeline.run_once(stopping=stopping)
        if done and metrics is not None:
            metrics.pipeline_seconds.observe(monotonic_time.monotonic() - started)
        done += self.timers.run_once()
        done += self.digest.run_once()
        done += self.report_mail.run_once()
        if reading:
            done += self.alerts.run_once(MailboxLook(self.name, self.mailbox.description, self.failing_since,
                                                     self.mailbox_error))
        return done + (self.sender.run_once() if send else 0)


@dataclass
class Daemon:
    """All stages of one running maild: one desk per mailbox, on one database.

    Every desk's pipeline, timers and outbox run here; a desk's mailbox is read only while this
    daemon holds its lease (``store.leases``), so several daemons on one PostgreSQL share the
    mailboxes and all do the rest, each piece of work claimed by one."""

    settings: Settings
    clock: Clock
    engine: Engine
    factory: sessionmaker[Session]
    desks: list[Desk]
    leases: Leases
    metrics: Metrics | None = None
    _leases_at: float = -1e9

    # The first desk (the top-level mailbox) as the single-mailbox daemon had its parts.
    @property
    def mailbox(self) -> Mailbox:
        return self.desks[0].mailbox

    @property
    def ingest(self) -> Ingest:
        return self.desks[0].ingest

    @property
    def pipeline(self) -> Pipeline:
        return self.desks[0].pipeline

    @property
    def timers(self) -> Timers:
        return self.desks[0].timers

    @property
    def digest(self) -> Digest:
        return self.desks[0].digest

    @property
    def report_mail(self) -> ReportMail:
        return self.desks[0].report_mail

    @property
    def sender(self) -> Sender:
        return self.desks[0].sender

    @property
    def renderer(self) -> Renderer:
        return self.desks[0].renderer

    @property
    def alerts(self) -> Alerts:
        return self.desks[0].alerts

    @property
    def mailbox_failing_since(self) -> datetime | None:
        return self.desks[0].failing_since

    @property
    def mailbox_error(self) -> str:
        """The errors of the mailboxes this daemon reads that fail now, one line."""
        return "; ".join(f"{d.name}: {d.mailbox_error}" if len(self.desks) > 1 else d.mailbox_error
                         for d in self.desks if d.mailbox_error)

    def _reading(self) -> list[Desk]:
        return [d for d in self.desks if d.name in self.leases.held]

    def _claim_leases(self, force: bool = False) -> None:
        now = monotonic_time.monotonic()
        if force or now - self._leases_at >= self.leases.renew_every:
            before = self.leases.held
            held = self.leases.claim(d.name for d in self.desks)
            self._leases_at = now
            for name in sorted(held - before):
                log.info("reading mailbox %s (lease taken)", name)
            for name in sorted(before - held):
                log.warning("mailbox %s is read by another daemon now", name)
                lost = next(d for d in self.desks if d.name == name)
                lost.mailbox.close()
                lost.mailbox_error = ""  # its reader now says how it is doing

    def tick(self, stopping: Callable[[], bool] = lambda: False, send: bool = True) -> int:
        """Run every stage of every desk once; return how much work was done. ``send=False``
        leaves the outbox to the sending thread (``app.sending``)."""
        self._claim_leases()
        work = 0
        for desk in self._reading():
            work += desk.read()
        self._mailbox_seen()
        for desk in self.desks:
            if stopping():
                break
            work += desk.work(stopping, self.metrics, desk.name in self.leases.held, send)
        return work

    def run_once(self, stopping: Callable[[], bool] = lambda: False, mailbox_tries: int = 3) -> bool:
        """Work until nothing is left to do, the outbox sending beside the rest. False if a
        mailbox stayed unreachable."""
        tries, tried = 0, 0
        self._claim_leases(force=True)
        sending = SendingThread([d.sender for d in self.desks], self.clock).start()
        try:
            while not stopping():
                if self.tick(stopping, send=False) > 0:
                    sending.nudge()
                    continue
                if not sending.drained(timeout=0.5):
                    continue  # new mail may have come meanwhile: read again, then wait again
                if sending.tried != tried:
                    tried = sending.tried  # the outbox moved: what looks at it (the alerts) looks again
                    continue
                if not self.mailbox_error:
                    return True
                tries += 1
                if tries >= mailbox_tries:
                    return False
                self._sleep_until(min(d.backoff.retry_at for d in self._reading() if d.mailbox_error), stopping)
            return not self.mailbox_error
        finally:
            sending.close()

    def run_forever(self, stopping: Callable[[], bool], alive: Callable[[], None] = lambda: None) -> None:
        """The long-running loop; returns when ``stopping()`` turns true (after a commit).

        ``alive`` (the systemd watchdog) is called wherever the loop asks whether to stop: every
        message of a batch and about every second of a wait, so it stops only if the loop hangs."""
        asked = stopping

        def stopping() -> bool:
            alive()
            return asked()

        for desk in self.desks:
            log.info("maild running: mailbox %s (%s), transport %s", desk.name, desk.mailbox.description,
                     desk.sender.transport.description)
        self._claim_leases(force=True)
        sending = SendingThread([d.sender for d in self.desks], self.clock).start()
        try:
            while not stopping():
                sending.raise_failure()
                if self.tick(stopping, send=False) > 0:
                    sending.nudge()
                    continue
                self._wait(stopping)
        finally:
            sending.close()

    def _wait(self, stopping: Callable[[], bool]) -> None:
        """Wait for new mail in the mailboxes this daemon reads, no longer than until a failing
        mailbox is tried again or the leases are renewed (the sending thread keeps its own time)."""
        timeout = self.settings.mailbox.poll_interval
        if not self.leases.exclusive:
            timeout = min(timeout, self.leases.renew_every)
        reading = self._reading()
        failing = [d.backoff.retry_at for d in reading if d.mailbox_error]
        if failing:
            timeout = min(timeout, min(failing) - monotonic_time.monotonic())
        timeout = max(0.0, timeout)
        waiting = [d for d in reading if not d.mailbox_error]
        if not waiting:
            self._sleep_until(monotonic_time.monotonic() + timeout, stopping)
            return
        wait_any(waiting, timeout, stopping)
        self._mailbox_seen()

    def _mailbox_seen(self) -> None:
        if self.metrics is None:
            return
        for desk in self.desks:
            if desk.name in self.leases.held:
                self.metrics.mailbox_up.labels(mailbox=desk.name).set(0 if desk.mailbox_error else 1)
            else:
                with contextlib.suppress(KeyError):  # read by another daemon: its figure, not ours
                    self.metrics.mailbox_up.remove(desk.name)

    def _sleep_until(self, deadline: float, stopping: Callable[[], bool]) -> None:
        while not stopping() and monotonic_time.monotonic() < deadline:
            monotonic_time.sleep(min(0.25, max(0.0, deadline - monotonic_time.monotonic())))

    def close(self) -> None:
        """Let go of the mailboxes, the leases (another daemon takes them at once) and the database."""
        for desk in self.desks:
            desk.mailbox.close()
        try:
            self.leases.release()
        except Exception as exc:  # noqa: BLE001 - a database gone at shutdown: the leases expire by themselves
            log.warning("could not release the mailbox leases: %s", exc)
        self.engine.dispose()


def wait_any(desks: list[Desk], timeout: float, stopping: Callable[[], bool]) -> None:
    """Return when any of the desks' mailboxes may have new mail, after ``timeout``, or when
    stopping. One mailbox is waited on here; several each in a thread of its own (IMAP IDLE
    blocks on its connection), and the first to wake wakes the rest: nothing else uses the
    connections while the daemon waits."""
    if len(desks) == 1:
        try:
            desks[0].mailbox.wait(timeout, stopping)
        except MailboxError as exc:
            desks[0].failed(exc)
        return
    woke = threading.Event()

    def wait(desk: Desk) -> None:
        try:
            desk.mailbox.wait(timeout, woke.is_set)
        except MailboxError as exc:
            desk.failed(exc)
        finally:
            woke.set()

    threads = [threading.Thread(target=wait, args=(d,), name=f"wait-{d.name}", daemon=True) for d in desks]
    for t in threads:
        t.start()
    while not woke.wait(0.5):
        if stopping():
            woke.set()
    for t in threads:
        t.join()


def build(
    settings: Settings,
    clock: Clock,
    mailbox: Mailbox | None = None,
    transport: Transport | None = None,
    renderer: Renderer | None = None,
    metrics: Metrics | None = None,
    token: str | None = None,
) -> Daemon:
    """Wire a daemon from settings: one desk per configured mailbox. A ``mailbox``,
    ``transport`` or ``renderer`` given is used instead of the configured one for the top-level
    mailbox (tests, ``maild inject``); ``token`` tells this daemon's leases from others'
    (random when not given).

    Templates, rules and the database are checked here, in that order, so a daemon that
    cannot work stops at the start rather than at the first mail. (``maild run`` holds the
    SQLite lock, ``store.db.SqliteLock``, around it.)"""
    return_large_blocks()  # a message's bytes go back to the system when done with (base.memory)
    first = Services(settings.for_mailbox(DEFAULT_MAILBOX), clock, mailbox=mailbox, transport=transport,
                     renderer=renderer).prepare()
    try:
        parts = [first, *(Services(settings.for_mailbox(name), clock, renderer=renderer, engine=first.engine).prepare()
                          for name in settings.mailbox_names[1:])]
    except BaseException:
        first.close()
        raise
    if metrics is not None:
        metrics.factory = first.factory  # the scrape reads the database this daemon works on
        for p in parts:
            p.sender.on_delivered = metrics.delivered
    holder = this_process(token or secrets.token_hex(4))
    return Daemon(
        settings=settings,
        clock=clock,
        engine=first.engine,
        factory=first.factory,
        desks=[Desk(p.settings.mailbox.name, p.mailbox, p.ingest, p.pipeline, p.timers, p.digest, p.report_mail,
                    p.sender, p.renderer, p.alerts, clock) for p in parts],
        # On SQLite there is one daemon (``maild run`` holds the lock): any lease is its own to take.
        leases=Leases(first.factory, clock, holder, settings.database.lease_seconds,
                      exclusive=first.engine.dialect.name == "sqlite"),
        metrics=metrics,
    )
