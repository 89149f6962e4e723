"""The ``maild`` command line: set-up, the daemon, and the admin's views.

Exit codes: 0 success, 1 a failed action, 2 usage, 75 a server that stayed unreachable
(try again later), 78 bad configuration. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.service import actions

from maild.service import admin
from maild.service.actions import Act, ActionRefused
from maild.sop.commands import STATUSES, split_first_word
from maild.store.models import Ticket
from maild.base.clock import system_clock
from maild.base.config import Settings, load_settings, masked
from maild.app.daemon import build
from maild.app.factory import load_ruleset, open_mailbox, work_calendar
from maild.sop.sla import policy_from
from maild.store.db import make_engine, revisions, session_factory, transaction, upgrade
from maild.base.errors import ConfigError, IllegalTransition, MaildError, TransientError
from maild.render.renderer import Renderer
from maild.base.resources import resource_dir
from maild.transport.sources import FilesMailbox

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
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
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


@main.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each server.")
@click.pass_context
def doctor(ctx: click.Context, timeout: float) -> None:
    """Check config, database, mailbox, SMTP, templates, rules, queues, clock and calendar."""
    from maild.app.doctor import exit_status, format_checks, run_checks

    checks = run_checks(ctx.obj.config_path, system_clock, timeout=timeout)
    click.echo(format_checks(checks))
    ctx.exit(exit_status(checks))


@main.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.pass_obj
def import_(obj: Context, sources: tuple[str, ...]) -> None:
    """Bring in an old helpdesk mailbox (mbox, Maildir, .eml): tickets and threads, no mail sent."""
    from maild.app.importer import import_messages

    daemon = build(obj.settings(), system_clock, mailbox=FilesMailbox([]))
    try:
        with click.progressbar(length=1, label="importing", show_pos=True, file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            result = import_messages(daemon, sources, progress)
    finally:
        daemon.close()
    click.echo(f"{result.found} found, {result.imported} imported ({result.tickets} new tickets), "
               f"{result.skipped} already there, {result.failed} failed")
    for line in result.errors:
        click.echo(f"  {line}", err=True)
    if result.failed:
        raise MaildError("some messages failed; fix the cause and run the import again")


def _form_settings(settings: Settings) -> Any:
    from maild.documents.form import form_settings

    logo = settings.helpdesk.logo_file
    try:
        return form_settings(settings, logo=Path(logo).read_bytes() if logo else None)
    except OSError as exc:
        raise ConfigError(f"helpdesk.logo_file: cannot read {logo}: {exc.strerror}") from None


@main.command()
@click.argument("number")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Write the PDF here.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write printable HTML here.")
@click.pass_obj
def form(obj: Context, number: str, pdf_path: str | None, html_path: str | None) -> None:
    """The "Formulir Pencatatan Gangguan dan Permintaan Layanan" of one ticket (HTML and PDF)."""
    from maild.documents.form import form_data, form_html, form_pdf

    settings = obj.settings()
    with obj.session() as s:
        data = form_data(s, number, _form_settings(settings), now=system_clock())
    if data is None:
        raise MaildError(f"no ticket {number}")
    pdf_path = pdf_path or (None if html_path else f"formulir-{number}.pdf")
    if pdf_path:
        Path(pdf_path).write_bytes(form_pdf(data))
        click.echo(f"wrote {pdf_path}")
    if html_path:
        Path(html_path).write_text(form_html(data), encoding="utf-8")
        click.echo(f"wrote {html_path}")


@main.command()
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where to write the HTML report and the CSV beside it.")
@click.pass_obj
def report(obj: Context, month: str, out_dir: str) -> None:
    """The monthly report for the head of the LPSE (Indonesian HTML with charts, and a CSV)."""
    from maild.documents.report import monthly_report, write_report

    settings = obj.settings()
    try:
        with obj.session() as s:
            rep = monthly_report(s, month, _form_settings(settings))
    except ValueError as exc:
        raise click.UsageError(f"--month: {exc}") from None
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    html_file, csv_file = write_report(rep, Path(out_dir))
    click.echo(f"wrote {html_file} and {csv_file}")


@main.group()
def export() -> None:
    """Exports for audits."""


@export.command("register")
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (WITA).")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (WITA).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Output file (csv: default stdout).")
@click.pass_obj
def export_register(obj: Context, date_from: datetime, date_to: datetime, fmt: str, out_path: str | None) -> None:
    """The register: one row per ticket received in the period, every field of the form."""
    from maild.documents.register import register_rows, to_csv, write_xlsx

    settings = obj.settings()
    tz = ZoneInfo(settings.helpdesk.timezone)
    start, end = date_from.replace(tzinfo=tz), date_to.replace(tzinfo=tz) + timedelta(days=1)
    with obj.session() as s:
        rows = register_rows(s, start, end, _form_settings(settings))
    if fmt == "xlsx":
        path = Path(out_path or f"register-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx")
        write_xlsx(rows, path, f"Register helpdesk {date_from:%Y-%m-%d} s.d. {date_to:%Y-%m-%d}")
        click.echo(f"wrote {path} ({len(rows)} tickets)")
    elif out_path:
        Path(out_path).write_text(to_csv(rows), encoding="utf-8")
        click.echo(f"wrote {out_path} ({len(rows)} tickets)")
    else:
        click.echo(to_csv(rows), nl=False)


@main.group()
def rules() -> None:
    """Classification rules (SOP step 2)."""


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def rules_test(obj: Context, files: tuple[str, ...]) -> None:
    """Show, without changing anything, how the rules classify each .eml file and why."""
    from maild.sop import rules as rules_engine
    from maild.mail.parse import parse
    from maild.sop.workcal import in_working_hours

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
@click.option("--state", type=click.Choice(["new", "in_progress", "escalated", "with_coordinator", "closed", "open"]))
@click.option("--type", "type_", type=click.Choice(["incident", "problem", "service_request"]))
@click.option("--category")
@click.option("--assignee", help="Address of the assigned staff member.")
@click.option("--overdue", is_flag=True, help="Only open tickets past their resolution target (working hours).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after (WITA).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before (WITA).")
@click.option("--search", help="Text in the subject or the report.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output.")
@click.pass_obj
def tickets_list(obj: Context, state: str | None, type_: str | None, category: str | None, assignee: str | None,
                 overdue: bool, date_from: datetime | None, date_to: datetime | None, search: str | None,
                 limit: int, as_json: bool, as_csv: bool) -> None:
    """List tickets, newest first, with filters."""
    settings = obj.settings()
    tz = ZoneInfo(settings.helpdesk.timezone)
    filters = admin.TicketFilter(
        state=state, type=type_, category=category, assignee=assignee.lower() if assignee else None,
        created_from=date_from.replace(tzinfo=tz) if date_from else None,
        created_to=(date_to.replace(tzinfo=tz) + timedelta(days=1)) if date_to else None,
        search=search, limit=limit,
    )
    with obj.session() as s:
        rows = admin.list_tickets(s, filters)
        if overdue:
            rows = admin.only_overdue(s, rows, policy_from(settings.sla), work_calendar(settings), system_clock())
    columns = ["number", "state", "created_at", "priority", "category", "reporter", "subject"]
    if as_json:
        _json(rows)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(rows, columns, obj.tz())


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


@contextmanager
def _ticket_action(obj: Context, number: str, actor: str | None) -> Iterator[Act]:
    """An Act on ticket ``number`` by ``actor``, committed when the block ends."""
    settings = obj.settings()
    who = (actor or os.environ.get("MAILD_ACTOR") or (settings.staff[0].address if settings.staff else "")).lower()
    if not who:
        raise MaildError("say who acts: --as ADDRESS (or $MAILD_ACTOR, or configure [[staff]])")
    daemon = build(settings, system_clock, mailbox=FilesMailbox([]))
    try:
        with transaction(daemon.factory) as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
            if ticket is None:
                raise MaildError(f"no ticket {number}")
            now = system_clock()
            yield Act(session, daemon.pipeline.mailer, daemon.pipeline.settings.roles, ticket, who,
                      f"cli:{who}:{now.isoformat()}", now)
    except (IllegalTransition, ActionRefused) as exc:
        raise MaildError(str(exc)) from None
    finally:
        daemon.close()


_AS = click.option("--as", "actor", help="The staff member acting (default $MAILD_ACTOR, else the first [[staff]]).")


@tickets.command("new")
@click.option("--subject", required=True)
@click.option("--text", required=True, help="The report as the reporter gave it.")
@click.option("--channel", type=click.Choice(["telepon", "datang", "email", "surat", "whatsapp"]),
              default="telepon", show_default=True)
@click.option("--name", "reporter_name", required=True, help="The reporter's name.")
@click.option("--email", "reporter_address", default="", help="The reporter's address: they get the acknowledgement.")
@click.option("--contact", default="", help="Phone number or other contact.")
@click.option("--organisation", default="")
@_AS
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tickets_new(obj: Context, subject: str, text: str, channel: str, reporter_name: str, reporter_address: str,
                contact: str, organisation: str, actor: str | None, as_json: bool) -> None:
    """Record a report taken by phone, in person or by letter."""
    settings = obj.settings()
    who = (actor or os.environ.get("MAILD_ACTOR") or (settings.staff[0].address if settings.staff else "maild"))
    daemon = build(settings, system_clock, mailbox=FilesMailbox([]))
    try:
        now = system_clock()
        with transaction(daemon.factory) as session:
            ticket = actions.open_ticket(
                session, daemon.pipeline.mailer, daemon.pipeline.settings.roles, daemon.pipeline.ruleset,
                actions.NewReport(subject, text, channel, reporter_name, reporter_address.lower(), contact,
                                  organisation),
                who.lower(), f"cli:{who}:{now.isoformat()}", now, settings.helpdesk.timezone)
            number = ticket.number
    finally:
        daemon.close()
    _json({"number": number}) if as_json else click.echo(f"ticket {number} recorded")


def _ticket_command(name: str, doc: str, run: Callable[[Act, str], str], argument: str | None = "text",
                    required: bool = True) -> None:
    """Register ``maild tickets NAME N [ARG]``: one action of maild.service.actions, as by email."""

    def command(obj: Context, number: str, actor: str | None, **kw: tuple[str, ...]) -> None:
        with _ticket_action(obj, number, actor) as act:
            done = run(act, " ".join(kw.get(argument, ()) if argument else ()))
        click.echo(f"{number}: {done}")

    command.__doc__ = doc
    # Click lists parameters in the reverse order of decoration: the text comes after NUMBER.
    decorated: Any = click.pass_obj(command)
    if argument:
        decorated = click.argument(argument, nargs=-1, required=required)(decorated)
    decorated = _AS(click.argument("number")(decorated))
    tickets.command(name)(decorated)


_ticket_command("reply", "Answer the reporter (SOP step 5).", actions.answer)
_ticket_command("note", "Add an internal note.", actions.note)
_ticket_command("assign", "Assign to a staff member (address or name).", lambda a, v: actions.assign(a, v))
_ticket_command("status", "Set the status: proses (in progress) or tunggu (waiting for the reporter).",
                lambda a, v: actions.set_status(a, _status(v)), "status")
_ticket_command("escalate", "Pass to a service group: GROUP [NOTE] (SOP step 4).",
                lambda a, v: actions.escalate(a, *split_first_word(v)))
_ticket_command("coordinator", "Report to the coordinator: [NOTE] (SOP step 6).", actions.to_coordinator,
                required=False)
_ticket_command("resolve", "Send the result to the reporter and close (SOP step 8).", actions.resolve)
_ticket_command("reopen", "Reopen a closed ticket.", lambda a, v: actions.reopen(a, ""), None)


@tickets.command("merge")
@_AS
@click.argument("number")
@click.argument("into")
@click.pass_obj
def tickets_merge(obj: Context, number: str, into: str, actor: str | None) -> None:
    """Close NUMBER as a duplicate of INTO; later mail about it goes to INTO."""
    with _ticket_action(obj, number, actor) as act:
        target = act.session.scalars(select(Ticket).where(Ticket.number == into)).first()
        if target is None:
            raise MaildError(f"no ticket {into}")
        done = actions.merge(act, target)
    click.echo(f"{number}: {done}")


def _status(value: str) -> str:
    status = STATUSES.get(value.strip().lower())
    if status is None:
        raise MaildError(f"status {value!r}: use one of {', '.join(sorted(STATUSES))}")
    return status


@main.group()
def staff() -> None:
    """Helpdesk staff (kept in the config file)."""


@main.group()
def groups() -> None:
    """Service groups (kept in the config file)."""


def _party_commands(group: click.Group, kind: str) -> None:
    @group.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def listing(obj: Context, as_json: bool) -> None:
        settings = obj.settings()
        if kind == "staff":
            rows = [{"name": p.name, "address": p.address, "role": "staff"} for p in settings.staff]
            if settings.coordinator.address:
                rows.append({"name": settings.coordinator.name, "address": settings.coordinator.address,
                             "role": "coordinator"})
            _json(rows) if as_json else _table(rows, ["role", "name", "address"])
        else:
            rows = [{"name": g.name, "title": g.title, "managers": ", ".join(g.managers)} for g in settings.groups]
            _json(rows) if as_json else _table(rows, ["name", "title", "managers"])

    for verb in ("add", "remove"):
        @group.command(verb, context_settings={"ignore_unknown_options": True})
        @click.argument("args", nargs=-1)
        @click.pass_obj
        def edit(obj: Context, args: tuple[str, ...], verb: str = verb) -> None:
            table = "[[staff]] / [coordinator]" if kind == "staff" else "[[groups]]"
            raise MaildError(f"{kind} are kept in the config file {obj.config_path}: edit {table} there, "
                             "then 'maild check-config' and reload the daemon (SIGHUP); nothing was changed")


_party_commands(staff, "staff")
_party_commands(groups, "groups")


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
