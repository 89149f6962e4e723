"""``maild doctor``: is this installation able to work? One line per thing that must be right.

Each check talks to the real thing (the database, the IMAP server, the SMTP server, the
templates and rules on disk) the way the daemon will, changes nothing, and sends no mail. A
check never raises: whatever goes wrong becomes a FAIL line naming what failed and what to
do about it. A broken config file stops everything else (all other checks need it); a check
that needs another one that failed says so on its own FAIL line ("not checked: ...").

Network checks use a short timeout (10 s by default), so the doctor answers quickly even
when a server is down or a port is closed.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosmtplib
import holidays
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from maild.app.factory import (TokenSources, answers, digest_settings, envelope_from, imap_mailbox, load_checked,
                               load_ruleset, smtp_transport, token_sources, work_calendar)
from maild.base.clock import Clock
from maild.base.config import Endpoint, mask_url
from maild.base.settings import Settings
from maild.base.errors import ConfigError
from maild.base.resources import resource_dir
from maild.render.renderer import KINDS, LANGUAGES, Renderer, local_time
from maild.service import admin
from maild.sop.sla import policy_from
from maild.sop.vocabulary import MailState
from maild.store.db import make_engine, revisions, session_factory
from maild.transport.imap import ImapError, ImapStep
from maild.transport.oauth import TokenRefused, TokenUnavailable
from maild.transport.smtp import ClearTextRefused, Hello, SmtpDeferred, SmtpRefused, SmtpStep

EXIT_OK, EXIT_FAIL, EXIT_TEMPFAIL, EXIT_CONFIG = 0, 1, 75, 78
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer: what was checked, whether it is fine, and what to do.

    A ``warning`` is fine enough to run (``ok``, exit 0) but worth a look: it prints as WARN
    with its fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False
    # A FAIL that is mended outside maild's config, then cleared by trying again (an OAuth2
    # grant the provider refused: `maild oauth login`): exit 75, as `maild run --once` does.
    tempfail: bool = False


def run_checks(
    config_path: str | Path,
    clock: Clock,
    templates_dir: Path | None = None,
    timeout: float = 10.0,
) -> list[Check]:
    """Check everything maild needs, one ``Check`` per line; never raises.

    ``templates_dir`` points the template check at another directory (tests); the daemon
    always uses the shipped templates.
    """
    try:
        settings = load_checked(config_path)
    except ConfigError as exc:
        return [Check("config", False, f"{exc} (nothing else checked: every other check needs the config)",
                      "fix the config file; 'maild check-config' validates it")]
    except Exception as exc:  # noqa: BLE001 - the doctor reports, it never raises
        return [Check("config", False, f"cannot load {config_path}: {_error(exc)} (nothing else checked)",
                      "fix the config file")]
    checks = [Check("config", True, f"{settings.source or config_path} is valid")]
    engine_ok, engine = _guard("database", checks, lambda: _database(settings, timeout))
    tokens = token_sources(settings, clock, timeout)  # IMAP and SMTP share a client's token, as in the daemon
    checks.extend(_guarded("mailbox", lambda: _mailbox(settings, timeout, tokens)))
    checks.extend(_guarded("smtp", lambda: _smtp(settings, timeout, tokens)))
    checks.extend(_guarded("templates", lambda: [_templates(templates_dir)]))
    checks.extend(_guarded("answers", lambda: [_answers(settings)]))
    checks.extend(_guarded("rules", lambda: [_rules(settings)]))
    checks.extend(_guarded("sla", lambda: [_sla(settings)]))
    checks.extend(_guarded("people", lambda: [_people(settings)]))
    for name in settings.mailbox_names[1:]:
        checks.extend(_mailbox_checks(settings.for_mailbox(name), clock, timeout))
    if engine_ok and engine is not None:
        checks.extend(_guarded("outbox", lambda: _queues(engine)))
    else:
        why = "not checked: the database is not usable (see the database line)"
        checks += [Check("outbox", False, why, "fix the database first"),
                   Check("quarantine", False, why, "fix the database first")]
    if engine is not None:
        engine.dispose()
    checks.extend(_guarded("clock", lambda: [_clock(settings, clock)]))
    checks.extend(_guarded("calendar", lambda: [_calendar(settings, clock)]))
    return checks


def _mailbox_checks(settings: Settings, clock: Clock, timeout: float) -> list[Check]:
    """What a [[mailboxes]] entry has of its own, each line named with the mailbox."""
    name = settings.mailbox.name
    tokens = token_sources(settings, clock, timeout)
    checks = [*_guarded("mailbox", lambda: _mailbox(settings, timeout, tokens)),
              *_guarded("answers", lambda: [_answers(settings)]),
              *_guarded("rules", lambda: [_rules(settings)]),
              *_guarded("people", lambda: [_people(settings)])]
    return [replace(c, name=f"{c.name} [{name}]") for c in checks]


def format_checks(checks: Sequence[Check]) -> str:
    """``OK   name: detail``, ``WARN name: detail -> fix`` and ``FAIL name: detail -> fix``, one line each."""
    lines = []
    for c in checks:
        word = "FAIL" if not c.ok else "WARN" if c.warning else "OK"
        line = f"{word:<5}{c.name}: {' '.join(c.detail.split())}"
        if (not c.ok or c.warning) and c.fix:
            line += f" -> {c.fix}"
        lines.append(line)
    return "\n".join(lines)


def exit_status(checks: Sequence[Check]) -> int:
    """0 when everything is OK, 78 when the config itself is broken, 75 when what failed is
    all of the try-again kind (a refused OAuth2 grant), 1 otherwise."""
    if any(c.name == "config" and not c.ok for c in checks):
        return EXIT_CONFIG
    failed = [c for c in checks if not c.ok]
    if failed and all(c.tempfail for c in failed if not c.detail.startswith("not checked:")):
        return EXIT_TEMPFAIL
    return EXIT_OK if not failed else EXIT_FAIL


# -- helpers ------------------------------------------------------------------------------
def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:  # imapclient's errors are bytes reprs
        text = text[2:-1]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _guarded(name: str, check: Callable[[], list[Check]]) -> list[Check]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - an unexpected failure is a FAIL line, not a crash
        return [Check(name, False, f"unexpected error: {_error(exc)}", "report this as a maild bug")]


def _guard(name: str, checks: list[Check], check: Callable[[], tuple[list[Check], Engine | None]]
           ) -> tuple[bool, Engine | None]:
    """Run a check that also hands back the engine the later checks use."""
    try:
        lines, engine = check()
    except Exception as exc:  # noqa: BLE001
        checks.append(Check(name, False, f"unexpected error: {_error(exc)}", "report this as a maild bug"))
        return False, None
    checks.extend(lines)
    return all(c.ok for c in lines), engine


# -- the database -------------------------------------------------------------------------
def _database(settings: Settings, timeout: float) -> tuple[list[Check], Engine | None]:
    url = settings.database.url
    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError) as exc:  # its message quotes the URL, password and all
        return [Check("database", False, f"{shown}: cannot parse: {type(exc).__name__}", "check database.url")], None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # Connecting would create an empty file; the doctor changes nothing.
        if not Path(parsed.database).exists():
            return [Check("database", False, f"{shown}: the file does not exist",
                          "run 'maild db upgrade' (or 'maild init')")], None
    try:
        if parsed.get_backend_name() == "postgresql":
            engine = create_engine(url, connect_args={"connect_timeout": max(1, int(timeout))})
        else:
            engine = make_engine(url)
    except (ConfigError, SQLAlchemyError, ImportError, ValueError) as exc:
        return [Check("database", False, f"{shown}: {_error(exc)}", "check database.url")], None
    try:
        current, head = revisions(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        return [Check("database", False, f"{shown} not reachable: {_error(getattr(exc, 'orig', None) or exc)}"[:600],
                      "check database.url and that the database server runs")], None
    if current != head:
        return [Check("database", False, f"{shown} at revision {current or '(empty)'}, the code needs {head}",
                      "run 'maild db upgrade'")], engine
    return [Check("database", True, f"{shown} at revision {current}")], engine


def _queues(engine: Engine) -> list[Check]:
    with session_factory(engine)() as session:
        n = admin.counts(session)
    failed, queued, dead, waiting = n["mail_failed"], n["mail_queued"], n["messages_dead"], n["messages_waiting"]
    return [
        Check("outbox", True, f"no failed mail ({queued} queued)") if not failed else
        Check("outbox", False, f"{failed} outgoing mail(s) failed ({queued} queued)",
              f"look with 'maild outbox list --state {MailState.FAILED}', send again with 'maild outbox retry'"),
        Check("quarantine", True, f"no dead messages ({waiting} waiting)") if not dead else
        Check("quarantine", False, f"{dead} message(s) quarantined after failing ({waiting} waiting)",
              "look with 'maild dead list', then 'maild dead requeue ID' once the cause is fixed"),
    ]


# -- the mailbox ----------------------------------------------------------------------------
def _mailbox(settings: Settings, timeout: float, tokens: TokenSources) -> list[Check]:
    m = settings.mailbox
    if m.url.startswith("maildir:"):
        return _maildir_source(Path(m.url[8:]), m.processed_folder, m.quarantine_folder)
    return _imap(settings, min(timeout, m.timeout), tokens)


def _maildir_source(root: Path, processed: str, quarantine: str) -> list[Check]:
    if not root.is_dir():
        return [Check("mailbox", False, f"maildir:{root} does not exist",
                      "check mailbox.url (the Maildir the mail server delivers into)")]
    missing = [sub for sub in ("new", "cur") if not (root / sub).is_dir()]
    if missing:
        return [Check("mailbox", False, f"maildir:{root} has no {' or '.join(missing)}/: not a Maildir",
                      "check mailbox.url")]
    for sub in ("new", "cur"):
        if not os.access(root / sub, os.W_OK | os.X_OK):
            return [Check("mailbox", False, f"maildir:{root}/{sub} is not writable by this user",
                          "run maild as the user that owns the Maildir, or fix its permissions")]
    waiting = sum(1 for sub in ("new", "cur") for p in (root / sub).iterdir() if not p.name.startswith("."))
    return [Check("mailbox", True, f"maildir:{root} readable and writable, {waiting} message(s) waiting"),
            Check("mailbox folders", True, "; ".join(
                _folder_note(name, (root / f".{name}").is_dir(), first)
                for name, first in ((processed, "move"), (quarantine, "use"))))]


def _folder_note(name: str, exists: bool, first: str) -> str:
    return f"{name} exists" if exists else f"{name} will be created on first {first}"


def _imap(settings: Settings, timeout: float, tokens: TokenSources) -> list[Check]:
    m = settings.mailbox
    mailbox = imap_mailbox(settings, min(timeout, m.timeout), tokens)
    ep = mailbox.endpoint
    not_checked = Check("imap folders", False, "not checked: no IMAP session (see the imap line)",
                        "fix the imap line first")
    try:
        seen = mailbox.probe([m.quarantine_folder])  # as the daemon logs in, but EXAMINE: changes nothing
    except ImapError as exc:
        return [_imap_failure(exc, ep, m.ca_file), not_checked]
    except TokenRefused as exc:  # its message says what to do
        return [Check("imap", False, str(exc), tempfail=True), not_checked]
    except ConfigError:  # the server offers no STARTTLS, off loopback
        return [Check("imap", False, f"{ep.host}:{ep.port} offers no STARTTLS; maild will not send the password "
                      "in clear text", "use imaps:// in mailbox.url"), not_checked]
    how = f" with an OAuth2 token ({m.oauth.mechanism})" if m.auth == "oauth2" else ""
    line = Check("imap", True, f"logged in as {ep.user}{how} at {ep.host}:{ep.port} "
                 f"({'TLS' if seen.secured else 'no TLS, loopback'}), {ep.path} has {seen.waiting} message(s)")
    folders = Check("imap folders", True, "; ".join(
        _folder_note(name, seen.folders[name], first)
        for name, first in ((m.processed_folder, "move"), (m.quarantine_folder, "use"))))
    return [line, folders]


def _imap_failure(exc: ImapError, ep: Endpoint, ca_file: str) -> Check:
    """The imap line for the step of the session that failed, with what to do about it."""
    cause = exc.__cause__ or exc
    where = f"{ep.host}:{ep.port}"
    tls_fix = "check mailbox.ca_file and the server's certificate"
    if isinstance(cause, TokenUnavailable):
        return Check("imap", False, str(cause), "check the token_url of the OAuth2 client and that it is reachable")
    match exc.step:
        case ImapStep.TLS_SETUP:
            return Check("imap", False, f"cannot load mailbox.ca_file {ca_file}: {_error(cause)}",
                         "check mailbox.ca_file")
        case ImapStep.CONNECT if isinstance(cause, ssl.SSLError):
            return Check("imap", False, f"TLS with {where} failed: {cause.reason or cause}", tls_fix)
        case ImapStep.CONNECT:
            return Check("imap", False, f"cannot connect to {where}: {_error(cause)}",
                         "check mailbox.url (host and port) and that the IMAP server runs")
        case ImapStep.STARTTLS:
            reason = cause.reason if isinstance(cause, ssl.SSLError) else None
            return Check("imap", False, f"STARTTLS with {where} failed: {reason or _error(cause)}", tls_fix)
        case ImapStep.LOGIN:
            return Check("imap", False, f"login as {ep.user} at {ep.host} failed: {_error(cause)}",
                         "check the user in mailbox.url and mailbox.password")
        case ImapStep.FOLDER:
            return Check("imap", False, f"logged in as {ep.user}, but cannot open folder {ep.path}: {_error(cause)}",
                         "check the folder in mailbox.url")
    return Check("imap", False, f"{where}: {_error(cause)}", "check the IMAP server")


# -- the mail server ------------------------------------------------------------------------
def _smtp(settings: Settings, timeout: float, tokens: TokenSources) -> list[Check]:
    s = settings.smtp
    if s.url.startswith("maildir:"):
        return [_maildir_target(Path(s.url[8:]))]
    transport = smtp_transport(settings, min(timeout, s.timeout), tokens)
    ep, sender = transport.endpoint, envelope_from(settings)
    not_checked = Check("smtp auth", False, "not checked: no SMTP session (see the smtp line)",
                        "fix the smtp line first")
    try:
        # As the sender opens its session (TLS, AUTH), then MAIL FROM and RSET: sends nothing.
        hello = asyncio.run(asyncio.wait_for(transport.probe(sender), timeout * 3))
    except TimeoutError:
        return [Check("smtp", False, f"{mask_url(s.url)}: no answer within {timeout * 3:.0f} s",
                      "check smtp.url and that the SMTP server runs"), not_checked]
    except ClearTextRefused as exc:
        return [Check("smtp", False, str(exc), "use smtp+starttls:// or smtps:// in smtp.url"), not_checked]
    except TokenRefused as exc:  # the server answered; the provider refused the grant
        return [Check("smtp", True, f"{ep.scheme}://{ep.host}:{ep.port} answers"),
                Check("smtp auth", False, str(exc), tempfail=True)]
    except ConfigError as exc:
        return [Check("smtp", False, str(exc), "check smtp.ca_file"), not_checked]
    except (SmtpDeferred, SmtpRefused) as exc:
        if exc.hello is None or exc.step is SmtpStep.SESSION:
            return [_smtp_failure(exc, ep), not_checked]
        return [_hello(ep, exc.hello), _smtp_auth_failure(exc, settings, sender, transport.username)]
    how = f" with an OAuth2 token ({settings.smtp_oauth[1].mechanism})" if s.auth == "oauth2" else ""
    who = f"logged in as {transport.username}{how}" if transport.username else "no login configured"
    return [_hello(ep, hello), Check("smtp auth", True, f"{who}; the server takes mail from {sender} "
                                     "(tested without sending)")]


def _hello(ep: Endpoint, hello: Hello) -> Check:
    return Check("smtp", True, f"{ep.scheme}://{ep.host}:{ep.port} answers EHLO "
                 f"({hello.greeting}, {'TLS' if hello.tls else 'no TLS'})")


def _smtp_failure(exc: SmtpDeferred | SmtpRefused, ep: Endpoint) -> Check:
    """The smtp line when there was no session to speak of."""
    cause = exc.__cause__ or exc
    where = f"{ep.host}:{ep.port}"
    if exc.step is SmtpStep.SESSION:
        return Check("smtp", False, f"{where}: {_error(cause)}", "check the SMTP server")
    if isinstance(cause, aiosmtplib.SMTPResponseException):
        return Check("smtp", False, f"{where} answered {cause.code} {cause.message}",
                     "check smtp.url and the SMTP server")
    return Check("smtp", False, f"cannot connect to {where}: {_error(cause)}",
                 "check smtp.url (host and port) and that the SMTP server runs")


def _smtp_auth_failure(exc: SmtpDeferred | SmtpRefused, settings: Settings, sender: str, user: str) -> Check:
    """The smtp auth line when the server answered but refused the login or the sender."""
    s, cause = settings.smtp, exc.__cause__ or exc
    if exc.step is SmtpStep.AUTH:
        if isinstance(cause, aiosmtplib.SMTPAuthenticationError):
            fix = ("check smtp.username and smtp.password" if s.auth == "password"
                   else "check the user and the scope of the OAuth2 client")
            return Check("smtp auth", False, f"AUTH as {user} refused: {cause.code} {cause.message}", fix)
        if s.auth == "oauth2" and exc.__cause__ is not None and not isinstance(cause, aiosmtplib.SMTPException):
            return Check("smtp auth", False, str(cause), "check the token endpoint ([*.oauth] token_url)")
        return Check("smtp auth", False, f"cannot log in as {user}: {_error(cause)}",
                     "the server offers no AUTH here; it may need TLS (smtp+starttls:// or smtps://)")
    fix = "check smtp.envelope_from" if s.username else "set smtp.username and the password"
    answer = f"{cause.code} {cause.message}" if isinstance(cause, aiosmtplib.SMTPResponseException) else _error(cause)
    return Check("smtp auth", False, f"MAIL FROM:<{sender}> refused: {answer}", fix)


def _maildir_target(root: Path) -> Check:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        return Check("smtp", False, f"maildir:{root}: {probe} is not writable by this user",
                     "fix the permissions or smtp.url")
    state = "exists" if root.is_dir() else "will be created"
    return Check("smtp", True, f"maildir:{root} {state} and is writable (mail is written there, not sent)")


# -- files -----------------------------------------------------------------------------------
def _templates(directory: Path | None) -> Check:
    renderer = Renderer(directory)
    try:
        renderer.check()
    except ConfigError as exc:
        return Check("templates", False, str(exc), f"fix the template in {renderer.directory}")
    return Check("templates", True,
                 f"{len(KINDS)} mail kinds in {len(LANGUAGES)} languages compile ({renderer.directory})")


def _answers(settings: Settings) -> Check:
    try:
        stored = answers(settings)
    except ConfigError as exc:
        return Check("answers", False, str(exc), "fix the stored answer ('maild answers show NAME --raw')")
    return Check("answers", True, f"{len(stored.names())} stored answers for #jawab compile ({stored.folder})")


def _rules(settings: Settings) -> Check:
    path = settings.rules.file or str(resource_dir("templates") / "config" / "rules.toml")
    try:
        ruleset = load_ruleset(settings)
    except ConfigError as exc:
        return Check("rules", False, str(exc), "fix the rules file; 'maild rules test FILE.eml' tries it")
    return Check("rules", True, f"{len(ruleset.rules)} rules from {path}")


def _sla(settings: Settings) -> Check:
    try:
        policy = policy_from(settings.sla)
        digest = digest_settings(settings)
    except ConfigError as exc:
        return Check("sla", False, str(exc), "fix the key named here in the config")
    targets = ", ".join(f"{k} {t.response.total_seconds() / 3600:g}/{t.resolution.total_seconds() / 3600:g} h"
                        for k, t in policy.targets.items())
    to = ", ".join(a for a, _ in digest.recipients) or "nobody (digest off or no coordinator)"
    return Check("sla", True, f"targets {targets}; digest at {digest.at:%H:%M} to {to}")


def _people(settings: Settings) -> Check:
    """Who gets the mail: without staff nobody hears of a new ticket; without a coordinator
    the SLA escalations and the daily digest go nowhere."""
    staff, c = settings.staff, settings.coordinator
    missing = [what for what, there in (("no [[staff]]", staff), ("no [coordinator]", c.address)) if not there]
    if missing:
        why = {"no [[staff]]": "new tickets notify nobody",
               "no [coordinator]": "SLA escalations and the daily digest reach nobody"}
        return Check("people", True, "; ".join(f"{m} configured: {why[m]}" for m in missing),
                     "add [[staff]] tables (name, address) and a [coordinator] to the config", warning=True)
    return Check("people", True, f"{len(staff)} staff, coordinator {c.address}")


# -- time -----------------------------------------------------------------------------------
def _clock(settings: Settings, clock: Clock) -> Check:
    h = settings.helpdesk
    try:
        zone = ZoneInfo(h.timezone)
    except Exception as exc:  # noqa: BLE001
        return Check("clock", False, f"time zone {h.timezone!r}: {_error(exc)}", "check helpdesk.timezone")
    now = clock()
    try:
        calendar = work_calendar(settings)
    except (ConfigError, ValueError) as exc:
        return Check("clock", False, f"working hours: {exc}", "check [calendar] hours, days_off, working_days")
    local = now.astimezone(zone)
    day = "a working day" if calendar.is_working_day(local.date()) else "not a working day"
    hours = ", within working hours" if calendar.in_working_hours(now) else ", outside working hours"
    return Check("clock", True, f"{_WEEKDAYS[local.weekday()]} {local_time(now, h.timezone, 'en')} ({h.timezone}), "
                 f"{day}{hours if day == 'a working day' else ''}; this machine's clock (NTP sync is not checked)")


def _calendar(settings: Settings, clock: Clock) -> Check:
    try:
        calendar = work_calendar(settings)
    except (ConfigError, ValueError) as exc:
        return Check("calendar", False, str(exc), "check [calendar] in the config")
    today = clock().astimezone(ZoneInfo(settings.helpdesk.timezone)).date()
    if not calendar.country:
        return Check("calendar", True, "no public holidays configured (country empty)")
    days = [today.replace(month=1, day=1) + timedelta(days=i) for i in range(366)]
    found = [d for d in days if d.year == today.year and calendar.is_public_holiday(d)]
    if not found:
        return Check("calendar", False, f"no public holidays of {calendar.country} known for {today.year} "
                     f"(holidays package {holidays.__version__})", "update the holidays package")
    upcoming = next((d for d in found if d >= today), None)
    language = "id" if settings.helpdesk.language == "id" and calendar.country == "ID" else None
    names = holidays.country_holidays(calendar.country, years=today.year, language=language)
    nxt = f"; next {upcoming.isoformat()} {names.get(upcoming, '')}".rstrip() if upcoming else ""
    extra = len(calendar.extra_days_off) + len(calendar.extra_working_days)
    return Check("calendar", True, f"{len(found)} public holidays in {today.year} ({calendar.country}){nxt}"
                 f"{f', {extra} configured days' if extra else ''}")


