"""Three mailboxes, two daemons on one PostgreSQL, one of them SIGKILLed mid-run: the survivor
takes over its mailboxes, and every report is one ticket of the right mailbox, acknowledged once."""

from __future__ import annotations

import email
import email.policy
import signal
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from harness import append, report, toml_value
from harness import folder_count as inbox_count
from maild.base.config import load_settings
from maild.mail.tokens import format_number
from maild.store.db import make_engine, session_factory, upgrade
from maild.store.models import InboundMessage, MailboxLease, OutgoingMail, Ticket
from maild.transport.maildir import deliver
from servers import Dovecot, ImapAccount, SmtpSink
from test_crash import daemon_log, maild

pytestmark = pytest.mark.slow

ADDRESS = {"default": "helpdesk@lpse.example", "verif": "verifikasi@lpse.example", "ktt": "helpdesk@ktt.example"}
TAG = {"default": "LPSE", "verif": "VERIF", "ktt": "KTT"}
STAFF = {"default": "rina@lpse.example", "verif": "budi@lpse.example", "ktt": "sari@ktt.example"}
PER_MAILBOX = 100
LEASE_SECONDS = 6


def config(tmp_path: Path, db_url: str, lpse: ImapAccount, verif: ImapAccount, sink: SmtpSink) -> Path:
    text = f"""
[helpdesk]
address = "{ADDRESS['default']}"
secret = "test-secret"
[database]
url = {toml_value(db_url)}
lease_seconds = {LEASE_SECONDS}
[mailbox]
url = "{lpse.url()}"
password = "{lpse.password}"
ca_file = "{lpse.ca_file}"
poll_interval = 2
batch_size = 20
[smtp]
url = "smtp://127.0.0.1:{sink.port}"
[limits]
auto_replies_per_sender_per_hour = 1000
[[staff]]
name = "Rina"
address = "{STAFF['default']}"

[[mailboxes]]
name = "verif"
url = "{verif.url()}"
password = "{verif.password}"
address = "{ADDRESS['verif']}"
ticket_tag = "VERIF"
[[mailboxes.staff]]
name = "Budi"
address = "{STAFF['verif']}"

[[mailboxes]]
name = "ktt"
url = "maildir:in-ktt"
address = "{ADDRESS['ktt']}"
ticket_tag = "KTT"
[[mailboxes.staff]]
name = "Sari"
address = "{STAFF['ktt']}"
"""
    path = tmp_path / "maild.toml"
    path.write_text(text, encoding="utf-8")
    engine = make_engine(load_settings(path).database.url)
    upgrade(engine)
    engine.dispose()
    return path


def wait_for(what: str, predicate, config_path: Path, timeout: float = 600) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it holds; the deadline is generous, never an assertion on speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon_log(config_path)[-4000:]}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_daemons_share_three_mailboxes_and_one_survives_a_sigkill(
    tmp_path: Path, db_url: str, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    lpse, verif = dovecot.add_user(), dovecot.add_user()
    path = config(tmp_path, db_url, lpse, verif, smtp_sink)
    factory = session_factory(make_engine(db_url))

    def holders() -> dict[str, str]:
        with factory() as s:
            return {r.mailbox: r.holder for r in s.scalars(select(MailboxLease))}

    def tickets() -> int:
        with factory() as s:
            return int(s.scalar(select(func.count(Ticket.id))) or 0)

    reports: dict[str, list[tuple[str, str]]] = {name: [] for name in ADDRESS}

    def send(name: str, first: int, last: int) -> None:
        batch = [report(sender=f"pelapor{i}@{name}.cv.id", subject=f"Laporan {name} {i}") for i in range(first, last)]
        reports[name] += [(r.message_id, f"pelapor{i}@{name}.cv.id") for i, r in zip(range(first, last), batch)]
        if name == "default":
            append(lpse, *[r.raw for r in batch])
        elif name == "verif":
            append(verif, *[r.raw for r in batch])
        else:
            for r in batch:
                deliver(tmp_path / "in-ktt", r.raw)

    first = maild(path, "run")
    second = None
    try:
        wait_for("the first daemon to take the three leases", lambda: len(holders()) == 3
                 and all(f":{first.pid}:" in h for h in holders().values()), path)
        second = maild(path, "run")
        for name in ADDRESS:
            send(name, 0, PER_MAILBOX // 2)
        wait_for("work under way", lambda: tickets() >= 30, path)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at, done_then = time.monotonic(), tickets()
        for name in ADDRESS:  # half of the reports come after the kill
            send(name, PER_MAILBOX // 2, PER_MAILBOX)
        wait_for("the survivor to take every mailbox", lambda: all(f":{second.pid}:" in h for h in holders().values())
                 and len(holders()) == 3, path)
        took = time.monotonic() - killed_at

        def all_done() -> bool:
            with factory() as s:
                waiting = s.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.state != "sent"))
                handled = s.scalar(select(func.count(InboundMessage.id)).where(InboundMessage.state == "done"))
            return tickets() == 3 * PER_MAILBOX and waiting == 0 and handled == 3 * PER_MAILBOX

        wait_for("every report to become a ticket and every mail to go out", all_done, path)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, daemon_log(path)[-3000:]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert done_then < 3 * PER_MAILBOX  # the kill came mid-run

    year = datetime.now(ZoneInfo("Asia/Makassar")).year
    with factory() as s:
        rows = {r.message_id: r for r in s.scalars(select(InboundMessage))}
        by_id = {t.id: t for t in s.scalars(select(Ticket))}
        mails = list(s.scalars(select(OutgoingMail)))
    assert len(rows) == 3 * PER_MAILBOX
    for name, sent in reports.items():
        mine = [by_id[rows[mid].ticket_id] for mid, _ in sent]
        # Every report is one ticket of the mailbox it was sent to, numbered without gaps there.
        assert {t.mailbox for t in mine} == {name}
        assert sorted(t.number for t in mine) == [format_number(year, i) for i in range(1, PER_MAILBOX + 1)]
        acks = [m for m in mails if m.template == "ack" and m.mailbox == name]
        assert Counter(m.recipient for m in acks) == {who: 1 for _, who in sent}
        assert all(m.subject.startswith(f"[{TAG[name]} #") for m in acks)
        # Each mailbox's staff hear of that mailbox's tickets, and of no other.
        told = [m for m in mails if m.recipient == STAFF[name]]
        assert len(told) == PER_MAILBOX and all(f"[{TAG[name]} #" in m.subject for m in told)

    ours = {f"<{m.message_id}>": m for m in mails}
    got = Counter(email.message_from_bytes(r.data, policy=email.policy.compat32)["Message-ID"]
                  for r in smtp_sink.messages)
    # Every mail reached the SMTP server; a resend (the at-least-once window of the killed
    # sender) carries the same Message-ID, so its reader sees it once.
    assert set(got) == set(ours)
    resent = sum(got.values()) - len(got)
    assert resent <= 20  # one uncommitted batch of the killed daemon's sender at most
    for received in smtp_sink.messages:
        mid = email.message_from_bytes(received.data, policy=email.policy.compat32)["Message-ID"]
        assert received.mail_from == ADDRESS[ours[mid].mailbox]  # each mailbox's own envelope sender
    assert inbox_count(lpse) == 0 and inbox_count(verif) == 0
    assert not list((tmp_path / "in-ktt" / "new").iterdir())
    print(f"survivor held every mailbox {took:.1f}s after the kill (lease {LEASE_SECONDS}s); "
          f"{done_then} tickets before the kill; {resent} mails resent")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_hung_daemon_loses_its_mailboxes_when_its_leases_run_out(
    tmp_path: Path, db_url: str, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """A daemon that hangs (SIGSTOP: alive, but renewing nothing) is not dead to its host, so
    the other waits out the lease, then reads its mailboxes; woken, the first reads none of them."""
    lpse, verif = dovecot.add_user(), dovecot.add_user()
    path = config(tmp_path, db_url, lpse, verif, smtp_sink)
    factory = session_factory(make_engine(db_url))

    def leases() -> dict[str, MailboxLease]:
        with factory() as s:
            return {r.mailbox: r for r in s.scalars(select(MailboxLease))}

    first = maild(path, "run")
    second = None
    try:
        wait_for("the first daemon to hold the leases", lambda: len(leases()) == 3
                 and all(f":{first.pid}:" in r.holder for r in leases().values()), path)
        second = maild(path, "run")
        first.send_signal(signal.SIGSTOP)
        held_until = max(r.expires_at for r in leases().values())
        wait_for("the second daemon to take the leases", lambda: all(
            f":{second.pid}:" in r.holder for r in leases().values()), path)
        assert all(r.taken_at >= held_until for r in leases().values())  # never while the first's held
        first.send_signal(signal.SIGCONT)
        append(lpse, report(sender="sesudah@cv.id", subject="Setelah pengambilalihan").raw)
        wait_for("the report to be acknowledged", lambda: any(
            b"sesudah@cv.id" in r.rcpt_tos[0].encode() for r in smtp_sink.messages), path)
        wait_for("the woken daemon to see it lost them", lambda: "is read by another daemon now" in daemon_log(path),
                 path)
        assert all(f":{second.pid}:" in r.holder for r in leases().values())
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
