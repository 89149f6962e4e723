"""Mailbox to tickets over a real Dovecot and a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import email
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from harness import (
    HELPDESK, STAFF, append, count, events, folder_count, imap_sections, ledger, outbox, report, start, tickets,
    write_config,
)
from maild.base.clock import FrozenClock
from maild.base.errors import MailboxError
from maild.store.models import InboundMessage, OutgoingMail
from servers import ImapAccount, SmtpSink


@pytest.fixture
def env(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    clock = FrozenClock()
    config = write_config(tmp_path, imap_sections(imap_account, db_url, smtp_sink.port))
    daemon, settings = start(config, clock)
    yield daemon, imap_account, smtp_sink, clock
    daemon.close()






def subject_of(raw: bytes) -> str:
    return str(make_header(decode_header(email.message_from_bytes(raw)["Subject"])))


def test_new_ticket_and_acknowledgement(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env
    r = report(attachment=b"%PDF-1.4 bukti")
    append(account, r.raw)
    assert daemon.run_once()

    [ticket] = tickets(daemon)
    assert ticket.number == "26-0001" and ticket.state == "new"
    assert ticket.subject == "Tidak bisa login ke aplikasi SPSE"
    [row] = ledger(daemon)
    assert (row.disposition, row.ticket_id, row.state) == ("new_ticket", ticket.id, "done")
    assert row.raw == r.raw.replace(b"\n", b"\r\n") or row.raw == r.raw
    assert [e.event for e in events(daemon, ticket.id)] == ["report_received"]
    assert events(daemon, ticket.id)[0].step == 1

    [got] = sink.wait_for(1)
    assert got.rcpt_tos == ("budi@cv-maju.co.id",)
    ack = email.message_from_bytes(got.data)
    assert subject_of(got.data) == "[LPSE #26-0001] Tidak bisa login ke aplikasi SPSE"
    assert ack["In-Reply-To"] == f"<{r.message_id}>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Message-ID"].startswith("<maild.26-0001.")
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in ack.walk() if not p.is_multipart()}
    assert "nomor tiket 26-0001" in parts["text/plain"]
    assert "<html" in parts["text/html"] and "nomor tiket 26-0001" in parts["text/html"]
    assert [o.state for o in outbox(daemon)] == ["sent"]
    assert folder_count(account, "INBOX") == 0 and folder_count(account, "Processed") == 1


def test_threading_variants(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = env
    first = report(cc="rekan@cv-maju.co.id")
    append(account, first.raw)
    daemon.run_once()
    ack_mid = email.message_from_bytes(sink.wait_for(1)[0].data)["Message-ID"].strip("<>")

    replies = [
        # (message, expected disposition, expected ticket number, words in the reason)
        (report(subject="Re: Laporan", in_reply_to=ack_mid), "follow_up", "26-0001", "In-Reply-To"),
        (report(subject="Balas: Bls: [LPSE #26-0001] Laporan diterima"), "follow_up", "26-0001", "subject token"),
        (report(subject="=?utf-8?b?UkU6IEZ3ZDogW0xQU0UgIzI2LTAwMDFdIMOpbGFu?="), "follow_up", "26-0001", "token"),
        (report(subject="[External] AW: TR: [LPSE #26-0001] x"), "follow_up", "26-0001", "token"),
        (report(sender="rekan@cv-maju.co.id", subject="Re: login", in_reply_to=first.message_id), "follow_up",
         "26-0001", "In-Reply-To"),
        (report(sender="orang.lain@gmail.com", subject="Re: [LPSE #26-0001] x"), "new_linked", "26-0002",
         "not a party"),
        (report(subject="Re: [LPSE #26-0999] tidak ada"), "new_ticket", "26-0003", "does not exist"),
    ]
    for msg, *_ in replies:
        append(account, msg.raw)
    daemon.run_once()
    rows = ledger(daemon)[1:]
    by_id = {t.id: t for t in tickets(daemon)}
    for row, (msg, disposition, number, words) in zip(rows, replies):
        assert (row.disposition, by_id[row.ticket_id].number) == (disposition, number), row.reason
        assert words in (row.reason or "")
    linked = [t for t in by_id.values() if t.number == "26-0002"][0]
    assert by_id[linked.linked_ticket_id].number == "26-0001"
    # Follow-ups get no acknowledgement; the two new tickets each get one.
    assert len(sink.wait_for(3)) == 3


def test_reply_to_closed_ticket_reopens_within_window_then_opens_new(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = env
    append(account, report().raw)
    daemon.run_once()
    [ticket] = tickets(daemon)
    close_ticket(daemon, ticket.id, clock)

    clock.advance(days=3)
    append(account, report(subject="Re: [LPSE #26-0001] masih error").raw)
    daemon.run_once()
    assert tickets(daemon)[0].state == "in_progress"
    assert ledger(daemon)[-1].disposition == "reopen"
    assert [e.event for e in events(daemon, ticket.id)][-1] == "reopened"

    close_ticket(daemon, ticket.id, clock)
    clock.advance(days=20)
    append(account, report(subject="Re: [LPSE #26-0001] lagi").raw)
    daemon.run_once()
    new = tickets(daemon)[-1]
    assert (new.number, new.linked_ticket_id, tickets(daemon)[0].state) == ("26-0002", ticket.id, "closed")
    assert "closed more than 14 days" in (ledger(daemon)[-1].reason or "")


def close_ticket(daemon, ticket_id: int, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    from maild.store import queries as store
    from maild.store.models import Ticket
    from maild.sop.workflow import advance

    with daemon.factory() as s, s.begin():
        t = s.get(Ticket, ticket_id)
        store.record_event(s, t, advance(t.state, "resolved"), STAFF, f"test-close-{clock().isoformat()}", clock())


def test_same_message_twice_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env
    r = report()
    append(account, r.raw, r.raw)
    daemon.run_once()
    append(account, r.raw)
    daemon.run_once()
    # Delivered again with an added header (To + Cc aliases): recorded, marked duplicate.
    append(account, b"Delivered-To: alias@lpse.example\r\n" + r.raw)
    daemon.run_once()
    assert len(tickets(daemon)) == 1
    assert [(m.disposition) for m in ledger(daemon)] == ["new_ticket", "duplicate"]
    assert count(daemon, OutgoingMail) == 1
    assert folder_count(account, "INBOX") == 0 and folder_count(account, "Processed") == 4


def test_reused_message_id_with_other_content_is_not_dropped(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env
    a = report(body="Laporan pertama")
    b = a.raw.replace(b"Laporan pertama", b"Laporan kedua, berbeda")
    append(account, a.raw, b)
    daemon.run_once()
    assert [m.disposition for m in ledger(daemon)] == ["new_ticket", "new_ticket"]
    assert len(tickets(daemon)) == 2


def test_auto_replies_are_recorded_never_answered(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env
    append(account, report().raw)
    daemon.run_once()
    ack_mid = email.message_from_bytes(sink.wait_for(1)[0].data)["Message-ID"].strip("<>")
    machine = [
        report(sender="x1@bank.id", headers={"Auto-Submitted": "auto-replied"}),
        report(sender="x2@bank.id", headers={"Precedence": "bulk"}),
        report(sender="x3@bank.id", headers={"List-Id": "<info.bank.id>"}),
        report(sender="x4@bank.id", headers={"X-Autoreply": "yes"}),
        report(sender="x5@bank.id", headers={"X-Auto-Response-Suppress": "All"}),
        report(sender="MAILER-DAEMON@mx.bank.id"),
        report(sender=HELPDESK),
        # An out-of-office answer to our acknowledgement: kept on the ticket, no reopen, no ack.
        report(subject="Out of office", in_reply_to=ack_mid, headers={"Auto-Submitted": "auto-replied"}),
    ]
    for m in machine:
        append(account, m.raw)
    daemon.run_once()
    assert len(tickets(daemon)) == 1
    assert [m.disposition for m in ledger(daemon)[1:]] == [
        "auto_reply", "bulk", "bulk", "auto_reply", "auto_reply", "bounce", "own_loop", "auto_reply"]
    assert ledger(daemon)[-1].ticket_id == tickets(daemon)[0].id
    assert count(daemon, OutgoingMail) == 1
    assert len(sink.messages) == 1
    assert folder_count(account, "INBOX") == 0


def test_flood_from_one_sender_is_rate_limited(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                               smtp_sink: SmtpSink) -> None:
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["limits"] = {"auto_replies_per_sender_per_hour": 3}
    clock = FrozenClock()
    daemon, _ = start(write_config(tmp_path, sections), clock)
    try:
        append(imap_account, *[report(subject=f"Laporan {i}").raw for i in range(8)],
               report(sender="lain@cv-lain.co.id").raw)
        daemon.run_once()
        assert len(tickets(daemon)) == 9
        assert count(daemon, OutgoingMail, OutgoingMail.recipient == "budi@cv-maju.co.id") == 3
        assert count(daemon, OutgoingMail, OutgoingMail.recipient == "lain@cv-lain.co.id") == 1
        suppressed = [e for t in tickets(daemon) for e in events(daemon, t.id) if e.event == "ack_suppressed"]
        assert len(suppressed) == 5 and "rate limit" in suppressed[0].detail["why"]
        clock.advance(hours=1, seconds=1)
        append(imap_account, report(subject="Laporan baru").raw)
        daemon.run_once()
        assert count(daemon, OutgoingMail, OutgoingMail.recipient == "budi@cv-maju.co.id") == 4
    finally:
        daemon.close()


def test_smtp_down_for_an_hour_then_back(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = env
    sink.stop()
    append(account, *[report(sender=f"p{i}@x.id").raw for i in range(5)])
    assert daemon.run_once()
    assert len(tickets(daemon)) == 5
    # One mail tried (refused connection); the others wait without an attempt counted.
    assert sorted((o.state, o.attempts) for o in outbox(daemon)) == [("queued", 0)] * 4 + [("queued", 1)]
    assert all(o.last_error and "unreachable" in o.last_error for o in outbox(daemon))
    for _ in range(6):  # an hour of retries against a dead server
        clock.advance(minutes=10)
        daemon.tick()
    assert {o.state for o in outbox(daemon)} == {"queued"}
    assert max(o.attempts for o in outbox(daemon)) >= 3
    sink.restart()
    clock.advance(hours=1)
    daemon.tick()
    got = sink.wait_for(5)
    assert sorted(g.rcpt_tos[0] for g in got) == [f"p{i}@x.id" for i in range(5)]
    assert {o.state for o in outbox(daemon)} == {"sent"}


def test_4xx_is_retried_and_5xx_fails_with_an_event(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = env
    sink.mode = "tempfail"
    append(account, report().raw)
    daemon.run_once()
    [o] = outbox(daemon)
    assert (o.state, o.attempts) == ("queued", 1) and o.last_error.startswith("451")
    sink.mode = "permfail"
    clock.advance(minutes=2)
    daemon.tick()
    [o] = outbox(daemon)
    assert o.state == "failed" and o.last_error.startswith("550")
    [ticket] = tickets(daemon)
    failed = [e for e in events(daemon, ticket.id) if e.event == "delivery_failed"]
    assert failed and failed[0].detail["recipient"] == "budi@cv-maju.co.id"
    assert sink.messages == []


def test_uidvalidity_change_between_fetch_and_move(env, dovecot) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env
    append(account, report(sender="a@x.id").raw, report(sender="b@x.id").raw)
    fetched = daemon.mailbox.fetch_new(10)
    assert len(fetched) == 2
    dovecot.doveadm("mailbox", "update", "-u", account.user, "--uid-validity", "4242", "INBOX")
    # Refuses to move by stale UIDs: skips the move, or Dovecot ends the session ("state is
    # inconsistent, please relogin") and the daemon reconnects later. Either way nothing moves.
    with contextlib.suppress(MailboxError):
        daemon.mailbox.release(fetched)
    assert folder_count(account, "INBOX") == 2
    assert daemon.run_once()
    assert len(tickets(daemon)) == 2
    assert folder_count(account, "INBOX") == 0 and folder_count(account, "Processed") == 2
    assert {m.uidvalidity for m in ledger(daemon)} == {4242}


def test_failing_message_is_quarantined_and_daemon_goes_on(env) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, _ = env

    original = daemon.pipeline.process

    def explode(session, row, now, quiet=False):  # type: ignore[no-untyped-def]
        if b"MELEDAK" in row.raw:
            raise RuntimeError("simulated bug")
        return original(session, row, now, quiet)

    daemon.pipeline.process = explode  # a seam: the pipeline's step for one message
    append(account, report(body="MELEDAK").raw, report(sender="ok@x.id").raw)
    daemon.run_once()
    rows = ledger(daemon)
    assert [(r.state, r.disposition) for r in rows] == [("dead", "quarantined"), ("done", "new_ticket")]
    assert rows[0].attempts == 3 and "simulated bug" in rows[0].last_error
    assert folder_count(account, "Quarantine") == 1
    assert count(daemon, InboundMessage, InboundMessage.state == "new") == 0


def test_imaps_and_smtp_auth(tmp_path: Path, db_url: str, imap_account: ImapAccount) -> None:
    sink = SmtpSink(auth=("helpdesk", "kata-sandi"))
    sink.start()
    try:
        sections = imap_sections(imap_account, db_url, sink.port)
        sections["mailbox"]["url"] = imap_account.url(ssl=True)
        sections["smtp"].update(username="helpdesk", password="salah")
        daemon, _ = start(write_config(tmp_path, sections))
        try:
            append(imap_account, report().raw)
            daemon.run_once()
            [o] = outbox(daemon)
            assert o.state == "queued" and "AUTH" in (o.last_error or "")
        finally:
            daemon.close()
        sections["smtp"]["password"] = "kata-sandi"
        clock = FrozenClock()
        clock.advance(hours=1)
        daemon, _ = start(write_config(tmp_path, sections), clock)
        try:
            daemon.run_once()
            assert [o.state for o in outbox(daemon)] == ["sent"]
            assert sink.wait_for(1)[0].rcpt_tos == ("budi@cv-maju.co.id",)
        finally:
            daemon.close()
    finally:
        sink.stop()


def test_wrong_imap_password_is_one_clear_line(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                                smtp_sink: SmtpSink) -> None:
    import subprocess
    import sys

    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["mailbox"]["password"] = "salah"
    config = write_config(tmp_path, sections)
    start(config)[0].close()
    proc = subprocess.run([sys.executable, "-m", "maild", "--config", str(config), "run", "--once"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 75
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("maild: temporary failure: mailbox unreachable") and "login" in last.lower()
    assert "Traceback" not in proc.stderr and "salah" not in proc.stderr


def test_loopback_detection() -> None:
    from maild.transport.imap import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("mail.tanatidungkab.go.id") and not is_loopback("10.0.0.1")
