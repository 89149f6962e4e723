"""The ``maild`` command line: set-up, the daemon, and the admin's views.

Exit codes: 0 success, 1 a failed action, 2 usage, 75 a server that stayed unreachable
(try again later), 78 bad configuration. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from maild import admin
from maild.clock import system_clock
from maild.config import Settings, load_settings, masked
from maild.daemon import build, load_ruleset, open_mailbox
from maild.db import make_engine, revisions, session_factory, transaction, upgrade
from maild.errors import ConfigError, MaildError, TransientError
from maild.render import Renderer
from maild.resources import resource_dir
from maild.sources import FilesMailbox

EX_FAIL, EX_TEMPFAIL, EX_CONFIG = 1, 75, 78
log = logging.getLogger("maild")


class MaildGroup(click.Group):
    """Turns maild's errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"maild: config error: {exc}", err=True)
            ctx.exit(EX_CONFIG)
        except TransientError as exc:
            click.echo(f"maild: temporary failure: {exc}", err=True)
            ctx.exit(EX_TEMPFAIL)
        except MaildError as exc:
            click.echo(f"maild: error: {exc}", err=True)
            ctx.exit(EX_FAIL)


@dataclass
class Context:
    config_path: str

    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings().helpdesk.timezone)

    @contextmanager
    def session(self) -> Iterator[Session]:
        engine = make_engine(self.settings().database.url)
        try:
            with transaction(session_factory(engine)) as session:
                yield session
        finally:
            engine.dispose()


def _json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _cell(column: str, value: Any, tz: ZoneInfo | None) -> str:
    """Times in people's tables are local wall-clock time (WITA); --json keeps ISO UTC."""
    if value is None:
        return ""
    if tz is not None and (column == "at" or column.endswith("_at")) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value).replace("\n", " ")


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], tz: ZoneInfo | None = None) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(c, r.get(c), tz) for c in columns] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)).rstrip())


@click.group(cls=MaildGroup)
@click.option("--config", "config_path", envvar="MAILD_CONFIG", default="maild.toml", show_default=True,
              help="Config file (also $MAILD_CONFIG).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="maild")
@click.pass_context
def main(ctx: click.Context, config_path: str, log_level: str) -> None:
    """maild: the LPSE helpdesk mail daemon. Turns the helpdesk mailbox into tickets (SOP 05)."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(config_path)


# -- set-up -------------------------------------------------------------------------------
@main.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_obj
def init(obj: Context, force: bool) -> None:
    """Write a commented config file and a secret, and create the database."""
    path = Path(obj.config_path)
    if path.exists() and not force:
        raise MaildError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((resource_dir("templates") / "config" / "maild.toml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    secret = path.parent / "maild.secret"
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    settings = load_settings(path)
    upgrade(make_engine(settings.database.url))
    open_mailbox(settings).close()  # a Maildir source is created, ready for mail
    click.echo(f"wrote {path} and {secret}; database ready at {settings.database.url}")


@main.command("check-config")
@click.pass_obj
def check_config(obj: Context) -> None:
    """Validate the config, rules and templates; print the effective settings (secrets masked)."""
    settings = obj.settings()
    Renderer().check()
    load_ruleset(settings)
    _json(masked(settings))
    click.echo("config OK", err=True)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Apply every migration (safe to run again)."""
    engine = make_engine(obj.settings().database.url)
    upgrade(engine)
    click.echo(f"database at revision {revisions(engine)[0]}")


@db.command("status")
@click.pass_obj
def db_status(obj: Context) -> None:
    """Show the database's revision and the newest one shipped."""
    current, head = revisions(make_engine(obj.settings().database.url))
    click.echo(f"current {current or '(empty)'}, newest {head}")
    if current != head:
        raise MaildError("database is behind: run 'maild db upgrade'")


# -- the daemon ---------------------------------------------------------------------------
@dataclass
class _Flags:
    stop: bool = False
    reload: bool = False


@main.command()
@click.option("--once", is_flag=True, help="Work until nothing is left to do, then exit (cron, tests).")
@click.pass_obj
def run(obj: Context, once: bool) -> None:
    """Run the daemon: mailbox -> tickets -> mail. SIGTERM stops after a commit; SIGHUP reloads."""
    flags = _Flags()

    def stop(_sig: int, _frame: Any) -> None:
        flags.stop = True

    def hup(_sig: int, _frame: Any) -> None:
        flags.reload = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
    daemon = build(obj.settings(), system_clock)
    if once:
        ok = daemon.run_once(stopping=lambda: flags.stop)
        daemon.close()
        if not ok:
            raise TransientError(f"mailbox unreachable: {daemon.mailbox_error}")
        return
    while True:
        daemon.run_forever(stopping=lambda: flags.stop or flags.reload)
        if flags.stop:
            daemon.close()
            log.info("stopped")
            return
        flags.reload = False
        try:
            new = build(obj.settings(), system_clock)
        except MaildError as exc:
            # The running daemon keeps its settings, rules and templates as they were loaded.
            log.error("reload failed, keeping the previous config: %s", exc)
            continue
        daemon.close()
        daemon = new
        log.info("config reloaded from %s", obj.config_path)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def inject(obj: Context, files: tuple[str, ...]) -> None:
    """Feed .eml files through the same path as the mailbox (ingest and pipeline)."""
    daemon = build(obj.settings(), system_clock, mailbox=FilesMailbox(files))
    try:
        while daemon.ingest.run_once():
            pass
        while daemon.pipeline.run_once():
            pass
        with transaction(daemon.factory) as session:
            rows = admin.list_messages(session, limit=len(files) * 2)
    finally:
        daemon.close()
    _table(list(reversed(rows))[-len(files):], ["id", "sender", "disposition", "ticket", "reason"])
    click.echo("queued mail is sent by the daemon ('maild run' or 'maild run --once')")


@main.group()
def rules() -> None:
    """Classification rules (SOP step 2)."""


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def rules_test(obj: Context, files: tuple[str, ...]) -> None:
    """Show, without changing anything, how the rules classify each .eml file and why."""
    from maild import rules as rules_engine
    from maild.parse import parse
    from maild.workcal import in_working_hours

    settings = obj.settings()
    ruleset = load_ruleset(settings)
    now = system_clock()
    for path in files:
        mail = parse(Path(path).read_bytes())
        when = mail.date or now
        context = rules_engine.RuleContext(received_at=when,
                                           in_working_hours=in_working_hours(when, settings.helpdesk.timezone))
        click.echo(f"== {path}: {mail.subject!r} from {mail.sender.address if mail.sender else '(none)'}")
        click.echo(rules_engine.explain(rules_engine.classify(mail, ruleset, context)))


@main.command()
@click.option("--preview", "mode", flag_value="preview", default=True, help="Print the digest (default).")
@click.option("--send", "mode", flag_value="send", help="Queue it for the coordinator now and send it.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="With --preview: also write the HTML here.")
@click.pass_obj
def digest(obj: Context, mode: str, html_path: str | None) -> None:
    """The coordinator's daily digest: preview it, or send it now."""
    daemon = build(obj.settings(), system_clock, mailbox=FilesMailbox([]))
    try:
        now = system_clock()
        with transaction(daemon.factory) as session:
            view = daemon.digest.compose(session, now)
            recipients = daemon.digest.settings.recipients
            if mode == "send":
                if not recipients:
                    raise MaildError("no coordinator configured ([coordinator] address)")
                for address, name in recipients:
                    daemon.digest.queue(session, view, address, name, f"digest:{address}:manual:{now.isoformat()}",
                                        now)
            else:
                name = recipients[0][1] if recipients else ""
                rendered = daemon.renderer.render("digest", daemon.digest.settings.language,
                                                  dataclasses.replace(view, recipient_name=name))
        if mode == "send":
            daemon.sender.run_once()
            click.echo(f"digest queued for {', '.join(a for a, _ in recipients)}; sent if the SMTP server took it "
                       "('maild outbox list')")
            return
        click.echo(f"Subject: {rendered.subject}\n")
        click.echo(rendered.text)
        if html_path:
            Path(html_path).write_text(rendered.html, encoding="utf-8")
    finally:
        daemon.close()


# -- tickets, messages, dead letters, outbox ----------------------------------------------
@main.group()
def tickets() -> None:
    """Tickets."""


@tickets.command("list")
@click.option("--state", type=click.Choice(["new", "in_progress", "escalated", "with_coordinator", "closed"]))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def tickets_list(obj: Context, state: str | None, limit: int, as_json: bool) -> None:
    """List tickets, newest first."""
    with obj.session() as s:
        rows = admin.list_tickets(s, state, limit)
    _json(rows) if as_json else _table(rows, ["number", "state", "created_at", "reporter", "subject"], obj.tz())


@tickets.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tickets_show(obj: Context, number: str, as_json: bool) -> None:
    """Show one ticket with its whole history."""
    with obj.session() as s:
        data = admin.show_ticket(s, number)
    if data is None:
        raise MaildError(f"no ticket {number}")
    if as_json:
        _json(data)
        return
    for key in ("number", "state", "subject", "reporter", "type", "category", "priority", "created_at",
                "closed_at", "linked_to"):
        click.echo(f"{key:>11}: {_cell(key, data[key], obj.tz()) or '-'}")
    click.echo("\nEvents:")
    _table(data["events"], ["at", "event", "step", "actor", "new_state"], obj.tz())
    click.echo("\nMessages:")
    _table(data["messages"], ["id", "received_at", "sender", "disposition", "reason"], obj.tz())
    click.echo("\nMail sent:")
    _table(data["mail"], ["id", "recipient", "template", "state", "attempts", "subject"])


@main.group()
def messages() -> None:
    """The message ledger: every message received and what became of it."""


@messages.command("list")
@click.option("--state", type=click.Choice(["new", "done", "dead"]))
@click.option("--disposition")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def messages_list(obj: Context, state: str | None, disposition: str | None, limit: int, as_json: bool) -> None:
    """List received messages, newest first."""
    with obj.session() as s:
        rows = admin.list_messages(s, state, disposition, limit)
    _json(rows) if as_json else _table(rows, ["id", "received_at", "sender", "disposition", "ticket", "subject"], obj.tz())


def _show_message(obj: Context, message_id: int, raw: bool, as_json: bool) -> None:
    with obj.session() as s:
        found = admin.get_message(s, message_id)
    if found is None:
        raise MaildError(f"no message {message_id}")
    data, content = found
    if raw:
        sys.stdout.buffer.write(content)
    elif as_json:
        _json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:>12}: {'-' if value is None else value}")


@messages.command("show")
@click.argument("message_id", type=int)
@click.option("--raw", is_flag=True, help="Print the message exactly as received.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def messages_show(obj: Context, message_id: int, raw: bool, as_json: bool) -> None:
    """Show one received message and why it went where it went."""
    _show_message(obj, message_id, raw, as_json)


@main.group()
def dead() -> None:
    """Quarantined messages (failed processing too often)."""


@dead.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def dead_list(obj: Context, as_json: bool) -> None:
    """List quarantined messages with the reason."""
    with obj.session() as s:
        rows = admin.list_messages(s, state="dead", limit=1000)
    _json(rows) if as_json else _table(rows, ["id", "received_at", "sender", "attempts", "last_error"], obj.tz())


@dead.command("show")
@click.argument("message_id", type=int)
@click.option("--raw", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def dead_show(obj: Context, message_id: int, raw: bool, as_json: bool) -> None:
    """Show one quarantined message."""
    _show_message(obj, message_id, raw, as_json)


@dead.command("requeue")
@click.argument("message_ids", type=int, nargs=-1, required=True)
@click.pass_obj
def dead_requeue(obj: Context, message_ids: tuple[int, ...]) -> None:
    """Give quarantined messages another round of attempts (after fixing the cause)."""
    with obj.session() as s:
        missing = [m for m in message_ids if not admin.requeue_dead(s, m)]
    if missing:
        raise MaildError(f"not quarantined: {', '.join(map(str, missing))}")
    click.echo(f"requeued {len(message_ids)}")


@main.group()
def outbox() -> None:
    """Outgoing mail."""


@outbox.command("list")
@click.option("--state", type=click.Choice(["queued", "sent", "failed"]))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def outbox_list(obj: Context, state: str | None, limit: int, as_json: bool) -> None:
    """List outgoing mail, newest first."""
    with obj.session() as s:
        rows = admin.list_outbox(s, state, limit)
    _json(rows) if as_json else _table(rows, ["id", "recipient", "template", "state", "attempts", "last_error"])


@outbox.command("retry")
@click.argument("mail_id", type=int, required=False)
@click.pass_obj
def outbox_retry(obj: Context, mail_id: int | None) -> None:
    """Send failed mail again now (one by id, or every failed mail)."""
    with obj.session() as s:
        n = admin.retry_outbox(s, system_clock(), mail_id)
    if mail_id is not None and not n:
        raise MaildError(f"no failed or queued mail {mail_id}")
    click.echo(f"{n} mail due now; the daemon sends it on its next round")
