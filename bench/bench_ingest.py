"""Ingest benchmark: maild end to end against a straight-line floor, on real servers.

What it measures, in one run (all servers private, on 127.0.0.1, in a temp dir):

* A private Dovecot (``tests/servers.py``) and an aiosmtpd SMTP sink are started.
* N realistic helpdesk messages are generated deterministically (fixed seed): Indonesian
  reports (supplier registration, lupa password, upload dokumen penawaran gagal, SPSE tidak
  bisa diakses, sertifikat elektronik, e-katalog ...) from ~500 reporters, each with an HTML
  alternative, RFC 2047 encoded subjects, 10 % with a ~200 KB PDF-like attachment and 20 %
  replies (In-Reply-To/References to an earlier report of the same sender, "Re: " subject).
  They are APPENDed to two fresh accounts (timed, but not part of the figures).
* (a) **floor**: a minimal straight-line script, run as its own Python process (so it does
  not share the GIL with the in-process SMTP sink): FETCH ``BODY.PEEK[]`` 200 at a time with
  imapclient (debug output off), parse with ``BytesParser(policy=policy.default)``, one SQLite
  row per message (WAL, ``synchronous=FULL``, one commit per batch), one acknowledgement per
  message over one persistent aiosmtplib connection, one MOVE per batch. msg/s = N / wall
  time of the whole process.
* (b) **maild**: a fresh SQLite database (schema upgraded beforehand), then
  ``python -m maild --config CFG run --once`` timed as a whole process until it exits.
  msg/s = N / wall time. Checked afterwards: exit code 0, one acknowledgement per new report
  (replies get none) to the right recipients, INBOX empty, every message in Processed and
  done in the ledger. The process's peak RSS is its VmHWM from /proc, sampled every 5 ms
  (``ru_maxrss`` would include the RSS of this process, which it is forked from).
* (c) **latency**: ``maild --config CFG run`` (long-running, IMAP IDLE) on a fresh account
  and database; once it idles, one new report is APPENDed every 0.3 s (open loop, a fixed
  schedule that does not wait for the previous acknowledgement); the time from the start of
  the APPEND until its acknowledgement (matched by In-Reply-To) is in the sink, polled every
  5 ms. Median and p95 (nearest rank). Then SIGTERM; the exit code must be 0.
* (d) peak RSS of the maild processes of (b) and (c).
* Rounds: floor, maild and maild on PostgreSQL (a fresh schema on 127.0.0.1:5432, the same
  checks; ``--no-postgresql`` leaves it out) run ``--rounds`` times on fresh mailboxes, the
  order rotated every round, each phase printed with the 1-minute load average at its end;
  the ratios are the medians of the per-round ratios to the floor.
* (e) the peer-shaped workload (the nearest Python peer's own, issue 14): 1,000 new reports
  and 200 replies threaded by In-Reply-To only (no References, no ticket token in the
  subject), built by the same generator, in ``--peer-rounds`` rounds of the same phases.

The last line printed is the summary::

    maild R msg/s, floor F msg/s, ratio R/F, ack latency p50 A s p95 B s, peak RSS M MB

where M is the larger peak RSS of (b) and (c). Exit code 1 when a correctness check failed.

Usage::

    .venv/bin/python bench/bench_ingest.py [--messages 2000] [--latency-samples 50] [--rounds 3]
                                           [--peer-rounds 3] [--no-postgresql]
    .venv/bin/python bench/bench_ingest.py --messages 500 --profile /tmp/maild.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servers import Dovecot, ImapAccount, SmtpSink

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
HELPDESK = "helpdesk@lpse.example"  # the address harness.write_config configures
SEED = 20261128
BATCH = 200
LATENCY_SPACING = 0.3
LATENCY_POLL = 0.005
LATENCY_TIMEOUT = 15.0
IDLE_SETTLE = 2.0
# The nearest Python peer's own workload (issue 14): new reports, and replies that thread by
# In-Reply-To alone.
PEER_REPORTS = 1000
PEER_REPLIES = 200
WIB = timezone(timedelta(hours=8))  # WITA, the helpdesk's zone

# --------------------------------------------------------------------------- the corpus

FIRST_NAMES = (
    "Budi", "Siti", "Agus", "Dewi", "Rudi", "Sri", "Andi", "Rina", "Hendra", "Yuliana", "Dedi",
    "Nur", "Eko", "Fitri", "Bambang", "Ratna", "Joko", "Wulan", "Arief", "Maya", "Irwan",
    "Lestari", "Fajar", "Indah", "Rahmat", "Putri", "Teguh", "Ayu", "Yusuf", "Mega", "René",
    "Hérlina", "Samsul", "Novi", "Gregorius", "Yohana", "Syahrul", "Kartika", "Imam", "Desi",
)
LAST_NAMES = (
    "Santoso", "Wijaya", "Saputra", "Hidayat", "Kurniawan", "Setiawan", "Pratama", "Siregar",
    "Nasution", "Lubis", "Simanjuntak", "Hutapea", "Rahman", "Suryadi", "Gunawan", "Halim",
    "Tanjung", "Wibowo", "Purnomo", "Sembiring", "Lumban Gaol", "Manurung", "Pangaribuan",
    "Sitompul", "Effendi", "Mahmud", "Ramadhan", "Susanto", "Irawan", "Panjaitan",
)
COMPANY_KINDS = ("CV", "PT", "CV", "PT", "UD", "Koperasi")
COMPANY_WORDS = (
    "Maju Jaya", "Karya Mandiri", "Borneo Sejahtera", "Tidung Makmur", "Sinar Kaltara",
    "Mébel Nusantara", "Café Sesayap", "Bumi Konstruksi", "Prima Utama", "Anugerah Teknik",
    "Sumber Rezeki", "Cahaya Abadi", "Mitra Sentosa", "Rimba Raya", "Delta Kayan",
    "Putra Malinau", "Tana Lestari", "Harapan Baru", "Intan Permata", "Nusa Indah Médika",
)
FREEMAIL = ("gmail.com", "yahoo.co.id", "yahoo.com", "outlook.com")
BROWSERS = ("Google Chrome 131", "Mozilla Firefox 133", "Microsoft Edge 131", "Chrome di Android 14")
PAKET = (
    "Pembangunan Jalan Desa Sesayap Hilir", "Pengadaan Laptop Dinas Pendidikan",
    "Rehabilitasi Gedung Puskesmas Tideng Pale", "Pengadaan Obat dan Bahan Medis Habis Pakai",
    "Jasa Konsultansi Pengawasan Jembatan Sebidai", "Pengadaan Alat Tulis Kantor Setda",
    "Pemeliharaan Jaringan Irigasi Betayau", "Pengadaan Kendaraan Operasional Camat",
)


@dataclass(frozen=True)
class Reporter:
    name: str
    address: str
    company: str
    phone: str


@dataclass(frozen=True)
class Topic:
    subject: str
    paragraphs: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "Registrasi penyedia belum diverifikasi – {company}",
        (
            "Kami dari {company} sudah melakukan pendaftaran akun penyedia (supplier) di SPSE "
            "sejak {day}, dan sudah menyerahkan dokumen asli ke kantor LPSE untuk verifikasi.",
            "Sampai hari ini status akun kami masih \"menunggu verifikasi\" sehingga kami belum "
            "bisa mengikuti tender {paket}. Mohon dibantu pengecekannya.",
        ),
    ),
    Topic(
        "Lupa password akun SPSE – mohon reset ({company})",
        (
            "Saya lupa password akun SPSE {company}. Tautan \"lupa password\" sudah saya coba "
            "tiga kali sejak {day}, tetapi email reset tidak pernah masuk (sudah cek folder spam).",
            "User ID kami: {userid}. Mohon bantuan reset password agar kami bisa mengunggah "
            "dokumen penawaran sebelum batas waktu.",
        ),
    ),
    Topic(
        "Upload dokumen penawaran gagal – paket {paket}",
        (
            "Pada saat mengunggah dokumen penawaran untuk paket {paket} (kode tender {kode}), "
            "proses upload berhenti di 99% lalu muncul pesan \"Gagal mengirim penawaran\".",
            "File yang kami unggah berukuran {size} MB dan sudah dienkripsi dengan Apendo. "
            "Kami menggunakan {browser}. Batas akhir pemasukan penawaran adalah besok pukul 10.00 WITA, "
            "mohon segera dibantu.",
        ),
    ),
    Topic(
        "SPSE tidak bisa diakses – error 503 sejak pagi",
        (
            "Sejak pagi tadi (±{hour}.00 WITA) halaman SPSE LPSE Kabupaten Tana Tidung tidak bisa "
            "diakses. Yang muncul hanya \"503 Service Unavailable\".",
            "Kami sudah mencoba dari dua jaringan berbeda (IndiHome dan Telkomsel) dengan {browser}, "
            "hasilnya sama. Apakah sedang ada pemeliharaan server?",
        ),
    ),
    Topic(
        "Sertifikat elektronik kedaluwarsa – permohonan perpanjangan",
        (
            "Sertifikat elektronik (sertel) atas nama {name} dari {company} sudah kedaluwarsa "
            "sejak {day}, sehingga kami tidak bisa login dengan OTP maupun mengirim penawaran.",
            "Mohon informasi persyaratan dan prosedur perpanjangan sertifikat elektronik, serta "
            "apakah bisa dilakukan secara daring tanpa datang ke kantor LPSE.",
        ),
    ),
    Topic(
        "E-katalog: produk tidak tampil setelah diunggah – {company}",
        (
            "Kami sudah mengunggah {count} produk ke e-katalog lokal Kabupaten Tana Tidung, "
            "tetapi produk tersebut tidak tampil di pencarian meskipun statusnya sudah \"tayang\".",
            "Mohon dicek apakah ada tahapan persetujuan yang belum kami lengkapi. Nomor etalase: {kode}.",
        ),
    ),
    Topic(
        "Tidak bisa login ke SPSE – \"user ID atau password salah\"",
        (
            "Setiap kali login ke SPSE muncul pesan \"User ID atau password salah\", padahal "
            "password sudah kami ganti kemarin dan berhasil login sekali.",
            "Kami menggunakan {browser}, cache sudah dibersihkan. User ID: {userid}.",
        ),
    ),
    Topic(
        "Jadwal tender {paket} berubah – mohon konfirmasi",
        (
            "Di halaman paket {paket} (kode {kode}) jadwal pemasukan penawaran tiba-tiba berubah "
            "tanpa ada pengumuman adendum. Kami khawatir salah jadwal.",
            "Mohon konfirmasi jadwal yang berlaku dan apakah ada perubahan dokumen pemilihan.",
        ),
    ),
)

REPLY_TEXTS = (
    "Mohon maaf, kami ingin menambahkan informasi: masalah ini masih terjadi sampai sekarang. "
    "Terlampir tangkapan layar pesan kesalahannya.",
    "Apakah sudah ada perkembangan atas laporan kami di bawah? Batas waktu tender semakin dekat.",
    "Tambahan: kami sudah mencoba dengan browser lain dan hasilnya tetap sama.",
    "Terima kasih atas responsnya. Namun setelah dicoba kembali, kendalanya belum teratasi.",
)


@dataclass(frozen=True)
class Generated:
    """One generated message."""

    raw: bytes
    message_id: str
    sender: str
    subject: str
    is_reply: bool
    has_attachment: bool


def _ascii_local(name: str) -> str:
    table = str.maketrans("éÉèê", "eEee")
    return re.sub(r"[^a-z0-9]+", ".", name.translate(table).lower()).strip(".")


def make_reporters(rng: random.Random, count: int) -> list[Reporter]:
    """``count`` distinct reporters with Indonesian names and company or freemail addresses."""
    reporters: list[Reporter] = []
    seen: set[str] = set()
    while len(reporters) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        company = f"{rng.choice(COMPANY_KINDS)} {rng.choice(COMPANY_WORDS)}"
        if rng.random() < 0.45:
            domain = rng.choice(FREEMAIL)
            local = f"{_ascii_local(name)}{rng.randint(1, 999)}"
        else:
            domain = _ascii_local(company).replace(".", "-") + rng.choice((".co.id", ".com", ".id"))
            local = rng.choice((_ascii_local(name.split()[0]), "admin", "tender", "marketing", "info"))
            local += str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
        address = f"{local}@{domain}"
        if address in seen:
            continue
        seen.add(address)
        reporters.append(Reporter(name, address, company, f"08{rng.randint(11, 59)}{rng.randint(10**7, 10**8 - 1)}"))
    return reporters


def _fill(template: str, rng: random.Random, r: Reporter) -> str:
    return template.format(
        company=r.company,
        name=r.name,
        paket=rng.choice(PAKET),
        kode=rng.randint(10_000_000, 99_999_999),
        day=f"{rng.randint(1, 27)} November 2026",
        userid=_ascii_local(r.company).replace(".", "")[:16] + str(rng.randint(1, 99)),
        size=rng.randint(3, 48),
        browser=rng.choice(BROWSERS),
        hour=rng.randint(6, 10),
        count=rng.randint(3, 40),
    )


def _html(paragraphs: list[str], quoted: str | None = None) -> str:
    body = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if quoted is not None:
        body += f'\n<blockquote style="border-left:2px solid #ccc;padding-left:8px">{html.escape(quoted).replace(chr(10), "<br>")}</blockquote>'
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        f'<body><div style="font-family:Arial,sans-serif;font-size:14px">{body}</div></body></html>'
    )


def _message(
    rng: random.Random,
    r: Reporter,
    subject: str,
    paragraphs: list[str],
    when: datetime,
    message_id: str,
    attachment: bytes | None,
    in_reply_to: str | None = None,
    quoted: str | None = None,
    references: bool = True,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{r.name} <{r.address}>"
    msg["To"] = f"Helpdesk LPSE <{HELPDESK}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to is not None:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        if references:
            msg["References"] = f"<{in_reply_to}>"
    msg["MIME-Version"] = "1.0"
    msg["X-Mailer"] = rng.choice(("Microsoft Outlook 16.0", "Thunderbird 128.5", "Gmail", "iPhone Mail (21F90)"))
    text = "\n\n".join(paragraphs)
    if quoted is not None:
        text += "\n\n" + quoted
    msg.set_content(text)
    msg.add_alternative(_html(paragraphs, quoted), subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename=rng.choice(("bukti-error.pdf", "surat-permohonan.pdf", "dokumen_penawaran.pdf")))
    for part in msg.walk():  # the email lib picks random boundaries: make them part of the seed
        if part.is_multipart():
            part.set_boundary(f"==maild-bench-{rng.getrandbits(64):016x}==")
    return msg.as_bytes(policy=policy.SMTP)


def _pdf_like(rng: random.Random, size: int) -> bytes:
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(size - 15) + b"\n%%EOF"


def generate(count: int, seed: int, reporters: list[Reporter] | None = None, replies: bool = True,
             reply_count: int | None = None, references: bool = True) -> list[Generated]:
    """``count`` messages: 20 % replies (``reply_count`` if given, none without ``replies``),
    10 % with a ~200 KB attachment. A reply carries In-Reply-To and, with ``references``,
    References; its subject is ``Re:`` and the report's (never a ticket token)."""
    rng = random.Random(seed)
    reporters = reporters if reporters is not None else make_reporters(rng, 500)
    n_replies = (count // 5 if reply_count is None else reply_count) if replies else 0
    # A reply needs an earlier report: replies are drawn among positions after the first tenth.
    reply_slots = set(rng.sample(range(max(1, count // 10), count), n_replies)) if n_replies else set()
    attach_slots = set(rng.sample(range(count), count // 10))
    start = datetime(2026, 11, 2, 7, 30, tzinfo=WIB)
    out: list[Generated] = []
    originals: list[tuple[Reporter, Generated, str, datetime]] = []
    when = start
    for i in range(count):
        when += timedelta(seconds=rng.randint(60, 240))
        attachment = _pdf_like(rng, rng.randint(190_000, 210_000)) if i in attach_slots else None
        if i in reply_slots and originals:
            r, orig, orig_text, orig_when = rng.choice(originals)
            mid = f"{rng.getrandbits(64):016x}.{i}@{r.address.partition('@')[2]}"
            text = rng.choice(REPLY_TEXTS)
            paragraphs = ["Yth. Helpdesk LPSE,", text, f"Salam,\n{r.name}"]
            quoted = f"Pada {orig_when:%d/%m/%Y %H.%M}, {r.name} <{r.address}> menulis:\n" + "\n".join(
                "> " + line for line in orig_text.splitlines()
            )
            subject = f"Re: {orig.subject}"
            raw = _message(rng, r, subject, paragraphs, when, mid, attachment, orig.message_id, quoted, references)
            out.append(Generated(raw, mid, r.address, subject, True, attachment is not None))
            continue
        r = rng.choice(reporters)
        topic = rng.choice(TOPICS)
        subject = _fill(topic.subject, rng, r)
        greeting = rng.choice(("Selamat pagi Bapak/Ibu Helpdesk LPSE,", "Yth. Admin LPSE Kabupaten Tana Tidung,",
                               "Selamat siang,", "Dengan hormat,"))
        intro = f"Saya {r.name} dari {r.company}."
        body = [_fill(p, rng, r) for p in topic.paragraphs]
        if rng.random() < 0.5:
            body.append(f"Detail teknis: {rng.choice(BROWSERS)}, Windows {rng.choice((10, 11))}, "
                        f"koneksi {rng.choice(('IndiHome', 'Telkomsel', 'XL', 'Starlink'))}.")
        closing = f"Terima kasih atas bantuannya.\n\nHormat kami,\n{r.name}\n{r.company}\nHP {r.phone}"
        paragraphs = [greeting, intro, *body, closing]
        mid = f"{rng.getrandbits(64):016x}.{i}@{r.address.partition('@')[2]}"
        raw = _message(rng, r, subject, paragraphs, when, mid, attachment)
        g = Generated(raw, mid, r.address, subject, False, attachment is not None)
        out.append(g)
        originals.append((r, g, "\n\n".join(paragraphs), when))
    return out


# --------------------------------------------------------------------------- the floor (own process)


def floor_worker(spec_path: str) -> None:
    """The straight-line pipeline; prints one JSON line of stage timings."""
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    asyncio.run(_floor(spec))


async def _floor(spec: dict[str, Any]) -> None:
    import aiosmtplib
    from imapclient import IMAPClient

    t: defaultdict[str, float] = defaultdict(float)
    t0 = time.perf_counter()
    client = IMAPClient(spec["host"], port=spec["port"], ssl=False, timeout=60)
    client._imap.debug = 0  # noqa: SLF001 - imapclient's default debug output costs ~5x on FETCH
    client.login(spec["user"], spec["password"])
    client.select_folder("INBOX")
    if not client.folder_exists("Processed"):
        client.create_folder("Processed")
    db = sqlite3.connect(spec["db"], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, message_id TEXT UNIQUE, sender TEXT, "
        "subject TEXT, body TEXT, raw BLOB, received_at TEXT)"
    )
    smtp = aiosmtplib.SMTP(hostname=spec["smtp_host"], port=spec["smtp_port"], start_tls=False, timeout=60)
    await smtp.connect()
    parser = BytesParser(policy=policy.default)
    t["setup"] = time.perf_counter() - t0
    done = 0
    while True:
        a = time.perf_counter()
        uids = sorted(client.search("ALL"))[: spec["batch"]]
        if not uids:
            break
        data = client.fetch(uids, ["BODY.PEEK[]"])
        b = time.perf_counter()
        rows: list[tuple[str, str, str, str, bytes, str]] = []
        for uid in uids:
            raw = bytes(data[uid][b"BODY[]"])
            msg = parser.parsebytes(raw)
            subject = str(msg["Subject"] or "")
            sender = msg["From"].addresses[0].addr_spec if msg["From"] is not None else ""
            part = msg.get_body(preferencelist=("plain", "html"))
            text = part.get_content() if part is not None else ""
            mid = str(msg["Message-ID"] or "").strip().strip("<>")
            rows.append((mid, sender, subject, text, raw, datetime.now(timezone.utc).isoformat()))
        c = time.perf_counter()
        db.execute("BEGIN")
        for row in rows:
            db.execute(
                "INSERT OR IGNORE INTO messages (message_id, sender, subject, body, raw, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        db.execute("COMMIT")
        d = time.perf_counter()
        for mid, sender, subject, _text, _raw, _at in rows:
            ack = EmailMessage()
            ack["From"] = f"Helpdesk LPSE <{spec['helpdesk']}>"
            ack["To"] = sender
            ack["Subject"] = f"[LPSE] Laporan diterima: {subject}"
            ack["In-Reply-To"] = f"<{mid}>"
            ack["Auto-Submitted"] = "auto-replied"
            ack.set_content("Laporan Anda telah kami terima dan dicatat.\n\nHelpdesk LPSE\n")
            await smtp.send_message(ack)
        e = time.perf_counter()
        client.move(uids, "Processed")
        f = time.perf_counter()
        t["fetch"] += b - a
        t["parse"] += c - b
        t["db"] += d - c
        t["smtp"] += e - d
        t["move"] += f - e
        done += len(uids)
    await smtp.quit()
    client.logout()
    db.close()
    t["total"] = time.perf_counter() - t0
    print(json.dumps({"messages": done, **t}))


# --------------------------------------------------------------------------- orchestration helpers


@dataclass
class ProcResult:
    """How a measured child process ended."""

    returncode: int
    wall: float
    peak_rss_kb: int


@dataclass
class Report:
    """Everything measured; printed at the end."""

    n: int
    gen_seconds: float = 0.0
    append_seconds: float = 0.0
    append_accounts: int = 2
    floor_wall: float = 0.0
    floor_stages: dict[str, float] = field(default_factory=dict)
    maild_wall: float = 0.0
    maild_rss_mb: float = 0.0
    acks: int = 0
    expected_acks: int = 0
    latencies: list[float] = field(default_factory=list)
    latency_rss_mb: float = 0.0
    latency_rc: int | None = None
    failures: list[str] = field(default_factory=list)
    # maild on PostgreSQL (a fresh schema), against the same floor.
    pg_wall: float = 0.0
    pg_rss_mb: float = 0.0
    # One entry per round: each phase's wall time and the 1-minute load average at its end, in
    # the order the phases ran, so load that changes between the phases shows instead of
    # hiding in one ratio.
    rounds: list[Round] = field(default_factory=list)


@dataclass
class Round:
    """One round of a workload: the phases in the order they ran, their wall times and loads."""

    order: tuple[str, ...]
    walls: dict[str, float]
    loads: dict[str, float]

    def ratio(self, phase: str) -> float:
        return self.walls["floor"] / self.walls[phase]


def median_ratio(rounds: list[Round], phase: str) -> float:
    """The median of the per-round ratios phase / floor (msg/s over msg/s)."""
    return statistics.median(r.ratio(phase) for r in rounds)


def vm_hwm_kb(pid: int) -> int:
    """The peak resident set (VmHWM) of a live process in KB; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_child(proc: subprocess.Popen[bytes], started: float, timeout: float | None = None) -> ProcResult:
    """Reap ``proc``, sampling its VmHWM every few ms until it exits.

    Not ``ru_maxrss`` (``os.wait4`` or ``RUSAGE_CHILDREN``): on Linux a child's ru_maxrss
    keeps the high-water mark of the memory it was forked from, i.e. this benchmark
    process with its ~60 MB corpus, and would report the parent's size, not maild's.
    VmHWM is the peak of the process's own (post-exec) address space and only grows, so
    the last sample before exit is the peak, up to a few ms of the exit itself.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    peak = 0
    while True:
        peak = max(peak, vm_hwm_kb(proc.pid))
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"process {proc.pid} did not exit within {timeout}s")
        time.sleep(0.005)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ProcResult(proc.returncode, wall, peak)


def append_all(account: ImapAccount, raws: list[bytes]) -> None:
    client = account.client()
    client._imap.debug = 0  # noqa: SLF001
    try:
        for raw in raws:
            client.append("INBOX", raw)
    finally:
        client.logout()


def folder_count(account: ImapAccount, folder: str) -> int:
    from harness import folder_count as count  # tests/ is on sys.path (see the top of this file)

    return count(account, folder)


def maild_config(directory: Path, account: ImapAccount, sink: SmtpSink, db_url: str | None = None) -> Path:
    """A config for ``account`` and ``sink`` on ``db_url`` (default a fresh SQLite file), schema upgraded."""
    from harness import imap_sections, write_config

    from maild.store.db import make_engine, upgrade

    directory.mkdir(parents=True, exist_ok=True)
    db_url = db_url or sqlite_url(directory)
    config = write_config(directory, imap_sections(account, db_url, sink.port))
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return config


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory}/maild.db"


def ledger_figures(db_url: str) -> tuple[dict[str, int], int]:
    """(the ledger's dispositions of done messages, the number of tickets) in maild's database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            dispositions = {str(k): int(v) for k, v in conn.execute(text(
                "SELECT disposition, count(*) FROM inbound_messages WHERE state = 'done' GROUP BY disposition"))}
            tickets = int(conn.execute(text("SELECT count(*) FROM tickets")).scalar_one())
    finally:
        engine.dispose()
    return dispositions, tickets


def start_maild(config: Path, *args: str, profile: Path | None = None,
                sample: Path | None = None) -> tuple[subprocess.Popen[bytes], float]:
    log = open(config.parent / "maild.log", "ab")  # noqa: SIM115 - the child owns it
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    cmd = [sys.executable, *prefix, "-m", "maild", "--config", str(config), *args]
    if sample:
        # py-spy samples every thread from outside, at little cost; cProfile sees only the
        # main thread and doubles the run time.
        cmd = [py_spy(), "record", "--rate", "200", "--threads", "--format", "raw", "--output", str(sample),
               "--", *cmd]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    return proc, started


def log_tail(config: Path, n: int = 20) -> str:
    try:
        return "\n".join((config.parent / "maild.log").read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return ""


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ack_parent(data: bytes) -> str:
    """The Message-ID an acknowledgement answers (its In-Reply-To), without brackets."""
    value = BytesHeaderParser(policy=policy.compat32).parsebytes(data).get("In-Reply-To") or ""
    return "".join(str(value).split()).strip("<>")


# --------------------------------------------------------------------------- the phases


def run_floor(root: Path, account: ImapAccount, sink: SmtpSink, n: int, rep: Report) -> None:
    spec = {
        "host": account.host, "port": account.port, "user": account.user, "password": account.password,
        "smtp_host": sink.host, "smtp_port": sink.port, "db": str(root / "floor" / "floor.db"),
        "batch": BATCH, "helpdesk": HELPDESK,
    }
    (root / "floor").mkdir()
    spec_path = root / "floor" / "spec.json"
    spec_path.write_text(json.dumps(spec))
    sink.clear()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--floor-worker", str(spec_path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=1800)
    rep.floor_wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"floor worker failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    stages = json.loads(out.decode().strip().splitlines()[-1])
    rep.floor_stages = {k: float(v) for k, v in stages.items()}
    if int(stages["messages"]) != n:
        rep.failures.append(f"floor handled {stages['messages']} messages, expected {n}")
    if len(sink.messages) != n:
        rep.failures.append(f"floor: sink got {len(sink.messages)} acknowledgements, expected {n}")
    sink.clear()


def run_maild_once(
    root: Path, name: str, account: ImapAccount, sink: SmtpSink, corpus: list[Generated], rep: Report | None,
    profile: Path | None = None, db_url: str | None = None, sample: Path | None = None,
) -> ProcResult:
    """``maild run --once`` on ``account`` (its database ``db_url``, default a fresh SQLite
    file), timed; checked and recorded in ``rep`` as the SQLite or, with ``db_url``, the
    PostgreSQL figure."""
    db_url = db_url or sqlite_url(root / name)
    config = maild_config(root / name, account, sink, db_url)
    sink.clear()
    proc, started = start_maild(config, "run", "--once", profile=profile, sample=sample)
    try:
        result = wait_child(proc, started, timeout=3600)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    if rep is None:
        return result
    pg = db_url.startswith("postgresql")
    if pg:
        rep.pg_wall, rep.pg_rss_mb = result.wall, result.peak_rss_kb / 1024
    else:
        rep.maild_wall, rep.maild_rss_mb = result.wall, result.peak_rss_kb / 1024
    who = "maild on postgresql" if pg else "maild"
    failures: list[str] = []
    if result.returncode != 0:
        failures.append(f"maild run --once exited {result.returncode}:\n{log_tail(config)}")
    originals = [g for g in corpus if not g.is_reply]
    got = sink.messages
    if not pg:
        rep.acks, rep.expected_acks = len(got), len(originals)
    if len(got) != len(originals):
        failures.append(f"maild: sink got {len(got)} acknowledgements, expected {len(originals)} (one per new report)")
    want = Counter((g.sender, g.message_id) for g in originals)
    have = Counter((m.rcpt_tos[0] if m.rcpt_tos else "", ack_parent(m.data)) for m in got)
    if want != have:
        failures.append(f"maild: acknowledgements do not match the new reports ({sum((want - have).values())} "
                        f"missing, {sum((have - want).values())} unexpected)")
    inbox, processed = folder_count(account, "INBOX"), folder_count(account, "Processed")
    if inbox != 0 or processed != len(corpus):
        failures.append(f"maild: INBOX has {inbox} (expected 0), Processed {processed} (expected {len(corpus)})")
    dispositions, tickets = ledger_figures(db_url)
    expected = {"new_ticket": len(originals), "follow_up": len(corpus) - len(originals)}
    if {k: v for k, v in dispositions.items() if v} != {k: v for k, v in expected.items() if v}:
        failures.append(f"maild: ledger dispositions {dispositions}, expected {expected}")
    if tickets != len(originals):
        failures.append(f"maild: {tickets} tickets, expected {len(originals)}")
    rep.failures += [f.replace("maild", who, 1) for f in failures]
    sink.clear()
    return result


def run_latency(root: Path, account: ImapAccount, sink: SmtpSink, samples: int, seed: int, rep: Report) -> None:
    config = maild_config(root / "latency", account, sink)
    corpus = generate(samples, seed + 1, replies=False)
    sink.clear()
    proc, started = start_maild(config, "run")
    try:
        deadline = time.monotonic() + 30
        while "maild running" not in log_tail(config, 200):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"maild run did not start:\n{log_tail(config)}")
            time.sleep(0.05)
        time.sleep(IDLE_SETTLE)  # first tick done, the daemon is in IDLE
        client = account.client()
        client._imap.debug = 0  # noqa: SLF001
        sent_at: dict[str, float] = {}
        latency: dict[str, float] = {}
        seen = 0

        def poll() -> None:
            nonlocal seen
            got = sink.messages
            now = time.perf_counter()
            for m in got[seen:]:
                parent = ack_parent(m.data)
                if parent in sent_at and parent not in latency:
                    latency[parent] = now - sent_at[parent]
            seen = len(got)

        t0 = time.perf_counter()
        try:
            for i, g in enumerate(corpus):
                due = t0 + i * LATENCY_SPACING
                while time.perf_counter() < due:
                    poll()
                    time.sleep(min(LATENCY_POLL, max(0.0, due - time.perf_counter())))
                sent_at[g.message_id] = time.perf_counter()
                client.append("INBOX", g.raw)
            end = time.perf_counter() + LATENCY_TIMEOUT
            while len(latency) < len(corpus) and time.perf_counter() < end:
                poll()
                time.sleep(LATENCY_POLL)
        finally:
            client.logout()
        rep.latencies = [latency[g.message_id] for g in corpus if g.message_id in latency]
        if len(rep.latencies) != len(corpus):
            rep.failures.append(f"latency: {len(corpus) - len(rep.latencies)} of {len(corpus)} reports got no "
                                f"acknowledgement within {LATENCY_TIMEOUT}s of the last APPEND")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                result = wait_child(proc, started, timeout=20)
            except TimeoutError:
                proc.kill()
                result = wait_child(proc, started)
                rep.failures.append("latency: maild did not stop within 20 s of SIGTERM (killed)")
            rep.latency_rc = result.returncode
            rep.latency_rss_mb = result.peak_rss_kb / 1024
    if rep.latency_rc != 0:
        rep.failures.append(f"latency: maild exited {rep.latency_rc} after SIGTERM:\n{log_tail(config)}")


PHASE_NAMES = {"floor": "floor", "maild": "maild", "maild-pg": "maild on postgresql"}


def run_rounds(root: Path, tag: str, dovecot: Dovecot, sink: SmtpSink, corpus: list[Generated], rep: Report,
               rounds: int, postgresql: bool) -> None:
    """Floor, maild and (with ``postgresql``) maild on PostgreSQL on ``corpus``, ``rounds``
    times, each round on fresh mailboxes and databases, the order rotated every round: a load
    that comes and goes lands on every side instead of in one ratio."""
    sys.path.insert(0, str(TESTS))
    from servers import pg_schema

    raws = [g.raw for g in corpus]
    phases = ("floor", "maild", *(("maild-pg",) if postgresql else ()))
    for i in range(rounds):
        here = root / f"{tag}{i + 1}"
        here.mkdir()
        accounts = {p: dovecot.add_user(f"{tag}{p.replace('-', '')}{i}") for p in phases}
        t = time.perf_counter()
        for account in accounts.values():
            append_all(account, raws)
        rep.append_seconds, rep.append_accounts = time.perf_counter() - t, len(accounts)
        print(f"{tag} {i + 1}/{rounds}: corpus ready ({rep.append_seconds:.1f} s APPEND)", file=sys.stderr)
        order = phases[i % len(phases):] + phases[:i % len(phases)]
        walls: dict[str, float] = {}
        loads: dict[str, float] = {}
        for phase in order:
            if phase == "floor":
                run_floor(here, accounts[phase], sink, len(corpus), rep)
                walls[phase] = rep.floor_wall
            elif phase == "maild":
                run_maild_once(here, "maild", accounts[phase], sink, corpus, rep)
                walls[phase] = rep.maild_wall
            else:
                with pg_schema() as url:
                    run_maild_once(here, "maild-pg", accounts[phase], sink, corpus, rep, db_url=url)
                walls[phase] = rep.pg_wall
            loads[phase] = os.getloadavg()[0]
        rep.rounds.append(Round(order, walls, loads))
        print(f"{tag} {i + 1}: " + ", ".join(f"{p} {walls[p]:.1f} s" for p in order), file=sys.stderr)


def print_rounds(rep: Report) -> None:
    """Each round's phases in the order they ran, with msg/s and the load at the end of each."""
    for i, r in enumerate(rep.rounds, 1):
        print(f"    round {i}: " + ", ".join(f"{PHASE_NAMES[p]} {rep.n / r.walls[p]:.1f} msg/s (load {r.loads[p]:.2f})"
                                          for p in r.order)
              + "; ratio to the floor: " + ", ".join(f"{PHASE_NAMES[p]} {r.ratio(p):.2f}" for p in PHASE_NAMES
                                                     if p in r.walls and p != "floor"))
    for phase in ("maild", "maild-pg"):
        if rep.rounds and phase in rep.rounds[0].walls:
            print(f"    median of {len(rep.rounds)} per-round ratios, {PHASE_NAMES[phase]} / floor: "
                  f"{median_ratio(rep.rounds, phase):.2f}" + (" (target >= 0.70)" if phase == "maild" else ""))


def print_peer(peer: Report, corpus: list[Generated]) -> None:
    """The peer-shaped workload's lines: medians of the rounds' rates and ratios."""
    replies = sum(g.is_reply for g in corpus)
    print(f"(e) peer-shaped workload: {peer.n - replies} new reports + {replies} replies threaded by In-Reply-To "
          f"only (no References, no ticket token), {sum(g.has_attachment for g in corpus)} with an attachment")
    print_rounds(peer)
    rates = {p: statistics.median(peer.n / r.walls[p] for r in peer.rounds) for p in peer.rounds[0].walls}
    print("    median msg/s: " + ", ".join(f"{PHASE_NAMES[p]} {v:.1f}" for p, v in rates.items())
          + f"; peak RSS maild {peer.maild_rss_mb:.0f} MB"
          + (f", on postgresql {peer.pg_rss_mb:.0f} MB" if "maild-pg" in rates else ""))


def print_profile(path: Path) -> None:
    import pstats

    print(f"\n== profile of maild run --once ({path}) ==")
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(r"/maild/", 20)
    stats.sort_stats("tottime").print_stats(20)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--sample needs py-spy: .venv/bin/pip install py-spy")
    return found


def sample_categories(path: Path) -> tuple[Counter[str], Counter[str]]:
    """Samples per thread, and the main thread's samples by where the time went: the database
    driver, SQLAlchemy around it, the email package, IMAP, Jinja, or maild's own code (by
    module)."""
    threads: Counter[str] = Counter()
    where: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        thread = frames[0].partition(": ")[2] or frames[0]
        threads[thread] += n
        if thread != "MainThread":
            continue
        leaf = frames[-1]
        if "do_execute" in leaf or "do_commit" in leaf:
            where["database driver (SQLite or psycopg)"] += n
        elif any("sqlalchemy/" in f for f in frames):
            where["SQLAlchemy around the statements"] += n
        elif any("email/" in f for f in frames):
            where["email package (parsing)"] += n
        elif any("imaplib" in f or "imapclient" in f for f in frames):
            where["IMAP"] += n
        elif any("jinja2/" in f for f in frames):
            where["Jinja (rendering)"] += n
        elif any("importlib" in f for f in frames):
            where["imports (start-up)"] += n
        else:
            own = [f for f in frames if "(maild/" in f]
            where[own[-1].split("(maild/")[1].split(":")[0] if own else "other"] += n
    return threads, where


def print_sample(path: Path) -> None:
    threads, where = sample_categories(path)
    main = sum(where.values()) or 1
    print(f"\n== py-spy samples of maild run --once ({path}; 200 a second) ==")
    print("    per thread: " + ", ".join(f"{t} {n}" for t, n in threads.most_common(4)))
    for name, n in where.most_common(15):
        print(f"    {n:6d} {100 * n / main:5.1f} %  {name}")


def print_report(rep: Report, corpus: list[Generated], peer: Report | None = None,
                 peer_corpus: list[Generated] | None = None) -> None:
    n = rep.n
    replies = sum(g.is_reply for g in corpus)
    attachments = sum(g.has_attachment for g in corpus)
    size = sum(len(g.raw) for g in corpus)
    floor_rate = n / rep.floor_wall
    maild_rate = n / rep.maild_wall
    p50 = statistics.median(rep.latencies) if rep.latencies else float("nan")
    p95 = nearest_rank(rep.latencies, 0.95) if rep.latencies else float("nan")
    rss = max(rep.maild_rss_mb, rep.latency_rss_mb)
    s = rep.floor_stages
    print(f"== maild ingest benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]} ==")
    print(f"corpus: {n} messages ({replies} replies, {attachments} with a ~200 KB attachment, "
          f"{size / 1e6:.1f} MB), generated in {rep.gen_seconds:.1f} s")
    print(f"APPEND of the corpus to {rep.append_accounts} accounts: {rep.append_seconds:.1f} s "
          f"({rep.append_accounts * n / rep.append_seconds:.0f} msg/s; not part of the figures)")
    print(f"(a) floor: {rep.floor_wall:.2f} s wall (whole process) = {floor_rate:.1f} msg/s; "
          f"in-loop {s.get('total', 0):.2f} s = {n / max(s.get('total', 1e-9), 1e-9):.1f} msg/s")
    print("    stages: " + ", ".join(f"{k} {s.get(k, 0):.2f} s" for k in ("setup", "fetch", "parse", "db", "smtp", "move")))
    print(f"(b) maild run --once: {rep.maild_wall:.2f} s wall (whole process) = {maild_rate:.1f} msg/s; "
          f"{rep.acks} acknowledgements (expected {rep.expected_acks}); peak RSS {rep.maild_rss_mb:.0f} MB")
    if rep.pg_wall:
        print(f"    maild on postgresql run --once: {rep.pg_wall:.2f} s wall = {n / rep.pg_wall:.1f} msg/s; "
              f"peak RSS {rep.pg_rss_mb:.0f} MB")
    print_rounds(rep)
    ratios = [r.ratio("maild") for r in rep.rounds]
    if rep.latencies:
        print(f"(c) ack latency over {len(rep.latencies)} reports, one every {LATENCY_SPACING} s, IMAP IDLE: "
              f"p50 {p50:.3f} s, p95 {p95:.3f} s, min {min(rep.latencies):.3f} s, max {max(rep.latencies):.3f} s "
              f"(target p95 < 1 s); exit code after SIGTERM {rep.latency_rc}")
    print(f"(d) peak RSS: run --once {rep.maild_rss_mb:.0f} MB, run (IDLE) {rep.latency_rss_mb:.0f} MB (target < 200 MB)")
    if peer is not None and peer_corpus is not None and peer.rounds:
        print_peer(peer, peer_corpus)
    failures = rep.failures + ([f"peer-shaped: {f}" for f in peer.failures] if peer is not None else [])
    if failures:
        print("CHECKS FAILED:")
        for f in failures:
            print("  - " + f)
    else:
        print("checks: all passed")
    ratio = statistics.median(ratios) if ratios else maild_rate / floor_rate
    print(f"maild {maild_rate:.1f} msg/s, floor {floor_rate:.1f} msg/s, ratio {ratio:.2f}, "
          f"ack latency p50 {p50:.3f} s p95 {p95:.3f} s, peak RSS {rss:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="corpus size (default 2000)")
    parser.add_argument("--latency-samples", type=int, default=50, help="reports for the latency run (default 50)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of floor and maild, the order rotated "
                        "every round (default 3)")
    parser.add_argument("--postgresql", action=argparse.BooleanOptionalAction, default=True,
                        help="also run maild on PostgreSQL (127.0.0.1:5432, a fresh schema) in every round (default on)")
    parser.add_argument("--peer-rounds", type=int, default=3, help="rounds of the peer-shaped workload: "
                        f"{PEER_REPORTS} new reports + {PEER_REPLIES} replies threaded by In-Reply-To only (default 3; 0: skip)")
    parser.add_argument("--profile", type=Path, help="also run maild --once under cProfile on a third copy of "
                        "the corpus, write the stats here and print the top entries (not part of the figures)")
    parser.add_argument("--sample", type=Path, help="also run maild --once under py-spy (every thread, at "
                        "little cost) on a third copy of the corpus, write the raw samples here and print the main "
                        "thread's time by where it went (not part of the figures; needs py-spy)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    parser.add_argument("--floor-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_worker:
        floor_worker(args.floor_worker)
        return 0

    sys.path.insert(0, str(TESTS))
    from servers import Dovecot, SmtpSink

    root = Path(tempfile.mkdtemp(prefix="maild-bench-"))
    dovecot: Dovecot | None = None
    sink: SmtpSink | None = None
    rep = Report(args.messages)
    peer = Report(PEER_REPORTS + PEER_REPLIES)
    peer_corpus: list[Generated] = []
    try:
        t = time.perf_counter()
        corpus = generate(args.messages, args.seed)
        rep.gen_seconds = time.perf_counter() - t
        raws = [g.raw for g in corpus]
        dovecot = Dovecot(root / "dovecot")
        dovecot.start()
        sink = SmtpSink()
        sink.start()
        run_rounds(root, "round", dovecot, sink, corpus, rep, args.rounds, args.postgresql)
        if args.peer_rounds:
            peer_corpus = generate(PEER_REPORTS + PEER_REPLIES, args.seed + 2, reply_count=PEER_REPLIES,
                                   references=False)
            run_rounds(root, "peer", dovecot, sink, peer_corpus, peer, args.peer_rounds, args.postgresql)
        print(f"maild {rep.maild_wall:.1f} s; measuring acknowledgement latency ...", file=sys.stderr)
        run_latency(root, dovecot.add_user("latency"), sink, args.latency_samples, args.seed, rep)
        # A third copy of the corpus under cProfile or py-spy: not part of the figures.
        for name, path, show in (("profile", args.profile, print_profile), ("sample", args.sample, print_sample)):
            if path is None:
                continue
            print(f"{name} of maild run --once ...", file=sys.stderr)
            account = dovecot.add_user(name)
            append_all(account, raws)
            run_maild_once(root, name, account, sink, corpus, None, **{name: path.resolve()})
            show(path.resolve())
        print_report(rep, corpus, peer, peer_corpus)
    finally:
        if sink is not None:
            sink.stop()
        if dovecot is not None:
            dovecot.stop()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if rep.failures or peer.failures else 0


if __name__ == "__main__":
    sys.exit(main())
