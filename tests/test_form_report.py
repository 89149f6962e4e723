"""The recording form (PDF and HTML) and the monthly report, checked against a realistic month.

The month is built once per module through maild's real pipeline and actions
(``tests/dataset.py``). Every expected value is computed here from the database directly,
independently of ``maild.documents.form_data`` and ``maild.documents.report_figures``: dates through ``zoneinfo``, working
time through the calendar with the pauses rebuilt from the events, percentiles through
``statistics``.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from dataset import COORDINATOR, GROUPS, Month, build_month
from maild.app.factory import work_calendar
from maild.documents.form_data import FormData, form_data
from maild.documents.form_html import form_html
from maild.documents.form_pdf import form_pdf, pdf_text
from maild.documents.settings import form_settings
from maild.store.models import Event, Party, Ticket
from maild.render.renderer import Renderer
from maild.documents.report_figures import month_bounds, monthly_report
from maild.documents.report_output import report_csv, report_html, write_report

WITA = ZoneInfo("Asia/Makassar")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")
TYPES = {"incident": "Gangguan", "problem": "Permasalahan", "service_request": "Permintaan Layanan"}
CATEGORIES = {"akun": "Akun dan Kata Sandi", "registrasi_verifikasi": "Registrasi dan Verifikasi",
              "aplikasi_spse": "Aplikasi SPSE", "jaringan_server": "Jaringan dan Server",
              "sertifikat_elektronik": "Sertifikat Elektronik", "e_katalog": "E-Katalog", "lainnya": "Lainnya"}
# The shipped SLA targets (working hours to the first response, to closing) per priority.
TARGETS = {"critical": (1, 4), "high": (2, 8), "medium": (4, 24), "low": (8, 40)}
PAUSE = {"escalated", "closed"}
START = datetime(2026, 11, 1, tzinfo=WITA)
END = datetime(2026, 12, 1, tzinfo=WITA)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    built = build_month(tmp_path_factory.mktemp("month"))
    yield built
    built.daemon.close()


@pytest.fixture
def session(month: Month) -> Iterator[Session]:
    with month.session() as s:
        yield s


# -- independent helpers ----------------------------------------------------------------------
def day(moment: datetime) -> str:
    local = moment.astimezone(WITA)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def clock(moment: datetime) -> str:
    return f"{moment.astimezone(WITA):%H:%M} WITA"


def events_of(session: Session, ticket_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)))


def paused(events: list[Event], end: datetime) -> list[tuple[datetime, datetime]]:
    """When the clock stood still: escalated, closed, or waiting for the reporter after #status tunggu."""
    spans: list[tuple[datetime, datetime]] = []
    since, state, waiting = START, None, False
    for e in events:
        if e.created_at >= end:
            break
        before = state in PAUSE or waiting
        if e.event == "status_updated" and (e.detail or {}).get("status") == "waiting":
            waiting = True
        elif waiting and (e.event in ("reporter_replied", "status_updated") or e.new_state != e.old_state):
            waiting = False
        state = e.new_state or state
        after = state in PAUSE or waiting
        if after and not before:
            since = e.created_at
        elif before and not after:
            spans.append((since, e.created_at))
    if state in PAUSE or waiting:
        spans.append((since, end))
    return spans


def hours_between(month: Month, events: list[Event], start: datetime, end: datetime) -> float:
    """Working hours from start to end, less the paused working time."""
    cal = work_calendar(month.settings)
    total = cal.working_time_between(start, end)
    for a, b in paused(events, end):
        if a < end and b > start:
            total -= cal.working_time_between(max(a, start), min(b, end))
    return total.total_seconds() / 3600


def target(ticket: Ticket, which: int) -> float:
    return TARGETS[ticket.priority or "medium"][which]


def decimal(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_words(pdf: bytes) -> tuple[str, list[str]]:
    """The PDF's text (whitespace collapsed) and the pieces drawn in a bold font."""
    bold: list[str] = []

    def visit(text: str, cm: object, tm: object, font: dict | None, size: float) -> None:  # type: ignore[type-arg]
        if text.strip() and font is not None and "Bold" in str(font.get("/BaseFont", "")):
            bold.append(text.strip())

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text(visitor_text=visit) for page in reader.pages)
    return flat(text), bold


def state_at(events: list[Event], moment: datetime) -> str | None:
    state = None
    for e in events:
        if e.created_at < moment:
            state = e.new_state
    return state


# -- the form -----------------------------------------------------------------------------------
@pytest.fixture
def story(session: Session) -> Ticket:
    """A closed ticket that went to a service group, got its answer, went to the coordinator,
    got a recommendation, and was closed by the helpdesk."""
    needed = {"escalated", "group_replied", "reported_to_coordinator", "recommended", "resolved"}
    for t in session.scalars(select(Ticket).where(Ticket.state == "closed").order_by(Ticket.id)):
        evs = events_of(session, t.id)
        kinds = [e.event for e in evs]
        if needed <= set(kinds) and kinds.index("escalated") < kinds.index("reported_to_coordinator") \
                and t.priority == "medium" and t.type:
            return t
    raise AssertionError("the data set has no ticket that went through escalation and the coordinator")


def expected_form(month: Month, session: Session, t: Ticket) -> dict[str, object]:
    evs = events_of(session, t.id)
    first = {k: next(e for e in evs if e.event == k) for k in ("escalated", "group_replied", "recommended")}
    resolved = [e for e in evs if e.event == "resolved"][-1]
    reporter = session.get(Party, t.reporter_id)
    assert reporter is not None and t.first_response_at and t.closed_at
    group = str(first["escalated"].detail["group"])
    return {
        "number": t.number, "date": day(t.created_at), "time": clock(t.created_at),
        "name": reporter.name, "email": reporter.address, "org": reporter.address.partition("@")[2],
        "type": TYPES[t.type or ""], "category": CATEGORIES[t.category or ""],
        "group": next(title for name, title, _ in GROUPS if name == group),
        "group_answer": first["group_replied"].detail["text"], "recommendation": first["recommended"].detail["text"],
        "result": resolved.detail["text"], "closed": f"{day(t.closed_at)} {clock(t.closed_at)}",
        "response": hours_between(month, evs, t.created_at, t.first_response_at),
        "resolution": hours_between(month, evs, t.created_at, t.closed_at),
        "answers": [e.detail["text"] for e in evs if e.event == "staff_answered"],
    }


def check_form_text(text: str, want: dict[str, object], t: Ticket) -> None:
    assert "FORMULIR PENCATATAN GANGGUAN DAN PERMINTAAN LAYANAN" in text
    assert "LPSE KABUPATEN TANA TIDUNG" in text
    assert f"Nomor Tiket: {want['number']}" in text
    assert f"Tanggal diterima {want['date']}" in text and f"Jam diterima {want['time']}" in text
    assert f"Nama pelapor {want['name']}" in text and f"Email {want['email']}" in text
    assert f"Instansi / perusahaan {want['org']}" in text
    assert f"Kategori {want['category']}" in text
    assert f"Dieskalasi kepada {want['group']}" in text
    assert flat(str(want["group_answer"])) in text and flat(str(want["recommendation"])) in text
    assert f"Hasil penanganan {flat(str(want['result']))}" in text
    assert f"Tanggal / jam ditutup {want['closed']}" in text
    response, resolution = float(want["response"]), float(want["resolution"])  # type: ignore[arg-type]
    assert f"({decimal(response)} jam kerja; target {TARGETS['medium'][0]} jam)" in text
    assert f"({decimal(resolution)} jam kerja; target {TARGETS['medium'][1]} jam)" in text
    verdict = "memenuhi target" if resolution <= TARGETS["medium"][1] else "melewati target"
    assert f"target {TARGETS['medium'][1]} jam): {verdict}" in text
    for answer in want["answers"]:  # type: ignore[attr-defined]
        assert flat(answer) in text
    assert COORDINATOR[0] in text and f"Tideng Pale, {day(t.closed_at)}" in text  # type: ignore[arg-type]
    assert "Petugas Helpdesk" in text and "Koordinator Helpdesk" in text


def test_pdf_form_of_an_escalated_coordinated_closed_ticket(month: Month, session: Session, story: Ticket) -> None:
    data = form_data(session, story.number, form_settings(month.settings))
    assert data is not None
    pdf = form_pdf(data)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages} == {(595, 842)}
    text, bold = pdf_words(pdf)
    want = expected_form(month, session, story)
    check_form_text(text, want, story)
    # The checked boxes are the ones printed in bold: the ticket's type, its priority, the channel.
    others = [label for key, label in TYPES.items() if key != story.type]
    assert want["type"] in bold and not set(others) & set(bold)
    assert "Sedang" in bold and not {"Rendah", "Tinggi", "Kritis", "Datang langsung", "Lainnya"} & set(bold)
    # "Email" and "Telepon" are also the (bold) labels of the reporter's contact rows.
    assert (bold.count("Email"), bold.count("Telepon")) == (2, 1)
    # The officer is the staff member the ticket was assigned to, or who closed it.
    staff_names = {n for n, in session.execute(select(Party.name).where(Party.role == "staff"))}
    assert data.officer in staff_names and f"Petugas Helpdesk {data.officer}" in text


def test_html_form_says_the_same(month: Month, session: Session, story: Ticket) -> None:
    data = form_data(session, story.number, form_settings(month.settings))
    assert data is not None
    page = form_html(data, Renderer())
    assert page.startswith("<!DOCTYPE html>") and "size: A4" in page
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S))))
    check_form_text(text, expect := expected_form(month, session, story), story)
    selected = re.findall(r'class="opt on"><span class="box">[^<]*</span>([^<]+)</span>', page)
    assert selected == ["Email", expect["type"], "Sedang"]
    assert "Dicatat oleh Sistem (otomatis dari email)" in text
    assert "<script" not in page and "&lt;" not in data.description  # escaped by Jinja, not in the data


def test_form_text_outside_latin1_is_printed_as_written(month: Month, session: Session, story: Ticket) -> None:
    assert pdf_text("Tender \u2013 \u201cSPSE\u201d \u2026 ok \u2713 caf\u00e9 \u0151 \u6f22") == \
        "Tender \u2013 \u201cSPSE\u201d \u2026 ok \u2713 caf\u00e9 \u0151 [CJK UNIFIED IDEOGRAPH-6F22]"
    data = form_data(session, story.number, form_settings(month.settings))
    assert data is not None
    odd = replace(data, subject="Penawaran \u2013 \u201cJalan Desa\u201d \u2026 \u6f22\u5b57",
                  description="Dokumen gagal diunggah \u2014 kode \u00abE-17\u00bb; emoji \U0001F44D.")
    text, _ = pdf_words(form_pdf(odd))
    assert ("Perihal Penawaran \u2013 \u201cJalan Desa\u201d \u2026 [CJK UNIFIED IDEOGRAPH-6F22][CJK UNIFIED "
            "IDEOGRAPH-5B57]") in text
    assert "Dokumen gagal diunggah \u2014 kode \u00abE-17\u00bb; emoji [THUMBS UP SIGN]." in text


def test_form_of_an_open_ticket_and_of_no_ticket(month: Month, session: Session) -> None:
    settings = form_settings(month.settings, logo=_logo())
    assert form_data(session, "99-9999", settings) is None
    t = session.scalars(select(Ticket).where(Ticket.state == "escalated").order_by(Ticket.id)).first()
    assert t is not None
    now = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
    data = form_data(session, t.number, settings, now=now)
    assert isinstance(data, FormData) and not data.closed and data.logo
    text, _ = pdf_words(form_pdf(data))
    assert "Hasil penanganan Belum selesai." in text and "Waktu penyelesaian Belum (target" in text
    assert "Belum ada jawaban." in text and f"Tideng Pale, {day(now)}" in text
    assert data.logo_uri.startswith("data:image/png;base64,") and data.logo_uri in form_html(data)


def test_form_of_a_report_taken_by_phone_or_whatsapp(month: Month, session: Session) -> None:
    settings = form_settings(month.settings)
    for channel, checked in (("telepon", "Telepon"), ("datang", "Datang langsung"), ("whatsapp", "Lainnya: WhatsApp")):
        t = session.scalars(select(Ticket).where(Ticket.channel == channel).order_by(Ticket.id)).first()
        assert t is not None, channel
        received = events_of(session, t.id)[0]
        assert received.event == "report_received"
        taker = session.scalar(select(Party.name).where(Party.address == received.actor))
        data = form_data(session, t.number, settings)
        assert data is not None
        text, bold = pdf_words(form_pdf(data))
        assert f"Nama pelapor {received.detail['reporter']}" in text
        assert f"Instansi / perusahaan {received.detail['organisation']}" in text
        assert f"Telepon {t.contact}" in text and f"Dicatat oleh {taker}" in text
        assert checked in bold and bold.count("Email") == 1  # the contact row's label, not a crossed box
        page = form_html(data)
        assert re.findall(r'class="opt on"><span class="box">[^<]*</span>([^<]+)</span>', page)[0] == checked


def test_form_of_a_merged_copy_and_of_its_original(month: Month, session: Session) -> None:
    settings = form_settings(month.settings)
    merge = session.scalars(select(Event).where(Event.event == "merged").order_by(Event.id)).first()
    assert merge is not None
    copy, original = session.get(Ticket, merge.ticket_id), merge.detail["into"]
    assert copy is not None and copy.closed_at is not None
    data = form_data(session, copy.number, settings)
    assert data is not None and data.closed and data.linked_to == original
    text, _ = pdf_words(form_pdf(data))
    assert f"Hasil penanganan Digabungkan ke tiket {original} (laporan yang sama)." in text
    assert f"Tanggal / jam ditutup {day(copy.closed_at)} {clock(copy.closed_at)}" in text
    first = form_data(session, original, settings)
    assert first is not None
    assert f"Tiket {copy.number} (laporan yang sama) digabungkan ke tiket ini" in pdf_words(form_pdf(first))[0]


def _logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 60), (0, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the monthly report -------------------------------------------------------------------------
def test_month_bounds() -> None:
    assert month_bounds("2026-11", "Asia/Makassar") == (START.astimezone(timezone.utc), END.astimezone(timezone.utc))
    assert month_bounds("2026-12", "Asia/Makassar")[1] == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    for bad in ("2026-13", "26-11", "2026/11", "november"):
        with pytest.raises(ValueError):
            month_bounds(bad, "Asia/Makassar")


def test_monthly_report_against_the_database(month: Month, session: Session) -> None:
    report = monthly_report(session, "2026-11", form_settings(month.settings), month.clock())
    tickets = session.scalars(select(Ticket).order_by(Ticket.id)).all()
    events = {t.id: events_of(session, t.id) for t in tickets}
    intake = [t for t in tickets if START <= t.created_at < END]
    assert report.intake == len(intake) >= 300  # 300 reports, and the copies some reporters sent
    assert {r.key: r.intake for r in report.by_type if r.intake} == \
        dict(Counter(t.type or "" for t in intake))
    assert {r.key: r.intake for r in report.by_category} == dict(Counter(t.category or "" for t in intake))
    channels = Counter({"datang": "datang_langsung"}.get(t.channel, t.channel) for t in intake)
    assert {r.key: r.intake for r in report.by_channel if r.intake} == dict(channels)
    assert [r.label for r in report.by_channel][:3] == ["Email", "Telepon", "Datang langsung"]
    assert channels["telepon"] and channels["datang_langsung"] and channels["whatsapp"]
    closings = [e for t in tickets for e in events[t.id] if e.event in ("resolved", "merged")
                and START <= e.created_at < END]
    closed = {e.ticket_id for e in closings}
    assert report.closed == len(closed) and sum(r.closed for r in report.by_type) == len(closed)
    merged = {e.ticket_id for e in closings if e.event == "merged"}
    assert report.merged == len(merged - {e.ticket_id for e in closings if e.event == "resolved"}) > 0
    open_end = [t for t in tickets if state_at(events[t.id], END) not in (None, "closed")]
    open_start = [t for t in tickets if state_at(events[t.id], START) not in (None, "closed")]
    assert report.open_at_end == len(open_end) and report.open_at_start == len(open_start)
    assert report.open_at_start + report.intake + report.reopened - report.closed == report.open_at_end
    # The month's end is not now: tickets open then were closed in December since.
    assert any(t.state == "closed" for t in open_end) and report.open_at_start > 0
    assert [o.number for o in report.oldest_open] == \
        [t.number for t in sorted(open_end, key=lambda t: (t.created_at, t.id))[:10]]


def test_monthly_report_times_against_the_sla(month: Month, session: Session) -> None:
    report = monthly_report(session, "2026-11", form_settings(month.settings), month.clock())
    tickets = session.scalars(select(Ticket).where(Ticket.created_at < END).order_by(Ticket.id)).all()
    response, resolution, pending = [], [], 0
    for t in tickets:
        evs = events_of(session, t.id)
        if START <= t.created_at < END:
            if t.first_response_at is not None and t.first_response_at < END:
                response.append((hours_between(month, evs, t.created_at, t.first_response_at), target(t, 0)))
            else:
                pending += 1
        closings = [e for e in evs if e.event == "resolved" and START <= e.created_at < END]  # not merges
        if closings:
            resolution.append((hours_between(month, evs, t.created_at, closings[-1].created_at), target(t, 1)))
    for stats, pairs in ((report.response, response), (report.resolution, resolution)):
        hours = [h for h, _ in pairs]
        assert stats.count == len(pairs) > 200
        assert stats.median_hours == pytest.approx(statistics.median(hours), abs=1e-9)
        p90 = statistics.quantiles(hours, n=10, method="inclusive")[8]
        assert stats.p90_hours == pytest.approx(p90, abs=1e-9)
        within = sum(h <= goal + 1e-9 for h, goal in pairs)
        assert stats.within_target == within and 0 < within < len(pairs)
    assert report.response.pending == pending


def test_monthly_report_escalations_and_coordinator(month: Month, session: Session) -> None:
    report = monthly_report(session, "2026-11", form_settings(month.settings), month.clock())
    in_month = [e for e in session.scalars(select(Event).order_by(Event.id)) if START <= e.created_at < END]
    escalations = Counter(e.detail["group"] for e in in_month if e.event == "escalated")
    titles = {name: title for name, title, _ in GROUPS}
    assert {g.title: g.escalations for g in report.escalations} == {titles[g]: n for g, n in escalations.items()}
    assert len(escalations) == 3
    reported = [e for e in in_month if e.event == "reported_to_coordinator"]
    recommended = [e for e in in_month if e.event == "recommended"]
    c = report.coordinator
    assert (c.reported, c.recommendations) == (len(reported), len(recommended))
    assert c.automatic == sum(e.actor == "maild" for e in reported) > 0
    assert c.tickets_recommended == len({e.ticket_id for e in recommended}) > 0
    assert {e.actor for e in recommended} == {COORDINATOR[1]}


def test_report_html_has_the_charts_and_the_figures(month: Month, session: Session) -> None:
    report = monthly_report(session, "2026-11", form_settings(month.settings), month.clock())
    page = report_html(report, Renderer())
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # type, category, channel, SLA, escalations
    for data in images:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.format == "PNG" and image.width == 640 and image.height > 100
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S))))
    assert "LAPORAN BULANAN" in text and "Periode 1-30 November 2026" in text
    assert f"menerima {report.intake} laporan dan menyelesaikan {report.closed}" in text
    assert f"Tanggapan pertama {report.response.count} {decimal(report.response.median_hours or 0, 1)} jam" in text
    for o in report.oldest_open:
        assert o.number in text
    for g in report.escalations:
        assert f"{g.title} {g.escalations} {g.tickets} {g.answered}" in text


def test_report_csv_and_files(month: Month, session: Session, tmp_path: Path) -> None:
    report = monthly_report(session, "2026-11", form_settings(month.settings), month.clock())
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    value = {(r["bagian"], r["kunci"], r["ukuran"]): r["nilai"] for r in rows}
    assert {r["bulan"] for r in rows} == {"2026-11"}
    assert value[("ringkasan", "masuk", "jumlah")] == str(report.intake)
    assert value[("ringkasan", "terbuka_akhir", "jumlah")] == str(report.open_at_end)
    assert sum(int(r["nilai"]) for r in rows if r["bagian"] == "jenis" and r["ukuran"] == "masuk") == report.intake
    assert float(value[("waktu", "resolution", "p90_jam_kerja")]) == round(report.resolution.p90_hours or 0, 2)
    assert len([r for r in rows if r["bagian"] == "terbuka_tertua"]) == len(report.oldest_open) == 10
    html_file, csv_file = write_report(report, tmp_path / "out")
    assert html_file.name == "laporan-helpdesk-2026-11.html" and csv_file.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "data:image/png;base64," in html_file.read_text(encoding="utf-8")


def test_report_of_an_empty_month(month: Month, session: Session) -> None:
    report = monthly_report(session, "2026-08", form_settings(month.settings), month.clock())
    assert (report.intake, report.closed, report.open_at_end, report.response.count) == (0, 0, 0, 0)
    assert report.response.median_hours is None and report.escalations == ()
    page = report_html(report)
    assert "Tidak ada eskalasi pada bulan ini." in page and "Tidak ada tiket terbuka pada akhir bulan." in page
    assert page.count("data:image/png;base64,") == 4
