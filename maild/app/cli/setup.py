"""``maild init``, ``check-config``, ``db`` and ``doctor``: setting maild up and checking it."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click

from maild.app.cli.context import Context, print_json
from maild.app.factory import answers, load_checked, load_ruleset, open_mailbox
from maild.base.clock import system_clock
from maild.base.config import mask_url, masked
from maild.base.errors import MaildError
from maild.base.resources import resource_dir
from maild.render.renderer import Renderer
from maild.store.db import make_engine, revisions, upgrade


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None,
              help="Keep the database and the Maildirs here (e.g. /var/lib/maild), not beside the config.")
@click.pass_obj
def init(obj: Context, force: bool, state_dir: str | None) -> None:
    """Write a commented config file and a secret, and create the database and the Maildirs.

    Everything is created readable by its owner only (files 0600, folders 0700): the database
    and the Maildirs hold reporters' personal data, the config and the secret may hold passwords.
    """
    path = Path(obj.config_path)
    if path.exists() and not force:
        raise MaildError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_private(path, _config_text(Path(state_dir).resolve() if state_dir else None))
    secret = path.parent / "maild.secret"
    if not secret.exists():
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    settings = load_checked(path)
    for url in (settings.database.url, settings.mailbox.url, settings.smtp.url):
        _private_parent(url)
    upgrade(make_engine(settings.database.url))
    open_mailbox(settings).close()  # a Maildir source is created, ready for mail
    if settings.smtp.url.startswith("maildir:"):
        for sub in ("new", "cur", "tmp"):  # where mail is written instead of sent
            (Path(settings.smtp.url[8:]) / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    click.echo(f"wrote {path} and {secret}; database ready at {mask_url(settings.database.url)}")


def _config_text(state_dir: Path | None) -> str:
    """The commented config; with ``state_dir`` the database and the Maildirs live there."""
    text = (resource_dir("templates") / "config" / "maild.toml").read_text(encoding="utf-8")
    if state_dir is None:
        return text
    for default, url in (('url = "sqlite:///maild.db"', f"sqlite:///{state_dir / 'maild.db'}"),
                         ('url = "maildir:Maildir"', f"maildir:{state_dir / 'Maildir'}"),
                         ('url = "maildir:sent"', f"maildir:{state_dir / 'sent'}")):
        moved = f"url = {json.dumps(url)}"  # a JSON string is a TOML basic string (quotes, backslashes)
        if default not in text:  # pragma: no cover - the shipped template and this code drifted
            raise MaildError(f"config template: cannot find {default!r}")
        text = text.replace(default, moved, 1)
    return text


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` as 0600, also when it existed with a wider mode (``--force``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def _private_parent(url: str) -> None:
    """Create the folder a SQLite database or a Maildir goes into, 0700 (the umask already
    makes what SQLite and the Maildir code create private; this covers the parents)."""
    if url.startswith("maildir:"):
        Path(url[8:]).mkdir(mode=0o700, parents=True, exist_ok=True)
    elif url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[10:]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


@click.command("check-config")
@click.pass_obj
def check_config(obj: Context) -> None:
    """Validate the config, rules, templates and stored answers; print the effective settings
    (secrets masked)."""
    settings = obj.settings()
    Renderer().check()
    answers(settings)
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
    """Check config, database, mailbox, SMTP, templates, answers, rules, queues, clock and calendar."""
    from maild.app.doctor import exit_status, format_checks, run_checks

    checks = run_checks(ctx.obj.config_path, system_clock, timeout=timeout)
    click.echo(format_checks(checks))
    ctx.exit(exit_status(checks))


COMMANDS = (init, check_config, db, doctor)
