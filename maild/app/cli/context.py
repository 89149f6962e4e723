"""What every ``maild`` command shares: the config it was given, and how it prints.

``Context`` is click's ``obj``: it loads the settings, opens a database session for the
views, and hands out the ``factory.Services`` an action needs, of the mailbox the command is
about (``--mailbox``, a ticket named ``VERIF#26-0001``, else the top level's). The printing
helpers keep tables, times and JSON alike across commands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from maild.app.factory import Services, load_checked
from maild.base.clock import system_clock
from maild.base.config import team_addresses
from maild.base.errors import MaildError
from maild.base.settings import DEFAULT_MAILBOX, Settings
from maild.base.suggest import closest
from maild.mail.tokens import format_number, format_ticket_name, parse_ticket_name
from maild.store.db import make_engine, session_factory, transaction
from maild.transport.sources import Mailbox


@dataclass
class Context:
    """The ``--config`` given to ``maild``; everything else is read from it when needed."""

    config_path: str
    # ``--mailbox`` as typed (a mailbox's name or ticket tag); None: not given.
    mailbox_word: str | None = None

    def settings(self) -> Settings:
        """The whole configuration (every mailbox), loaded from the config file now and checked
        as ``maild run`` checks them."""
        return load_checked(self.config_path)

    def mailbox_name(self) -> str:
        """The mailbox ``--mailbox`` names; the top level's when not given."""
        if self.mailbox_word is None:
            return DEFAULT_MAILBOX
        return self._named(self.settings(), self.mailbox_word, "--mailbox")

    def several(self) -> bool:
        """More than one mailbox is configured (tables show which mailbox a ticket is in)."""
        return bool(self.settings().mailboxes)

    def desk_settings(self, name: str | None = None) -> Settings:
        """One mailbox's settings as a whole helpdesk (``Settings.for_mailbox``): of ``name``,
        else of ``--mailbox``, else of the top level."""
        return self.settings().for_mailbox(name or self.mailbox_name())

    def ticket(self, text: str, mailbox: str | None = None) -> tuple[str, str]:
        """``(mailbox, number)`` of a ticket as typed: ``VERIF#26-0001`` (a mailbox's tag or
        name, ``#``, the number) names its mailbox; a bare number is of ``mailbox``, else of
        ``--mailbox``, else of the top level."""
        settings = self.settings()
        word, number = parse_ticket_name(text)
        if word is None:
            return mailbox or self.mailbox_name(), number
        named = self._named(settings, word, text)
        if self.mailbox_word is not None and self.mailbox_name() != named:
            raise click.UsageError(f"{text} is a ticket of mailbox {named}, but --mailbox says {self.mailbox_name()}")
        return named, number

    def ticket_label(self, mailbox: str, number: str, qualified: bool = False) -> str:
        """How the CLI names a ticket: its number at the top level (unless ``qualified``),
        ``TAG#NUMBER`` elsewhere (a mailbox no longer configured: ``NAME#NUMBER``)."""
        if mailbox == DEFAULT_MAILBOX and not qualified:
            return number
        settings = self.settings()
        tag = settings.for_mailbox(mailbox).helpdesk.ticket_tag if mailbox in settings.mailbox_names else mailbox
        return format_ticket_name(tag, number)

    @staticmethod
    def _named(settings: Settings, word: str, where: str) -> str:
        name = settings.mailbox_named(word)
        if name is not None:
            return name
        known = [(DEFAULT_MAILBOX, settings.helpdesk.ticket_tag), *((e.name, e.ticket_tag) for e in settings.mailboxes)]
        near = closest(word, [w for pair in known for w in pair])
        hint = f"; did you mean {settings.mailbox_named(near)}?" if near else ""
        raise click.UsageError(f"{where}: no mailbox {word!r} (configured: "
                               f"{', '.join(f'{n} ({t})' for n, t in known)}){hint}")

    def tz(self) -> ZoneInfo:
        """The helpdesk's time zone, for the times people read."""
        return ZoneInfo(self.settings().helpdesk.timezone)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for looking and small changes, committed when the block ends."""
        engine = make_engine(self.settings().database.url)
        try:
            with transaction(session_factory(engine)) as session:
                yield session
        finally:
            engine.dispose()

    @contextmanager
    def services(self, settings: Settings | None = None, mailbox: Mailbox | None = None) -> Iterator[Services]:
        """maild's parts of one mailbox, wired as the daemon wires its desk, built as the
        command asks for them: of ``settings`` (one mailbox's, ``desk_settings``), else of the
        mailbox ``--mailbox`` names (``mailbox``: a source instead of the configured one)."""
        services = Services(settings or self.desk_settings(), system_clock, mailbox=mailbox)
        try:
            yield services
        finally:
            services.close()


def no_ticket(number: str, mailbox: str = DEFAULT_MAILBOX, elsewhere: Sequence[str] = ()) -> MaildError:
    """The error for an unknown ticket of ``mailbox``; a bare count (``1``) is shown the form of
    a ticket number, year and count (``26-0001``, this year's first ticket); ``elsewhere``: the
    tickets of that number in other mailboxes, as named (``LPSE#26-0001``)."""
    where = "" if mailbox == DEFAULT_MAILBOX else f" in mailbox {mailbox}"
    if number.strip().isdigit():
        year = system_clock().year
        return MaildError(f"no ticket {number}{where}: ticket numbers look like {format_number(year, int(number))} "
                          f"(year-number)")
    hint = f" (there is {', '.join(elsewhere)})" if elsewhere else ""
    return MaildError(f"no ticket {number}{where}{hint}")


def acting(settings: Settings, given: str | None, fallback: str = "") -> str:
    """Who acts at the mailbox ``settings`` describes: ``--as``, else $MAILD_ACTOR, else
    ``helpdesk.cli_actor``, else ``fallback``. Whoever is named must be a staff member or the
    coordinator of that mailbox: the record says who did it, so it is never guessed and never
    someone outside the team. The top level's ``cli_actor`` acts only where it is of the team
    (a mailbox with its own staff names who acts there with ``--as``)."""
    team = team_addresses(settings)
    configured = settings.helpdesk.cli_actor.strip().lower()
    other = settings.mailbox.name != DEFAULT_MAILBOX
    if other and configured not in team:
        configured = ""
    named = (given or os.environ.get("MAILD_ACTOR") or configured).strip().lower()
    at = f" of mailbox {settings.mailbox.name}" if other else ""
    if not named:
        if fallback:
            return fallback
        raise click.UsageError(f"say who acts{at}: --as ADDRESS, $MAILD_ACTOR, or helpdesk.cli_actor in the config")
    if named not in team:
        raise click.UsageError(f"{named} is not a staff member or the coordinator{at}; the team: "
                               f"{', '.join(sorted(team)) or '(nobody: configure [[staff]])'}")
    return named


def _choose_mailbox(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).mailbox_word = value


MAILBOX_OPTION = click.option(
    "--mailbox", metavar="NAME", expose_value=False, callback=_choose_mailbox,
    help="The mailbox, by its name or ticket tag (default: the top-level one). A ticket of another "
         "mailbox may also be named TAG#NUMBER (VERIF#26-0001).")


AS_OPTION = click.option("--as", "actor", metavar="ADDRESS",
                         help="The staff member or coordinator acting (default $MAILD_ACTOR, "
                              "else helpdesk.cli_actor).")


def print_json(data: Any) -> None:
    """``data`` as indented JSON (times as ISO strings)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cell(column: str, value: Any, tz: ZoneInfo | None) -> str:
    """Times in people's tables are local wall-clock time (WITA); --json keeps ISO UTC."""
    if value is None:
        return ""
    if tz is not None and (column == "at" or column.endswith("_at")) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value).replace("\n", " ")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], tz: ZoneInfo | None = None) -> None:
    """``rows`` as a plain-text table of ``columns``, each at most 60 characters wide."""
    if not rows:
        click.echo("(none)")
        return
    cells = [[cell(c, r.get(c), tz) for c in columns] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)).rstrip())
