"""OAuth2 sign-in (SASL XOAUTH2 / OAUTHBEARER) to a real Dovecot and a real SMTP server, with
tokens from a real (small, local) OAuth2 authorization server: both flows, a token that
expires during a run, a revoked grant, and the one-time consent of ``maild oauth login``."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import append, imap_sections, report, run_cli, start, write_config
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from servers import Dovecot, ImapAccount, OAuthServer, SmtpSink, private_dovecot


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[OAuthServer]:
    """One authorization server for the module; each test sets who its tokens are for."""
    with OAuthServer() as server:
        yield server


@pytest.fixture(scope="module")
def oauth_dovecot(oauth_server: OAuthServer) -> Iterator[Dovecot]:
    """A Dovecot that takes bearer tokens, asking ``oauth_server``'s introspection endpoint
    (a second instance: the session's Dovecot keeps its password-only config)."""
    with private_dovecot(oauth2_introspection_url=oauth_server.introspection_url) as server:
        yield server


@pytest.fixture
def account(oauth_dovecot: OAuthServer, oauth_server: OAuthServer) -> ImapAccount:
    """A fresh mailbox user; the authorization server's tokens are this user's."""
    user = oauth_dovecot.add_user()
    oauth_server.app_user = oauth_server.consent_user = user.user
    oauth_server.rotate = False
    oauth_server.requests.clear()
    oauth_server.scopes.clear()
    return user


@pytest.fixture
def sink(oauth_server: OAuthServer) -> Iterator[SmtpSink]:
    """An SMTP server that takes only bearer tokens the authorization server says are active."""
    with SmtpSink(introspection_url=oauth_server.introspection_url) as server:
        yield server


def oauth_config(tmp_path: Path, account: ImapAccount, sink: SmtpSink, server: OAuthServer,
                 flow: str = "client_credentials", mechanism: str = "XOAUTH2", **extra: Any) -> Path:
    """A config whose mailbox signs in with a token and whose SMTP shares the mailbox's client."""
    sections = imap_sections(account, f"sqlite:///{tmp_path}/maild.db", sink.port)
    del sections["mailbox"]["password"]
    sections["mailbox"]["auth"] = "oauth2"
    sections["smtp"]["auth"] = "oauth2"
    sections["mailbox.oauth"] = {"token_url": server.token_url, "client_id": server.client_id,
                                 "client_secret": server.client_secret, "flow": flow, "mechanism": mechanism,
                                 "scope": "mail", **extra}
    config = write_config(tmp_path, sections)
    run_cli(config, "db", "upgrade")
    return config


def test_client_credentials_sign_in_to_imap_and_smtp(tmp_path: Path, account: ImapAccount, sink: SmtpSink,
                                                     oauth_server: OAuthServer) -> None:
    config = oauth_config(tmp_path, account, sink, oauth_server)
    append(account, report().raw)

    run_cli(config, "run", "--once")

    [ack] = sink.wait_for(1)
    assert ack.rcpt_tos == ("budi@cv-maju.co.id",)
    assert sink.signed_in == [("XOAUTH2", account.user)]
    assert oauth_server.count("client_credentials") == 1  # one token for IMAP and SMTP
    assert oauth_server.scopes == ["mail"]
    cache = tmp_path / "oauth-mailbox.json"  # beside the SQLite database
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    # A second run signs in with the cached token: no new token request.
    append(account, report(sender="sari@cv-lain.co.id").raw)
    run_cli(config, "run", "--once")
    assert len(sink.wait_for(2)) == 2
    assert oauth_server.count("client_credentials") == 1
    assert oauth_server.active_tokens() == 1


def test_refresh_token_flow_keeps_the_rotated_refresh_token(tmp_path: Path, account: ImapAccount, sink: SmtpSink,
                                                             oauth_server: OAuthServer) -> None:
    oauth_server.rotate = True  # each refresh hands out a new refresh token; the old one dies
    refresh_file = tmp_path / "refresh.token"
    refresh_file.write_text(oauth_server.issue_refresh_token(account.user) + "\n")
    config = oauth_config(tmp_path, account, sink, oauth_server, flow="refresh_token", mechanism="OAUTHBEARER",
                          refresh_token_file=str(refresh_file))
    append(account, report().raw)
    run_cli(config, "run", "--once")
    assert sink.signed_in == [("OAUTHBEARER", account.user)]

    # The access token dies at the provider although the cache thinks it valid: the next run is
    # refused once, refreshes with the rotated refresh token (the configured one is dead) and goes on.
    oauth_server.expire_access_tokens()
    append(account, report(sender="sari@cv-lain.co.id").raw)
    run_cli(config, "run", "--once")
    assert len(sink.wait_for(2)) == 2
    assert oauth_server.count("refresh_token") == 2
    assert sink.refused == []  # IMAP signed in first and renewed the token SMTP then used


def test_a_token_that_expires_during_a_run_is_renewed(tmp_path: Path, account: ImapAccount, sink: SmtpSink,
                                                      oauth_server: OAuthServer) -> None:
    clock = FrozenClock()
    config = oauth_config(tmp_path, account, sink, oauth_server)
    daemon, _ = start(config, clock)
    try:
        append(account, report().raw)
        daemon.tick()
        sink.wait_for(1)
        assert oauth_server.count("client_credentials") == 1

        # Expired at the provider between two ticks, the IMAP connection dropped: the next tick
        # signs in to IMAP again, is refused, gets a new token once and signs in with it.
        oauth_server.expire_access_tokens()
        daemon.mailbox.close()
        append(account, report(sender="sari@cv-lain.co.id").raw)
        daemon.tick()
        sink.wait_for(2)
        assert oauth_server.count("client_credentials") == 2
        assert sink.refused == []

        # Expired again while IMAP stays signed in: SMTP is refused once, renews, sends.
        oauth_server.expire_access_tokens()
        append(account, report(sender="andi@cv-tiga.co.id").raw)
        daemon.tick()
        sink.wait_for(3)
        assert oauth_server.count("client_credentials") == 3
        assert sink.refused == [("XOAUTH2", account.user)]

        # Near its end by the (injected) clock: renewed before use, nobody refuses anything.
        clock.advance(minutes=55)  # of 60: inside the renewal margin (10 % of the lifetime)
        append(account, report(sender="rina@cv-empat.co.id").raw)
        daemon.tick()
        sink.wait_for(4)
        assert oauth_server.count("client_credentials") == 4
        assert sink.refused == [("XOAUTH2", account.user)]
    finally:
        daemon.close()


def test_a_revoked_refresh_token_is_one_line_and_exit_75(tmp_path: Path, account: ImapAccount, sink: SmtpSink,
                                                         oauth_server: OAuthServer) -> None:
    refresh_file = tmp_path / "refresh.token"
    refresh_file.write_text(oauth_server.issue_refresh_token(account.user) + "\n")
    config = oauth_config(tmp_path, account, sink, oauth_server, flow="refresh_token",
                          refresh_token_file=str(refresh_file))
    oauth_server.revoke_refresh_tokens()
    append(account, report().raw)

    proc = run_cli(config, "run", "--once", ok=False)
    assert proc.returncode == 75
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"maild: temporary failure: mailbox: OAuth2 token refused by {oauth_server.token_url}: "
                           "invalid_grant")
    assert line.endswith("run `maild oauth login --for mailbox`")
    assert oauth_server.count("refresh_token") == 1  # not hammered
    assert sink.messages == []

    doctor = run_cli(config, "doctor", "--timeout", "5", ok=False)
    assert doctor.returncode == 75
    failed = [x for x in doctor.stdout.splitlines() if x.startswith("FAIL")]
    assert failed[0].startswith("FAIL imap: mailbox: OAuth2 token refused by") and "invalid_grant" in failed[0]


def test_oauth_login_stores_a_refresh_token_that_then_works(tmp_path: Path, account: ImapAccount, sink: SmtpSink,
                                                            oauth_server: OAuthServer) -> None:
    refresh_file = tmp_path / "secrets" / "refresh.token"
    config = oauth_config(tmp_path, account, sink, oauth_server, flow="refresh_token",
                          refresh_token_file=str(refresh_file), authorize_url=oauth_server.authorize_url)
    for attempt in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "maild", "--config", str(config), "oauth", "login",
                                 "--for", "mailbox", "--timeout", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url.startswith("http") and time.monotonic() < deadline:
            url = proc.stdout.readline().strip()
        assert url.startswith(oauth_server.authorize_url), url
        # The browser: the provider consents at once and redirects to maild's loopback listener.
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "consent is received" in page.text
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert ("replaced the refresh token in" if attempt else "wrote the refresh token to") in out
    assert stat.S_IMODE(refresh_file.stat().st_mode) == 0o600
    assert oauth_server.count("authorization_code") == 2

    append(account, report().raw)
    run_cli(config, "run", "--once")
    sink.wait_for(1)
    assert sink.signed_in == [("XOAUTH2", account.user)]
    assert oauth_server.count("refresh_token") == 1


@pytest.mark.parametrize(("oauth", "message"), [
    ({"token_url": "https://login.example/token", "client_id": "c", "refresh_token": "r", "mechnism": "XOAUTH2"},
     "unknown key mailbox.oauth.mechnism (did you mean 'mechanism'?)"),
    ({"token_url": "https://login.example/token", "client_id": "c", "refresh_token": "r", "mechanism": "PLAIN"},
     "mailbox.oauth.mechanism: 'PLAIN' is not one of 'XOAUTH2', 'OAUTHBEARER'"),
    ({"token_url": "http://login.example/token", "client_id": "c", "refresh_token": "r"},
     "mailbox.oauth.token_url: 'http://login.example/token' must be an https:// URL"),
    ({"token_url": "https://login.example/token", "client_id": "c", "flow": "client_credentials"},
     "mailbox.oauth.client_secret: the client_credentials flow needs the client secret"),
    ({"token_url": "https://login.example/token", "client_id": "c", "flow": "password"},
     "mailbox.oauth.flow: 'password' is not one of 'refresh_token', 'client_credentials'"),
    ({"client_id": "c", "refresh_token": "r"}, "mailbox.oauth.token_url: not set"),
])
def test_oauth_settings_are_checked(tmp_path: Path, oauth: dict[str, str], message: str) -> None:
    config = write_config(tmp_path, {"mailbox": {"url": "imaps://helpdesk@mail.example/INBOX", "auth": "oauth2"},
                                     "mailbox.oauth": oauth})
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_smtp_without_its_own_oauth_section_uses_the_mailboxes(tmp_path: Path) -> None:
    config = write_config(tmp_path, {
        "mailbox": {"url": "imaps://helpdesk@mail.example/INBOX", "auth": "oauth2"},
        "mailbox.oauth": {"token_url": "https://login.example/token", "client_id": "c", "refresh_token": "r"},
        "smtp": {"url": "smtp+starttls://mail.example:587", "auth": "oauth2"},
    })
    settings = load_settings(config)
    assert settings.smtp_oauth == ("mailbox", settings.mailbox.oauth)
    assert settings.mailbox.oauth.cache_file == str(tmp_path / "oauth-mailbox.json")
    bare = write_config(tmp_path, {"smtp": {"url": "smtp+starttls://mail.example:587", "auth": "oauth2",
                                            "username": "helpdesk@mail.example"}})
    with pytest.raises(ConfigError, match="smtp.oauth.token_url: not set"):
        load_settings(bare)


def test_smtp_with_its_own_client_and_a_revoked_grant_stops_with_exit_75(
        tmp_path: Path, account: ImapAccount, sink: SmtpSink, oauth_server: OAuthServer) -> None:
    refresh_file = tmp_path / "smtp-refresh.token"
    refresh_file.write_text(oauth_server.issue_refresh_token(account.user) + "\n")
    config = oauth_config(tmp_path, account, sink, oauth_server)
    with config.open("a", encoding="utf-8") as fh:  # SMTP's own client: the refresh_token flow
        fh.write(f'[smtp.oauth]\ntoken_url = "{oauth_server.token_url}"\nclient_id = "{oauth_server.client_id}"\n'
                 f'refresh_token_file = "{refresh_file}"\nuser = "{account.user}"\n')
    oauth_server.revoke_refresh_tokens()
    append(account, report().raw)

    proc = run_cli(config, "run", "--once", ok=False)
    assert proc.returncode == 75
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"maild: temporary failure: smtp: OAuth2 token refused by {oauth_server.token_url}: "
                           "invalid_grant")
    assert line.endswith("run `maild oauth login --for smtp`")
    assert sink.messages == []
    assert oauth_server.count("client_credentials") == 1  # the mailbox signed in with its own client
    assert (tmp_path / "oauth-mailbox.json").exists() and not (tmp_path / "oauth-smtp.json").exists()
