"""``maild tickets``: list and show tickets, record a phoned-in report, and act on a ticket
as staff do by email (reply, note, assign, status, escalate, coordinator, resolve, reopen,
merge)."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.app.cli.context import AS_OPTION, MAILBOX_OPTION, Context, acting, cell, no_ticket, print_json, print_table
from maild.app.cli.words import Words
from maild.base.clock import system_clock
from maild.base.errors import IllegalTransition, MaildError
from maild.documents.cells import csv_cell
from maild.app.factory import intake_settings
from maild.service import actions, admin, intake
from maild.service.actions import SYSTEM_ACTOR, Act, ActionRefused
from maild.service.dispatch import run_command
from maild.sop.commands import REGISTRY, CommandName, CommandRefused, command_from
from maild.sop.phrases import say
from maild.sop.vocabulary import STATE_WORDS, TYPE_WORDS, Channel
from maild.store.db import transaction
from maild.store.models import Ticket
from maild.store.queries import ticket_by_number

OPEN = "open"  # not a state: every state but closed, for --state
# The channels staff record by hand (mail comes in by itself, imports by 'maild import'); the
# default first, then the others alphabetically, as the help has always listed them.
HAND_CHANNELS = [str(Channel.PHONE), *sorted(str(c) for c in Channel if c not in (Channel.PHONE, Channel.IMPORT))]


@click.group()
def tickets() -> None:
    """Tickets."""


@tickets.command("list")
@click.option("--state", type=Words(STATE_WORDS, [OPEN, "terbuka"]),
              help="A state, in English or Indonesian (closed or selesai), or open (terbuka): every state but closed.")
@click.option("--type", "type_", type=Words(TYPE_WORDS), help="A type, in English or Indonesian.")
@click.option("--category")
@click.option("--assignee", help="Address of the assigned staff member.")
@click.option("--overdue", is_flag=True, help="Only open tickets past their resolution target (working hours).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Received on or after (WITA).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Received on or before (WITA).")
@click.option("--search", help="Text in the subject or the report.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output.")
@MAILBOX_OPTION
@click.pass_obj
def tickets_list(obj: Context, state: str | None, type_: str | None, category: str | None, assignee: str | None,
                 overdue: bool, date_from: datetime | None, date_to: datetime | None, search: str | None,
                 limit: int, as_json: bool, as_csv: bool) -> None:
    """List tickets, newest first, with filters: of every mailbox, unless --mailbox names one
    (with several mailboxes configured, a column says whose each ticket is)."""
    if date_from and date_to and date_from > date_to:
        raise click.UsageError(f"--from {date_from:%Y-%m-%d} is after --to {date_to:%Y-%m-%d}")
    settings = obj.settings()
    tz = ZoneInfo(settings.helpdesk.timezone)
    state = OPEN if state == "terbuka" else state
    filters = admin.TicketFilter(
        state=state, type=type_, category=category, assignee=assignee.lower() if assignee else None,
        created_from=date_from.replace(tzinfo=tz) if date_from else None,
        created_to=(date_to.replace(tzinfo=tz) + timedelta(days=1)) if date_to else None,
        search=search, limit=limit, mailbox=obj.mailbox_name() if obj.mailbox_word is not None else None,
    )
    with obj.session() as s:
        if overdue:
            with obj.services() as parts:
                rows = admin.overdue_tickets(s, filters, parts.sla, parts.calendar, system_clock())
        else:
            rows = admin.list_tickets(s, filters)
    columns = ["number", "state", "created_at", "priority", "category", "reporter", "subject"]
    if settings.mailboxes:
        columns.insert(1, "mailbox")
    if as_json:
        print_json(rows)
    elif as_csv:
        names = list(rows[0]) if rows else columns
        csv.writer(sys.stdout, lineterminator="\n").writerow(names)
        # Subjects and names are the reporters' text: quoted, and never a formula in a spreadsheet.
        writer = csv.writer(sys.stdout, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
        writer.writerows([csv_cell("" if row[n] is None else row[n]) for n in names] for row in rows)
    else:
        print_table(rows, columns, obj.tz())


@tickets.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@MAILBOX_OPTION
@click.pass_obj
def tickets_show(obj: Context, number: str, as_json: bool) -> None:
    """Show one ticket (NUMBER, or TAG#NUMBER of another mailbox) with its whole history, its
    messages, attachments and mail."""
    mailbox, number = obj.ticket(number)
    with obj.session() as s:
        data = admin.show_ticket(s, number, mailbox)
        if data is None:
            raise _no_ticket(obj, s, number, mailbox)
    if as_json:
        print_json(data)
        return
    for key in ("number", *(("mailbox",) if obj.several() else ()), "state", "subject", "reporter", "type", "category", "priority", "created_at",
                "closed_at", "linked_to"):
        click.echo(f"{key:>11}: {cell(key, data[key], obj.tz()) or '-'}")
    click.echo("\nEvents:")
    print_table(data["events"], ["at", "event", "step", "actor", "new_state"], obj.tz())
    click.echo("\nMessages:")
    print_table(data["messages"], ["id", "received_at", "sender", "disposition", "reason"], obj.tz())
    click.echo("\nAttachments (write them out with 'maild attachments save'):")
    print_table(data["attachments"], ["id", "message", "filename", "content_type", "size"])
    click.echo("\nMail sent:")
    print_table(data["mail"], ["id", "recipient", "template", "state", "attempts", "subject"])


@tickets.command("new")
@click.option("--subject", required=True)
@click.option("--text", required=True, help="The report as the reporter gave it.")
@click.option("--channel", type=click.Choice(HAND_CHANNELS), default=str(Channel.PHONE), show_default=True)
@click.option("--name", "reporter_name", required=True, help="The reporter's name.")
@click.option("--email", "reporter_address", default="", help="The reporter's address: they get the acknowledgement.")
@click.option("--contact", default="", help="Phone number or other contact.")
@click.option("--organisation", default="")
@AS_OPTION
@MAILBOX_OPTION
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tickets_new(obj: Context, subject: str, text: str, channel: str, reporter_name: str, reporter_address: str,
                contact: str, organisation: str, actor: str | None, as_json: bool) -> None:
    """Record a report taken by phone, in person or by letter (in the --mailbox named)."""
    settings = obj.desk_settings()
    who = acting(settings, actor, fallback=SYSTEM_ACTOR)
    now = system_clock()
    report = intake.report_by_hand(subject, text, Channel(channel), reporter_name, reporter_address.lower(),
                                   f"cli:{who}:{now.isoformat()}", who, now, contact, organisation)
    with obj.services(settings) as services, transaction(services.factory) as session:
        # The same way a mailed report opens its ticket: same rules, acknowledgement and limits.
        opened = intake.open_ticket(session, services.mailer, services.ruleset, intake_settings(settings), report, now)
        if opened.ticket is None:
            raise MaildError(f"not recorded: the rules quarantine this report ({'; '.join(opened.hits)})")
        number = opened.ticket.number
    name = obj.ticket_label(settings.mailbox.name, number)
    print_json({"number": number, "mailbox": settings.mailbox.name}) if as_json else click.echo(f"ticket {name} recorded")


def _no_ticket(obj: Context, session: Session, number: str, mailbox: str) -> MaildError:
    """No ticket ``number`` in ``mailbox``: naming the tickets of that number in other mailboxes."""
    elsewhere = session.scalars(select(Ticket.mailbox).where(Ticket.number == number, Ticket.mailbox != mailbox)
                                .order_by(Ticket.mailbox)).all()
    return no_ticket(number, mailbox, [obj.ticket_label(m, number, qualified=True) for m in elsewhere])


@contextmanager
def _ticket_action(obj: Context, name: str, given_actor: str | None) -> Iterator[Act]:
    """An Act on ticket ``name`` (NUMBER or TAG#NUMBER) by a staff member of its mailbox,
    committed when the block ends."""
    mailbox, number = obj.ticket(name)
    settings = obj.desk_settings(mailbox)
    who = acting(settings, given_actor)
    try:
        with obj.services(settings) as services, transaction(services.factory) as session:
            ticket = ticket_by_number(session, number, mailbox)
            if ticket is None:
                raise _no_ticket(obj, session, number, mailbox)
            now = system_clock()
            yield Act(session, services.mailer, services.roles, ticket, who, f"cli:{who}:{now.isoformat()}", now)
    except (IllegalTransition, ActionRefused) as exc:
        raise MaildError(str(exc)) from None


def _ticket_command(name: str, doc: str, run: Callable[[Act, str], str], argument: str | None = "text",
                    required: bool = True) -> None:
    """Register ``maild tickets NAME N [ARG]``: one action, with the same effects as by email."""

    def command(obj: Context, number: str, actor: str | None, **kw: tuple[str, ...]) -> None:
        with _ticket_action(obj, number, actor) as act:
            done = run(act, " ".join(kw.get(argument, ()) if argument else ()))
        click.echo(f"{number}: {done}")

    command.__doc__ = doc
    # Click lists parameters in the reverse order of decoration: the text comes after NUMBER.
    decorated: Any = click.pass_obj(command)
    if argument:
        decorated = click.argument(argument, nargs=-1, required=required)(decorated)
    decorated = MAILBOX_OPTION(AS_OPTION(click.argument("number")(decorated)))
    tickets.command(name)(decorated)


def _registry_action(name: CommandName) -> Callable[[Act, str], str]:
    """Run staff command ``name`` as if its ``#`` line were in a mail: same checks, same action."""

    def run(act: Act, value: str) -> str:
        try:
            command = command_from(name, value)
        except CommandRefused as exc:
            raise MaildError(say(exc.why, "en")) from None
        return run_command(act, command, "")

    return run


_ticket_command("reply", "Answer the reporter (SOP step 5).", actions.answer)
# Every staff command of the registry but #internal (which only marks a mail) is a CLI command
# too, named by its English word and described by its help.
for _spec in REGISTRY:
    if _spec.name == CommandName.INTERNAL:
        continue
    _argument = (re.match(r"[a-z]*", _spec.argument_en.lower()).group() or "value") if _spec.argument_en else None  # type: ignore[union-attr]
    _ticket_command((_spec.words_en or _spec.words_id)[0],
                    f"{_spec.help_en[0].upper()}{_spec.help_en[1:]} (SOP step {_spec.step}): "
                    f"#{_spec.words_id[0]} by email.",
                    _registry_action(_spec.name), _argument, _spec.needs_argument)


@tickets.command("merge")
@AS_OPTION
@MAILBOX_OPTION
@click.argument("number")
@click.argument("into")
@click.pass_obj
def tickets_merge(obj: Context, number: str, into: str, actor: str | None) -> None:
    """Close NUMBER as a duplicate of INTO; later mail about it goes to INTO. Both are of one
    mailbox (a bare INTO is of NUMBER's): tickets of two mailboxes are not merged."""
    with _ticket_action(obj, number, actor) as act:
        mailbox, into_number = obj.ticket(into, act.ticket.mailbox)
        target = ticket_by_number(act.session, into_number, mailbox)
        if target is None:
            raise _no_ticket(obj, act.session, into_number, mailbox)
        done = actions.merge(act, target)
    click.echo(f"{number}: {done}")


COMMANDS = (tickets,)
