"""Importing an old helpdesk mailbox (mbox, Maildir): threads rebuilt, nothing mailed, idempotent."""

from __future__ import annotations

import mailbox
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from harness import count, ledger, outbox, report, start, tickets, write_config
from maild.base.clock import FrozenClock
from maild.app.daemon import Daemon
from maild.app.importer import ImportResult, import_messages
from maild.transport.maildir import deliver
from maild.store.models import Event, InboundMessage, OutgoingMail, Ticket, TimerFiring

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 9, 1, 8, 15, tzinfo=WITA)  # the old mailbox: September and October 2026

REPORTS = [  # (sender, name, subject, body)
    ("budi@cv-maju.co.id", "Budi Santoso", "Tidak bisa login ke aplikasi SPSE",
     "Selamat pagi,\n\nSaya tidak bisa login ke SPSE sejak kemarin, muncul pesan password salah.\n\nBudi"),
    ("sari@pt-jaya.co.id", "Sari Wulandari", "Verifikasi akun penyedia belum selesai",
     "Yth. Helpdesk,\n\nSudah seminggu verifikasi akun kami belum selesai. Mohon dicek.\n\nSari"),
    ("andi@cv-sinar.co.id", "Andi Pratama", "Dokumen penawaran gagal diunggah",
     "Siang,\n\nSaat mengunggah dokumen penawaran paket jalan desa, upload selalu gagal di 90%.\n\nAndi"),
    ("rina@pokja3.tanatidungkab.go.id", "Rina Pokja 3", "Jadwal tender tidak bisa diubah",
     "Mohon bantuan, jadwal tahapan tender paket gedung tidak bisa diubah oleh pokja.\n\nRina"),
    ("joko@ud-berkah.co.id", "Joko", "Lupa password akun SPSE",
     "Saya lupa password akun SPSE perusahaan kami. Bagaimana cara reset password?\n\nJoko"),
    ("dewi@cv-amanah.co.id", "Dewi Lestari", "Sertifikat elektronik kedaluwarsa",
     "Sertifikat elektronik kami kedaluwarsa, bagaimana cara perpanjangnya?\n\nDewi"),
    ("hendra@pt-karya.co.id", "Hendra", "Tidak menerima email aktivasi",
     "Sudah daftar tetapi email aktivasi tidak pernah masuk, sudah cek folder spam.\n\nHendra"),
    ("maya@cv-mitra.co.id", "Maya", "Produk e-katalog tidak tampil",
     "Produk kami di e-katalog lokal tidak tampil setelah diperbarui.\n\nMaya"),
    ("agus@ppk.tanatidungkab.go.id", "Agus PPK", "Akun PPK terkunci",
     "Akun PPK saya terkunci setelah salah memasukkan password tiga kali.\n\nAgus"),
    ("lina@cv-cahaya.co.id", "Lina", "Pertanyaan persyaratan kualifikasi",
     "Apakah SBU wajib diunggah untuk paket pengadaan langsung?\n\nLina"),
    ("tono@cv-tunas.co.id", "Tono", "Server SPSE lambat sekali",
     "Sejak pagi server SPSE sangat lambat dan sering timeout.\n\nTono"),
]
NO_MESSAGE_ID = 6  # this report has no Message-ID (the key is then the SHA-256 of the bytes)
WITH_CC = 2  # this report has a colleague in Cc, who later answers with reply-all
COLLEAGUE = "rudi@cv-sinar.co.id"


@dataclass
class Old:
    raw: bytes
    when: datetime
    kind: str  # "report", "reply", "spam", "bulk"
    report: int | None  # the report it belongs to
    message_id: str | None


def with_date(raw: bytes, when: datetime) -> bytes:
    return re.sub(rb"(?m)^Date: .*$", f"Date: {format_datetime(when)}".encode(), raw, count=1)


def without_message_id(raw: bytes) -> bytes:
    return re.sub(rb"(?m)^Message-ID: .*\r?\n", b"", raw, count=1)


def old_mailbox() -> list[Old]:
    """30 messages: 11 reports, 17 replies (by references, by reply to a reply, by reply-all,
    by the subject token), a spam and a newsletter, in a mixed-up order."""
    out: list[Old] = []
    report_ids: list[str | None] = []
    for i, (sender, name, subject, body) in enumerate(REPORTS):
        when = START + timedelta(days=3 * i, hours=i % 4)
        r = report(sender=sender, name=name, subject=subject, body=body, cc=COLLEAGUE if i == WITH_CC else None)
        raw = with_date(r.raw, when)
        mid: str | None = r.message_id
        if i == NO_MESSAGE_ID:
            raw, mid = without_message_id(raw), None
        out.append(Old(raw, when, "report", i, mid))
        report_ids.append(mid)

    def reply(i: int, after: timedelta, body: str, parent: str | None, sender: str | None = None,
              subject: str | None = None) -> Old:
        s, name, subj, _ = REPORTS[i]
        r = report(sender=sender or s, name=name, subject=subject or f"Re: {subj}", body=body,
                   in_reply_to=parent, references=[p for p in (report_ids[i], parent) if p] if parent else None)
        when = out[i].when + after
        return Old(with_date(r.raw, when), when, "reply", i, r.message_id)

    first = [reply(i, timedelta(hours=5), "Mohon kabar tindak lanjutnya, terima kasih.", report_ids[i])
             for i in (0, 1, 2, 3, 4, 5, 7, 8)]
    out += first
    # Replies to a reply (their In-Reply-To names a reply, not the report).
    out += [reply(f.report, timedelta(days=1, hours=2), "Masih belum bisa, sudah saya coba lagi pagi ini.",
                  f.message_id) for f in first[:3] if f.report is not None]
    out.append(reply(WITH_CC, timedelta(hours=7), "Saya rekan Pak Andi, masalah yang sama terjadi di komputer saya.",
                     report_ids[WITH_CC], sender=COLLEAGUE))
    # By the subject token only: the reporter quotes the ticket number from the old helpdesk's
    # answer (tickets are numbered in date order: report i is 26-000{i+1}).
    for i in (6, 9):
        number = f"26-{i + 1:04d}"
        out.append(reply(i, timedelta(days=2), "Baik, sudah saya coba dan berhasil. Terima kasih.", None,
                         subject=f"Re: [LPSE #{number}] Tanggapan: {REPORTS[i][2]}"))
    out += [reply(i, timedelta(days=4), "Bagaimana perkembangannya? Apakah ada info terbaru?", report_ids[i])
            for i in (10, 0, 3)]
    spam = report(sender="promo@murah-meriah.biz", name="Promo", subject="Dapatkan pinjaman cepat tanpa agunan",
                  body="Pinjaman cepat cair dalam 1 jam!", headers={"X-Spam-Flag": "YES"})
    when = START + timedelta(days=10)
    out.append(Old(with_date(spam.raw, when), when, "spam", None, spam.message_id))
    news = report(sender="buletin@lkpp.example", name="Buletin", subject="Buletin pengadaan edisi Oktober",
                  body="Berita pengadaan bulan ini.", headers={"Precedence": "bulk", "List-Id": "<buletin.lkpp.example>"})
    when = START + timedelta(days=20)
    out.append(Old(with_date(news.raw, when), when, "bulk", None, news.message_id))
    assert len(out) == 30
    random.Random(20261102).shuffle(out)
    # The file order really is mixed: some replies stand before the reports they answer.
    position = {id(o): n for n, o in enumerate(out)}
    reports = {o.report: o for o in out if o.kind == "report"}
    assert any(position[id(o)] < position[id(reports[o.report])] for o in out if o.kind == "reply")
    return out


def write_mbox(path: Path, old: list[Old]) -> Path:
    box = mailbox.mbox(path)
    for o in old:
        box.add(o.raw)
    box.close()
    return path


def write_maildir(path: Path, old: list[Old]) -> Path:
    box = mailbox.Maildir(path)
    for o in old:
        box.add(o.raw)
    box.close()
    return path


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Daemon:
    db_url = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else f"sqlite:///{tmp_path}/maild.db"
    config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": "maildir:live"},
                                     "smtp": {"url": "maildir:sent"}}, staff=True)
    d, _ = start(config, FrozenClock())  # 2 November 2026: after the old mail
    yield d
    d.close()


def ticket_of(d: Daemon) -> dict[str | None, int | None]:
    """Message-ID (or the sender and subject, for the one without) -> ticket id, from the ledger."""
    return {row.message_id: row.ticket_id for row in ledger(d)}


def check_imported(d: Daemon, old: list[Old], result: ImportResult) -> None:
    reports = sorted((o for o in old if o.kind == "report"), key=lambda o: o.when)
    assert (result.found, result.imported, result.skipped, result.failed) == (30, 30, 0, 0), result.errors
    assert result.tickets == len(REPORTS) == 11
    assert result.dispositions == {"bulk": 1, "follow_up": 17, "new_ticket": 11, "spam": 1}

    made = tickets(d)
    assert len(made) == len(REPORTS)
    # Numbered, dated and sorted as the reports came in, not as the file held them.
    assert [t.number for t in made] == [f"26-{n:04d}" for n in range(1, 12)]
    assert [t.subject for t in made] == [REPORTS[o.report][2] for o in reports if o.report is not None]
    assert [t.created_at for t in made] == [o.when for o in reports]
    assert {t.channel for t in made} == {"import"}

    # Every reply is on the ticket of the report it answers.
    by_report = {o.report: made[n].id for n, o in enumerate(reports)}
    rows = {row.message_id: row for row in ledger(d)}
    for o in old:
        if o.kind == "reply":
            row = rows[o.message_id]
            assert (row.disposition, row.ticket_id) == ("follow_up", by_report[o.report]), (row.reason, o.raw[:300])
            assert row.received_at == o.when
        if o.kind in ("spam", "bulk"):
            assert (rows[o.message_id].disposition, rows[o.message_id].ticket_id) == (o.kind, None)
    assert all(row.source.startswith("import:") and row.state == "done" for row in ledger(d))

    # Nothing mailed: no acknowledgement, no staff notification; each report says why.
    assert count(d, OutgoingMail) == 0
    with d.factory() as s:
        suppressed = s.scalars(select(Event.detail).where(Event.event == "ack_suppressed")).all()
    assert len(suppressed) == 11 and all("imported" in e["why"] for e in suppressed)


def totals(d: Daemon) -> tuple[int, ...]:
    return tuple(count(d, m) for m in (Ticket, InboundMessage, Event, OutgoingMail, TimerFiring))


def test_mbox_import_rebuilds_threads_quietly_and_once(tmp_path: Path, db_url: str, daemon: Daemon) -> None:
    old = old_mailbox()
    path = write_mbox(tmp_path / "helpdesk-lama.mbox", old)
    calls: list[tuple[int, int]] = []

    result = import_messages(daemon, path, lambda done, total: calls.append((done, total)))

    check_imported(daemon, old, result)
    assert calls == [(n, 30) for n in range(31)]
    before = totals(daemon)

    again = import_messages(daemon, str(path))
    assert (again.found, again.imported, again.skipped, again.tickets) == (30, 0, 30, 0)
    assert totals(daemon) == before

    # Weeks later the SLA clock leaves the old tickets alone: nothing fires, nothing is mailed.
    assert isinstance(daemon.clock, FrozenClock)
    daemon.clock.advance(days=40)
    assert daemon.timers.run_once(force=True) == 0
    assert daemon.run_once()
    assert count(daemon, OutgoingMail) == 0 and count(daemon, TimerFiring) == 0


def test_live_mail_after_the_import_is_handled_as_usual(tmp_path: Path, daemon: Daemon) -> None:
    old = old_mailbox()
    import_messages(daemon, write_mbox(tmp_path / "lama.mbox", old))
    budi = next(o for o in old if o.kind == "report" and o.report == 0)
    live = report(subject="Re: Tidak bisa login ke aplikasi SPSE", body="Sampai hari ini masih belum bisa login.",
                  in_reply_to=budi.message_id)
    deliver(Path(daemon.settings.mailbox.url[8:]), live.raw)

    assert daemon.run_once()

    row = next(r for r in ledger(daemon) if r.message_id == live.message_id)
    assert (row.disposition, row.ticket_id) == ("follow_up", tickets(daemon)[0].id)
    # The staff are told about the reporter's new message: only the import is quiet.
    assert [(o.recipient, o.state) for o in outbox(daemon)] == [("petugas@lpse.example", "sent")]


def test_import_leaves_waiting_live_mail_alone(tmp_path: Path, daemon: Daemon) -> None:
    live = report(sender="nina@cv-baru.co.id", name="Nina", subject="Tidak bisa daftar akun baru")
    deliver(Path(daemon.settings.mailbox.url[8:]), live.raw)
    assert daemon.ingest.run_once() == 1  # stored, waiting for the pipeline

    import_messages(daemon, write_mbox(tmp_path / "lama.mbox", old_mailbox()))

    [waiting] = [r for r in ledger(daemon) if r.message_id == live.message_id]
    assert waiting.state == "new" and waiting.ticket_id is None
    assert daemon.run_once()
    assert [o.recipient for o in outbox(daemon) if o.template == "ack"] == ["nina@cv-baru.co.id"]


def test_maildir_import_without_its_subfolders(tmp_path: Path, daemon: Daemon) -> None:
    old = old_mailbox()
    root = write_maildir(tmp_path / "OldMaildir", old)
    trash = mailbox.Maildir(root).add_folder("Trash")  # Maildir++ .Trash: not brought in by default
    junk = report(sender="promo@murah-meriah.biz", subject="Promo akhir tahun", body="Diskon besar!")
    trash.add(with_date(junk.raw, START))

    result = import_messages(daemon, root)

    check_imported(daemon, old, result)
    assert junk.message_id not in ticket_of(daemon)
    again = import_messages(daemon, [root])
    assert (again.imported, again.skipped) == (0, 30)

    # A subfolder is brought in when named.
    more = import_messages(daemon, root / ".Trash")
    assert (more.found, more.imported, more.tickets) == (1, 1, 1)
    assert count(daemon, OutgoingMail) == 0


def test_a_failing_message_is_reported_and_retried_by_the_next_import(tmp_path: Path, daemon: Daemon) -> None:
    old = old_mailbox()
    bad = report(sender="eko@cv-eko.co.id", name="Eko", subject="Laporan rusak", body="MELEDAK")
    path = write_mbox(tmp_path / "lama.mbox", [*old, Old(with_date(bad.raw, START), START, "report", None, None)])
    original = daemon.pipeline.process

    def explode(session, row, now, quiet=False):  # type: ignore[no-untyped-def]
        if b"MELEDAK" in row.raw:
            raise RuntimeError("simulated bug")
        return original(session, row, now, quiet)

    daemon.pipeline.process = explode  # type: ignore[method-assign]  # a seam: one message's step
    result = import_messages(daemon, path)
    assert (result.found, result.imported, result.failed) == (31, 30, 1)
    assert result.errors == (f"{path}#31: RuntimeError: simulated bug",)
    assert bad.message_id not in ticket_of(daemon)  # nothing half-recorded

    daemon.pipeline.process = original  # type: ignore[method-assign]
    again = import_messages(daemon, path)
    assert (again.imported, again.skipped, again.tickets) == (1, 30, 1)
    assert count(daemon, OutgoingMail) == 0


def test_not_a_mailbox(tmp_path: Path, daemon: Daemon) -> None:
    from maild.base.errors import MaildError

    (tmp_path / "kosong").mkdir()
    with pytest.raises(MaildError, match="not a Maildir"):
        import_messages(daemon, tmp_path / "kosong")
