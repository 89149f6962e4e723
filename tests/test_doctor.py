"""``maild doctor`` against real servers: Dovecot, an SMTP sink, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from harness import HELPDESK, imap_sections, report, start, write_config
from maild.app.doctor import Check, exit_status, format_checks, run_checks
from maild.app.factory import imap_mailbox, smtp_transport
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import MailboxError
from maild.base.resources import resource_dir
from maild.store.db import make_engine, upgrade
from maild.store.models import InboundMessage
from maild.transport.imap import ImapError, ImapStep
from maild.transport.smtp import SmtpDeferred, SmtpStep
from servers import ImapAccount, SmtpSink, free_port

NAMES = ["config", "database", "imap", "imap folders", "smtp", "smtp auth", "templates", "answers", "rules", "sla",
         "people", "outbox", "quarantine", "clock", "calendar"]
SMTP_USER, SMTP_PASSWORD = "helpdesk", "rahasia-smtp"


def config(tmp_path: Path, account: ImapAccount, db_url: str, smtp_port: int, *, mailbox: dict[str, Any] | None = None,
           smtp: dict[str, Any] | None = None, migrate: bool = True) -> Path:
    sections = imap_sections(account, db_url, smtp_port)
    sections["mailbox"].update(mailbox or {})
    sections["smtp"].update(smtp or {})
    path = write_config(tmp_path, sections, staff=True)
    if migrate:
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
    return path


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.ok]


@pytest.fixture
def auth_sink() -> Any:
    sink = SmtpSink(auth=(SMTP_USER, SMTP_PASSWORD))
    sink.start()
    yield sink
    sink.stop()


def test_working_setup_is_all_ok_and_changes_nothing(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                                     auth_sink: SmtpSink) -> None:
    path = config(tmp_path, imap_account, db_url, auth_sink.port,
                  smtp={"username": SMTP_USER, "password": SMTP_PASSWORD})
    client = imap_account.client()
    client.append("INBOX", report().raw)
    client.logout()

    checks = run_checks(str(path), FrozenClock())

    assert [c.name for c in checks] == NAMES
    assert failed(checks) == [], format_checks(checks)
    assert exit_status(checks) == 0
    text = format_checks(checks)
    assert "OK   database: " in text and "at revision 0009" in text
    assert "postgresql" in text if "postgresql" in db_url else "sqlite:///" in text
    lines = by_name(checks)
    assert f"logged in as {imap_account.user} at 127.0.0.1" in lines["imap"].detail
    assert "INBOX has 1 message(s)" in lines["imap"].detail
    assert f"logged in as {SMTP_USER}" in lines["smtp auth"].detail
    # FrozenClock: Monday 2 November 2026, 09:00 WITA.
    assert "Monday 2 November 2026 09:00 WITA" in lines["clock"].detail
    assert "a working day, within working hours" in lines["clock"].detail
    assert "public holidays in 2026 (ID)" in lines["calendar"].detail
    # No mail was sent; the report is still unread in the inbox (EXAMINE, not SELECT).
    assert auth_sink.messages == []
    client = imap_account.client()
    try:
        [(uid, flags)] = client.get_flags(client.search("ALL")).items()
        assert b"\\Seen" not in flags
    finally:
        client.logout()


def test_wrong_imap_password_names_the_login(tmp_path: Path, imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port,
                  mailbox={"password": "salah"})
    checks = run_checks(str(path), FrozenClock())
    assert failed(checks) == ["imap", "imap folders"]
    line = format_checks(checks).splitlines()[2]
    assert line.startswith(f"FAIL imap: login as {imap_account.user} at 127.0.0.1 failed: ")
    assert line.endswith("-> check the user in mailbox.url and mailbox.password")
    assert by_name(checks)["imap folders"].detail.startswith("not checked")
    assert exit_status(checks) == 1


def test_closed_imap_port_fails_fast(tmp_path: Path, imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    port = free_port()
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port,
                  mailbox={"url": f"imap://{imap_account.user}@127.0.0.1:{port}/INBOX"})
    started = time.monotonic()
    checks = run_checks(str(path), FrozenClock())
    assert time.monotonic() - started < 8
    assert failed(checks) == ["imap", "imap folders"]
    imap = by_name(checks)["imap"]
    assert imap.detail.startswith(f"cannot connect to 127.0.0.1:{port}: ConnectionRefusedError")
    assert "mailbox.url" in imap.fix


def test_processed_folder_missing_is_ok_with_a_note(tmp_path: Path, imap_account: ImapAccount,
                                                    smtp_sink: SmtpSink) -> None:
    # The daemon creates the folder on the first move (maild.transport.imap._ensure_folder), so a fresh
    # mailbox without it is a working set-up, not a failure; the line says what will happen.
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port)
    folders = by_name(run_checks(str(path), FrozenClock()))["imap folders"]
    assert folders.ok
    assert folders.detail == "Processed will be created on first move; Quarantine will be created on first use"

    client = imap_account.client()
    client.create_folder("Processed")
    client.logout()
    folders = by_name(run_checks(str(path), FrozenClock()))["imap folders"]
    assert folders.ok and folders.detail == "Processed exists; Quarantine will be created on first use"


def test_smtp_port_closed(tmp_path: Path, imap_account: ImapAccount) -> None:
    sink = SmtpSink()
    sink.start()
    sink.stop()  # nothing listens on its port any more
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", sink.port)
    started = time.monotonic()
    checks = run_checks(str(path), FrozenClock())
    assert time.monotonic() - started < 8
    assert failed(checks) == ["smtp", "smtp auth"]
    smtp = by_name(checks)["smtp"]
    assert smtp.detail.startswith(f"cannot connect to 127.0.0.1:{sink.port}")
    assert "smtp.url" in smtp.fix


def test_smtp_auth_wrong_password(tmp_path: Path, imap_account: ImapAccount, auth_sink: SmtpSink) -> None:
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", auth_sink.port,
                  smtp={"username": SMTP_USER, "password": "salah"})
    checks = run_checks(str(path), FrozenClock())
    assert failed(checks) == ["smtp auth"]
    line = [x for x in format_checks(checks).splitlines() if x.startswith("FAIL")][0]
    assert line.startswith(f"FAIL smtp auth: AUTH as {SMTP_USER} refused: 535")
    assert line.endswith("-> check smtp.username and smtp.password")
    assert auth_sink.messages == []


def test_broken_template(tmp_path: Path, imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(resource_dir("templates"), templates)
    (templates / "id" / "ack.txt.j2").write_text("Yth. {{ recipient_name }},\n{% if ticket %}\nno endif\n")
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port)

    checks = run_checks(str(path), FrozenClock(), templates_dir=templates)
    assert failed(checks) == ["templates"]
    assert by_name(checks)["templates"].detail.startswith("template id/ack.txt.j2, line ")
    # The shipped templates are fine.
    assert by_name(run_checks(str(path), FrozenClock()))["templates"].ok


def test_database_behind_gives_the_upgrade_hint(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                                smtp_sink: SmtpSink) -> None:
    if db_url.startswith("sqlite"):
        Path(db_url[10:]).touch()  # a fresh, empty SQLite file
    path = config(tmp_path, imap_account, db_url, smtp_sink.port, migrate=False)
    checks = run_checks(str(path), FrozenClock())
    assert failed(checks) == ["database", "outbox", "quarantine"]
    db = by_name(checks)["database"]
    assert db.detail.endswith("at revision (empty), the code needs 0009")
    assert db.fix == "run 'maild db upgrade'"
    assert "FAIL outbox: not checked: the database is not usable" in format_checks(checks)

    engine = make_engine(db_url)
    upgrade(engine, "0002")
    engine.dispose()
    db = by_name(run_checks(str(path), FrozenClock()))["database"]
    assert not db.ok and "at revision 0002, the code needs 0009" in db.detail


def test_missing_sqlite_file_is_reported_not_created(tmp_path: Path, imap_account: ImapAccount,
                                                     smtp_sink: SmtpSink) -> None:
    path = config(tmp_path, imap_account, f"sqlite:///{tmp_path}/nope.db", smtp_sink.port, migrate=False)
    db = by_name(run_checks(str(path), FrozenClock()))["database"]
    assert not db.ok and db.detail.endswith("nope.db: the file does not exist")
    assert not (tmp_path / "nope.db").exists()


def test_failed_mail_and_dead_message(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                      smtp_sink: SmtpSink) -> None:
    path = config(tmp_path, imap_account, db_url, smtp_sink.port)
    daemon, _ = start(path)
    try:
        smtp_sink.mode = "permfail"  # 550 at RCPT: acknowledgements and staff notifications fail for good
        client = imap_account.client()
        client.append("INBOX", report().raw)
        client.append("INBOX", report(sender="sari@cv-jaya.co.id", name="Sari").raw)
        client.logout()
        assert daemon.run_once()
        with daemon.factory.begin() as session:  # as after three failed attempts
            session.execute(update(InboundMessage).where(InboundMessage.sender == "sari@cv-jaya.co.id")
                            .values(state="dead", disposition="quarantined", attempts=3))
    finally:
        daemon.close()
    smtp_sink.mode = "ok"

    checks = run_checks(str(path), FrozenClock())
    assert failed(checks) == ["outbox", "quarantine"]
    text = format_checks(checks)
    assert "FAIL outbox: 4 outgoing mail(s) failed (0 queued) -> look with 'maild outbox list --state failed'" in text
    assert "FAIL quarantine: 1 message(s) quarantined after failing (0 waiting) -> look with 'maild dead list'" in text
    assert exit_status(checks) == 1


def test_bad_config_skips_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_text('[helpdesk]\naddress = "helpdesk@lpse.example"\nsecret = "x"\n[mailbox]\npoll_intervall = 5\n')
    checks = run_checks(str(path), FrozenClock())
    assert [c.name for c in checks] == ["config"]
    assert "unknown key mailbox.poll_intervall (did you mean 'poll_interval'?)" in checks[0].detail
    assert "nothing else checked" in checks[0].detail
    assert exit_status(checks) == 78
    assert format_checks(checks).startswith("FAIL config: ")


def test_maildir_setup(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"database": {"url": "sqlite:///maild.db"}, "mailbox": {"url": "maildir:Maildir"},
                                   "smtp": {"url": "maildir:sent"}})
    engine = make_engine(f"sqlite:///{tmp_path}/maild.db")
    upgrade(engine)
    engine.dispose()
    checks = by_name(run_checks(str(path), FrozenClock()))
    assert not checks["mailbox"].ok and checks["mailbox"].detail.endswith("Maildir does not exist")
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    checks = by_name(run_checks(str(path), FrozenClock()))
    assert all(c.ok for c in checks.values()), format_checks(list(checks.values()))
    assert checks["mailbox folders"].detail.startswith("Processed will be created on first move")
    assert "sent will be created and is writable" in checks["smtp"].detail


# -- the transports' probes, which the doctor calls: the same session as the daemon's --------
def test_imap_probe_logs_in_as_fetching_does_and_fails_alike(tmp_path: Path, imap_account: ImapAccount,
                                                             smtp_sink: SmtpSink) -> None:
    db = f"sqlite:///{tmp_path}/maild.db"
    settings = load_settings(config(tmp_path, imap_account, db, smtp_sink.port))
    client = imap_account.client()
    client.create_folder("Quarantine")
    client.append("INBOX", report().raw)
    client.logout()
    seen = imap_mailbox(settings).probe(["Quarantine"])
    assert seen.waiting == 1 and seen.folders == {"Processed": False, "Quarantine": True}
    assert seen.description == f"imap://{imap_account.user}@127.0.0.1:{imap_account.port}/INBOX"

    wrong = load_settings(config(tmp_path, imap_account, db, smtp_sink.port, mailbox={"password": "salah"}))
    with pytest.raises(ImapError) as probed:
        imap_mailbox(wrong).probe()
    with pytest.raises(ImapError) as fetched:
        imap_mailbox(wrong).fetch_new(10)
    assert probed.value.step is fetched.value.step is ImapStep.LOGIN
    assert str(probed.value) == str(fetched.value)
    assert str(probed.value).startswith(f"IMAP login as {imap_account.user} at 127.0.0.1 failed: ")


def test_imap_probe_on_a_closed_port_names_the_connection(tmp_path: Path, imap_account: ImapAccount,
                                                         smtp_sink: SmtpSink) -> None:
    port = free_port()
    settings = load_settings(config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port,
                                    mailbox={"url": f"imap://{imap_account.user}@127.0.0.1:{port}/INBOX"}))
    with pytest.raises(ImapError) as probed:
        imap_mailbox(settings, timeout=5).probe()
    assert probed.value.step is ImapStep.CONNECT
    assert isinstance(probed.value, MailboxError)  # the daemon retries it with backoff
    assert str(probed.value).startswith(f"IMAP 127.0.0.1:{port} unreachable: ")


def test_smtp_probe_sends_nothing_and_fails_as_sending_does(tmp_path: Path, imap_account: ImapAccount,
                                                           auth_sink: SmtpSink) -> None:
    db = f"sqlite:///{tmp_path}/maild.db"
    good = load_settings(config(tmp_path, imap_account, db, auth_sink.port,
                                smtp={"username": SMTP_USER, "password": SMTP_PASSWORD}))
    hello = asyncio.run(smtp_transport(good).probe(HELPDESK))
    assert hello.greeting and not hello.tls
    assert auth_sink.messages == []

    wrong = load_settings(config(tmp_path, imap_account, db, auth_sink.port,
                                 smtp={"username": SMTP_USER, "password": "salah"}))
    with pytest.raises(SmtpDeferred) as probed:
        asyncio.run(smtp_transport(wrong).probe(HELPDESK))
    with pytest.raises(SmtpDeferred) as opened:
        asyncio.run(smtp_transport(wrong).open())
    assert probed.value.step is opened.value.step is SmtpStep.AUTH
    assert str(probed.value) == str(opened.value)
    assert str(probed.value).startswith(f"SMTP AUTH as {SMTP_USER} refused: 535")
    assert probed.value.hello is not None  # the server answered EHLO before refusing the login
    assert auth_sink.messages == []


def test_smtp_probe_on_a_closed_port_is_deferred(tmp_path: Path, imap_account: ImapAccount) -> None:
    sink = SmtpSink()
    sink.start()
    sink.stop()
    settings = load_settings(config(tmp_path, imap_account, f"sqlite:///{tmp_path}/maild.db", sink.port))
    with pytest.raises(SmtpDeferred) as probed:
        asyncio.run(smtp_transport(settings, timeout=5).probe(HELPDESK))
    assert probed.value.step is SmtpStep.CONNECT and probed.value.hello is None
    assert str(probed.value).startswith(f"SMTP 127.0.0.1:{sink.port} unreachable: ")


def test_no_staff_or_coordinator_is_a_warning_with_a_hint(tmp_path: Path) -> None:
    sections = {"database": {"url": "sqlite:///maild.db"}, "mailbox": {"url": "maildir:Maildir"},
                "smtp": {"url": "maildir:sent"}}
    path = write_config(tmp_path, sections)
    engine = make_engine(f"sqlite:///{tmp_path}/maild.db")
    upgrade(engine)
    engine.dispose()
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    checks = run_checks(str(path), FrozenClock())
    people = by_name(checks)["people"]
    assert people.ok and people.warning
    line = next(x for x in format_checks(checks).splitlines() if "people:" in x)
    assert line.startswith("WARN people: no [[staff]] configured: new tickets notify nobody; no [coordinator]")
    assert line.endswith("-> add [[staff]] tables (name, address) and a [coordinator] to the config")
    assert exit_status(checks) == 0  # a warning does not fail the doctor

    sections["coordinator"] = {"name": "Koordinator", "address": "koordinator@lpse.example"}
    path = write_config(tmp_path, sections, staff=True)
    people = by_name(run_checks(str(path), FrozenClock()))["people"]
    assert people.ok and not people.warning and people.detail == "1 staff, coordinator koordinator@lpse.example"
