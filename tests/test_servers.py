"""Tests of the real-server fixtures themselves (tests/servers.py, tests/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import imapclient
import pytest
import sqlalchemy as sa
from imapclient.exceptions import LoginError

from servers import Dovecot, ImapAccount, SmtpSink, free_port, pg_schema, pg_url

RAW = (
    b"From: Budi <budi@example.test>\r\n"
    b"To: helpdesk@example.test\r\n"
    b"Subject: =?utf-8?q?Tidak_bisa_login?=\r\n"
    b"Message-ID: <fixture-1@example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Selamat pagi,\r\n.dot-stuffed line\r\nTerima kasih \xe2\x80\x94 Budi\r\n"
)


# --------------------------------------------------------------------------- Dovecot


def test_plain_login_selects_inbox_and_offers_idle_and_move(imap_account: ImapAccount) -> None:
    client = imap_account.client()
    try:
        caps = client.capabilities()
        assert b"IDLE" in caps and b"MOVE" in caps and b"UIDPLUS" in caps
        assert client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] == 0
    finally:
        client.logout()
    assert imap_account.url() == f"imap://{imap_account.user}@127.0.0.1:{imap_account.port}/INBOX"
    assert imap_account.url(ssl=True) == (
        f"imaps://{imap_account.user}@127.0.0.1:{imap_account.ssl_port}/INBOX"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_imaps_login_verifies_the_test_certificate(imap_account: ImapAccount, host: str) -> None:
    context = ssl.create_default_context(cafile=str(imap_account.ca_file))
    client = imapclient.IMAPClient(host, port=imap_account.ssl_port, ssl=True, ssl_context=context)
    try:
        client.login(imap_account.user, imap_account.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()


def test_imaps_rejects_a_client_that_does_not_trust_the_test_ca(imap_account: ImapAccount) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(
            "127.0.0.1", port=imap_account.ssl_port, ssl=True,
            ssl_context=ssl.create_default_context(), timeout=5,
        )


def test_append_then_fetch_returns_the_same_bytes(imap_account: ImapAccount) -> None:
    client = imap_account.client()
    try:
        client.append("INBOX", RAW)
        client.select_folder("INBOX")
        uids = client.search("ALL")
        assert len(uids) == 1
        data = client.fetch(uids, [b"BODY.PEEK[]", b"FLAGS"])[uids[0]]
        assert data[b"BODY[]"] == RAW
        assert b"\\Seen" not in data[b"FLAGS"]
    finally:
        client.logout()
    # mail processes ran as uid 5000 (no /etc/passwd entry needed)
    assert (imap_account.home / "Maildir").stat().st_uid == 5000


def test_idle_announces_an_append_from_another_connection(imap_account: ImapAccount) -> None:
    watcher = imap_account.client()
    writer = imap_account.client()
    try:
        watcher.idle()
        started = time.monotonic()
        writer.append("INBOX", RAW)
        responses = watcher.idle_check(timeout=2)
        elapsed = time.monotonic() - started
        watcher.idle_done()
    finally:
        watcher.logout()
        writer.logout()
    assert (1, b"EXISTS") in responses, responses
    assert elapsed < 2


def test_move_to_a_created_folder(imap_account: ImapAccount) -> None:
    client = imap_account.client()
    try:
        client.create_folder("Processed")
        client.append("INBOX", RAW)
        client.append("INBOX", RAW.replace(b"fixture-1", b"fixture-2"))
        client.select_folder("INBOX")
        first, second = client.search("ALL")
        client.move([first], "Processed")
        assert client.search("ALL") == [second]
        assert client.folder_status("Processed", [b"MESSAGES"])[b"MESSAGES"] == 1
    finally:
        client.logout()


def test_users_added_back_to_back_can_log_in_at_once(dovecot: Dovecot) -> None:
    # A single passwd-file would be re-read at most once per second: the 2nd user unknown.
    for _ in range(3):
        account = dovecot.add_user(password="pw-" + os.urandom(4).hex())
        account.client().logout()
    named = dovecot.add_user("agent.smith-1", password="s3cret")
    named.client().logout()
    assert "agent.smith-1" in dovecot.users()
    with pytest.raises(ValueError):
        dovecot.add_user("agent.smith-1")
    with pytest.raises(ValueError):
        dovecot.add_user("Upper")


def test_failed_logins_are_fast_and_do_not_slow_down_later_logins(
    imap_account: ImapAccount,
) -> None:
    started = time.monotonic()
    for user, password in [(imap_account.user, "wrong"), ("nobody-here", "x")]:
        client = imapclient.IMAPClient("127.0.0.1", port=imap_account.port, ssl=False, timeout=10)
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.login(user, password)
        client.shutdown()
    imap_account.client().logout()  # Dovecot's per-IP auth penalty would make this 4-8 s
    assert time.monotonic() - started < 2.5


def test_restart_keeps_the_ports_and_the_mail(dovecot: Dovecot, imap_account: ImapAccount) -> None:
    client = imap_account.client()
    client.append("INBOX", RAW)
    ports = (dovecot.port, dovecot.ssl_port)
    started = time.monotonic()
    dovecot.restart()
    elapsed = time.monotonic() - started
    assert (dovecot.port, dovecot.ssl_port) == ports
    with pytest.raises((imapclient.IMAPClient.AbortError, OSError)):
        client.noop()
    fresh = imap_account.client()
    try:
        assert fresh.select_folder("INBOX")[b"EXISTS"] == 1
    finally:
        fresh.logout()
    assert elapsed < 5


def test_uidvalidity_change_is_seen_by_a_new_select(
    dovecot: Dovecot, imap_account: ImapAccount
) -> None:
    client = imap_account.client()
    try:
        client.append("INBOX", RAW)
        before = client.select_folder("INBOX")[b"UIDVALIDITY"]
    finally:
        client.logout()
    new = before + 1000
    dovecot.doveadm("mailbox", "update", "-u", imap_account.user, "--uid-validity", str(new), "INBOX")
    status = dovecot.doveadm("mailbox", "status", "-u", imap_account.user, "uidvalidity", "INBOX")
    assert status.split() == ["INBOX", f"uidvalidity={new}"]
    client = imap_account.client()
    try:
        assert client.select_folder("INBOX")[b"UIDVALIDITY"] == new
    finally:
        client.logout()


def test_doveadm_failure_raises_with_the_message(dovecot: Dovecot) -> None:
    with pytest.raises(RuntimeError, match="doveadm mailbox status"):
        dovecot.doveadm("mailbox", "status", "-u", "no-such-user", "messages", "INBOX")


def test_a_killed_test_run_leaves_no_dovecot_behind() -> None:
    """The master dies with the process that started it; a new start on the same root works."""
    with tempfile.TemporaryDirectory(prefix="maild-dovecot-") as tmp:
        _kill_a_run_then_start_again(Path(tmp))


def _kill_a_run_then_start_again(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from servers import Dovecot\n"
        "d = Dovecot(Path(sys.argv[1])); d.start()\n"
        "print(d.port, d.ssl_port, flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "dc")], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None
        # The ports are printed once start() saw both greetings. (A connection made right
        # before the kill would keep the port open ~2 s more: its login process holds it.)
        port, _ssl_port = map(int, child.stdout.readline().split())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"Dovecot on port {port} survived the process that started it")
    again = Dovecot(tmp_path / "dc")
    again.start()
    try:
        again.add_user().client().logout()
    finally:
        again.stop()


# --------------------------------------------------------------------------- SMTP


def _send(sink: SmtpSink, data: bytes = RAW, **kwargs: object) -> object:
    return asyncio.run(
        aiosmtplib.send(
            data,
            sender="helpdesk@example.test",
            recipients=["budi@example.test", "siti@example.test"],
            hostname=sink.host,
            port=sink.port,
            start_tls=False,
            timeout=5,
            **kwargs,  # type: ignore[arg-type]
        )
    )


def test_sink_receives_a_message(smtp_sink: SmtpSink) -> None:
    _send(smtp_sink)
    (got,) = smtp_sink.wait_for(1, timeout=5)
    assert got.mail_from == "helpdesk@example.test"
    assert got.rcpt_tos == ("budi@example.test", "siti@example.test")
    assert got.data == RAW
    msg = EmailMessage()
    msg["Subject"] = "second"
    msg.set_content("hello")
    asyncio.run(aiosmtplib.send(msg, sender="a@example.test", recipients=["b@example.test"],
                                hostname=smtp_sink.host, port=smtp_sink.port, start_tls=False))
    assert len(smtp_sink.wait_for(2)) == 2
    smtp_sink.clear()
    assert smtp_sink.messages == []


def test_sink_tempfail_answers_451_at_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.mode = "tempfail"
    with pytest.raises(aiosmtplib.SMTPDataError) as info:
        _send(smtp_sink)
    assert info.value.code == 451
    assert "4.3.0" in info.value.message
    assert smtp_sink.messages == []
    smtp_sink.mode = "ok"
    _send(smtp_sink)
    smtp_sink.wait_for(1)


def test_sink_permfail_answers_550_at_rcpt(smtp_sink: SmtpSink) -> None:
    smtp_sink.mode = "permfail"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
        _send(smtp_sink)
    assert [e.code for e in info.value.recipients] == [550, 550]
    assert all("5.1.1" in e.message for e in info.value.recipients)
    assert smtp_sink.messages == []
    with pytest.raises(ValueError):
        smtp_sink.mode = "bounce"  # type: ignore[assignment]


def test_sink_stop_refuses_connections_and_restart_listens_on_the_same_port(
    smtp_sink: SmtpSink,
) -> None:
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        _send(smtp_sink)
    smtp_sink.restart()
    assert smtp_sink.port == port
    _send(smtp_sink)
    smtp_sink.wait_for(1)


def test_sink_wait_for_times_out_with_what_it_got(smtp_sink: SmtpSink) -> None:
    _send(smtp_sink)
    with pytest.raises(AssertionError, match="got 1"):
        smtp_sink.wait_for(2, timeout=0.2)


def test_sink_with_auth_requires_it() -> None:
    with SmtpSink(auth=("maild", "pa55")) as sink:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            _send(sink)
        assert refused.value.code == 530
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as bad:
            _send(sink, username="maild", password="wrong")
        assert bad.value.code == 535
        _send(sink, username="maild", password="pa55")
        sink.wait_for(1)

        async def login_mechanism() -> None:
            client = aiosmtplib.SMTP(hostname=sink.host, port=sink.port, start_tls=False)
            async with client:
                await client.ehlo()
                assert {"plain", "login"} <= set(client.server_auth_methods)
                await client.auth_login("maild", "pa55")
                await client.sendmail("a@example.test", ["b@example.test"], RAW)

        asyncio.run(login_mechanism())
        sink.wait_for(2)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- databases


def _schemas() -> set[str]:
    engine = sa.create_engine(pg_url())
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.text("SELECT nspname FROM pg_namespace")))
    finally:
        engine.dispose()


def _schemas_with_table(table: str) -> set[str]:
    engine = sa.create_engine(pg_url())
    try:
        with engine.connect() as conn:
            return set(conn.scalars(
                sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name = :t"),
                {"t": table},
            ))
    finally:
        engine.dispose()


def test_pg_schema_isolates_tables_and_is_dropped_afterwards() -> None:
    with pg_schema() as url_a, pg_schema() as url_b:
        schema_a = url_a.split("search_path%3D")[1].split("&")[0]
        engine_a, engine_b = sa.create_engine(url_a), sa.create_engine(url_b)
        try:
            with engine_a.begin() as conn:
                assert conn.scalar(sa.text("SELECT current_schema()")) == schema_a
                conn.execute(sa.text("CREATE TABLE ticket (id integer PRIMARY KEY)"))
                conn.execute(sa.text("INSERT INTO ticket VALUES (1)"))
            with engine_b.begin() as conn:
                conn.execute(sa.text("CREATE TABLE ticket (id integer PRIMARY KEY)"))
                assert conn.scalar(sa.text("SELECT count(*) FROM ticket")) == 0
            assert sa.inspect(engine_a).get_table_names() == ["ticket"]
            assert schema_a in _schemas_with_table("ticket")
            assert schema_a in _schemas()
            # a connection left open (a leaked pool) does not block the DROP
            leaked = engine_a.connect()
            leaked.execute(sa.text("SELECT * FROM ticket"))
        finally:
            engine_b.dispose()
    assert schema_a not in _schemas()
    with pytest.raises(sa.exc.OperationalError):  # its session was terminated
        leaked.execute(sa.text("SELECT 1"))
    leaked.close()
    engine_a.dispose()


def test_db_url_fixture_gives_an_empty_database(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        meta = sa.MetaData()
        sa.Table("probe", meta, sa.Column("id", sa.Integer, primary_key=True))
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO probe (id) VALUES (1)"))
        assert sa.inspect(engine).get_table_names() == ["probe"]
    finally:
        engine.dispose()
