"""``maild status``: the daemon's health on one screen, and an exit code scripts can test.

Exit 0 when nothing needs a person; 1 when something does (failed mail, dead messages, mail
queued longer than ``--max-outbox-age``, a schema behind the code, an ``[alerts]`` alert the
admin was mailed about and that has not recovered), as ``maild doctor`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click

from maild.app.cli.context import Context, cell, print_json
from maild.base.clock import system_clock
from maild.service import health
from maild.store.db import make_engine, revisions

EX_ATTENTION = 1

_ADVICE = {
    health.Problem.MAIL_FAILED: "look with 'maild outbox list --state failed', send again with 'maild outbox retry'",
    health.Problem.MESSAGES_DEAD: "look with 'maild dead list', then 'maild dead requeue ID' once the cause is fixed",
    health.Problem.OUTBOX_STUCK: "the SMTP server refuses or cannot be reached: see 'maild doctor' and the log",
    health.Problem.SCHEMA_BEHIND: "run 'maild db upgrade'",
    health.Problem.ALERT_OPEN: "the admin was mailed ([alerts]); see 'maild doctor' and the log, a mail follows "
                               "when it recovers",
}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{int(seconds % 60):02d}s"


def _mailbox_line(m: health.MailboxHealth, now: datetime, tz: ZoneInfo) -> str:
    """A mailbox on the status screen: who it is, its tickets and mail, and who reads it."""
    who = f"{m.name} {m.address} [{m.tag}]" if m.tag else f"{m.name} (not configured)"
    if m.lease_holder is None or m.lease_expires_at is None:
        reader = "no daemon has read it yet"
    elif m.lease_expires_at < now:
        reader = f"not read now (last by {m.lease_holder}, lease ran out {cell('_at', m.lease_expires_at.isoformat(), tz)})"
    else:
        reader = f"read by {m.lease_holder} until {cell('_at', m.lease_expires_at.isoformat(), tz)}"
    return f"{who}: {m.tickets_open} open, {m.mail_queued} queued; {reader}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--max-outbox-age", default=int(health.DEFAULT_MAX_OUTBOX_AGE.total_seconds() // 60),
              show_default=True, type=click.IntRange(min=1),
              help="Minutes queued mail may wait before the outbox counts as stuck.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, max_outbox_age: int) -> None:
    """The health in one screen: outbox, messages, tickets, last mail in and out, schema, open
    alerts, and each mailbox (its open tickets and queued mail, the daemon reading it and until
    when). Exit 1 when something needs attention."""
    obj: Context = ctx.obj
    settings = obj.settings()
    now = system_clock()
    engine = make_engine(settings.database.url)
    try:
        schema = revisions(engine)
    finally:
        engine.dispose()
    boxes = [(name, desk.helpdesk.ticket_tag, desk.helpdesk.address)
             for name, desk in ((n, settings.for_mailbox(n)) for n in settings.mailbox_names)]
    with obj.services() as parts, obj.session() as session:
        figures = health.gather(session, now, parts.sla, parts.calendar, schema, timedelta(minutes=max_outbox_age),
                                boxes)
    if as_json:
        print_json(figures.as_dict())
    else:
        tz = ZoneInfo(settings.helpdesk.timezone)
        f = figures
        lines = [
            ("outbox", f"{f.mail_queued} queued (oldest waiting {_age(f.oldest_queued_seconds)}), "
                       f"{f.mail_failed} failed"),
            ("messages", f"{f.messages_waiting} waiting for the pipeline, {f.messages_dead} dead"),
            ("tickets", f"{f.tickets_open} open, {f.tickets_overdue} overdue"),
            ("last received", cell("_at", f.last_received_at.isoformat() if f.last_received_at else "-", tz)),
            ("last sent", cell("_at", f.last_sent_at.isoformat() if f.last_sent_at else "-", tz)),
            ("database", f"revision {f.db_revision or '(empty)'}, newest {f.db_newest}"),
            ("alerts", "; ".join(f"{a.alarm} of mailbox {a.mailbox} in trouble since "
                                 f"{cell('_at', a.since.isoformat(), tz)}" for a in f.alerts) or "none open"),
        ]
        lines += [("mailbox", _mailbox_line(m, now, tz)) for m in f.mailboxes]
        for name, text in lines:
            click.echo(f"{name:<14} {text}")
        click.echo(f"{'status':<14} " + ("ok" if f.healthy else "NEEDS ATTENTION"))
        for problem in f.problems:
            click.echo(f"  {problem}: {_ADVICE[problem]}")
    if not figures.healthy:
        ctx.exit(EX_ATTENTION)


COMMANDS = (status,)
