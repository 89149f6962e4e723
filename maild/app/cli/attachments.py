"""``maild attachments``: the files reporters sent, kept with their tickets: list them and write
them out (for one left out of a notification because it was over the size budget)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy.orm import Session

from maild.app.cli.context import MAILBOX_OPTION, Context, no_ticket, print_json, print_table
from maild.base.errors import MaildError
from maild.mail.mime import safe_filename
from maild.service.attachments import StoredFile, file_content, stored_files
from maild.store.queries import ticket_by_number

# A name taken by another file gets -1, -2, ... before its extension; this many tries at most.
_MAX_SUFFIX = 1000


@click.group()
def attachments() -> None:
    """The files reporters attached: list them, write them out."""


def _ticket_files(obj: Context, session: Session, name: str) -> tuple[StoredFile, ...]:
    """The attachments of ticket ``name`` (NUMBER or TAG#NUMBER); MaildError when there is no such ticket."""
    mailbox, number = obj.ticket(name)
    ticket = ticket_by_number(session, number, mailbox)
    if ticket is None:
        raise no_ticket(number, mailbox)
    return stored_files(session, ticket.id)


@attachments.command("list")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@MAILBOX_OPTION
@click.pass_obj
def attachments_list(obj: Context, number: str, as_json: bool) -> None:
    """List the attachments of ticket NUMBER (id, message, filename, type, size)."""
    with obj.session() as s:
        files = _ticket_files(obj, s, number)
    rows = [{"id": f.id, "message": f.inbound_id, "sender": f.sender, "filename": f.filename,
             "content_type": f.content_type, "size": f.size, "inline": f.inline, "sha256": f.sha256} for f in files]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "message", "sender", "filename", "content_type", "size"])


@attachments.command("save")
@click.argument("number")
@click.option("--id", "ids", type=int, multiple=True, help="Only this attachment (repeatable; default: all).")
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The directory to write into (made if missing).")
@MAILBOX_OPTION
@click.pass_obj
def attachments_save(obj: Context, number: str, ids: tuple[int, ...], directory: Path) -> None:
    """Write the attachments of ticket NUMBER into a directory, one line per file written.

    Each file is named by its attachment's filename made safe (no directories, no leading dots,
    no control characters), is readable by you only (0600), and never replaces a file already
    there: the name gets -1, -2, ... instead."""
    with obj.session() as s:
        files = _ticket_files(obj, s, number)
        by_id = {f.id: f for f in files}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise MaildError(f"ticket {number} has no attachment {', '.join(map(str, missing))} "
                             f"(its attachments: {', '.join(map(str, by_id)) or 'none'})")
        chosen = [by_id[i] for i in dict.fromkeys(ids)] if ids else list(files)
        if not chosen:
            click.echo(f"ticket {number} has no attachments")
            return
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for f in chosen:
            path = write_new(directory, f.filename, file_content(s, f.sha256))
            click.echo(f"{f.id}: {path} ({f.size} bytes)")


def write_new(directory: Path, filename: str, data: bytes) -> Path:
    """Write ``data`` to a new file in ``directory`` named after ``filename`` made safe, 0600;
    an existing name (file, directory or link) is never opened: ``name-1.ext``, ``name-2.ext``..."""
    name = safe_filename(filename)
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    for n in range(_MAX_SUFFIX + 1):
        candidate = directory / (name if n == 0 else f"{stem}-{n}{dot}{ext}")
        try:
            # O_EXCL: fails on anything already there, a symbolic link included (never followed).
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except BaseException:
            candidate.unlink(missing_ok=True)
            raise
        return candidate
    raise MaildError(f"{directory}: {name} and {_MAX_SUFFIX} numbered names after it exist already")


COMMANDS = (attachments,)
