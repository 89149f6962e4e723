"""``maild run``, ``inject``, ``import`` and ``rules test``: mail going through maild."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from maild.app.cli.context import MAILBOX_OPTION, Context, print_table
from maild.app.daemon import Daemon, build
from maild.app.metrics import Metrics, serve
from maild.app.notify import Notifier
from maild.app.factory import load_ruleset, work_calendar
from maild.base.clock import system_clock
from maild.base.errors import MaildError, TransientError
from maild.base.settings import Settings
from maild.service import admin
from maild.store.db import SqliteLock, transaction
from maild.transport.sources import FilesMailbox

log = logging.getLogger("maild")


@dataclass
class _Flags:
    stop: bool = False
    reload: bool = False


@click.command()
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
    settings = obj.settings()
    lock = SqliteLock(settings.database.url)
    lock.acquire()  # a second daemon on one SQLite file stops here, with one line
    try:
        _start(obj, settings, once, flags)
    finally:
        lock.release()


def _start(obj: Context, settings: Settings, once: bool, flags: _Flags) -> None:
    if once:
        daemon = build(settings, system_clock)
        ok = daemon.run_once(stopping=lambda: flags.stop)
        daemon.close()
        if not ok:
            raise TransientError(f"mailbox unreachable: {daemon.mailbox_error}")
        return
    metrics = Metrics(system_clock) if settings.metrics.enabled else None
    daemon = build(settings, system_clock, metrics=metrics)
    # The endpoint lives as long as the process: a reload keeps the listen address (a restart changes it).
    endpoint = serve(settings, metrics) if metrics is not None else None
    notifier = Notifier.from_environment()
    notifier.ready()
    try:
        _run(obj, daemon, flags, notifier, metrics)
    finally:
        notifier.stopping()
        if endpoint is not None:
            endpoint.close()


def _run(obj: Context, daemon: Daemon, flags: _Flags, notifier: Notifier, metrics: Metrics | None) -> None:
    while True:
        daemon.run_forever(stopping=lambda: flags.stop or flags.reload, alive=notifier.alive)
        if flags.stop:
            daemon.close()
            log.info("stopped")
            return
        flags.reload = False
        try:
            new = build(obj.settings(), system_clock, metrics=metrics)
        except MaildError as exc:
            # The running daemon keeps its settings, rules and templates as they were loaded.
            log.error("reload failed, keeping the previous config: %s", exc)
            continue
        daemon.close()
        daemon = new
        log.info("config reloaded from %s", obj.config_path)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@MAILBOX_OPTION
@click.pass_obj
def inject(obj: Context, files: tuple[str, ...]) -> None:
    """Feed .eml files through the same path as the mailbox (ingest and pipeline): as read from
    the --mailbox named (default: the top-level one)."""
    with obj.services(mailbox=FilesMailbox(files)) as services:
        services.prepare()
        while services.ingest.run_once():
            pass
        while services.pipeline.run_once():
            pass
        with transaction(services.factory) as session:
            rows = admin.list_messages(session, limit=len(files) * 2)
    print_table(list(reversed(rows))[-len(files):], ["id", "sender", "disposition", "ticket", "reason"])
    click.echo("queued mail is sent by the daemon ('maild run' or 'maild run --once')")


@click.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@MAILBOX_OPTION
@click.pass_obj
def import_(obj: Context, sources: tuple[str, ...]) -> None:
    """Bring in an old helpdesk mailbox (mbox, Maildir, .eml): tickets and threads, no mail
    sent; as tickets of the --mailbox named (default: the top-level one)."""
    from maild.app.importer import import_messages

    with obj.services() as services:
        services.prepare()
        with click.progressbar(length=1, label="importing", show_pos=True, file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            result = import_messages(services, sources, progress)
    click.echo(f"{result.found} found, {result.imported} imported ({result.tickets} new tickets), "
               f"{result.skipped} already there, {result.failed} failed")
    for line in result.errors:
        click.echo(f"  {line}", err=True)
    if result.failed:
        raise MaildError("some messages failed; fix the cause and run the import again")


@click.group()
def rules() -> None:
    """Classification rules (SOP step 2)."""


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def rules_test(obj: Context, files: tuple[str, ...]) -> None:
    """Show, without changing anything, how the rules classify each .eml file and why."""
    from maild.mail.parse import parse
    from maild.sop import rules as rules_engine
    settings = obj.settings()
    ruleset = load_ruleset(settings)
    calendar = work_calendar(settings)
    now = system_clock()
    for path in files:
        mail = parse(Path(path).read_bytes())
        when = mail.date or now
        context = rules_engine.RuleContext(received_at=when, in_working_hours=calendar.in_working_hours(when))
        click.echo(f"== {path}: {mail.subject!r} from {mail.sender.address if mail.sender else '(none)'}")
        click.echo(rules_engine.explain(rules_engine.classify(mail, ruleset, context)))


COMMANDS = (run, inject, import_, rules)
