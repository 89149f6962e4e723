"""The monthly report mails itself (issue 12, item 3): on the first working day of the month at
``[report] time``, last month's report to the head of the LPSE and the coordinator, once, with
the report as HTML, its figures as a CSV attachment; ``maild report --send`` does it by hand
under the same key. An injected clock; the mail goes through the real SMTP sink, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import email
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from harness import STAFF, run_cli, start, write_config
from maild.app.daemon import Daemon, build
from maild.app.factory import Services, intake_settings
from maild.base.clock import FrozenClock
from maild.base.settings import Settings
from maild.documents.report_mail import due_month
from maild.documents.settings import FormSettings
from maild.service import actions, intake
from maild.sop.vocabulary import Channel
from maild.sop.workcal import WorkCalendar
from maild.store.db import transaction
from maild.store.models import Ticket
from maild.transport.sources import FilesMailbox
from servers import SmtpSink

WITA = ZoneInfo("Asia/Makassar")
HEAD = "kepala@lpse.example"
COORDINATOR = "koordinator@lpse.example"


def wita(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WITA)


@dataclass
class Helpdesk:
    config: Path
    settings: Settings
    clock: FrozenClock
    sink: SmtpSink
    daemon: Daemon

    def restart(self) -> None:
        """A new daemon on the same database (a restart, or a second daemon)."""
        self.daemon.close()
        self.daemon = build(self.settings, self.clock, mailbox=FilesMailbox([]))

    def tick_at(self, moment: datetime) -> None:
        self.clock.now = moment
        self.daemon.tick()

    def reports(self, title: str = "") -> list[EmailMessage]:
        """The monthly report mails the SMTP server received (of the month ``title``)."""
        out = []
        for m in self.sink.messages:
            msg = email.message_from_bytes(m.data, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            if str(msg["Subject"]).startswith(f"Laporan Bulanan Helpdesk LPSE Uji — {title}"):
                out.append(msg)
        return out


@pytest.fixture
def helpdesk_with(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> Iterator[Callable[..., Helpdesk]]:
    """A helpdesk on the SMTP sink with a head of the LPSE and a coordinator, the report at
    08:00, and the ``[calendar] days_off`` given."""
    made: list[Helpdesk] = []

    def make(days_off: tuple[str, ...] = ()) -> Helpdesk:
        config = write_config(tmp_path, {
            "database": {"url": db_url}, "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"},
            "coordinator": {"name": "Koordinator Helpdesk", "address": COORDINATOR},
            "sla": {"head_address": HEAD, "head_name": "Kepala LPSE"},
            "digest": {"enabled": False},
            "report": {"time": "08:00"},
            "calendar": {"days_off": list(days_off)},
        }, staff=True)
        clock = FrozenClock(wita(6, 1))
        daemon, settings = start(config, clock)
        daemon.close()
        made.append(Helpdesk(config, settings, clock, smtp_sink, build(settings, clock, mailbox=FilesMailbox([]))))
        return made[-1]

    yield make
    for desk in made:
        desk.daemon.close()


@pytest.fixture
def helpdesk(helpdesk_with: Callable[..., Helpdesk]) -> Helpdesk:
    return helpdesk_with()


def open_tickets(desk: Helpdesk, *reports: tuple[str, datetime]) -> list[str]:
    """Phoned-in reports, recorded by maild's own intake at the given moments."""
    services = Services(desk.settings, desk.clock)
    numbers = []
    try:
        for subject, at in reports:
            desk.clock.now = at
            report = intake.report_by_hand(subject, f"{subject}: mohon bantuan.", Channel.PHONE, "Budi",
                                           "budi@cv-maju.co.id", f"test:{subject}", STAFF, at)
            with transaction(services.factory) as session:
                opened = intake.open_ticket(session, services.mailer, services.ruleset,
                                            intake_settings(desk.settings), report, at)
                assert opened.ticket is not None
                numbers.append(opened.ticket.number)
    finally:
        services.close()
    return numbers


def close_ticket(desk: Helpdesk, number: str, at: datetime) -> None:
    services = Services(desk.settings, desk.clock)
    try:
        with transaction(services.factory) as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
            actions.resolve(actions.Act(session, services.mailer, services.roles, ticket, STAFF, f"test:close:{number}",
                                        at), "Sudah beres.")
    finally:
        services.close()


def figures(msg: EmailMessage) -> dict[tuple[str, str, str], str]:
    """The CSV attachment's rows, by (section, key, measure)."""
    [part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/csv"]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf")  # a BOM, for spreadsheets
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows and list(rows[0]) == ["bulan", "bagian", "kunci", "label", "ukuran", "nilai"]
    return {(r["bagian"], r["kunci"], r["ukuran"]): r["nilai"] for r in rows}


def check_report_mail(msg: EmailMessage, month: str, title: str, intake_count: int, open_numbers: set[str]) -> None:
    """One report mail: its subject, the key figures in the text, the report in the HTML with
    its charts as related images, and the month's figures in the attached CSV."""
    assert msg["Subject"] == f"Laporan Bulanan Helpdesk LPSE Uji — {title}"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Laporan masuk : {intake_count}" in text and f"laporan-helpdesk-{month}.csv" in text
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "LAPORAN BULANAN PENGELOLAAN GANGGUAN" in html and 'src="cid:kategori"' in html
    assert "data:image" not in html
    cids = {p["Content-ID"] for p in msg.walk() if p.get_content_type() == "image/png"}
    assert {"<kategori>", "<jenis>", "<saluran>", "<sla>"} <= cids
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == f"laporan-helpdesk-{month}.csv"
    rows = figures(msg)
    assert rows[("ringkasan", "masuk", "jumlah")] == str(intake_count)
    assert {k for (section, k, _) in rows if section == "terbuka_tertua"} == open_numbers


def test_a_month_starting_on_a_saturday_goes_out_on_monday_once(helpdesk: Helpdesk) -> None:
    desk = helpdesk
    [june] = open_tickets(desk, ("Lupa kata sandi akun penyedia", wita(6, 29)))
    july = open_tickets(desk, ("Tidak bisa login SPSE", wita(7, 6)), ("Upload dokumen penawaran gagal", wita(7, 14)),
                        ("Sertifikat elektronik tidak terbaca", wita(7, 28)))
    close_ticket(desk, july[0], wita(7, 7))
    assert date(2026, 8, 1).weekday() == 5  # a Saturday

    # Not in July, not on the weekend, not before 08:00 on the first working day. (The first
    # tick, in July, sends June's report, late: the daemon was not running on 1 July.)
    for moment in (wita(7, 31, 16), wita(8, 1, 8), wita(8, 1, 23), wita(8, 2, 10), wita(8, 3, 7, 59)):
        desk.tick_at(moment)
        assert desk.reports("Juli") == [], moment
    assert len(desk.reports("Juni 2026")) == 2

    desk.tick_at(wita(8, 3, 8, 0))
    mails = desk.reports("Juli 2026")
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [HEAD, COORDINATOR]
    assert {m["To"].addresses[0].display_name for m in mails} == {"Koordinator Helpdesk", "Kepala LPSE"}
    for msg in mails:
        check_report_mail(msg, "2026-07", "Juli 2026", 3, {june, july[1], july[2]})

    # Later ticks, the next days, a restarted daemon: nothing more.
    for moment in (wita(8, 3, 8, 1), wita(8, 3, 15), wita(8, 4, 8)):
        desk.tick_at(moment)
    desk.restart()
    desk.tick_at(wita(8, 5, 9))
    assert len(desk.reports("Juli 2026")) == 2 and len(desk.reports()) == 4

    # By hand afterwards: the same key, so it says when it went and sends nothing.
    out = run_cli(desk.config, "report", "--month", "2026-07", "--send").stdout
    assert out.strip() == (f"report 2026-07: already sent on 3 August 2026 08:00 WITA to {HEAD}, {COORDINATOR} "
                           "(not sent again)")
    assert len(desk.reports()) == 4


def test_a_month_starting_on_days_off_goes_out_at_the_first_tick_after_its_day(
        helpdesk_with: Callable[..., Helpdesk]) -> None:
    desk = helpdesk_with(("2026-10-01", "2026-10-02"))
    september = open_tickets(desk, ("Produk e-katalog tidak tampil", wita(9, 9)),
                             ("Permohonan verifikasi akun penyedia baru", wita(9, 22)))
    # Thursday 1 and Friday 2 October are days off, then the weekend: Monday 5 is the day.
    for moment in (wita(10, 1, 9), wita(10, 2, 10), wita(10, 3, 9), wita(10, 5, 7, 30)):
        desk.tick_at(moment)
        assert desk.reports() == [], moment
    # The daemon was down on Monday from 07:30; it catches up at its next tick, once.
    desk.restart()
    desk.tick_at(wita(10, 6, 11))
    mails = desk.reports()
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [HEAD, COORDINATOR]
    for msg in mails:
        check_report_mail(msg, "2026-09", "September 2026", 2, set(september))
    desk.tick_at(wita(10, 7, 9))
    desk.restart()
    desk.tick_at(wita(10, 30, 9))
    assert len(desk.reports()) == 2
    # November's first working day sends October's, and nothing of September again.
    desk.tick_at(wita(11, 2, 8))
    assert [m["Subject"] for m in desk.reports()[2:]] == ["Laporan Bulanan Helpdesk LPSE Uji — Oktober 2026"] * 2


def test_sent_by_hand_the_daemon_does_not_send_it_again(helpdesk: Helpdesk) -> None:
    desk = helpdesk
    [number] = open_tickets(desk, ("Tidak bisa login SPSE", wita(7, 6)))
    out = run_cli(desk.config, "report", "--month", "2026-07", "--send").stdout
    assert out.strip() == (f"report 2026-07: queued for {HEAD}, {COORDINATOR}; sent if the SMTP server took it "
                           "('maild outbox list')")
    assert len(desk.reports()) == 2
    for msg in desk.reports():
        check_report_mail(msg, "2026-07", "Juli 2026", 1, {number})
    again = run_cli(desk.config, "report", "--month", "2026-07", "--send").stdout
    assert "already sent on" in again and again.strip().endswith("(not sent again)")
    for moment in (wita(8, 3, 8), wita(8, 3, 9), wita(8, 10, 9)):
        desk.tick_at(moment)
    assert len(desk.reports()) == 2
    # A month that is not over cannot be sent: its one mail would be incomplete.
    proc = run_cli(desk.config, "report", "--month", "2099-01", "--send", ok=False)
    assert proc.returncode == 2 and "2099-01 is not over yet" in proc.stderr


def test_the_first_working_day() -> None:
    calendar = WorkCalendar()
    assert calendar.first_working_day(2026, 8) == date(2026, 8, 3)  # Saturday 1 August
    assert calendar.first_working_day(2027, 1) == date(2027, 1, 4)  # New Year on a Friday, then the weekend
    assert calendar.first_working_day(2026, 12) == date(2026, 12, 1)
    off = WorkCalendar(extra_days_off=frozenset({date(2026, 12, 1)}))
    assert off.first_working_day(2026, 12) == date(2026, 12, 2)
    documents = FormSettings(calendar=calendar)
    assert due_month(wita(1, 1, 10, year=2027), datetime.min.time(), documents) is None
    assert due_month(wita(1, 4, 0, year=2027), datetime.min.time(), documents) == "2026-12"


def test_a_jpeg_logo_goes_out_labelled_as_jpeg() -> None:
    """The report's related images are the PNG charts and the configured logo, which may be JPEG."""
    from maild.render.renderer import Rendered
    from maild.store.outbox import Identity, Outgoing, build_message

    mail = Outgoing(cause="report:2026-07", template="monthly_report", recipient=HEAD, recipient_name="Kepala LPSE",
                    ticket_id=None, ticket_number="report", rendered=Rendered("s", "t", '<img src="cid:logo">'),
                    language="id", images=(("logo", b"\xff\xd8\xff\xe0jpeg"), ("sla", b"\x89PNG\r\n")))
    raw = build_message(Identity("Helpdesk", "helpdesk@lpse.example", "lpse.example", b"k"), mail,
                        "m@lpse.example", wita(8, 3))
    msg = email.message_from_bytes(raw, policy=policy.default)
    types = {p["Content-ID"]: p.get_content_type() for p in msg.walk() if p["Content-ID"]}
    assert types == {"<logo>": "image/jpeg", "<sla>": "image/png"}
