"""``maild init``, ``check-config``, ``db`` and ``doctor``: setting maild up and checking it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from maild.app.cli.context import Context, print_json
from maild.app.factory import load_ruleset, open_mailbox
from maild.base.clock import system_clock
from maild.base.config import load_settings, masked
from maild.base.errors import MaildError
from maild.base.resources import resource_dir
from maild.render.renderer import Renderer
from maild.store.db import make_engine, revisions, upgrade


@click.command()
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


@click.command("check-config")
@click.pass_obj
def check_config(obj: Context) -> None:
    """Validate the config, rules and templates; print the effective settings (secrets masked)."""
    settings = obj.settings()
    Renderer().check()
    load_ruleset(settings)
    print_json(masked(settings))
    click.echo("config OK", err=True)


@click.group()
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


@click.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each server.")
@click.pass_context
def doctor(ctx: click.Context, timeout: float) -> None:
    """Check config, database, mailbox, SMTP, templates, rules, queues, clock and calendar."""
    from maild.app.doctor import exit_status, format_checks, run_checks

    checks = run_checks(ctx.obj.config_path, system_clock, timeout=timeout)
    click.echo(format_checks(checks))
    ctx.exit(exit_status(checks))


COMMANDS = (init, check_config, db, doctor)
