"""The ``maild`` command line: set-up, the daemon, and the admin's views.

Exit codes: 0 success, 1 a failed action (or, for ``status``, something needing attention), 2 usage, 75 a server that stayed unreachable
(try again later), 78 bad configuration. Errors are one line on stderr, never a traceback.

The commands live in one module per group (``setup``, ``running``, ``tickets``,
``attachments``, ``answers``, ``ledger``, ``records``, ``people``, ``status``, ``oauth``); this module is the root group that holds them together and turns
maild's errors into exit codes.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from maild.app.cli import answers, attachments, ledger, oauth, people, records, running, setup, status, tickets
from maild.app.cli.context import Context
from maild.base.config import mask_url
from maild.base.errors import ConfigError, MaildError, TransientError

EX_FAIL, EX_TEMPFAIL, EX_CONFIG = 1, 75, 78


class MaildGroup(click.Group):
    """Turns maild's errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"maild: config error: {_line(exc)}", err=True)
            ctx.exit(EX_CONFIG)
        except TransientError as exc:
            click.echo(f"maild: temporary failure: {_line(exc)}", err=True)
            ctx.exit(EX_TEMPFAIL)
        except (OperationalError, InterfaceError) as exc:
            if "no such table" in str(exc.orig):  # SQLite: a database file without maild's schema
                click.echo(f"maild: config error: the database has no maild tables ({_db_reason(exc)}): "
                           "run 'maild db upgrade'", err=True)
                ctx.exit(EX_CONFIG)
            # The database could not be opened or reached (a missing directory, a server that is
            # down): try again later, as 'run --once' says, not a traceback.
            click.echo(f"maild: temporary failure: database unreachable: {_db_reason(exc)}", err=True)
            ctx.exit(EX_TEMPFAIL)
        except MaildError as exc:
            click.echo(f"maild: error: {_line(exc)}", err=True)
            ctx.exit(EX_FAIL)


def _line(exc: BaseException) -> str:
    """An error's message on one line (a driver's message may span several)."""
    return " ".join(str(exc).split())


def _db_reason(exc: OperationalError | InterfaceError) -> str:
    """The driver's own words on one line, without the SQL or a password in a URL."""
    return mask_url(_line(exc.orig or exc))[:300] or type(exc.orig or exc).__name__


@click.group(cls=MaildGroup)
@click.option("--config", "config_path", envvar="MAILD_CONFIG", default="maild.toml", show_default=True,
              help="Config file (also $MAILD_CONFIG).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="maild")
@click.pass_context
def main(ctx: click.Context, config_path: str, log_level: str) -> None:
    """maild: the LPSE helpdesk mail daemon. Turns the helpdesk mailbox into tickets (SOP 05)."""
    # What maild creates holds reporters' personal data or secrets (the database, the config,
    # the Maildirs and the mail in them, exports): readable by its owner only, as the unit's
    # UMask=0077 does under systemd, also when maild runs from a shell.
    os.umask(0o077)
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    ctx.obj = Context(config_path)


def _add_commands(group: click.Group, *modules: Any) -> None:
    for module in modules:
        for command in module.COMMANDS:
            group.add_command(command)


_add_commands(main, setup, running, status, tickets, attachments, answers, ledger, records, people, oauth)
