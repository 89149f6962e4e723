"""``maild messages``, ``dead`` and ``outbox``: the mail that came in, the mail that could not
be processed, and the mail going out."""

from __future__ import annotations

import sys

import click

from maild.app.cli.context import Context, print_json, print_table
from maild.base.clock import system_clock
from maild.base.errors import MaildError
from maild.service import admin
from maild.sop.vocabulary import MailState, MessageState


@click.group()
def messages() -> None:
    """The message ledger: every message received and what became of it."""


@messages.command("list")
@click.option("--state", type=click.Choice([*map(str, MessageState)]))
@click.option("--disposition")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def messages_list(obj: Context, state: str | None, disposition: str | None, limit: int, as_json: bool) -> None:
    """List received messages, newest first."""
    with obj.session() as s:
        rows = admin.list_messages(s, state, disposition, limit)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "received_at", "sender", "disposition", "ticket", "subject"], obj.tz())


def _show_message(obj: Context, message_id: int, raw: bool, as_json: bool) -> None:
    with obj.session() as s:
        found = admin.get_message(s, message_id)
    if found is None:
        raise MaildError(f"no message {message_id}")
    data, content = found
    if raw:
        sys.stdout.buffer.write(content)
    elif as_json:
        print_json(data)
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


@click.group()
def dead() -> None:
    """Quarantined messages (failed processing too often)."""


@dead.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def dead_list(obj: Context, as_json: bool) -> None:
    """List quarantined messages with the reason."""
    with obj.session() as s:
        rows = admin.list_messages(s, state=MessageState.DEAD, limit=1000)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "received_at", "sender", "attempts", "last_error"], obj.tz())


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


@click.group()
def outbox() -> None:
    """Outgoing mail."""


@outbox.command("list")
@click.option("--state", type=click.Choice([*map(str, MailState)]))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def outbox_list(obj: Context, state: str | None, limit: int, as_json: bool) -> None:
    """List outgoing mail, newest first."""
    with obj.session() as s:
        rows = admin.list_outbox(s, state, limit)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "recipient", "template", "state", "attempts", "last_error"])


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


COMMANDS = (messages, dead, outbox)
