"""The one wiring of maild: from loaded settings to the parts that do the work.

``Services`` builds each part on first use, so a command gets just what it needs: ``maild
tickets reply`` gets a session factory, a mailer and the roles, never a mailbox connection,
and an error in a part it does not use does not stop it. The daemon (``daemon.build``) asks
the same ``Services`` for every part, so the daemon and the commands are wired alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock, system_clock
from maild.base.config import endpoint, load_settings
from maild.base.settings import OAuthSettings, Settings, oauth_secrets
from maild.base.errors import ConfigError, TransientError
from maild.base.resources import resource_dir
from maild.documents.digest import Digest, DigestSettings
from maild.documents.digest import recipients as digest_recipients
from maild.render.answers import Answers, sample_values
from maild.documents.report_mail import ReportMail, ReportMailSettings
from maild.documents.report_mail import recipients as report_recipients
from maild.documents.settings import FormSettings, form_settings
from maild.render.renderer import Renderer
from maild.service.actions import Group, Roles
from maild.service.intake import IntakeSettings
from maild.service.mailer import Mailer, MailerSettings
from maild.sop.rule_file import RuleSet, assigned_categories, check_categories, load_rules
from maild.sop.sla import Policy, policy_from
from maild.sop.vocabulary import Role
from maild.sop.workcal import WorkCalendar
from maild.sop.workcal_config import calendar_for
from maild.stages.alerts import Alerts, AlertSettings
from maild.stages.ingest import Ingest
from maild.stages.pipeline import Pipeline, PipelineSettings
from maild.stages.sender import Sender, SenderSettings
from maild.stages.timers import Timers, TimerSettings
from maild.store import queries as store
from maild.store.db import make_engine, require_current, session_factory, transaction
from maild.store.outbox import Identity
from maild.transport.imap import ImapMailbox
from maild.transport.maildir import MaildirMailbox
from maild.transport.oauth import Flow, Mechanism, OAuthClient, OAuthSignIn, TokenSource
from maild.transport.smtp import MaildirTransport, SmtpTransport, Transport
from maild.transport.sources import Mailbox

log = logging.getLogger(__name__)

IMAP_PORTS = {"imap": 143, "imaps": 993}
SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


# -- the transports ---------------------------------------------------------------------------
TokenSources = Mapping[str, TokenSource]  # "mailbox" / "smtp" -> the OAuth2 client of that section


def oauth_section(settings: Settings, account: str) -> tuple[str, OAuthSettings]:
    """The [ACCOUNT.oauth] section ``account`` signs in with: SMTP's is the mailbox's when
    [smtp.oauth] names no token endpoint."""
    return settings.smtp_oauth if account == "smtp" else ("mailbox", settings.mailbox.oauth)


def token_sources(settings: Settings, clock: Clock, timeout: float | None = None) -> dict[str, TokenSource]:
    """One TokenSource per [*.oauth] section in use: the mailbox and SMTP share one (one token,
    one cache) when SMTP uses the mailbox's client."""
    sources: dict[str, TokenSource] = {}
    for account, auth in (("mailbox", settings.mailbox.auth), ("smtp", settings.smtp.auth)):
        section, o = oauth_section(settings, account)
        if auth != "oauth2" or section in sources:
            continue
        client_secret, refresh_token = oauth_secrets(section, o)
        client = OAuthClient(section, o.token_url, o.client_id, client_secret, refresh_token, o.scope, Flow(o.flow),
                             timeout=settings.mailbox.timeout if timeout is None else timeout)
        sources[section] = TokenSource(client, Path(o.cache_file) if o.cache_file else None, clock)
    return sources


def _sign_in(settings: Settings, account: str, user: str, tokens: TokenSources | None) -> OAuthSignIn | None:
    """How ``account`` signs in with a token, or None for a password."""
    if (settings.mailbox.auth if account == "mailbox" else settings.smtp.auth) != "oauth2":
        return None
    section, o = oauth_section(settings, account)
    own = settings.mailbox.oauth if account == "mailbox" else settings.smtp.oauth
    sources = tokens if tokens is not None else token_sources(settings, system_clock)
    return OAuthSignIn(sources[section], Mechanism(o.mechanism), own.user or user)


def open_mailbox(settings: Settings, tokens: TokenSources | None = None) -> Mailbox:
    """The mailbox named by ``mailbox.url`` (``tokens``: the OAuth2 token sources to share)."""
    m = settings.mailbox
    if m.url.startswith("maildir:"):
        return MaildirMailbox(Path(m.url[8:]), m.processed_folder, poll_interval=min(2.0, m.poll_interval))
    return imap_mailbox(settings, tokens=tokens)


def imap_mailbox(settings: Settings, timeout: float | None = None, tokens: TokenSources | None = None) -> ImapMailbox:
    """The IMAP mailbox of ``mailbox.url``; ``timeout`` shortens the configured one (the doctor)."""
    m = settings.mailbox
    where = endpoint(m.url, IMAP_PORTS)
    return ImapMailbox(
        where,
        settings.mailbox_password,
        processed_folder=m.processed_folder,
        use_idle=m.idle,
        ca_file=m.ca_file,
        timeout=m.timeout if timeout is None else timeout,
        oauth=_sign_in(settings, "mailbox", where.user, tokens),
    )


def open_transport(settings: Settings, tokens: TokenSources | None = None) -> Transport:
    """The mail transport named by ``smtp.url`` (``tokens``: the OAuth2 token sources to share)."""
    s = settings.smtp
    if s.url.startswith("maildir:"):
        return MaildirTransport(Path(s.url[8:]))
    return smtp_transport(settings, tokens=tokens)


def smtp_transport(settings: Settings, timeout: float | None = None, tokens: TokenSources | None = None) -> SmtpTransport:
    """The SMTP transport of ``smtp.url``; ``timeout`` shortens the configured one (the doctor)."""
    s = settings.smtp
    m = settings.mailbox
    mailbox_user = m.oauth.user or ("" if m.url.startswith("maildir:") else endpoint(m.url, IMAP_PORTS).user)
    return SmtpTransport(
        endpoint(s.url, SMTP_PORTS),
        s.username,
        settings.smtp_password,
        ca_file=s.ca_file,
        timeout=s.timeout if timeout is None else timeout,
        oauth=_sign_in(settings, "smtp", s.username or mailbox_user, tokens),
    )


def envelope_from(settings: Settings) -> str:
    """The address outgoing mail is sent from (SMTP MAIL FROM)."""
    return settings.smtp.envelope_from or settings.helpdesk.address


# -- settings of the parts ------------------------------------------------------------------
def identity(settings: Settings) -> Identity:
    """Who the helpdesk is in the mail it writes."""
    h = settings.helpdesk
    return Identity(h.name, h.address.lower(), settings.mid_domain, settings.hmac_key, h.timezone,
                    settings.mailbox.name)


def roles(settings: Settings) -> Roles:
    """Staff, coordinator, service groups and categories, from the configuration."""
    c = settings.coordinator
    return Roles(
        staff={p.address.lower(): p.name for p in settings.staff},
        coordinator=(c.address.lower(), c.name),
        groups=tuple(Group(g.name, g.title or g.name, tuple(m.lower() for m in g.managers)) for g in settings.groups),
        assign_on_answer=settings.helpdesk.assign_on_first_answer,
        categories=categories(settings),
    )


def categories(settings: Settings) -> tuple[str, ...]:
    """The categories tickets are filed under: ``[rules] categories``, or else the ones the
    rules file assigns (so a config written before the list existed keeps working)."""
    return settings.rules.categories or assigned_categories(load_ruleset(settings))


def intake_settings(settings: Settings) -> IntakeSettings:
    """How tickets open: the same for mail, phone reports and imports."""
    h = settings.helpdesk
    return IntakeSettings(
        roles=roles(settings),
        timezone=h.timezone,
        calendar=work_calendar(settings),
        own_addresses=frozenset({h.address.lower()}),
        auto_limit_per_hour=settings.limits.auto_replies_per_sender_per_hour,
        max_attachment_bytes=settings.limits.max_attachment_bytes,
        policy=policy_from(settings.sla),
    )


def pipeline_settings(settings: Settings) -> PipelineSettings:
    """What the pipeline needs to know of the configuration."""
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
        batch_bytes=settings.limits.batch_bytes,
        survey_mode=settings.survey.mode,
        mailbox=settings.mailbox.name,
        tags=settings.peers or ((h.ticket_tag, settings.mailbox.name),),
    )


def mailer(settings: Settings, renderer: Renderer, stored: Answers | None = None) -> Mailer:
    """The mailer that queues every mail about tickets (``stored``: the answers #jawab sends)."""
    h = settings.helpdesk
    return Mailer(renderer, MailerSettings(identity(settings), h.language, h.timezone, h.ticket_tag,
                                           settings.threading.reopen_window_days,
                                           settings.attachments.forward_max_bytes, settings.survey.mode), stored)


def answers(settings: Settings) -> Answers:
    """The stored answers: ``[answers] folder``, or the ones shipped in the helpdesk's language;
    each is compiled and tried now (ConfigError naming the file when one is broken)."""
    h = settings.helpdesk
    folder = (Path(settings.answers.folder) if settings.answers.folder
              else resource_dir("templates") / "answers" / h.language)
    return Answers(folder, sample_values(h.name, h.address.lower(), h.ticket_tag))


def work_calendar(settings: Settings) -> WorkCalendar:
    """Working hours, days off and public holidays, from the configuration."""
    return calendar_for(settings)


def timer_settings(settings: Settings) -> TimerSettings:
    """What the SLA timers need to know of the configuration."""
    sl = settings.sla
    return TimerSettings(policy_from(sl), work_calendar(settings), roles(settings), sl.head_address.lower(),
                         sl.head_name, sl.check_every)


def _clock_time(key: str, text: str) -> time:
    """A local time of day given as HH:MM; ConfigError naming ``key`` otherwise."""
    try:
        if len(text) != 5 or text[2] != ":":  # fromisoformat also takes "07", "0730", "07:30:00"
            raise ValueError
        return time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{key}: {text!r} is not a time like 07:30") from None


def digest_time(settings: Settings) -> time:
    """The local time of the daily digest (``digest.time``, HH:MM)."""
    return _clock_time("digest.time", settings.digest.time)


def report_time(settings: Settings) -> time:
    """The local time the monthly report goes out on the month's first working day (``report.time``)."""
    return _clock_time("report.time", settings.report.time)


def document_settings(settings: Settings) -> FormSettings:
    """What the form, the register and the monthly report take from the configuration, the
    logo read now (``helpdesk.logo_file``: a file that cannot be read is a ConfigError)."""
    logo = settings.helpdesk.logo_file
    try:
        return form_settings(settings, logo=Path(logo).read_bytes() if logo else None)
    except OSError as exc:
        raise ConfigError(f"helpdesk.logo_file: cannot read {logo}: {exc.strerror}") from None


def report_mail_settings(settings: Settings) -> ReportMailSettings:
    """When the monthly report mails itself (``[report] enabled``, ``time``) and to whom: the
    head of the LPSE, the coordinator and ``also_to``."""
    r, sl, c = settings.report, settings.sla, settings.coordinator
    names = {p.address.lower(): p.name for p in settings.staff}
    to = report_recipients((sl.head_address.lower(), sl.head_name), (c.address.lower(), c.name), r.also_to, names)
    try:
        documents = document_settings(settings)
    except ConfigError as exc:
        # The daemon does not stop for a logo: the report goes out without it (the CLI refuses).
        log.warning("%s; the monthly report mail goes without the logo", exc)
        documents = form_settings(settings)
    return ReportMailSettings(identity(settings), r.enabled, report_time(settings), to, documents)


def digest_settings(settings: Settings) -> DigestSettings:
    """When the coordinator's digest goes out, to whom, and in which language."""
    h, d = settings.helpdesk, settings.digest
    at = digest_time(settings)
    names = {p.address.lower(): p.name for p in settings.staff}
    c = settings.coordinator
    return DigestSettings(identity(settings), h.language, h.timezone, h.ticket_tag, at,
                          digest_recipients((c.address.lower(), c.name), d.also_to, names) if d.enabled else (),
                          d.all_clear,
                          policy_from(settings.sla), work_calendar(settings))


def alert_settings(settings: Settings, relay: str) -> AlertSettings:
    """Who is told when the mailbox or the outbox is in trouble, and after how long."""
    a = settings.alerts
    return AlertSettings(a.admin_address.lower(), timedelta(minutes=a.mailbox_after_minutes),
                         timedelta(minutes=a.outbox_after_minutes), relay)


def sender_settings(settings: Settings, ruleset: RuleSet | None = None) -> SenderSettings:
    """Who sends, how long the sender keeps trying, and which mails are acknowledgements (for
    the latency metric: "ack" and the ``ack_template`` of any rule in ``ruleset``)."""
    limits = settings.limits
    acks = {r.actions.ack_template for r in ruleset.rules if r.actions.ack_template} if ruleset else set()
    return SenderSettings(
        envelope_from=envelope_from(settings),
        mailbox=settings.mailbox.name,
        retry_min_seconds=limits.retry_min_seconds,
        retry_max_seconds=limits.retry_max_seconds,
        give_up_after_hours=limits.give_up_after_hours,
        ack_templates=frozenset({"ack", *acks}),
    )


def load_ruleset(settings: Settings) -> RuleSet:
    """The configured rules file, or the one shipped with maild; ConfigError when a rule
    assigns a category that ``[rules] categories`` does not list."""
    path = Path(settings.rules.file) if settings.rules.file else resource_dir("templates") / "config" / "rules.toml"
    ruleset = load_rules(path)
    if settings.rules.categories:
        check_categories(ruleset, settings.rules.categories)
    return ruleset


def sync_parties(settings: Settings, factory: sessionmaker[Session], clock: Clock) -> None:
    """Record the configured staff and coordinator as parties."""
    members = [(p.address, p.name, str(Role.STAFF)) for p in settings.staff]
    if settings.coordinator.address:
        members.append((settings.coordinator.address, settings.coordinator.name, str(Role.COORDINATOR)))
    try:
        with transaction(factory) as session:
            store.sync_staff(session, members, clock())
    except Exception as exc:  # noqa: BLE001 - a database that is down is a transient problem
        raise TransientError(f"database: {exc}") from exc


# -- the one check of a configuration ------------------------------------------------------
def check_settings(settings: Settings) -> Settings:
    """Read every value the parts read beyond its type (the SLA targets and words, the working
    calendar, the digest's and the monthly report's time), so a value ``maild run`` would
    refuse is refused by every command, ``check-config`` and ``doctor`` alike, with the same
    one-line ConfigError."""
    policy_from(settings.sla)
    work_calendar(settings)
    digest_time(settings)
    report_time(settings)
    return settings


def load_checked(path: Path | str | None) -> Settings:
    """The config file loaded (``maild.base.config.load_settings``) and checked
    (``check_settings``); a problem is one ConfigError line that starts with the file."""
    settings = load_settings(path)
    try:
        return check_settings(settings)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from None


# -- the parts, built on first use ------------------------------------------------------------
class Services:
    """Every part of maild for one ``Settings``, each built the first time it is asked for.

    A ``mailbox``, ``transport`` or ``renderer`` given here is used instead of the configured
    one (tests, ``maild inject``). ``close()`` releases what was opened.
    """

    def __init__(self, settings: Settings, clock: Clock, *, mailbox: Mailbox | None = None,
                 transport: Transport | None = None, renderer: Renderer | None = None,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._given_engine = engine
        self._given_mailbox = mailbox
        self._given_transport = transport
        self._given_renderer = renderer

    @cached_property
    def renderer(self) -> Renderer:
        """The templates, all compiled once: a broken template stops us before any mail."""
        renderer = self._given_renderer or Renderer()
        renderer.check()
        return renderer

    @cached_property
    def answers(self) -> Answers:
        """The stored answers, all compiled once: a broken one stops us before any mail."""
        return answers(self.settings)

    @cached_property
    def ruleset(self) -> RuleSet:
        """The classification rules."""
        return load_ruleset(self.settings)

    @cached_property
    def roles(self) -> Roles:
        """Staff, coordinator and service groups."""
        return roles(self.settings)

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The working calendar the SLA is measured in."""
        return work_calendar(self.settings)

    @cached_property
    def sla(self) -> Policy:
        """The SLA targets."""
        return policy_from(self.settings.sla)

    @cached_property
    def mailer(self) -> Mailer:
        """The mailer that queues mail about tickets."""
        return mailer(self.settings, self.renderer, self.answers)

    @cached_property
    def engine(self) -> Engine:
        """The database engine, once the schema is known to be current (or the one given:
        the daemon's desks share one)."""
        if self._given_engine is not None:
            return self._given_engine
        engine = make_engine(self.settings.database.url)
        try:
            require_current(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine

    @cached_property
    def factory(self) -> sessionmaker[Session]:
        """The session factory; the configured staff are recorded as parties first."""
        factory = session_factory(self.engine)
        sync_parties(self.settings, factory, self.clock)
        return factory

    @cached_property
    def tokens(self) -> dict[str, TokenSource]:
        """The OAuth2 token sources, one per [*.oauth] section in use, shared by IMAP and SMTP."""
        return token_sources(self.settings, self.clock)

    @cached_property
    def mailbox(self) -> Mailbox:
        """Where mail comes in (not connected until first used)."""
        return self._given_mailbox or open_mailbox(self.settings, self.tokens)

    @cached_property
    def transport(self) -> Transport:
        """Where mail goes out (not connected until the sender opens it)."""
        return self._given_transport or open_transport(self.settings, self.tokens)

    @cached_property
    def ingest(self) -> Ingest:
        """The stage that records mail from the mailbox in the ledger."""
        m = self.settings.mailbox
        limits = self.settings.limits
        return Ingest(self.mailbox, self.factory, self.clock, m.batch_size, m.quarantine_folder,
                      batch_bytes=limits.batch_bytes, max_message_bytes=limits.max_message_bytes, mailbox_name=m.name)

    @cached_property
    def pipeline(self) -> Pipeline:
        """The stage that turns recorded mail into tickets."""
        return Pipeline(self.factory, self.mailer, self.ruleset, pipeline_settings(self.settings), self.clock)

    @cached_property
    def timers(self) -> Timers:
        """The SLA reminders and escalations."""
        return Timers(self.factory, self.mailer, timer_settings(self.settings), self.clock)

    @cached_property
    def digest(self) -> Digest:
        """The coordinator's daily digest."""
        return Digest(self.factory, self.mailer, digest_settings(self.settings), self.clock)

    @cached_property
    def report_mail(self) -> ReportMail:
        """The monthly report, mailed on the first working day."""
        return ReportMail(self.factory, self.mailer, report_mail_settings(self.settings), self.clock)

    @cached_property
    def alerts(self) -> Alerts:
        """The admin's mail when the mailbox or the outbox is in trouble for too long."""
        return Alerts(self.factory, self.mailer, alert_settings(self.settings, self.transport.description), self.clock)

    @cached_property
    def sender(self) -> Sender:
        """The stage that sends queued mail."""
        return Sender(self.factory, self.transport, sender_settings(self.settings, self.ruleset), self.clock)

    def prepare(self) -> Services:
        """Build now what handling mail needs, in the order a broken set-up is reported:
        templates, stored answers, rules, the database. A command that handles many messages
        calls this first, so a broken set-up stops it at the start instead of failing every message."""
        _ = (self.renderer, self.answers, self.ruleset, self.factory)
        return self

    def close(self) -> None:
        """Close the mailbox and the database engine, if they were opened."""
        built = vars(self)  # cached_property keeps what it built in the instance's __dict__
        if "mailbox" in built:
            self.mailbox.close()
        if "engine" in built and self._given_engine is None:
            self.engine.dispose()
