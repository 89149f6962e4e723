"""No single mail stops intake (issue 10, items 1-5), each attack beside its legitimate twin.

1. hostile headers (nested comments, NUL bytes, 10,000 Received lines, a megabyte-long line,
   1,000 nested multiparts, broken encoded words...) are stored and become tickets; the
   daemon exits 0 and the message behind them is processed, on SQLite and PostgreSQL;
2. a non-ASCII Message-ID or a full-width dot in the sender's domain still makes a ticket;
   what goes out has valid references and only addresses we can write to;
3. what is stored and quoted is bounded, and every header we write is one folded field of
   at most 998 octets whatever the input (a ``\\r\\nBcc:`` in a name creates no header);
4. memory is bounded by bytes, not by what arrives (a subprocess's peak RSS is measured);
5. only regular files in the Maildir are read: symlinks and FIFOs are left alone.
"""

from __future__ import annotations

import base64
import email
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import (HELPDESK, STAFF, append, events, folder_count, imap_sections, ledger, outbox, report, run_cli,
                     start, tickets, write_config)
from maild.render.renderer import Rendered
from maild.sop.vocabulary import MessageState
from maild.store.outbox import Identity, Outgoing, build_message, usable_address
from maild.transport.maildir import MaildirMailbox, deliver
from maild.transport.sources import read_regular_file
from servers import ImapAccount, SmtpSink

REPORTER = "budi@cv-maju.co.id"
NOW = datetime(2026, 11, 2, 1, tzinfo=timezone.utc)


def desk(directory: Path, db_url: str, **limits: int) -> Path:
    """A Maildir desk (mail in and out as files) with one staff member, database upgraded."""
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{directory}/Maildir"},
        "smtp": {"url": f"maildir:{directory}/sent"},
        "limits": {"auto_replies_per_sender_per_hour": 1000, **limits},
    }, staff=True)
    run_cli(config, "db", "upgrade")
    for sub in ("new", "cur", "tmp"):
        (directory / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    return config


def mail(extra: str = "", *, sender: str = f"Budi <{REPORTER}>", subject: str = "Laporan", mid: str = "<x@cv.id>",
         body: str = "Isi laporan.") -> bytes:
    """A report with the given headers written as they are (no library cleans them)."""
    head = (f"From: {sender}\r\nTo: {HELPDESK}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
            f"Date: Mon, 2 Nov 2026 09:00:00 +0700\r\n{extra}")
    return (head + "\r\n" + body + "\r\n").encode("utf-8", "surrogateescape")


def nested_multipart(depth: int, mid: str) -> bytes:
    out = [f"From: Budi <{REPORTER}>", f"To: {HELPDESK}", "Subject: Bersarang", f"Message-ID: {mid}",
           "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b0"', ""]
    for level in range(1, depth):
        out += [f"--b{level - 1}", f'Content-Type: multipart/mixed; boundary="b{level}"', ""]
    out += [f"--b{depth - 1}", "Content-Type: text/plain", "", "Laporan di dalam."]
    out += [f"--b{level}--" for level in reversed(range(depth))]
    return "\r\n".join(out).encode()


def with_attachment(name: str, ctype: str, cid: str, mid: str) -> bytes:
    return (f"From: Budi <{REPORTER}>\r\nTo: {HELPDESK}\r\nSubject: Lampiran\r\nMessage-ID: {mid}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
            "Content-Type: text/plain\r\n\r\nBerkas terlampir.\r\n--zz\r\n"
            f'Content-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
            f"Content-ID: <{cid}>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.b64encode(b'%PDF-1.4 isi').decode()}\r\n--zz--\r\n").encode("utf-8", "surrogateescape")


NESTED = "(" * 500 + "komentar" + ")" * 500

# Each becomes a ticket: name -> raw bytes. Every one is a way a real review or our own
# reading of the code found to make a message fail (RecursionError, DataError on PostgreSQL,
# a value too long for its column, an unencodable header).
ATTACKS: dict[str, bytes] = {
    "nested comments in From": mail(sender=f"{NESTED} <siti@cv-a.co.id>", mid="<a1@cv.id>"),
    "nested comments around a bare From": mail(sender=f"siti@cv-b.co.id {NESTED}", mid="<a2@cv.id>"),
    "2000 unclosed comments in From": mail(sender="(" * 2000 + " <siti@cv-c.co.id>", mid="<a3@cv.id>"),
    "nested comments in To, Cc and Reply-To": mail(
        f"Cc: {NESTED} <c@cv.id>\r\nReply-To: {'(' * 900 + ')' * 900} <r@cv.id>\r\n", mid="<a4@cv.id>"
    ).replace(f"To: {HELPDESK}".encode(), f"To: {NESTED} <{HELPDESK}>".encode()),
    "nested comments in Sender, no From": mail(mid="<a5@cv.id>").replace(
        f"From: Budi <{REPORTER}>".encode(), f"Sender: {NESTED} <s@cv.id>".encode()),
    "NUL in Message-ID": mail(mid="<lap\x00oran@cv.id>"),
    "NUL in From's address": mail(sender="Budi <bu\x00di@cv-d.co.id>", mid="<a6@cv.id>"),
    "NUL in From's name": mail(sender="Bu\x00di <budi@cv-e.co.id>", mid="<a7@cv.id>"),
    "NUL in Subject": mail(subject="Lap\x00oran\x00", mid="<a8@cv.id>"),
    "encoded NUL in Subject and name": mail(sender=f"=?utf-8?q?Bu=00di?= <{REPORTER}>",
                                            subject="=?utf-8?q?Lap=00oran?=", mid="<a9@cv.id>"),
    "NUL in an attachment's name, type and id": with_attachment("surat\x00.pdf", "application/p\x00df",
                                                                "c\x00id@x", "<a10@cv.id>"),
    "attachment labels longer than their columns": with_attachment("s" * 400 + ".pdf", "application/" + "x" * 300,
                                                                   "c" * 400 + "@x", "<a11@cv.id>"),
    "10,000 Received lines": mail("".join(f"Received: from h{i}.example by mx.example; Mon, 2 Nov 2026 09:00:00 +0700\r\n"
                                          for i in range(10_000)), mid="<a12@cv.id>"),
    "a 1 MB header line": mail("X-Panjang: " + "a" * 1_000_000 + "\r\n", mid="<a13@cv.id>"),
    "a 1 MB one-line Subject": mail(subject="S" * 1_000_000, mid="<a14@cv.id>"),
    "a 1 MB display name": mail(sender='"' + "N" * 1_000_000 + f'" <{REPORTER}>', mid="<a15@cv.id>"),
    "a 400-character address": mail(sender=f"<{'a' * 400}@cv.id>", mid="<a16@cv.id>"),
    "an 850-character Message-ID": mail(mid=f"<{'m' * 840}@cv.id>"),
    "1,000 nested multiparts": nested_multipart(1000, "<a17@cv.id>"),
    "3,000 nested multiparts": nested_multipart(3000, "<a18@cv.id>"),
    "malformed encoded words": mail(subject="=?utf-8?b?!!!?= =?x-tidak-ada?q?=ZZ?= =?utf-8?q?tak-selesai",
                                    sender=f"=?utf-8?b?====?= =??= <{REPORTER}>", mid="<a19@cv.id>"),
    "a non-ASCII Message-ID": mail(mid="<laporan-ä@cv.id>"),
    "a full-width dot in the domain": mail(sender="Budi <budi@cv．example>", mid="<a20@cv.id>"),
    "non-ASCII In-Reply-To and References": mail("In-Reply-To: <balasan-é@x.id>\r\nReferences: <é@x> <ok@x.id>\r\n",
                                                 mid="<a21@cv.id>"),
}


def maildir_new(config: Path) -> list[str]:
    return sorted(os.listdir(config.parent / "Maildir" / "new"))


def test_no_mail_stops_intake_and_every_attack_becomes_a_ticket(tmp_path: Path, db_url: str) -> None:
    config = desk(tmp_path, db_url)
    for raw in ATTACKS.values():
        deliver(tmp_path / "Maildir", raw)
    twin = report(subject="Laporan biasa di belakang serangan")
    deliver(tmp_path / "Maildir", twin.raw)
    proc = run_cli(config, "run", "--once")  # exit 0, no traceback (a failed message logs one)
    assert "failed" not in proc.stderr
    daemon, _ = start(config)
    try:
        rows = ledger(daemon)
        assert len(rows) == len(ATTACKS) + 1 and maildir_new(config) == []
        assert {(r.state, r.disposition) for r in rows} == {(MessageState.DONE, "new_ticket")}, \
            [(r.id, r.state, r.disposition, r.last_error) for r in rows if r.disposition != "new_ticket"]
        assert all(not r.last_error for r in rows)  # none needed storing by hash, none failed
        assert all("\x00" not in f"{r.message_id}{r.sender}{r.subject}" for r in rows)
        assert len(tickets(daemon)) == len(ATTACKS) + 1
        senders = {r.sender for r in rows}
        # The address beside the comments is read: these reporters are acknowledged. (Behind
        # 2,000 unclosed parentheses there is none: all of it is a comment.)
        assert {"siti@cv-a.co.id", "siti@cv-b.co.id", "budi@cv-e.co.id"} <= senders
        assert "siti@cv-c.co.id" not in senders
        assert all(len(t.subject) <= 500 for t in tickets(daemon))
        mails = outbox(daemon)
        assert ("ack", twin_sender := "budi@cv-maju.co.id") in {(m.template, m.recipient) for m in mails}
        assert twin_sender and any(twin.message_id.encode() in m.raw for m in mails if m.template == "ack")
        for m in mails:
            assert max(len(line) for line in m.raw.split(b"\r\n")) <= 998 and len(m.raw) < 200_000
    finally:
        daemon.close()


def test_a_non_ascii_message_id_and_a_full_width_dot_make_tickets(tmp_path: Path, db_url: str) -> None:
    config = desk(tmp_path, db_url)
    daemon, _ = start(config)
    try:
        deliver(tmp_path / "Maildir", mail(mid="<laporan-ä@cv.id>", subject="Paket A"))
        deliver(tmp_path / "Maildir", mail(sender="Budi <budi@cv．example>", mid="<fw@cv.id>", subject="Paket B"))
        twin = report(subject="Paket C")
        deliver(tmp_path / "Maildir", twin.raw)
        assert daemon.run_once()
        assert [r.disposition for r in ledger(daemon)] == ["new_ticket"] * 3
        a, b, c = tickets(daemon)
        acks = {m.ticket_id: m for m in outbox(daemon) if m.template == "ack"}
        # The report with a non-ASCII Message-ID is acknowledged, without a reference to it.
        ack_a = email.message_from_bytes(acks[a.id].raw, policy=policy.default)
        assert not ack_a.defects and ack_a["In-Reply-To"] is None and ack_a["References"] is None
        assert acks[a.id].raw.isascii()
        # No mail to an address no server can deliver; the ticket says why.
        assert b.id not in acks
        [why] = [e.detail["why"] for e in events(daemon, b.id) if e.event == "ack_suppressed"]
        assert "not an address we can write to" in why
        assert any(m.ticket_id == b.id and m.recipient == STAFF for m in outbox(daemon))  # staff still told
        # The twin: acknowledged, threaded to its report.
        ack_c = email.message_from_bytes(acks[c.id].raw, policy=policy.default)
        assert ack_c["In-Reply-To"] == f"<{twin.message_id}>"
    finally:
        daemon.close()


def test_only_valid_addresses_can_be_written_to() -> None:
    for good in ("budi@cv-maju.co.id", "a.b+c@x.id", "o'neil@x.example", "x@localhost"):
        assert usable_address(good), good
    for bad in ("budi@cv．example", "laporan-ä@x.id", "a@b c.id", "a@-x.id", "a..b@x.id", "a@x..id", "<a@x.id>",
                "a@x.id\r\nBcc: e@x.id", "a@1.2.3.4", "@x.id", "a@", "a" * 65 + "@x.id", "a@" + "b" * 64 + ".id"):
        assert not usable_address(bad), bad


# -- item 3: every outgoing header folded and encoded correctly, whatever the input -------

IDENT = Identity("Helpdesk LPSE Uji", HELPDESK, "lpse.example", b"k")
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
                    "x-auto-response-suppress", "x-maild-loop", "content-language", "mime-version", "content-type"}


def built(name: str, subject: str, in_reply_to: str | None = "asal@cv.id", refs: tuple[str, ...] = ()) -> bytes:
    out = Outgoing(cause="mid:asal@cv.id", template="ack", recipient=REPORTER, recipient_name=name, ticket_id=1,
                   ticket_number="26-0001", rendered=Rendered(subject, "Teks.\n", "<p>Teks.</p>"), language="id",
                   in_reply_to=in_reply_to, references=refs)
    return build_message(IDENT, out, "maild.26-0001.ab.cd@lpse.example", NOW)


def assert_well_formed(raw: bytes) -> email.message.EmailMessage:
    """RFC 5322 lines, parsed back by the strict parser without a defect or an extra header."""
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert not msg.defects
    assert {k.lower() for k in msg.keys()} <= EXPECTED_HEADERS
    for key in msg.keys():
        assert not msg[key].defects, (key, msg[key].defects)
    assert [a.addr_spec for a in msg["To"].addresses] == [REPORTER]
    return msg


HOSTILE = [
    "Budi\r\nBcc: curi@evil.example", "Budi\nBcc: curi@evil.example", "Budi\rBcc: curi@evil.example",
    "Budi\r\n\r\nbody", "=?utf-8?q?Bcc=3A?=", '"Budi" <x@evil.example>, curi@evil.example', "\x00\x07\x1b",
    "N" * 1_000_000, "Ñ" * 100_000, "kata " * 200_000, "🙂" * 5000, "a\\\"b", "", " ", "x" * 998,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_names_and_subjects_cannot_break_or_add_a_header(hostile: str) -> None:
    msg = assert_well_formed(built(hostile, hostile))
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert "\n" not in str(msg["Subject"]) and len(str(msg["Subject"])) <= 600


def test_a_normal_name_and_subject_round_trip_exactly() -> None:
    msg = assert_well_formed(built("Budi Sántoso, CV Maju", "[LPSE #26-0001] Laporan diterima: Upload gagal – paket"))
    assert msg["To"].addresses[0].display_name == "Budi Sántoso, CV Maju"
    assert msg["Subject"] == "[LPSE #26-0001] Laporan diterima: Upload gagal – paket"
    assert msg["In-Reply-To"] == "<asal@cv.id>"


def test_references_that_are_not_msg_ids_are_left_out() -> None:
    msg = assert_well_formed(built("Budi", "Re", in_reply_to="laporan-ä@cv.id",
                                   refs=("ok@cv.id", "spasi ada@cv.id", "a\r\nBcc: x@evil.example", "tanpa-at", "é@x")))
    assert msg["In-Reply-To"] is None and msg["References"] == "<ok@cv.id>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(), subject=st.text(), mid=st.text(max_size=60))
def test_any_name_subject_and_reference_give_a_well_formed_mail(name: str, subject: str, mid: str) -> None:
    msg = assert_well_formed(built(name, subject, in_reply_to=mid or None, refs=(mid,)))
    assert msg["Bcc"] is None


def test_a_megabyte_subject_is_capped_in_the_ticket_and_in_the_mails(tmp_path: Path, db_url: str) -> None:
    config = desk(tmp_path, db_url)
    daemon, _ = start(config)
    try:
        deliver(tmp_path / "Maildir", mail(subject="Pengaduan " * 110_000, mid="<besar@cv.id>"))
        deliver(tmp_path / "Maildir", mail(subject="Pengaduan paket jalan desa", mid="<kecil@cv.id>"))  # the twin
        assert daemon.run_once()
        big, small = tickets(daemon)
        assert 490 <= len(big.subject) <= 500 and small.subject == "Pengaduan paket jalan desa"
        assert all(len(r.subject) <= 500 for r in ledger(daemon))
        for m in outbox(daemon):
            msg = email.message_from_bytes(m.raw, policy=policy.default)
            assert not msg.defects and len(m.raw) < 100_000
            assert all(len(line) <= 998 for line in m.raw.split(b"\r\n"))
            if m.ticket_id == small.id:
                assert "Pengaduan paket jalan desa" in str(msg["Subject"])
    finally:
        daemon.close()


# -- item 4: memory bounded by bytes -------------------------------------------------------

def big_mail(index: int, size: int) -> bytes:
    """A report carrying ``size`` bytes of base64 (different content in each)."""
    data = os.urandom(size * 3 // 4)
    encoded = base64.encodebytes(data)
    return (f"From: Pelapor {index} <pelapor{index}@cv.id>\r\nTo: {HELPDESK}\r\nSubject: Dokumen {index}\r\n"
            f"Message-ID: <besar-{index}@cv.id>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n"
            "\r\n--zz\r\nContent-Type: text/plain\r\n\r\nDokumen penawaran terlampir.\r\n--zz\r\n"
            'Content-Type: application/octet-stream; name="dok.bin"\r\nContent-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="dok.bin"\r\n\r\n').encode() + encoded + b"\r\n--zz--\r\n"


def peak_rss_mb(config: Path) -> tuple[int, float, str]:
    """Run ``maild run --once`` in a child process; its exit code and its own peak RSS (MB).

    The peak is the child's VmHWM, read from /proc while it runs (it only grows). Not
    ``ru_maxrss``: the kernel counts in it the high-water mark of the parent it was forked
    from (this test process, which has just written 840 MB of mail)."""
    log = config.parent / "run.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "maild", "--log-level", "ERROR", "--config", str(config), "run",
                                 "--once"], stdout=subprocess.DEVNULL, stderr=err)
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            hwm = [int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        except (FileNotFoundError, ProcessLookupError):
            break  # it has just exited
        peak = max([peak, *hwm])
        time.sleep(0.02)
    proc.wait()
    return proc.returncode, peak / 1024, log.read_text(errors="replace")


@pytest.mark.slow
def test_peak_memory_is_bounded_whatever_arrives(tmp_path: Path) -> None:
    # Attachments of 24 MB are extracted (the limit raised for it): the costliest case.
    config = desk(tmp_path, f"sqlite:///{tmp_path}/maild.db", max_attachment_bytes=30 * 1024 * 1024)
    new = tmp_path / "Maildir" / "new"
    for i in range(30):
        (new / f"{i:04d}.besar").write_bytes(big_mail(i, 24 * 1024 * 1024))
    for i in (100, 101):  # over the 25 MB limit: never read into memory at all
        (new / f"{i:04d}.terlalu-besar").write_bytes(big_mail(i, 60 * 1024 * 1024))
    code, peak, err = peak_rss_mb(config)
    assert code == 0 and "Traceback" not in err, err
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    daemon, _ = start(config)
    try:
        rows = ledger(daemon)
        assert sorted(r.disposition or "" for r in rows) == ["new_ticket"] * 30 + ["oversized"] * 2
        oversized = [r for r in rows if r.disposition == "oversized"]
        assert all(r.size > 60 * 1024 * 1024 and len(r.raw) < 4096 for r in oversized)  # header block only
        quarantine = sorted((tmp_path / "Maildir" / ".Quarantine" / "new").iterdir())
        assert [p.stat().st_size for p in quarantine] == [r.size for r in oversized]  # moved there whole
    finally:
        daemon.close()


def test_a_batch_is_bounded_by_bytes_and_takes_an_oversized_message_by_its_head(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "Maildir")
    for i in range(5):
        deliver(tmp_path / "Maildir", mail(mid=f"<m{i}@cv.id>", body="x" * 100_000))
    first = box.fetch_new(200, max_bytes=250_000, head_only_over=1_000_000)
    assert len(first) == 2 and all(m.complete for m in first)
    assert len(box.fetch_new(200)) == 5  # no bound: all of them (the twin: as before)
    huge = deliver(tmp_path / "Maildir", mail(mid="<huge@cv.id>", body="y" * 3_000_000))
    [head] = [m for m in box.fetch_new(200, max_bytes=10**9, head_only_over=1_000_000) if m.ref == str(huge)]
    assert not head.complete and head.total_size == huge.stat().st_size
    assert head.raw.startswith(b"From: Budi") and b"yyy" not in head.raw


def test_imap_asks_sizes_first_and_fetches_an_oversized_message_by_its_head(
        tmp_path: Path, imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    sections = imap_sections(imap_account, f"sqlite:///{tmp_path}/maild.db", smtp_sink.port)
    sections["limits"] = {"batch_bytes": 250_000, "max_message_bytes": 300_000}
    daemon, _ = start(write_config(tmp_path, sections))
    try:
        normal = [mail(mid=f"<imap{i}@cv.id>", body="x" * 100_000) for i in range(3)]
        huge = mail(mid="<imap-besar@cv.id>", subject="Dokumen besar", body="y" * 400_000)
        append(imap_account, *normal, huge)
        first = daemon.mailbox.fetch_new(200, max_bytes=250_000, head_only_over=300_000)
        assert [m.complete for m in first] == [True, True]  # the third would pass 250 KB
        assert daemon.run_once()
        rows = ledger(daemon)
        assert sorted(r.disposition or "" for r in rows) == ["new_ticket"] * 3 + ["oversized"]
        [big] = [r for r in rows if r.disposition == "oversized"]
        assert b"Dokumen besar" in big.raw and b"yyyy" not in big.raw and big.size >= len(huge)
        assert folder_count(imap_account, "Quarantine") == 1 and folder_count(imap_account, "Processed") == 3
        assert folder_count(imap_account, "INBOX") == 0
    finally:
        daemon.close()


# -- item 5: regular files only -------------------------------------------------------------

def test_symlinks_and_fifos_in_the_maildir_are_not_read(tmp_path: Path, db_url: str) -> None:
    config = desk(tmp_path, db_url)
    secret = tmp_path / "rahasia.txt"
    secret.write_bytes(mail(subject="RAHASIA", body="password=RAHASIA-123", mid="<rahasia@cv.id>"))
    maildir = tmp_path / "Maildir"
    links = [maildir / "new" / "1.link", maildir / "cur" / "2.link:2,", maildir / "new" / "3.dangling"]
    links[0].symlink_to(secret)
    links[1].symlink_to(secret)
    links[2].symlink_to(tmp_path / "tidak-ada")
    fifo = maildir / "new" / "4.fifo"
    os.mkfifo(fifo)
    (maildir / "new" / "5.dir").mkdir()
    twin = report(subject="Laporan sah di samping tautan")
    deliver(maildir, twin.raw)
    proc = run_cli(config, "run", "--once")  # a FIFO opened for reading would hang here (timeout)
    assert "symlink" in proc.stderr and "FIFO" in proc.stderr
    daemon, _ = start(config)
    try:
        [row] = ledger(daemon)
        assert row.message_id == twin.message_id and row.disposition == "new_ticket"
        assert all(b"RAHASIA" not in m.raw for m in outbox(daemon))
        sent = b"".join(p.read_bytes() for p in (tmp_path / "sent").rglob("*") if p.is_file())
        assert b"RAHASIA" not in sent and b"UkFIQVNJQS0xMjM" not in sent
        assert all(p.is_symlink() for p in links) and fifo.exists() and (maildir / "new" / "5.dir").is_dir()
    finally:
        daemon.close()


def test_a_file_swapped_for_a_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "rahasia"
    secret.write_bytes(b"RAHASIA")
    link = tmp_path / "pesan"
    link.symlink_to(secret)
    assert read_regular_file(str(link)) is None  # O_NOFOLLOW, whatever the listing said
    fifo = tmp_path / "pipa"
    os.mkfifo(fifo)
    assert read_regular_file(str(fifo)) is None  # opened non-blocking, refused by fstat
    assert read_regular_file(str(secret)) == (b"RAHASIA", 7, True)  # the twin: a regular file
