"""What every ``maild`` command shares: the config it was given, and how it prints.

``Context`` is click's ``obj``: it loads the settings, opens a database session for the
views, and hands out the ``factory.Services`` an action needs. The printing helpers keep
tables, times and JSON alike across commands.
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
from maild.base.settings import Settings
from maild.mail.tokens import format_number
from maild.store.db import make_engine, session_factory, transaction
from maild.transport.sources import Mailbox


@dataclass
class Context:
    """The ``--config`` given to ``maild``; everything else is read from it when needed."""

    config_path: str

    def settings(self) -> Settings:
        """The settings, loaded from the config file now and checked as ``maild run`` checks them."""
        return load_checked(self.config_path)

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
        """maild's parts, wired as the daemon wires them, built as the command asks for them
        (``mailbox`` instead of the configured one)."""
        services = Services(settings or self.settings(), system_clock, mailbox=mailbox)
        try:
            yield services
        finally:
            services.close()


def no_ticket(number: str) -> MaildError:
    """The error for an unknown ticket; a bare count (``1``) is shown the form of a ticket
    number, year and count (``26-0001``, this year's first ticket)."""
    if number.strip().isdigit():
        year = system_clock().year
        return MaildError(f"no ticket {number}: ticket numbers look like {format_number(year, int(number))} "
                          f"(year-number)")
    return MaildError(f"no ticket {number}")


def acting(settings: Settings, given: str | None, fallback: str = "") -> str:
    """Who acts: ``--as``, else $MAILD_ACTOR, else ``helpdesk.cli_actor``, else ``fallback``.
    Whoever is named must be a staff member or the coordinator: the record says who did it,
    so it is never guessed and never someone outside the team."""
    named = (given or os.environ.get("MAILD_ACTOR") or settings.helpdesk.cli_actor).strip().lower()
    if not named:
        if fallback:
            return fallback
        raise click.UsageError("say who acts: --as ADDRESS, $MAILD_ACTOR, or helpdesk.cli_actor in the config")
    team = team_addresses(settings)
    if named not in team:
        raise click.UsageError(f"{named} is not a staff member or the coordinator; the team: "
                               f"{', '.join(sorted(team)) or '(nobody: configure [[staff]])'}")
    return named


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
