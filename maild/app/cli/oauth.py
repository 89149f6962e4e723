"""``maild oauth login``: the one-time consent that gives the refresh-token flow its token."""

from __future__ import annotations

import os
from pathlib import Path

import click

from maild.app.cli.context import Context
from maild.app.factory import oauth_section
from maild.base.errors import MaildError
from maild.base.settings import oauth_secrets
from maild.transport.oauth import Flow, OAuthClient
from maild.transport.oauth_consent import LoopbackConsent


@click.group()
def oauth() -> None:
    """OAuth2 sign-in to the mail servers (Microsoft 365, Google Workspace)."""


@oauth.command("login")
@click.option("--for", "account", type=click.Choice(["mailbox", "smtp"]), default="mailbox", show_default=True,
              help="The account whose [ACCOUNT.oauth] client consents (SMTP without its own uses the mailbox's).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="The loopback port of the redirect http://127.0.0.1:PORT/ (default: any free one; "
                   "use a fixed one if the provider wants the redirect URI registered with its port).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds to wait for the browser to come back.")
@click.pass_obj
def login(obj: Context, account: str, port: int, timeout: float) -> None:
    """Print the URL to open, wait for the consent, and store the refresh token.

    The account's person signs in at the printed URL (on any machine whose browser can reach
    this one's 127.0.0.1: an SSH tunnel of the port will do); the refresh token goes into
    refresh_token_file (0600). A token already there is replaced, and this says so.
    """
    settings = obj.settings()
    section, o = oauth_section(settings, account)
    if not o.token_url:
        raise MaildError(f"[{section}.oauth] has no token_url: configure the OAuth2 client first")
    if o.flow != Flow.REFRESH_TOKEN:
        raise MaildError(f"{section}.oauth.flow is {o.flow!r}: only the refresh_token flow needs a consent")
    if not o.authorize_url:
        raise MaildError(f"{section}.oauth.authorize_url: not set (the provider's authorization endpoint)")
    if not o.refresh_token_file:
        raise MaildError(f"{section}.oauth.refresh_token_file: not set (where the refresh token is stored)")
    client_secret, _old = oauth_secrets(section, o)
    client = OAuthClient(section, o.token_url, o.client_id, client_secret, scope=o.scope, flow=Flow.REFRESH_TOKEN)
    with LoopbackConsent(client, o.authorize_url, port) as consent:
        click.echo(f"Open this URL in a browser and sign in as the {section} account:\n\n{consent.url}\n")
        click.echo(f"Waiting for the redirect to {consent.redirect_uri} ...", err=True)
        refresh = consent.wait(timeout)
    target = Path(o.refresh_token_file)
    replaced = target.exists() and target.stat().st_size > 0
    _write_secret(target, refresh)
    if section != account:
        click.echo(f"smtp has no [smtp.oauth] of its own: the token is the mailbox's ([{section}.oauth])")
    click.echo(f"{'replaced the refresh token in' if replaced else 'wrote the refresh token to'} {target}; "
               "a running daemon uses it after a reload (systemctl reload maild) or restart")


def _write_secret(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` as 0600, through a temporary file (never half a token)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(value + "\n")
    os.replace(tmp, path)


COMMANDS = (oauth,)
