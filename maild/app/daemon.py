"""The daemon: wires the stages from the settings and runs ``tick`` until told to stop.

One tick is ingest -> pipeline -> sender. Between ticks the daemon waits on the mailbox
(IMAP IDLE where offered, polling otherwise) no longer than until the next queued mail is due.
A mailbox that fails is retried with backoff while the other stages go on.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from maild.store import queries as store
from maild.service.actions import Group, Roles
from maild.base.clock import Clock
from maild.base.config import endpoint
from maild.base.settings import Settings
from maild.store.db import make_engine, require_current, session_factory, transaction
from maild.documents.digest import Digest, DigestSettings
from maild.documents.digest import recipients as digest_recipients
from maild.base.errors import ConfigError, MailboxError, TransientError
from maild.transport.imap import ImapMailbox
from maild.stages.ingest import Ingest
from maild.transport.maildir import MaildirMailbox
from maild.service.mailer import Mailer, MailerSettings
from maild.store.outbox import Identity
from maild.stages.pipeline import Pipeline, PipelineSettings
from maild.service.intake import IntakeSettings
from maild.render.renderer import Renderer
from maild.base.resources import resource_dir
from maild.sop.rule_file import RuleSet, load_rules
from maild.stages.sender import Sender, SenderSettings
from maild.sop.sla import policy_from
from maild.transport.smtp import MaildirTransport, SmtpTransport, Transport
from maild.transport.sources import Mailbox
from maild.stages.timers import Timers, TimerSettings
from maild.sop.workcal import WorkCalendar
from maild.sop.workcal_config import calendar_for

log = logging.getLogger(__name__)


def open_mailbox(settings: Settings) -> Mailbox:
    """The mailbox named by ``mailbox.url``."""
    m = settings.mailbox
    if m.url.startswith("maildir:"):
        return MaildirMailbox(Path(m.url[8:]), m.processed_folder, poll_interval=min(2.0, m.poll_interval))
    return ImapMailbox(
        endpoint(m.url, {"imap": 143, "imaps": 993}),
        settings.mailbox_password,
        processed_folder=m.processed_folder,
        use_idle=m.idle,
        ca_file=m.ca_file,
        timeout=m.timeout,
    )


def open_transport(settings: Settings) -> Transport:
    """The mail transport named by ``smtp.url``."""
    s = settings.smtp
    if s.url.startswith("maildir:"):
        return MaildirTransport(Path(s.url[8:]))
    return SmtpTransport(
        endpoint(s.url, {"smtp": 25, "smtp+starttls": 587, "smtps": 465}),
        s.username,
        settings.smtp_password,
        ca_file=s.ca_file,
        timeout=s.timeout,
    )


def identity(settings: Settings) -> Identity:
    h = settings.helpdesk
    return Identity(h.name, h.address.lower(), settings.mid_domain, settings.hmac_key, h.timezone)


def roles(settings: Settings) -> Roles:
    """Staff, coordinator and service groups, from the configuration."""
    c = settings.coordinator
    return Roles(
        staff={p.address.lower(): p.name for p in settings.staff},
        coordinator=(c.address.lower(), c.name),
        groups=tuple(Group(g.name, g.title or g.name, tuple(m.lower() for m in g.managers)) for g in settings.groups),
    )


def intake_settings(settings: Settings) -> IntakeSettings:
    """How tickets open, the same for mail, phone reports and imports."""
    h = settings.helpdesk
    return IntakeSettings(
        roles=roles(settings),
        timezone=h.timezone,
        calendar=work_calendar(settings),
        own_addresses=frozenset({h.address.lower()}),
        auto_limit_per_hour=settings.limits.auto_replies_per_sender_per_hour,
        max_attachment_bytes=settings.limits.max_attachment_bytes,
    )


def pipeline_settings(settings: Settings) -> PipelineSettings:
    h = settings.helpdesk
    return PipelineSettings(
        tag=h.ticket_tag,
        reopen_window=timedelta(days=settings.threading.reopen_window_days),
        max_attempts=settings.limits.max_attempts,
        hmac_key=settings.hmac_key,
        mid_domain=settings.mid_domain,
        intake=intake_settings(settings),
        trusted_authserv_ids=settings.security.trusted_authserv_ids,
        proof_max_age_days=settings.security.proof_max_age_days,
        max_message_bytes=settings.limits.max_message_bytes,
    )


def mailer(settings: Settings, renderer: Renderer) -> Mailer:
    h = settings.helpdesk
    return Mailer(renderer, MailerSettings(identity(settings), h.language, h.timezone, h.ticket_tag,
                                           settings.threading.reopen_window_days))


def work_calendar(settings: Settings) -> WorkCalendar:
    return calendar_for(settings)


def timer_settings(settings: Settings) -> TimerSettings:
    sl = settings.sla
    return TimerSettings(policy_from(sl), work_calendar(settings), roles(settings), sl.head_address.lower(),
                         sl.head_name, sl.check_every)


def digest_settings(settings: Settings) -> DigestSettings:
    h, d = settings.helpdesk, settings.digest
    try:
        at = time.fromisoformat(d.time)
    except ValueError:
        raise ConfigError(f"digest.time: {d.time!r} is not a time like 07:30") from None
    names = {p.address.lower(): p.name for p in settings.staff}
    c = settings.coordinator
    return DigestSettings(identity(settings), h.language, h.timezone, h.ticket_tag, at,
                          digest_recipients((c.address.lower(), c.name), d.also_to, names) if d.enabled else (),
                          d.all_clear,
                          policy_from(settings.sla), work_calendar(settings))


def load_ruleset(settings: Settings) -> RuleSet:
    """The configured rules file, or the one shipped with maild."""
    path = Path(settings.rules.file) if settings.rules.file else resource_dir("templates") / "config" / "rules.toml"
    return load_rules(path)


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
    sender: Sender
    renderer: Renderer
    backoff: Backoff = field(default_factory=Backoff)
    mailbox_error: str = ""

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
        work += self.pipeline.run_once(stopping=stopping)
        work += self.timers.run_once()
        work += self.digest.run_once()
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

    def run_forever(self, stopping: Callable[[], bool]) -> None:
        """The long-running loop; returns when ``stopping()`` turns true (after a commit)."""
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
                self.mailbox.wait(timeout, stopping)
            except MailboxError as exc:
                self.mailbox.close()
                self.mailbox_error = str(exc)
                log.error("mailbox: %s (retry in %.0fs)", exc, self.backoff.failed(monotonic_time.monotonic()))

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
) -> Daemon:
    """Wire a daemon from settings; any part may be given instead (tests, ``maild inject``)."""
    renderer = renderer or Renderer()
    renderer.check()
    ruleset = load_ruleset(settings)
    ticket_mailer = mailer(settings, renderer)
    engine = make_engine(settings.database.url)
    require_current(engine)
    factory = session_factory(engine)
    sync_parties(settings, factory, clock)
    mailbox = mailbox or open_mailbox(settings)
    transport = transport or open_transport(settings)
    m = settings.mailbox
    limits = settings.limits
    return Daemon(
        settings=settings,
        clock=clock,
        mailbox=mailbox,
        transport=transport,
        engine=engine,
        factory=factory,
        ingest=Ingest(mailbox, factory, clock, m.batch_size, m.quarantine_folder),
        pipeline=Pipeline(factory, ticket_mailer, ruleset, pipeline_settings(settings), clock),
        timers=Timers(factory, ticket_mailer, timer_settings(settings), clock),
        digest=Digest(factory, renderer, digest_settings(settings), clock),
        renderer=renderer,
        sender=Sender(
            factory,
            transport,
            SenderSettings(
                envelope_from=settings.smtp.envelope_from or settings.helpdesk.address,
                retry_min_seconds=limits.retry_min_seconds,
                retry_max_seconds=limits.retry_max_seconds,
                give_up_after_hours=limits.give_up_after_hours,
            ),
            clock,
        ),
    )


def sync_parties(settings: Settings, factory: sessionmaker[Session], clock: Clock) -> None:
    """Record the configured staff and coordinator as parties."""
    members = [(p.address, p.name, "staff") for p in settings.staff]
    if settings.coordinator.address:
        members.append((settings.coordinator.address, settings.coordinator.name, "coordinator"))
    try:
        with transaction(factory) as session:
            store.sync_staff(session, members, clock())
    except Exception as exc:  # noqa: BLE001 - a database that is down is a transient problem
        raise TransientError(f"database: {exc}") from exc
