"""Configuration: read the TOML file into ``maild.base.settings`` values and check them.

The file's sections and keys are the fields of the settings dataclasses; an unknown key, a
value of the wrong type or one that makes no sense is one ConfigError line naming the file,
the key and the problem. Relative paths are resolved against the file, and secrets are
resolved once at load so a missing secret file or variable is reported at start.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import typing
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.base.errors import ConfigError
from maild.base.suggest import closest
from maild.base.settings import (
    AlertSettings,
    AnswersSettings,
    AttachmentSettings,
    CalendarSettings,
    DatabaseSettings,
    DigestSettings,
    GroupSettings,
    HelpdeskSettings,
    LimitSettings,
    MailboxEntry,
    MailboxSettings,
    DEFAULT_MAILBOX,
    MetricsSettings,
    OAuthSettings,
    PartySettings,
    ReportSettings,
    RulesSettings,
    SecuritySettings,
    Settings,
    SlaSettings,
    SURVEY_MODES,
    AUTH_KINDS,
    OAUTH_FLOWS,
    OAUTH_MECHANISMS,
    SmtpSettings,
    SurveySettings,
    ThreadingSettings,
    oauth_secrets,
)

_SECTIONS = {
    "helpdesk": HelpdeskSettings,
    "database": DatabaseSettings,
    "mailbox": MailboxSettings,
    "smtp": SmtpSettings,
    "limits": LimitSettings,
    "attachments": AttachmentSettings,
    "threading": ThreadingSettings,
    "security": SecuritySettings,
    "rules": RulesSettings,
    "calendar": CalendarSettings,
    "sla": SlaSettings,
    "digest": DigestSettings,
    "survey": SurveySettings,
    "answers": AnswersSettings,
    "report": ReportSettings,
    "metrics": MetricsSettings,
    "alerts": AlertSettings,
}


def load_settings(path: Path | str | None) -> Settings:
    """Load and validate the config file; ``None`` gives the built-in defaults.

    Raises ConfigError with one line naming the file, the key and the problem.
    """
    if path is None:
        return validate(Settings())
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (create one with 'maild init')") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        settings = _from_mapping(data, path.parent.resolve())
        return validate(settings, source=path.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _from_mapping(data: dict[str, Any], base: Path) -> Settings:
    allowed = [*_SECTIONS, "staff", "groups", "coordinator", "mailboxes"]
    for key in data:
        if key not in allowed:
            raise ConfigError(f"unknown section [{key}]{_did_you_mean(key, allowed)}")
    kwargs: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        kwargs[name] = _section(name, data.get(name, {}), cls)
    staff = data.get("staff", [])
    if not isinstance(staff, list):
        raise ConfigError("staff: must be a list of [[staff]] tables")
    kwargs["staff"] = tuple(_section(f"staff[{i}]", s, PartySettings) for i, s in enumerate(staff))
    groups = data.get("groups", [])
    if not isinstance(groups, list):
        raise ConfigError("groups: must be a list of [[groups]] tables")
    kwargs["groups"] = tuple(_section(f"groups[{i}]", g, GroupSettings) for i, g in enumerate(groups))
    kwargs["coordinator"] = _section("coordinator", data.get("coordinator", {}), PartySettings)
    entries = data.get("mailboxes", [])
    if not isinstance(entries, list):
        raise ConfigError("mailboxes: must be a list of [[mailboxes]] tables")
    kwargs["mailboxes"] = tuple(_mailbox_entry(f"mailboxes[{i}]", e, base) for i, e in enumerate(entries))
    settings = Settings(**kwargs)
    return _resolve_paths(settings, base)


def _parties(name: str, raw: Any) -> tuple[PartySettings, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{name}: must be a list of tables")
    return tuple(_section(f"{name}[{i}]", p, PartySettings) for i, p in enumerate(raw))


def _mailbox_entry(name: str, raw: Any, base: Path) -> MailboxEntry:
    """One [[mailboxes]] table: its own keys, and staff/groups/coordinator as at the top level."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    people = {k: raw[k] for k in ("staff", "groups", "coordinator") if k in raw}
    entry = _section(name, {k: v for k, v in raw.items() if k not in people}, MailboxEntry)
    if "staff" in people:
        entry = replace(entry, staff=_parties(f"{name}.staff", people["staff"]))
    if "groups" in people:
        groups = people["groups"]
        if not isinstance(groups, list):
            raise ConfigError(f"{name}.groups: must be a list of tables")
        entry = replace(entry, groups=tuple(_section(f"{name}.groups[{i}]", g, GroupSettings)
                                            for i, g in enumerate(groups)))
    if "coordinator" in people:
        entry = replace(entry, coordinator=_section(f"{name}.coordinator", people["coordinator"], PartySettings))

    def path(p: str) -> str:
        return str(base / p) if p and not os.path.isabs(p) else p

    url = f"maildir:{path(entry.url[8:])}" if entry.url.startswith("maildir:") else entry.url
    return replace(entry, url=url, password_file=path(entry.password_file), rules_file=path(entry.rules_file),
                   answers_folder=path(entry.answers_folder))


def _section(name: str, raw: Any, cls: type) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in hints:
            raise ConfigError(f"unknown key {name}.{key}{_did_you_mean(key, known)}")
        values[key] = _coerce(f"{name}.{key}", value, hints[key])
    return cls(**values)


def _coerce(key: str, value: Any, kind: Any) -> Any:
    if is_dataclass(kind):  # a sub-table, e.g. [mailbox.oauth]
        return _section(key, value, kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if kind == tuple[str, ...]:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover - programming error


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make relative file paths and ``maildir:``/``sqlite:`` locations relative to the config file."""

    def path(p: str) -> str:
        return str(base / p) if p and not os.path.isabs(p) else p

    def maildir(url: str) -> str:
        return f"maildir:{path(url[8:])}" if url.startswith("maildir:") else url

    db = settings.database.url
    if db.startswith("sqlite:///") and not db.startswith("sqlite:////") and db != "sqlite:///:memory:":
        db = f"sqlite:///{path(db[10:])}"
    h, m, s = settings.helpdesk, settings.mailbox, settings.smtp
    sqlite = db[10:] if db.startswith("sqlite:///") and db != "sqlite:///:memory:" else ""
    beside = Path(sqlite).parent if sqlite else base  # where the token caches go unless told

    def oauth(o: OAuthSettings, account: str) -> OAuthSettings:
        return replace(o, client_secret_file=path(o.client_secret_file), refresh_token_file=path(o.refresh_token_file),
                       cache_file=path(o.cache_file) or str(beside / f"oauth-{account}.json"))

    m = replace(m, oauth=oauth(m.oauth, "mailbox"))
    s = replace(s, oauth=oauth(s.oauth, "smtp"))
    return replace(
        settings,
        helpdesk=replace(h, secret_file=path(h.secret_file), logo_file=path(h.logo_file)),
        rules=replace(settings.rules, file=path(settings.rules.file)),
        answers=replace(settings.answers, folder=path(settings.answers.folder)),
        database=replace(settings.database, url=db),
        mailbox=replace(m, url=maildir(m.url), password_file=path(m.password_file), ca_file=path(m.ca_file)),
        smtp=replace(s, url=maildir(s.url), password_file=path(s.password_file), ca_file=path(s.ca_file)),
    )


def validate(settings: Settings, source: Path | None = None) -> Settings:
    """Check values that have a type but not every value of it makes sense: the top level, then
    each [[mailboxes]] entry as the whole helpdesk it makes (``Settings.for_mailbox``)."""
    if settings.mailbox.name != DEFAULT_MAILBOX:
        raise ConfigError(f"mailbox.name: the top-level mailbox is always {DEFAULT_MAILBOX!r}; "
                          "name the others in [[mailboxes]]")
    _validate_one(settings)
    _check_mailboxes(settings)
    for entry in settings.mailboxes:
        try:
            # The top level's cli_actor acts for the top level; at a mailbox with its own
            # people, `--as` names who acts there (checked when the command runs).
            _validate_one(settings.for_mailbox(entry.name), check_actor=entry.staff is None)
        except ConfigError as exc:
            raise ConfigError(f"mailboxes[{entry.name}]: {exc}") from None
    return replace(settings, source=source)


def _check_mailboxes(settings: Settings) -> None:
    """Names, tags and addresses tell the mailboxes apart: each must be its own."""
    names, tags, addresses, sources = {DEFAULT_MAILBOX}, {settings.helpdesk.ticket_tag.lower()}, \
        {settings.helpdesk.address.lower()}, {settings.mailbox.url}
    for i, e in enumerate(settings.mailboxes):
        key = f"mailboxes[{i}]"
        if not e.name or not e.name.replace("_", "").replace("-", "").isalnum() or len(e.name) > 32:
            raise ConfigError(f"{key}.name: {e.name!r} must be one word of letters, digits, - or _ (at most 32)")
        for what, value, seen in (("name", e.name.lower(), names), ("ticket_tag", e.ticket_tag.lower(), tags),
                                  ("address", e.address.lower(), addresses), ("url", e.url, sources)):
            if not value:
                raise ConfigError(f"{key}.{what}: must be set: each mailbox has its own")
            if value in seen:
                raise ConfigError(f"{key}.{what}: {value!r} is already another mailbox's")
            seen.add(value)


def _validate_one(settings: Settings, check_actor: bool = True) -> None:
    h = settings.helpdesk
    if "@" not in h.address:
        raise ConfigError(f"helpdesk.address: {h.address!r} is not an email address")
    if h.language not in ("id", "en"):
        raise ConfigError(f"helpdesk.language: {h.language!r} is not one of 'id', 'en'")
    if not h.ticket_tag or any(c in h.ticket_tag for c in "[]#"):
        raise ConfigError(f"helpdesk.ticket_tag: {h.ticket_tag!r} must be non-empty without [ ] #")
    try:
        ZoneInfo(h.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"helpdesk.timezone: unknown time zone {h.timezone!r}") from None
    _check_mailbox_url(settings.mailbox.url)
    _check_smtp_url(settings.smtp.url)
    _check_auth(settings)
    for key, value in (
        ("limits.max_attempts", settings.limits.max_attempts),
        ("mailbox.batch_size", settings.mailbox.batch_size),
        ("limits.batch_bytes", settings.limits.batch_bytes),
        ("limits.retry_min_seconds", settings.limits.retry_min_seconds),
        ("security.proof_max_age_days", settings.security.proof_max_age_days),
    ):
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")
    if settings.attachments.forward_max_bytes < 0:
        raise ConfigError("attachments.forward_max_bytes: must be 0 or more (0: attach nothing), "
                          f"got {settings.attachments.forward_max_bytes}")
    if settings.database.lease_seconds < 3:
        raise ConfigError(f"database.lease_seconds: must be at least 3, got {settings.database.lease_seconds:g}")
    if settings.mailbox.poll_interval <= 0:
        raise ConfigError("mailbox.poll_interval: must be more than 0 seconds")
    for i, party in enumerate(settings.staff):
        if "@" not in party.address:
            raise ConfigError(f"staff[{i}].address: {party.address!r} is not an email address")
    c = settings.coordinator
    if c.address and "@" not in c.address:
        raise ConfigError(f"coordinator.address: {c.address!r} is not an email address")
    actor = settings.helpdesk.cli_actor.strip().lower()
    if check_actor and actor and actor not in team_addresses(settings):
        raise ConfigError(f"helpdesk.cli_actor: {actor!r} is not a [[staff]] address or the coordinator's")
    seen: set[str] = set()
    for i, g in enumerate(settings.groups):
        if not g.name or not g.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"groups[{i}].name: {g.name!r} must be one word (letters, digits, - or _)")
        if g.name.lower() in seen:
            raise ConfigError(f"groups[{i}].name: {g.name!r} appears twice")
        seen.add(g.name.lower())
        for m in g.managers:
            if "@" not in m:
                raise ConfigError(f"groups[{i}].managers: {m!r} is not an email address")
    for a in settings.report.also_to:
        if "@" not in a:
            raise ConfigError(f"report.also_to: {a!r} is not an email address")
    _check_categories(settings.rules.categories)
    metrics_address(settings)
    _check_alerts(settings.alerts)
    mode = settings.survey.mode
    if mode not in SURVEY_MODES:
        raise ConfigError(f"survey.mode: {mode!r} is not one of {', '.join(map(repr, SURVEY_MODES))}"
                          f"{_did_you_mean(mode, list(SURVEY_MODES))}")
    if not (h.secret or h.secret_file or h.secret_env or h.secret_credential):
        raise ConfigError("helpdesk.secret: not set (set secret, secret_file, secret_env or secret_credential; "
                          "'maild init' makes one)")
    # Resolve secrets now so a missing file or variable is reported at start, not mid-run.
    settings.hmac_key  # noqa: B018 - evaluated for its check
    settings.mailbox_password  # noqa: B018
    settings.smtp_password  # noqa: B018
    if settings.mailbox.auth == "oauth2":
        oauth_secrets("mailbox", settings.mailbox.oauth)
    if settings.smtp.auth == "oauth2":
        oauth_secrets(*settings.smtp_oauth)


_CATEGORY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")


def _check_alerts(a: AlertSettings) -> None:
    if a.admin_address and "@" not in a.admin_address:
        raise ConfigError(f"alerts.admin_address: {a.admin_address!r} is not an email address")
    for key, value in (("alerts.mailbox_after_minutes", a.mailbox_after_minutes),
                       ("alerts.outbox_after_minutes", a.outbox_after_minutes)):
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")


def metrics_address(settings: Settings) -> tuple[str, int]:
    """(host, port) of ``metrics.listen``; ConfigError for a malformed one, and for an address
    off loopback unless ``metrics.allow_remote`` (the endpoint has no password)."""
    m = settings.metrics
    host, sep, port = m.listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"metrics.listen: {m.listen!r} is not HOST:PORT (e.g. 127.0.0.1:9464)")
    if not m.allow_remote and not _loopback(host):
        raise ConfigError(f"metrics.listen: {host} is not a loopback address; the endpoint has no password: "
                          "listen on 127.0.0.1 (and scrape through a tunnel or proxy), or set metrics.allow_remote = true")
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere


def _check_categories(categories: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in categories:
        if not _CATEGORY.match(name):
            raise ConfigError(f"rules.categories: {name!r} must be a short id: a-z, 0-9, _ or -")
        if name in seen:
            raise ConfigError(f"rules.categories: {name!r} appears twice")
        seen.add(name)


def _check_auth(settings: Settings) -> None:
    """``auth`` of [mailbox] and [smtp], and the OAuth2 section each one that says "oauth2" uses."""
    m, s = settings.mailbox, settings.smtp
    for account, auth in (("mailbox", m.auth), ("smtp", s.auth)):
        if auth not in AUTH_KINDS:
            raise ConfigError(f"{account}.auth: {auth!r} is not one of {', '.join(map(repr, AUTH_KINDS))}"
                              f"{_did_you_mean(auth, list(AUTH_KINDS))}")
    if m.auth == "oauth2":
        if m.url.startswith("maildir:"):
            raise ConfigError("mailbox.auth: 'oauth2' needs an imap:// or imaps:// mailbox.url")
        _check_oauth("mailbox", m.oauth)
    if s.auth == "oauth2":
        if s.url.startswith("maildir:"):
            raise ConfigError("smtp.auth: 'oauth2' needs an smtp:// URL in smtp.url")
        section, o = settings.smtp_oauth
        if not o.token_url:
            raise ConfigError("smtp.oauth.token_url: not set (set [smtp.oauth], or [mailbox.oauth] to share "
                              "the mailbox's client)")
        _check_oauth(section, o)
        if not (s.oauth.user or s.username or section == "mailbox"):
            raise ConfigError("smtp.username: needed with smtp.auth = 'oauth2' (the account signed in as)")


def _check_oauth(account: str, o: OAuthSettings) -> None:
    key = f"{account}.oauth"
    if not o.token_url:
        raise ConfigError(f"{key}.token_url: not set (the identity provider's token endpoint)")
    for name, url in (("token_url", o.token_url), ("authorize_url", o.authorize_url)):
        parts = urlsplit(url)
        if url and not (parts.scheme == "https" and parts.hostname
                        or parts.scheme == "http" and _loopback(parts.hostname or "")):
            raise ConfigError(f"{key}.{name}: {mask_url(url)!r} must be an https:// URL "
                              "(it carries the client secret and the tokens)")
    if not o.client_id:
        raise ConfigError(f"{key}.client_id: not set")
    if o.flow not in OAUTH_FLOWS:
        raise ConfigError(f"{key}.flow: {o.flow!r} is not one of {', '.join(map(repr, OAUTH_FLOWS))}"
                          f"{_did_you_mean(o.flow, list(OAUTH_FLOWS))}")
    if o.mechanism not in OAUTH_MECHANISMS:
        raise ConfigError(f"{key}.mechanism: {o.mechanism!r} is not one of "
                          f"{', '.join(map(repr, OAUTH_MECHANISMS))}{_did_you_mean(o.mechanism, list(OAUTH_MECHANISMS))}")
    if o.flow == "client_credentials" and not (o.client_secret or o.client_secret_file or o.client_secret_env
                                               or o.client_secret_credential):
        raise ConfigError(f"{key}.client_secret: the client_credentials flow needs the client secret "
                          "(client_secret, client_secret_file, _env or _credential)")
    if o.flow == "refresh_token" and not (o.refresh_token or o.refresh_token_file or o.refresh_token_env
                                          or o.refresh_token_credential):
        raise ConfigError(f"{key}.refresh_token_file: the refresh_token flow needs where the refresh token is "
                          "('maild oauth login' writes it into refresh_token_file)")


def _check_mailbox_url(url: str) -> None:
    if url.startswith("maildir:"):
        if len(url) <= 8:
            raise ConfigError("mailbox.url: 'maildir:' needs a path, e.g. maildir:/var/lib/maild/Maildir")
        return
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError(f"mailbox.url: {mask_url(url)!r}: use imaps://user@host/INBOX, imap://... or maildir:PATH")
    if not parts.hostname or not parts.username:
        raise ConfigError(f"mailbox.url: {mask_url(url)!r}: needs a user and a host, "
                          "e.g. imaps://helpdesk@mail.example/INBOX")
    _check_port("mailbox.url", url)


def _check_smtp_url(url: str) -> None:
    if url.startswith("maildir:"):
        if len(url) <= 8:
            raise ConfigError("smtp.url: 'maildir:' needs a path")
        return
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ConfigError(f"smtp.url: {mask_url(url)!r}: use smtp://host:25, smtp+starttls://host:587, "
                          "smtps://host:465 or maildir:PATH")
    if not parts.hostname:
        raise ConfigError(f"smtp.url: {mask_url(url)!r}: needs a host")
    _check_port("smtp.url", url)


def _check_port(key: str, url: str) -> None:
    # urllib's own error quotes the text after the colon: with an unencoded "/" in the
    # password that is part of the password.
    try:
        urlsplit(url).port
    except ValueError:
        raise ConfigError(f"{key}: {mask_url(url)!r}: the port is not a number (a password in the URL "
                          "is not used: set the password_file)") from None


@dataclass(frozen=True)
class Endpoint:
    """A network server named by a URL: scheme, host, port, user and folder."""

    scheme: str
    host: str
    port: int
    user: str
    path: str


def endpoint(url: str, default_ports: dict[str, int]) -> Endpoint:
    """Split ``imaps://user@host:993/INBOX`` into its parts."""
    parts = urlsplit(url)
    return Endpoint(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or default_ports[parts.scheme],
        user=unquote(parts.username or ""),
        path=unquote(parts.path.lstrip("/")) or "INBOX",
    )


_SECRET_QUERY_KEYS = ("password", "passwd", "pass", "secret", "token")


def mask_url(url: str) -> str:
    """``url`` with any password in it replaced by ``***``: ``imaps://user:***@host/INBOX``.

    Covers the userinfo of ``scheme://user:password@host`` (also when the password holds an
    unencoded ``/``, ``?``, ``#`` or ``@``: everything up to the last ``@`` is userinfo, so a
    doubtful URL is masked too much rather than too little) and ``password=`` in the query
    (libpq's ``postgresql://host/db?password=...``). Text that is not such a URL is returned
    as it is.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:***@{hostpart}"
    head, question, query = rest.partition("?")
    if question:
        pairs = []
        for pair in query.split("&"):
            name, eq, _value = pair.partition("=")
            pairs.append(f"{name}=***" if eq and name.lower() in _SECRET_QUERY_KEYS else pair)
        rest = f"{head}?{'&'.join(pairs)}"
    return f"{scheme}://{rest}"


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as a dict: secrets replaced by ****, passwords inside URLs by ***."""

    def walk(obj: Any, key: str = "") -> Any:
        if is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: walk(getattr(obj, f.name), f.name) for f in fields(obj)}
        if isinstance(obj, tuple):
            return [walk(o) for o in obj]
        if isinstance(obj, Path):
            return str(obj)
        if key in ("password", "secret", "client_secret", "refresh_token") and obj:
            return "****"
        if key == "url" and isinstance(obj, str):
            return mask_url(obj)
        return obj

    return walk(settings)


def team_addresses(settings: Settings) -> frozenset[str]:
    """The addresses that may act on tickets from the CLI: the staff and the coordinator."""
    team = {p.address.strip().lower() for p in settings.staff}
    if settings.coordinator.address:
        team.add(settings.coordinator.address.strip().lower())
    return frozenset(team)
