"""Settings: the frozen dataclasses every part of maild reads its configuration from.

Every setting, its default and its meaning live here (and in the commented file that
``maild init`` writes); ``maild.base.config`` reads the TOML file into these values and checks
them. Secrets come from the file, a file of their own or an environment variable, resolved
when asked for; they never reach a log line (``Secret`` masks itself).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from maild.base.errors import ConfigError


@dataclass(frozen=True)
class Secret:
    """A password or key. Its ``repr`` never shows the value."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('****')" if self.value else "Secret('')"

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class HelpdeskSettings:
    name: str = "Helpdesk LPSE Kabupaten Tana Tidung"
    address: str = "helpdesk@lpse.tanatidungkab.go.id"
    ticket_tag: str = "LPSE"
    language: str = "id"
    timezone: str = "Asia/Makassar"
    message_id_domain: str = ""
    secret: str = ""
    secret_file: str = ""
    secret_env: str = ""
    # Under systemd: the name of a LoadCredential= that holds the secret (read first, see
    # resolve_secret); outside the service (an admin's CLI) secret_file is read instead.
    secret_credential: str = ""
    # The LPSE's logo (PNG or JPEG) on the recording form and the reports.
    logo_file: str = ""
    # The first staff member to answer an unassigned ticket becomes its assignee (and the rest
    # of the staff are told who took it), so two people do not work the same report.
    assign_on_first_answer: bool = True
    # Who `maild tickets ...` acts as when neither --as nor $MAILD_ACTOR says: the address of
    # a [[staff]] member or the coordinator (the admin's own), never guessed.
    cli_actor: str = ""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///maild.db"
    # Several daemons on one PostgreSQL database: a daemon that stops renewing its lease on a
    # mailbox (it died or hangs) loses it after this many seconds, and another daemon reads
    # that mailbox from then on. (SQLite serves one daemon.)
    lease_seconds: float = 30.0


# The name of the mailbox the top-level [helpdesk] and [mailbox] describe: the data of a
# database from before several mailboxes belongs to it (migration 0008), so it is fixed.
DEFAULT_MAILBOX = "default"


# The values of auth, oauth.flow and oauth.mechanism (maild.transport.oauth has their enums;
# base may not import transport).
AUTH_KINDS = ("password", "oauth2")
OAUTH_FLOWS = ("refresh_token", "client_credentials")
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


@dataclass(frozen=True)
class OAuthSettings:
    """The OAuth2 client of an account whose ``auth = "oauth2"`` ([mailbox.oauth], [smtp.oauth])."""

    # The identity provider's token endpoint, e.g.
    # https://login.microsoftonline.com/TENANT/oauth2/v2.0/token or https://oauth2.googleapis.com/token.
    token_url: str = ""
    # Its authorization endpoint, for `maild oauth login` (the refresh_token flow only), e.g.
    # https://login.microsoftonline.com/TENANT/oauth2/v2.0/authorize or https://accounts.google.com/o/oauth2/v2/auth.
    authorize_url: str = ""
    # "refresh_token": a person consents once (`maild oauth login`), maild refreshes since;
    # "client_credentials": the application's own identity (Microsoft 365 app-only access).
    flow: str = "refresh_token"
    client_id: str = ""
    # The client secret: inline, from a file, an environment variable or a systemd credential
    # (as mailbox.password). Empty for a public client.
    client_secret: str = ""
    client_secret_file: str = ""
    client_secret_env: str = ""
    client_secret_credential: str = ""
    # The refresh token (refresh_token flow): `maild oauth login` writes it into refresh_token_file.
    refresh_token: str = ""
    refresh_token_file: str = ""
    refresh_token_env: str = ""
    refresh_token_credential: str = ""
    # Space-separated, e.g. "https://outlook.office365.com/.default" (client credentials),
    # "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send",
    # or "https://mail.google.com/".
    scope: str = ""
    # The SASL mechanism: "XOAUTH2" (Microsoft, Google) or "OAUTHBEARER" (RFC 7628).
    mechanism: str = "XOAUTH2"
    # The identity signed in as; empty: the user of mailbox.url, or smtp.username.
    user: str = ""
    # Where access tokens (and a refresh token the provider rotated) are kept between runs,
    # readable by the owner only; empty: oauth-ACCOUNT.json beside the SQLite database (or
    # beside the config file with another database).
    cache_file: str = ""


@dataclass(frozen=True)
class MailboxSettings:
    # Which mailbox these settings describe: DEFAULT_MAILBOX for the top level, a
    # [[mailboxes]] entry's name for the others (set by ``Settings.for_mailbox``, not configured here).
    name: str = DEFAULT_MAILBOX
    url: str = "maildir:Maildir"
    # "password", or "oauth2" (the token of [mailbox.oauth], for servers without password sign-in).
    auth: str = "password"
    password: str = ""
    password_file: str = ""
    password_env: str = ""
    password_credential: str = ""  # see HelpdeskSettings.secret_credential
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_interval: float = 60.0
    idle: bool = True
    batch_size: int = 200
    ca_file: str = ""
    timeout: float = 30.0
    oauth: OAuthSettings = OAuthSettings()


@dataclass(frozen=True)
class SmtpSettings:
    url: str = "maildir:sent"
    # "password", or "oauth2": the token of [smtp.oauth], or of [mailbox.oauth] when
    # [smtp.oauth] has no token_url (one client and one token for both).
    auth: str = "password"
    username: str = ""
    password: str = ""
    password_file: str = ""
    password_env: str = ""
    password_credential: str = ""  # see HelpdeskSettings.secret_credential
    ca_file: str = ""
    timeout: float = 30.0
    envelope_from: str = ""
    oauth: OAuthSettings = OAuthSettings()


@dataclass(frozen=True)
class LimitSettings:
    max_attempts: int = 3
    # A message larger than this is not made a ticket: it is kept in quarantine and its
    # sender is told the limit (politely, in the mail's language).
    max_message_bytes: int = 25 * 1024 * 1024
    # Raw bytes taken into memory in one batch (ingest and pipeline), besides the count
    # (mailbox.batch_size): a batch always holds at least one message.
    batch_bytes: int = 64 * 1024 * 1024
    # An attachment larger than this is not extracted: it stays inside the raw message
    # (kept whole) and the ticket notes it.
    max_attachment_bytes: int = 10 * 1024 * 1024
    auto_replies_per_sender_per_hour: int = 5
    retry_min_seconds: int = 60
    retry_max_seconds: int = 3600
    give_up_after_hours: int = 96


@dataclass(frozen=True)
class AttachmentSettings:
    # The reporter's files the staff notification, the escalation to a group and the report to
    # the coordinator carry, in bytes together per mail; what does not fit is listed instead
    # (with the command that writes it out). 0: attach nothing, list everything.
    forward_max_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class ThreadingSettings:
    reopen_window_days: int = 14


@dataclass(frozen=True)
class PartySettings:
    name: str = ""
    address: str = ""


@dataclass(frozen=True)
class GroupSettings:
    """A service group ("Pengelolaan Layanan Lain", SOP step 4) and the managers who answer for it."""

    name: str = ""
    title: str = ""
    managers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecuritySettings:
    # Receiving servers whose Authentication-Results header maild believes (their authserv-id;
    # "microsoft365" for the header Microsoft 365 writes without one).
    trusted_authserv_ids: tuple[str, ...] = ()
    # A reply to a mail maild sent proves its sender for this many days after the mail was sent.
    proof_max_age_days: int = 30


@dataclass(frozen=True)
class CalendarSettings:
    # Working hours per weekday group, in the helpdesk's time zone.
    hours: tuple[str, ...] = ("mon-thu 07:30-16:00", "fri 07:30-16:30")
    # Days off beyond the national holidays (cuti bersama, local holidays), as YYYY-MM-DD.
    days_off: tuple[str, ...] = ()
    # Weekend days made working days, as YYYY-MM-DD.
    working_days: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaSettings:
    # Working hours to the first staff action and to closing: "PRIORITY" or "TYPE.PRIORITY"
    # followed by two numbers, e.g. "high 2 8" or "service_request.low 16 80".
    targets: tuple[str, ...] = ("critical 1 4", "high 2 8", "medium 4 24", "low 8 40")
    # A ticket whose priority is unset uses this one.
    default_priority: str = "medium"
    # When the clock stops: "escalated" (waiting on another service group) and "waiting"
    # (waiting on the reporter after "#status tunggu", until they reply).
    pause_states: tuple[str, ...] = ("escalated", "waiting")
    # default_priority and pause_states are plain strings because base sits below sop and may
    # not import its vocabulary; sla.policy_from checks them against maild.sop.vocabulary
    # (Priority, State, Status) when it builds the SLA policy.
    # Level 3: working hours after the missed resolution target at which the ticket goes to
    # this address too (e.g. the head of the LPSE); empty: no third level.
    head_address: str = ""
    head_name: str = "Kepala LPSE"
    head_after_hours: float = 16.0
    # How often the timers look at the tickets, in seconds.
    check_every: float = 60.0


@dataclass(frozen=True)
class DigestSettings:
    enabled: bool = True
    # Every working day at this local time the coordinator gets the digest.
    time: str = "07:30"
    # Extra recipients besides the coordinator (e.g. the staff), as addresses.
    also_to: tuple[str, ...] = ()
    # Nothing to report: send a short "all clear" mail (true) or nothing (false).
    all_clear: bool = True


# The values of [survey] mode (maild.sop.skm.SurveyMode; base may not import sop).
SURVEY_MODES = ("full", "overall", "off")


@dataclass(frozen=True)
class SurveySettings:
    # Survei Kepuasan Masyarakat (Permenpan RB 14/2017): what the closing mail asks the reporter.
    # "full": a rating 1-4 for each of the regulation's nine elements (one number is taken as a
    # rating of the whole service); "overall": one number for the whole service; "off": nothing
    # is asked, and a reply with a number is an ordinary reply.
    mode: str = "full"


@dataclass(frozen=True)
class ReportSettings:
    # The monthly report mails itself: last month's report goes to the head of the LPSE
    # ([sla] head_address), the coordinator and also_to on the first working day of the month.
    enabled: bool = True
    # At or after this local time on that day (or at the first chance after it, once).
    time: str = "08:00"
    # Extra recipients besides the head of the LPSE and the coordinator, as addresses.
    also_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class RulesSettings:
    # The classification rules; empty means the rules shipped with maild.
    file: str = ""
    # The categories a ticket may have (short ids: a-z, 0-9, _ or -). Every category the rules
    # assign must be one of them, and "#kategori" takes no other. Empty: the categories the
    # rules file assigns.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswersSettings:
    # The folder of stored answers (NAME.txt.j2) that "#jawab NAME" sends; empty: the answers
    # shipped with maild in the helpdesk's language.
    folder: str = ""


@dataclass(frozen=True)
class MetricsSettings:
    # A Prometheus endpoint (/metrics) served by `maild run`; off unless asked for.
    enabled: bool = False
    # HOST:PORT ([::1]:9464 for IPv6). Loopback only, unless allow_remote: the figures say how
    # busy the helpdesk is, and the endpoint has no password.
    listen: str = "127.0.0.1:9464"
    allow_remote: bool = False


@dataclass(frozen=True)
class AlertSettings:
    # Who gets one mail when a mailbox cannot be read or the outbox is stuck for too long, and
    # one when it recovers (the admin of the server, not the helpdesk team). Empty: no alerts.
    admin_address: str = ""
    # Minutes a mailbox may fail to be read (login refused, server down) before the alert.
    mailbox_after_minutes: int = 15
    # Minutes the oldest queued mail may wait unsent (the relay refuses it or cannot be
    # reached) before the alert.
    outbox_after_minutes: int = 30


@dataclass(frozen=True)
class MailboxEntry:
    """One more helpdesk served by the same maild: a ``[[mailboxes]]`` table. What it does not set
    comes from the top level (None or empty: inherited), so each mailbox is a whole helpdesk of
    its own: its address, its ticket tag and numbers, its people and its rules."""

    # A short stable id (letters, digits, - or _): tickets, the outbox and the leases are filed
    # under it, and `maild ... --mailbox NAME` names it. Never rename one that holds tickets.
    name: str = ""
    # Where its mail comes from: imaps://user@host/INBOX, imap://... or maildir:PATH.
    url: str = ""
    password: str = ""
    password_file: str = ""
    password_env: str = ""
    password_credential: str = ""
    processed_folder: str = ""
    quarantine_folder: str = ""
    # "password" or "oauth2"; empty: as the top-level [mailbox] signs in (a Maildir: no sign-in).
    # With "oauth2" it uses the top level's [mailbox.oauth] client (with client credentials,
    # one application allowed on every mailbox, as Microsoft 365 and Google Workspace allow).
    auth: str = ""
    # Its own address, the name its mail is signed with, its tag ([VERIF #26-0001]) and language.
    address: str = ""
    helpdesk_name: str = ""
    ticket_tag: str = ""
    language: str = ""
    # SMTP MAIL FROM for its mail (empty: its address). The SMTP relay is the top level's.
    envelope_from: str = ""
    rules_file: str = ""
    answers_folder: str = ""
    # Its own people; None: the top level's.
    staff: tuple[PartySettings, ...] | None = None
    groups: tuple[GroupSettings, ...] | None = None
    coordinator: PartySettings | None = None


@dataclass(frozen=True)
class Settings:
    """The whole configuration, with paths already resolved against the config file."""

    helpdesk: HelpdeskSettings = HelpdeskSettings()
    database: DatabaseSettings = DatabaseSettings()
    mailbox: MailboxSettings = MailboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    limits: LimitSettings = LimitSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    threading: ThreadingSettings = ThreadingSettings()
    security: SecuritySettings = SecuritySettings()
    rules: RulesSettings = RulesSettings()
    calendar: CalendarSettings = CalendarSettings()
    sla: SlaSettings = SlaSettings()
    digest: DigestSettings = DigestSettings()
    survey: SurveySettings = SurveySettings()
    answers: AnswersSettings = AnswersSettings()
    report: ReportSettings = ReportSettings()
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertSettings = AlertSettings()
    staff: tuple[PartySettings, ...] = ()
    groups: tuple[GroupSettings, ...] = ()
    coordinator: PartySettings = PartySettings()
    mailboxes: tuple[MailboxEntry, ...] = ()
    # Set by ``for_mailbox``: every mailbox served, as (ticket tag, name), the top level's first.
    peers: tuple[tuple[str, str], ...] = ()
    source: Path | None = None

    @property
    def mailbox_names(self) -> tuple[str, ...]:
        """Every mailbox this configuration serves: the top level's first."""
        return (DEFAULT_MAILBOX, *(e.name for e in self.mailboxes))

    def mailbox_named(self, word: str) -> str | None:
        """The name of the mailbox ``word`` names, by its name or its ticket tag
        (case-insensitive); None when no configured mailbox is called so."""
        word = word.strip().lower()
        found = [(DEFAULT_MAILBOX, self.helpdesk.ticket_tag), *((e.name, e.ticket_tag) for e in self.mailboxes)]
        return next((name for name, tag in found if word in (name.lower(), tag.lower())), None)

    def for_mailbox(self, name: str) -> Settings:
        """The settings of one mailbox as a whole helpdesk: a [[mailboxes]] entry over the top
        level, with no entries of its own (ConfigError for a name that is not configured)."""
        peers = ((self.helpdesk.ticket_tag, DEFAULT_MAILBOX), *((e.ticket_tag, e.name) for e in self.mailboxes))
        if name == DEFAULT_MAILBOX:
            return replace(self, mailboxes=(), peers=peers)
        entry = next((e for e in self.mailboxes if e.name == name), None)
        if entry is None:
            raise ConfigError(f"no mailbox called {name!r} (configured: {', '.join(self.mailbox_names)})")
        h, m, s = self.helpdesk, self.mailbox, self.smtp
        return replace(
            self,
            helpdesk=replace(h, address=entry.address or h.address, name=entry.helpdesk_name or h.name,
                             ticket_tag=entry.ticket_tag or h.ticket_tag, language=entry.language or h.language),
            mailbox=replace(m, name=entry.name, url=entry.url or m.url,
                            auth="password" if entry.url.startswith("maildir:") else entry.auth or m.auth,
                            password=entry.password, password_file=entry.password_file,
                            password_env=entry.password_env, password_credential=entry.password_credential,
                            processed_folder=entry.processed_folder or m.processed_folder,
                            quarantine_folder=entry.quarantine_folder or m.quarantine_folder),
            smtp=replace(s, envelope_from=entry.envelope_from or (entry.address if entry.address else s.envelope_from)),
            rules=replace(self.rules, file=entry.rules_file or self.rules.file),
            answers=replace(self.answers, folder=entry.answers_folder or self.answers.folder),
            staff=self.staff if entry.staff is None else entry.staff,
            groups=self.groups if entry.groups is None else entry.groups,
            coordinator=self.coordinator if entry.coordinator is None else entry.coordinator,
            mailboxes=(),
            peers=peers,
        )

    def group(self, name: str) -> GroupSettings | None:
        """The service group called ``name`` (case-insensitive), or None."""
        for g in self.groups:
            if g.name.lower() == name.lower():
                return g
        return None

    @property
    def mid_domain(self) -> str:
        """The domain of the Message-IDs we mint."""
        return self.helpdesk.message_id_domain or self.helpdesk.address.rpartition("@")[2]

    @property
    def hmac_key(self) -> bytes:
        """The server secret that signs our Message-IDs; each further mailbox signs with a key
        of its own, derived from it, so a reply to one helpdesk's mail proves nothing at another."""
        h = self.helpdesk
        key = resolve_secret("helpdesk.secret", h.secret, h.secret_file, h.secret_env,
                             h.secret_credential).value.encode()
        if self.mailbox.name == DEFAULT_MAILBOX:
            return key
        return hmac.new(key, f"mailbox:{self.mailbox.name}".encode(), hashlib.sha256).hexdigest().encode()

    @property
    def mailbox_password(self) -> Secret:
        m = self.mailbox
        return resolve_secret("mailbox.password", m.password, m.password_file, m.password_env,
                              m.password_credential)

    @property
    def smtp_password(self) -> Secret:
        s = self.smtp
        return resolve_secret("smtp.password", s.password, s.password_file, s.password_env,
                              s.password_credential)

    @property
    def smtp_oauth(self) -> tuple[str, OAuthSettings]:
        """The section SMTP's OAuth2 client comes from: ("smtp", [smtp.oauth]), or
        ("mailbox", [mailbox.oauth]) when [smtp.oauth] names no token endpoint."""
        if self.smtp.oauth.token_url:
            return "smtp", self.smtp.oauth
        return "mailbox", self.mailbox.oauth


def oauth_secrets(account: str, o: OAuthSettings) -> tuple[Secret, Secret]:
    """The client secret and the refresh token of ``[ACCOUNT.oauth]``, resolved."""
    key = f"{account}.oauth"
    client_secret = resolve_secret(f"{key}.client_secret", o.client_secret, o.client_secret_file,
                                   o.client_secret_env, o.client_secret_credential)
    if o.refresh_token_file and not Path(o.refresh_token_file).exists() and not o.refresh_token_credential:
        # Not written yet: `maild oauth login` writes it; until then signing in says so.
        return client_secret, Secret("")
    return client_secret, resolve_secret(f"{key}.refresh_token", o.refresh_token, o.refresh_token_file,
                                         o.refresh_token_env, o.refresh_token_credential)


def resolve_secret(key: str, inline: str, file: str, env: str, credential: str = "") -> Secret:
    """Pick a secret from a systemd credential, a file (first line), an environment variable
    or its inline value, in that order.

    ``credential`` names a ``LoadCredential=`` of the unit: systemd copies a root-only file
    into ``$CREDENTIALS_DIRECTORY`` for the service alone, so the service user never needs to
    read the file under /etc. Outside the service (no such variable, or no such credential)
    the file is read, as root does when it runs the CLI.
    """
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    if credential and directory:
        path = Path(directory) / credential
        if path.is_file():
            return _read_secret_file(f"{key}_credential", path)
    if file:
        return _read_secret_file(f"{key}_file", Path(file))
    if env:
        if env not in os.environ:
            raise ConfigError(f"{key}_env: environment variable {env} is not set")
        return Secret(os.environ[env])
    return Secret(inline)


def _read_secret_file(key: str, path: Path) -> Secret:
    try:
        return Secret(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
