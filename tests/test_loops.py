"""Mail loops and oversized mail, over the real Dovecot and SMTP servers.

An autoresponder here is a real peer: it reads what maild sent through the SMTP server and
writes back into the helpdesk's IMAP inbox, for as many rounds as maild keeps answering.
"""

from __future__ import annotations

import email
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from harness import append, folder_count, imap_sections, ledger, report, start, tickets, write_config
from maild.base.clock import FrozenClock
from servers import ImapAccount, SmtpSink

ROBOT = "auto@supplier.example"


def run_rounds(daemon, account: ImapAccount, sink: SmtpSink, reply, rounds: int = 15) -> int:  # type: ignore[no-untyped-def]
    """Let maild and the robot answer each other; return how many mails maild sent the robot."""
    seen = 0
    for _ in range(rounds):
        daemon.run_once()
        new = [m for m in sink.messages[seen:]]
        seen = len(sink.messages)
        to_robot = [email.message_from_bytes(m.data) for m in new if m.rcpt_tos == (ROBOT,)]
        if not to_robot:
            break
        for i, msg in enumerate(to_robot):
            subject = " ".join(str(make_header(decode_header(msg["Subject"]))).split())
            append(account, reply(subject, msg["Message-ID"], seen + i))
    return sum(1 for m in sink.messages if m.rcpt_tos == (ROBOT,))


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["limits"] = {"auto_replies_per_sender_per_hour": 5, "max_message_bytes": 60_000}
    daemon, _ = start(write_config(tmp_path, sections), FrozenClock())
    yield daemon, imap_account, smtp_sink
    daemon.close()


def test_a_naive_autoresponder_gets_one_mail(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink = desk
    append(account, report(sender=ROBOT).raw)
    sent = run_rounds(daemon, account, sink, lambda subject, mid, n: report(
        sender=ROBOT, subject=f"Re: {subject}", body="Terima kasih, email Anda sudah kami terima.").raw)
    assert sent == 1  # the acknowledgement; its answer threads to the ticket and gets nothing
    assert len(tickets(daemon)) == 1


def test_another_helpdesk_acknowledging_our_acknowledgement_gets_one_mail(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink = desk
    append(account, report(sender=ROBOT).raw)
    sent = run_rounds(daemon, account, sink, lambda subject, mid, n: report(
        sender=ROBOT, subject=f"[HD #{1000 + n}] {subject}", in_reply_to=mid.strip("<>"),
        headers={"Auto-Submitted": "auto-replied"}, body="Tiket Anda kami terima.").raw)
    assert sent == 1
    assert [m.disposition for m in ledger(daemon)][1:] == ["auto_reply"]


def test_a_hostile_autoresponder_is_bounded_by_the_rate_limit(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink = desk
    append(account, report(sender=ROBOT).raw)
    # Strips our token and threading headers, writes a new subject each time, looks human.
    sent = run_rounds(daemon, account, sink, lambda subject, mid, n: report(
        sender=ROBOT, subject=f"Pesan otomatis {n}", body="Kami sedang libur.").raw, rounds=30)
    assert sent == 5  # auto_replies_per_sender_per_hour
    assert len(tickets(daemon)) == 6  # every message is still recorded


def test_an_oversized_message_is_quarantined_and_its_sender_told(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink = desk
    big = report(subject="Dokumen penawaran lengkap", attachment=b"%PDF-1.4 " + b"x" * 80_000)
    append(account, big.raw)
    daemon.run_once()
    [row] = ledger(daemon)
    assert (row.disposition, row.ticket_id) == ("oversized", None)
    assert row.size > 60_000 and b"Dokumen penawaran lengkap" in row.raw  # kept whole
    assert "MB limit" in (row.reason or "") and "sender told" in (row.reason or "")
    [told] = sink.wait_for(1)
    msg = email.message_from_bytes(told.data)
    assert told.rcpt_tos == ("budi@cv-maju.co.id",)
    assert "terlalu besar" in " ".join(str(make_header(decode_header(msg["Subject"]))).split())
    assert tickets(daemon) == []
    assert folder_count(account, "Quarantine") == 1 and folder_count(account, "INBOX") == 0


def test_a_flood_from_one_sender_does_not_hold_back_the_others(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink = desk
    append(account, *[report(sender="banjir@spam.example", subject=f"Banjir {i}").raw for i in range(40)],
           report(sender="siti@cv.example", subject="Laporan penting").raw)
    daemon.ingest.run_once()
    assert daemon.pipeline.run_once(limit=5) == 5
    first_five = [m.sender for m in ledger(daemon) if m.disposition]
    assert "siti@cv.example" in first_five


DSN = """From: MAILER-DAEMON@mx.cv-maju.co.id (Mail Delivery System)
To: helpdesk@lpse.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{n}@mx.cv-maju.co.id>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.cv-maju.co.id.
I'm sorry to have to inform you that your message could not be delivered.

<budi@cv-maju.co.id>: host mx.cv-maju.co.id said: 550 5.1.1 User unknown

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.cv-maju.co.id

Final-Recipient: rfc822; budi@cv-maju.co.id
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B
Content-Type: text/rfc822-headers

From: helpdesk@lpse.example
To: budi@cv-maju.co.id
Subject: [LPSE #26-0001] Laporan diterima
Message-ID: {mid}

--B--
"""


def test_a_bounce_is_recorded_on_its_ticket_and_the_address_marked(tmp_path: Path, db_url: str,
                                                                     imap_account: ImapAccount,
                                                                     smtp_sink: SmtpSink) -> None:
    from harness import STAFF, events
    from maild.store.models import Party
    from sqlalchemy import select

    daemon, _ = start(write_config(tmp_path, imap_sections(imap_account, db_url, smtp_sink.port), staff=True),
                      FrozenClock())
    try:
        append(imap_account, report().raw)
        daemon.run_once()
        ack = [email.message_from_bytes(m.data) for m in smtp_sink.messages if m.rcpt_tos == ("budi@cv-maju.co.id",)]
        append(imap_account, DSN.format(n=1, mid=ack[0]["Message-ID"]).replace("\n", "\r\n").encode())
        daemon.run_once()
        [ticket] = tickets(daemon)
        row = ledger(daemon)[-1]
        assert (row.disposition, row.ticket_id) == ("bounce", ticket.id)
        bounced = [e for e in events(daemon, ticket.id) if e.event == "bounce_received"]
        assert bounced and bounced[0].detail["recipients"] == ["budi@cv-maju.co.id"]
        to_staff = [m for m in smtp_sink.messages if m.rcpt_tos == (STAFF,)]
        assert len(to_staff) == 2  # the new ticket, then the bounce notice
        notice = email.message_from_bytes(to_staff[1].data)
        assert "Email gagal terkirim ke budi@cv-maju.co.id" in " ".join(
            str(make_header(decode_header(notice["Subject"]))).split())
        with daemon.factory() as s:
            assert s.scalars(select(Party).where(Party.address == "budi@cv-maju.co.id")).one().failing_since
        before = len(smtp_sink.messages)
        append(imap_account, report(subject="Laporan lain").raw)
        daemon.run_once()
        assert not [m for m in smtp_sink.messages[before:] if m.rcpt_tos == ("budi@cv-maju.co.id",)]
        assert "bounced" in [e for e in events(daemon, tickets(daemon)[-1].id)
                             if e.event == "ack_suppressed"][0].detail["why"]
    finally:
        daemon.close()


def test_an_attachment_over_its_limit_stays_in_the_raw_message(tmp_path: Path, db_url: str,
                                                               imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    from harness import events
    from maild.store.models import AttachmentRow
    from sqlalchemy import func, select

    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["limits"] = {"max_attachment_bytes": 10_000}
    daemon, _ = start(write_config(tmp_path, sections), FrozenClock())
    try:
        append(imap_account, report(attachment=b"%PDF-1.4 " + b"y" * 20_000).raw)
        daemon.run_once()
        [ticket] = tickets(daemon)
        [note] = [e for e in events(daemon, ticket.id) if e.event == "attachment_too_large"]
        assert note.detail["filename"] == "bukti.pdf" and note.detail["size"] > 10_000
        with daemon.factory() as s:
            assert s.scalar(select(func.count(AttachmentRow.id))) == 0
        assert ledger(daemon)[0].size > 20_000  # the raw message is kept whole
    finally:
        daemon.close()
