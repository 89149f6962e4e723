"""A realistic month of the helpdesk, built through maild's own code paths.

``build_month`` simulates November 2026 (with a few reports from the end of October and the
start of December around it): about 300 reports from suppliers, procurement committees and
officials. Most arrive by email through the real ingest and pipeline (classified by the
shipped rules, acknowledged, numbered); some are taken by phone, in person or from WhatsApp
with ``intake.open_ticket`` (what ``maild tickets new`` calls). The staff, the service groups
and the coordinator work on them with ``maild.service.actions`` (the functions the pipeline's commands
and the CLI call) at realistic working-time delays; a few reporters send the same report
twice and the staff merge the copy. Reporters' replies travel back through the pipeline as
replies to the mail maild sent them. The SLA timers run every working hour, so late tickets
are reported to the coordinator the way the daemon would.

Everything is driven by one FrozenClock and a seeded random generator: the same seed gives
the same data set. On SQLite it takes a few seconds.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness import report, start, write_config
from maild.service import actions
from maild.service import intake
from maild.service.actions import Act, ActionRefused
from maild.sop.vocabulary import Channel
from maild.base.clock import FrozenClock
from maild.base.settings import Settings
from maild.app.daemon import Daemon, build
from maild.app.factory import work_calendar
from maild.store.db import transaction
from maild.base.errors import IllegalTransition
from maild.store.models import InboundMessage, OutgoingMail, Party, Ticket
from maild.transport.sources import Fetched

WITA = ZoneInfo("Asia/Makassar")
MONTH = "2026-11"
STAFF = (("Rina Wulandari", "rina@lpse.tanatidungkab.go.id"), ("Andi Pratama", "andi@lpse.tanatidungkab.go.id"),
         ("Siti Rahmah", "siti@lpse.tanatidungkab.go.id"))
COORDINATOR = ("Hendra Gunawan, S.Kom", "koordinator@lpse.tanatidungkab.go.id")
GROUPS = (
    ("infrastruktur", "Tim Infrastruktur Diskominfo", "infra@diskominfo.tanatidungkab.go.id"),
    ("verifikasi", "Tim Verifikasi Penyedia", "verifikasi@lpse.tanatidungkab.go.id"),
    ("lkpp", "Layanan LKPP (Helpdesk Nasional)", "helpdesk@lkpp.go.id"),
)

# (subject, problem sentence) per intended category; the shipped rules do the classifying.
REPORTS: dict[str, tuple[tuple[str, str], ...]] = {
    "akun": (
        ("Lupa password akun penyedia", "Saya lupa password akun penyedia kami dan email reset tidak masuk."),
        ("Akun terkunci setelah salah password", "Akun saya terkunci setelah tiga kali salah memasukkan password."),
        ("Tidak bisa login ke SPSE", "Sejak pagi saya tidak bisa login, muncul pesan user ID atau password salah."),
        ("Permohonan ganti email akun", "Mohon perubahan email akun karena email lama sudah tidak aktif."),
    ),
    "registrasi_verifikasi": (
        ("Permohonan verifikasi akun penyedia baru", "Kami sudah mendaftar dan ingin menjadwalkan verifikasi "
                                                     "dokumen asli."),
        ("Registrasi penyedia: NIB belum terbaca", "Pada formulir pendaftaran, NIB perusahaan kami belum terbaca."),
        ("Jadwal verifikasi dokumen asli", "Kapan kami dapat membawa dokumen asli untuk verifikasi?"),
    ),
    "aplikasi_spse": (
        ("Upload dokumen penawaran gagal", "Upload dokumen penawaran selalu berhenti di 90 persen lalu error."),
        ("Jadwal tender tidak muncul", "Jadwal tahapan tender paket jalan desa tidak muncul di halaman kami."),
        ("Apendo error saat enkripsi", "Aplikasi Apendo menampilkan error ketika mengenkripsi dokumen penawaran."),
        ("Tidak bisa mengirim sanggahan", "Tombol kirim sanggahan tidak berfungsi pada paket tender kami."),
    ),
    "jaringan_server": (
        ("SPSE tidak bisa diakses", "Situs SPSE tidak bisa diakses dari kantor kami sejak pukul delapan."),
        ("Server LPSE lambat sekali", "Halaman SPSE sangat lambat dan sering timeout saat membuka paket."),
        ("Muncul 502 Bad Gateway", "Setiap membuka halaman tender muncul 502 bad gateway."),
    ),
    "sertifikat_elektronik": (
        ("Sertifikat elektronik kedaluwarsa", "Sertifikat elektronik saya sudah kedaluwarsa, bagaimana "
                                              "memperpanjangnya?"),
        ("Lupa passphrase TTE", "Saya lupa passphrase tanda tangan elektronik untuk menandatangani dokumen."),
    ),
    "e_katalog": (
        ("Produk e-katalog tidak tampil", "Produk yang sudah kami tayangkan di e-katalog tidak tampil."),
        ("Etalase toko daring belum aktif", "Etalase toko daring perusahaan kami belum aktif sejak bulan lalu."),
    ),
    "lainnya": (
        ("Informasi jadwal pelatihan", "Mohon informasi kapan ada pelatihan untuk pelaku usaha lokal."),
        ("Permohonan surat keterangan", "Kami membutuhkan surat keterangan terdaftar sebagai pengguna."),
    ),
}
CATEGORY_WEIGHTS = {"akun": 26, "registrasi_verifikasi": 14, "aplikasi_spse": 24, "jaringan_server": 12,
                    "sertifikat_elektronik": 9, "e_katalog": 8, "lainnya": 7}
RECURRING = "Masalah ini sudah beberapa kali terjadi dan selalu gagal di tahap yang sama."

ANSWERS = ("Terima kasih atas laporannya. Kami sedang memeriksa kendala tersebut.",
           "Mohon dicoba kembali dengan peramban Chrome versi terbaru dan hapus cache terlebih dahulu.",
           "Silakan kirimkan tangkapan layar pesan kesalahan yang muncul agar kami dapat menelusuri.",
           "Kendala sudah kami teruskan ke petugas terkait, mohon ditunggu.")
RESULTS = {
    "akun": "Password akun sudah direset; pelapor berhasil login dengan password baru.",
    "registrasi_verifikasi": "Verifikasi dokumen asli telah dilakukan dan akun penyedia sudah diaktifkan.",
    "aplikasi_spse": "Dokumen penawaran berhasil diunggah setelah pembaruan Apendo dan pembersihan cache.",
    "jaringan_server": "Layanan SPSE kembali normal setelah perbaikan jaringan oleh tim infrastruktur.",
    "sertifikat_elektronik": "Sertifikat elektronik telah diterbitkan ulang melalui BSrE.",
    "e_katalog": "Produk sudah tayang kembali di e-katalog setelah sinkronisasi data.",
    "lainnya": "Informasi yang diminta telah disampaikan kepada pelapor.",
}
GROUP_FOR = {"jaringan_server": "infrastruktur", "registrasi_verifikasi": "verifikasi", "aplikasi_spse": "lkpp",
             "sertifikat_elektronik": "lkpp", "e_katalog": "lkpp", "akun": "lkpp", "lainnya": "infrastruktur"}
GROUP_REPLIES = ("Sudah kami periksa: penyebabnya konfigurasi proxy; sudah diperbaiki.",
                 "Data sudah kami sinkronkan ulang, silakan dicek kembali.",
                 "Kami jadwalkan perbaikan besok pagi, mohon pelapor diinformasikan.")
RECOMMENDATIONS = ("Koordinasikan dengan LKPP melalui helpdesk nasional dan informasikan perkembangannya "
                   "kepada pelapor setiap hari.",
                   "Lakukan reset manual akun melalui ADP dan minta pelapor mencoba dari jaringan lain.",
                   "Jadwalkan verifikasi ulang dan dokumentasikan langkah perbaikan untuk SOP.")

FIRST_NAMES = ("Budi", "Sri", "Agus", "Dewi", "Ahmad", "Nur", "Rudi", "Yuliana", "Hasan", "Fitri", "Joko", "Lestari",
               "Irwan", "Maria", "Syahrul", "Wahyuni", "Daniel", "Ratna", "Fadli", "Herlina")
LAST_NAMES = ("Santoso", "Rahayu", "Saputra", "Lestari", "Hidayat", "Siregar", "Wijaya", "Pratiwi", "Nugroho",
              "Manurung", "Gunawan", "Halim", "Setiawan", "Marpaung", "Kurniawan")
COMPANIES = (("CV Maju Jaya", "cvmajujaya.co.id"), ("PT Borneo Karya Konstruksi", "borneokarya.co.id"),
             ("CV Tidung Mandiri", "tidungmandiri.com"), ("PT Sesayap Prima", "sesayapprima.co.id"),
             ("CV Kaltara Sejahtera", "kaltarasejahtera.com"), ("PT Mitra Bangun Utara", "mitrabangun.co.id"),
             ("CV Sumber Rejeki", "sumberrejeki.id"), ("PT Tana Tidung Teknik", "tttek.co.id"),
             ("Pokja Pemilihan 3", "tanatidungkab.go.id"), ("Dinas PUPR", "pupr.tanatidungkab.go.id"),
             ("Dinas Kesehatan", "dinkes.tanatidungkab.go.id"), ("Perorangan", "gmail.com"),
             ("Perorangan", "yahoo.co.id"))


@dataclass(frozen=True)
class Step:
    """One thing done to a ticket, ``after`` working hours (a range) after the previous one."""

    kind: str
    after: tuple[float, float]


def _s(kind: str, lo: float, hi: float) -> Step:
    return Step(kind, (lo, hi))


SCENARIOS: dict[str, tuple[int, tuple[Step, ...]]] = {
    # name: (weight, steps)
    "quick": (24, (_s("answer", 0.1, 2), _s("resolve", 0.3, 6))),
    "direct": (12, (_s("resolve", 0.2, 3),)),
    "classified": (8, (_s("classify", 0.05, 0.5), _s("answer", 0.2, 3), _s("resolve", 1, 14))),
    "assigned": (8, (_s("assign", 0.05, 1), _s("answer", 0.2, 4), _s("note", 0.5, 3), _s("resolve", 1, 10))),
    "waiting": (7, (_s("answer", 0.2, 2), _s("wait", 0, 0.2), _s("reporter_reply", 2, 20), _s("resolve", 0.5, 6))),
    "escalated": (10, (_s("answer", 0.1, 2), _s("escalate", 0.2, 3), _s("group_reply", 2, 30),
                       _s("resolve", 0.3, 5))),
    "full": (7, (_s("answer", 0.1, 2), _s("escalate", 0.3, 3), _s("group_reply", 3, 24), _s("coordinator", 1, 8),
                 _s("recommend", 0.5, 8), _s("answer", 0.3, 3), _s("resolve", 0.5, 8))),
    "coordinator": (5, (_s("answer", 0.2, 3), _s("coordinator", 4, 14), _s("recommend", 0.5, 6),
                        _s("resolve", 1, 10))),
    "late": (4, (_s("recommend", 30, 45), _s("answer", 0.5, 4), _s("resolve", 1, 8))),
    "reopened": (3, (_s("answer", 0.2, 2), _s("resolve", 0.5, 4), _s("reporter_reply", 1, 10),
                     _s("answer", 0.5, 4), _s("resolve", 0.5, 6))),
    "thanked": (4, (_s("resolve", 0.3, 4), _s("thanks", 0.5, 6))),
    "stuck": (4, (_s("answer", 0.3, 4),)),
    "escalation_pending": (2, (_s("escalate", 0.2, 3),)),
    "duplicate": (3, (_s("duplicate", 0.3, 3), _s("answer", 0.2, 2), _s("resolve", 0.5, 6))),
    "untouched": (2, ()),
}


class QueueMailbox:
    """An inbox in memory: what is pushed is fetched once, then released."""

    description = "dataset"

    def __init__(self) -> None:
        self.waiting: list[Fetched] = []
        self.count = 0

    def push(self, raw: bytes) -> None:
        self.count += 1
        self.waiting.append(Fetched(ref=str(self.count), raw=raw))

    def fetch_new(self, limit: int, max_bytes: int = 0, head_only_over: int = 0) -> list[Fetched]:
        return self.waiting[:limit]  # the data set's mail is small and never over the limit

    def release(self, messages: Sequence[Fetched], folder: str | None = None) -> None:
        done = {m.ref for m in messages}
        self.waiting = [m for m in self.waiting if m.ref not in done]

    def keep_copy(self, folder: str, raw: bytes) -> None:
        return None

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class Case:
    """One report and what will happen to it."""

    arrival: datetime
    category: str
    subject: str
    body: str
    sender: str
    name: str
    scenario: str
    handler: str
    channel: str = "email"
    contact: str = ""
    organisation: str = ""
    ticket_id: int | None = None
    message_id: str = ""


@dataclass
class Month:
    """The built data set: the running daemon (its factory is the database) and what was planned."""

    daemon: Daemon
    settings: Settings
    clock: FrozenClock
    cases: list[Case]
    month: str = MONTH
    skipped: list[str] = field(default_factory=list)  # steps the SOP refused (already moved by a timer)

    def session(self) -> Session:
        return self.daemon.factory()


def _config(directory: Path, db_url: str) -> Path:
    config = write_config(directory, {
        "helpdesk": {"address": "helpdesk@lpse.tanatidungkab.go.id", "name": "Helpdesk LPSE Kabupaten Tana Tidung"},
        "database": {"url": db_url}, "smtp": {"url": f"maildir:{directory}/sent"},
        "mailbox": {"url": f"maildir:{directory}/inbox"},
        "coordinator": {"name": COORDINATOR[0], "address": COORDINATOR[1]},
        "sla": {"check_every": 0}, "digest": {"enabled": False},
        "limits": {"auto_replies_per_sender_per_hour": 1000},
    })
    extra = [f'[[staff]]\nname = "{n}"\naddress = "{a}"' for n, a in STAFF]
    extra += [f'[[groups]]\nname = "{g}"\ntitle = "{t}"\nmanagers = ["{m}"]' for g, t, m in GROUPS]
    config.write_text(config.read_text() + "\n".join(extra) + "\n", encoding="utf-8")
    return config


def _arrivals(rng: random.Random, first: date, last: date, count: int, calendar) -> list[datetime]:  # type: ignore[no-untyped-def]
    """Report times: mostly in working hours on working days, some in the evening and at weekends."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weights = [1.0 if calendar.is_working_day(d) else 0.12 for d in days]
    out = []
    for day in rng.choices(days, weights, k=count):
        if calendar.is_working_day(day) and rng.random() < 0.86:
            minute = rng.randrange(7 * 60 + 30, 16 * 60)
        else:
            minute = rng.choice((rng.randrange(16 * 60, 22 * 60), rng.randrange(6 * 60, 7 * 60 + 30)))
        local = datetime.combine(day, time(minute // 60, minute % 60, rng.randrange(60)), tzinfo=WITA)
        out.append(local.astimezone(timezone.utc))
    return sorted(out)


def _case(rng: random.Random, at: datetime, reporters: list[tuple[str, str, str]]) -> Case:
    category = rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
    subject, sentence = rng.choice(REPORTS[category])
    if category == "aplikasi_spse" and rng.random() < 0.3:
        sentence += " " + RECURRING
    name, sender, company = rng.choice(reporters)
    greeting = rng.choice(("Selamat pagi", "Selamat siang", "Yth. Helpdesk LPSE", "Dengan hormat"))
    phone = f"08{rng.randrange(11, 59)}-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
    signature = f"{name}\n{company}" + (f"\nHP/WA: {phone}" if rng.random() < 0.8 else "")
    body = f"{greeting},\n\n{sentence}\nMohon bantuannya.\n\nTerima kasih.\n\n{signature}\n"
    scenario = rng.choices(list(SCENARIOS), [w for w, _ in SCENARIOS.values()])[0]
    case = Case(at, category, subject, body, sender, name, scenario, rng.choice(STAFF)[1])
    if scenario != "duplicate" and work_hours(at) and rng.random() < 0.12:
        # Taken by phone, at the desk or from WhatsApp: the staff member types it in.
        case.channel = rng.choice(("telepon", "telepon", "datang", "whatsapp"))
        case.body = f"{sentence} Pelapor meminta dihubungi kembali."
        case.contact, case.organisation = phone, company
        case.sender = sender if rng.random() < 0.5 else ""
    return case


def work_hours(at: datetime) -> bool:
    """Monday to Friday 08:00-15:00 WITA: when the desk answers the phone in this simulation."""
    local = at.astimezone(WITA)
    return local.weekday() < 5 and 8 <= local.hour < 15


def _reporters(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company, domain = rng.choice(COMPANIES)
        local = f"{first}.{last}{i}".lower() if domain.endswith(("gmail.com", "yahoo.co.id")) else \
            f"{first}.{last}".lower() if i % 3 else f"{first[0]}{last}{i}".lower()
        out.append((f"{first} {last}", f"{local}@{domain}", company))
    return out


class Simulation:
    """Plays the cases on a timeline: arrivals, then each case's steps, timers every working hour."""

    def __init__(self, daemon: Daemon, settings: Settings, clock: FrozenClock, mailbox: QueueMailbox,
                 rng: random.Random) -> None:
        self.daemon, self.settings, self.clock, self.mailbox, self.rng = daemon, settings, clock, mailbox, rng
        self.calendar = work_calendar(settings)
        self.queue: list[tuple[datetime, int, int, int]] = []  # (time, seq, case index, step index; -1 arrival)
        self.seq = 0
        self.skipped: list[str] = []

    def schedule(self, at: datetime, case: int, step: int) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, case, step))

    def run(self, cases: list[Case], until: datetime) -> None:
        for i, case in enumerate(cases):
            self.schedule(case.arrival, i, -1)
        tick = cases[0].arrival.replace(minute=0, second=0, microsecond=0)
        while self.queue and self.queue[0][0] < until:
            at, _, index, step = heapq.heappop(self.queue)
            while tick <= at:
                self._timers(tick)
                tick += timedelta(hours=1)
            self.clock.now = at
            case = cases[index]
            if step < 0:
                self._arrive(case)
            else:
                self._step(case, SCENARIOS[case.scenario][1][step])
            self._next(case, index, step, at)

    def _next(self, case: Case, index: int, step: int, at: datetime) -> None:
        steps = SCENARIOS[case.scenario][1]
        if step + 1 < len(steps):
            lo, hi = steps[step + 1].after
            delay = timedelta(hours=self.rng.uniform(lo, hi))
            self.schedule(self.calendar.add_working_time(at, delay) + timedelta(seconds=self.rng.randrange(1, 60)),
                          index, step + 1)

    def _timers(self, at: datetime) -> None:
        if self.calendar.in_working_hours(at):
            self.clock.now = at
            self.daemon.timers.run_once(force=True)

    def _arrive(self, case: Case) -> None:
        if case.channel != "email":
            self._taken(case)
            return
        case.ticket_id, case.message_id = self._mail_in(case)

    def _mail_in(self, case: Case) -> tuple[int | None, str]:
        """The report sent by mail, through ingest and the pipeline: (its ticket, its Message-ID)."""
        raw = report(sender=case.sender, name=case.name, subject=case.subject, body=case.body)
        self.mailbox.push(raw.raw)
        self.daemon.ingest.run_once()
        self.daemon.pipeline.run_once()
        with self.daemon.factory() as s:
            found = s.scalar(select(InboundMessage.ticket_id).where(InboundMessage.message_id == raw.message_id))
        return found, raw.message_id

    def _taken(self, case: Case) -> None:
        """A report taken by a staff member, as ``maild tickets new`` records it."""
        p, now = self.daemon.pipeline, self.clock()
        with transaction(self.daemon.factory) as s:
            report = intake.report_by_hand(case.subject, case.body, Channel(case.channel), case.name, case.sender,
                                           f"dataset:new:{case.subject}:{now.isoformat()}", case.handler, now,
                                           case.contact, case.organisation)
            opened = intake.open_ticket(s, p.mailer, p.ruleset, p.settings.intake, report, now)
            assert opened.ticket is not None
            case.ticket_id = opened.ticket.id

    def _step(self, case: Case, step: Step) -> None:
        if case.ticket_id is None:
            return
        if step.kind in ("reporter_reply", "thanks"):
            self._reply(case, step.kind == "thanks")
            return
        if step.kind == "duplicate":
            self._duplicate(case)
            return
        with transaction(self.daemon.factory) as s:
            ticket = s.get(Ticket, case.ticket_id)
            assert ticket is not None
            savepoint = s.begin_nested()
            try:
                self._act(s, ticket, case, step.kind)
                savepoint.commit()
            except (IllegalTransition, ActionRefused) as exc:
                savepoint.rollback()
                self.skipped.append(f"{ticket.number} {step.kind}: {exc}")

    def _act(self, s: Session, ticket: Ticket, case: Case, kind: str) -> None:
        p = self.daemon.pipeline
        actor = {"recommend": COORDINATOR[1], "group_reply": self._manager(case)}.get(kind, case.handler)
        act = Act(s, p.mailer, p.settings.intake.roles, ticket, actor, f"dataset:{ticket.number}:{self.seq}", self.clock())
        rng = self.rng
        if kind == "answer":
            actions.answer(act, rng.choice(ANSWERS))
        elif kind == "resolve":
            actions.resolve(act, RESULTS[case.category])
        elif kind == "classify":
            actions.classify(act, "priority", rng.choice(("high", "critical", "low")))
        elif kind == "assign":
            actions.assign(act, case.handler)
        elif kind == "note":
            actions.note(act, "Sudah dicek di log aplikasi, tidak ada kesalahan di sisi server.")
        elif kind == "wait":
            actions.set_status(act, "waiting")
        elif kind == "escalate":
            actions.escalate(act, GROUP_FOR[case.category], "Mohon bantuan penanganan; di luar kewenangan helpdesk.")
        elif kind == "group_reply":
            actions.group_reply(act, rng.choice(GROUP_REPLIES))
        elif kind == "coordinator":
            actions.to_coordinator(act, "Belum dapat diselesaikan oleh helpdesk, mohon arahan.")
        elif kind == "recommend":
            actions.recommend(act, rng.choice(RECOMMENDATIONS))
        else:
            raise AssertionError(kind)

    def _duplicate(self, case: Case) -> None:
        """The reporter sends the same report again; the staff merge the copy into the first ticket."""
        copy, _ = self._mail_in(case)
        if copy is None or copy == case.ticket_id:
            return
        p = self.daemon.pipeline
        with transaction(self.daemon.factory) as s:
            original, ticket = s.get(Ticket, case.ticket_id), s.get(Ticket, copy)
            assert original is not None and ticket is not None
            act = Act(s, p.mailer, p.settings.intake.roles, ticket, case.handler, f"dataset:merge:{ticket.number}",
                      self.clock())
            actions.merge(act, original)

    def _manager(self, case: Case) -> str:
        return next(m for g, _, m in GROUPS if g == GROUP_FOR[case.category])

    def _reply(self, case: Case, thanks: bool) -> None:
        """The reporter answers the last mail maild sent them: through ingest and the pipeline."""
        with self.daemon.factory() as s:
            last = s.execute(select(OutgoingMail.message_id, OutgoingMail.subject)
                             .where(OutgoingMail.ticket_id == case.ticket_id, OutgoingMail.recipient == case.sender)
                             .order_by(OutgoingMail.id.desc()).limit(1)).first()
        if last is None:
            return
        body = ("Terima kasih banyak, sudah bisa." if thanks else
                "Sudah saya coba sesuai petunjuk tetapi masih belum berhasil. Apa langkah berikutnya?")
        raw = report(sender=case.sender, name=case.name, subject=f"Re: {last[1]}", in_reply_to=last[0], body=body)
        self.mailbox.push(raw.raw)
        self.daemon.ingest.run_once()
        self.daemon.pipeline.run_once()


def build_month(directory: Path, db_url: str | None = None, seed: int = 5, count: int = 300) -> Month:
    """Build the data set in ``directory`` (SQLite there unless ``db_url`` is given).

    ``count`` reports arrive in November 2026, 12 more in the last days of October (open
    tickets carried into the month) and 12 in the first days of December (outside it). Work
    goes on until Monday 7 December 2026 08:00 WITA, so the month's last tickets are still
    open at its end, and some of them are closed in December.
    """
    rng = random.Random(seed)
    config = _config(directory, db_url or f"sqlite:///{directory}/dataset.db")
    clock = FrozenClock(datetime(2026, 10, 26, 0, 0, tzinfo=timezone.utc))
    first, settings = start(config, clock)
    first.close()
    mailbox = QueueMailbox()
    daemon = build(settings, clock, mailbox=mailbox)
    calendar = work_calendar(settings)
    reporters = _reporters(rng, 140)
    times = (_arrivals(rng, date(2026, 10, 27), date(2026, 10, 31), 12, calendar)
             + _arrivals(rng, date(2026, 11, 1), date(2026, 11, 30), count, calendar)
             + _arrivals(rng, date(2026, 12, 1), date(2026, 12, 4), 12, calendar))
    cases = [_case(rng, at, reporters) for at in times]
    simulation = Simulation(daemon, settings, clock, mailbox, rng)
    simulation.run(cases, until=datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc))
    return Month(daemon, settings, clock, cases, skipped=simulation.skipped)


def parties_by_role(session: Session, role: str) -> list[str]:
    """Addresses of the parties with ``role`` (a helper for the tests' own counts)."""
    return list(session.scalars(select(Party.address).where(Party.role == role)))
