"""The monthly report as files: its charts, one self-contained HTML page, and the figures as CSV.

Output only: everything here renders a ``Report`` that ``maild.documents.report_figures``
computed, and never reads the database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from maild.documents.cells import csv_cell
from maild.documents.chart import Bar, bar_chart_png
from maild.documents.labels import format_number
from maild.documents.report_figures import CountRow, Report
from maild.documents.survey_figures import SurveyFigures
from maild.documents.templating import Templates, data_uri, render_document


def _rounded(value: object) -> object:
    """A figure as the CSV writes it: hours to two decimals, counts as they are."""
    return round(value, 2) if isinstance(value, float) else value


def report_charts(report: Report) -> dict[str, bytes]:
    """The report's charts as PNG bytes, by name (``kategori``, ``jenis``, ``saluran``, ``sla``,
    and ``eskalasi`` when there were escalations)."""
    def bars(rows: Sequence[CountRow]) -> list[Bar]:
        return [Bar(r.label, r.intake, r.closed) for r in rows if r.intake or r.closed]

    charts = {
        "kategori": bar_chart_png(bars(report.by_category), "Laporan masuk dan selesai menurut kategori"),
        "jenis": bar_chart_png(bars(report.by_type), "Laporan masuk dan selesai menurut jenis"),
        "saluran": bar_chart_png(bars(report.by_channel), "Laporan masuk dan selesai menurut media"),
        "sla": bar_chart_png(
            [Bar(t.label, t.within_target, t.count - t.within_target) for t in (report.response, report.resolution)],
            "Waktu penanganan terhadap target SLA", legend=("Dalam target", "Melewati target")),
    }
    if report.escalations:
        charts["eskalasi"] = bar_chart_png([Bar(g.title, g.escalations, g.answered) for g in report.escalations],
                                           "Eskalasi menurut pengelola layanan", legend=("Dieskalasi", "Dijawab"))
    return charts


def report_html(report: Report, templates: Templates = None, language: str = "id",
                charts: Mapping[str, bytes] | None = None, cid: bool = False) -> str:
    """The report as one self-contained HTML page (charts inline as ``data:`` PNG images).

    With ``cid`` the images are ``cid:NAME`` (``cid:logo`` for the logo) instead: the page goes
    into a mail that carries them as related parts, which mail clients show where many refuse
    ``data:`` images."""
    images = report_charts(report) if charts is None else charts
    def source(name: str, image: bytes | None) -> str:
        return (f"cid:{name}" if image else "") if cid else data_uri(image)

    return render_document(templates, "report.html.j2", language, {
        "r": report, "charts": {name: source(name, png) for name, png in images.items()},
        "logo": source("logo", report.logo), "num": format_number,
    })


_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)


def page_parts(page: str) -> tuple[str, str]:
    """The stylesheet and the inside of the body of a page ``report_html`` wrote, so a mail
    can show the report within its own page (whatever sections the report has)."""
    style, body = _STYLE.search(page), _BODY.search(page)
    return (style.group(1) if style else ""), (body.group(1) if body else page)


def csv_name(month: str) -> str:
    """The CSV's file name: ``laporan-helpdesk-YYYY-MM.csv``."""
    return f"laporan-helpdesk-{month}.csv"


def report_csv_bytes(report: Report) -> bytes:
    """The CSV as a file holds it: UTF-8 with a byte order mark, so that spreadsheet programs
    read it as UTF-8."""
    return report_csv(report).encode("utf-8-sig")


def _csv_rows(report: Report) -> Iterable[tuple[str, str, str, str, object]]:
    yield from (("ringkasan", k, label, "jumlah", v) for k, label, v in (
        ("masuk", "Laporan masuk", report.intake), ("selesai", "Laporan selesai", report.closed),
        ("digabung", "Digabung (duplikat)", report.merged),
        ("terbuka_awal", "Terbuka awal bulan", report.open_at_start),
        ("dibuka_kembali", "Dibuka kembali", report.reopened),
        ("terbuka_akhir", "Terbuka saat ini" if report.partial else "Terbuka akhir bulan", report.open_at_end)))
    for section, rows in (("jenis", report.by_type), ("kategori", report.by_category),
                          ("media", report.by_channel), ("prioritas", report.by_priority)):
        for r in rows:
            yield section, r.key or "-", r.label, "masuk", r.intake
            yield section, r.key or "-", r.label, "selesai", r.closed
    for t in (report.response, report.resolution):
        share = None if t.share_within is None else round(100 * t.share_within, 1)
        for metric, value in (("jumlah", t.count), ("median_jam_kerja", t.median_hours),
                              ("p90_jam_kerja", t.p90_hours), ("dalam_target", t.within_target),
                              ("persen_dalam_target", share), ("belum", t.pending)):
            yield "waktu", t.measure, t.label, metric, value
    for g in report.escalations:
        for metric, value in (("eskalasi", g.escalations), ("tiket", g.tickets), ("dijawab", g.answered),
                              ("menunggu_akhir_bulan", g.waiting_at_end), ("median_jawab_jam_kerja",
                                                                            g.median_answer_hours)):
            yield "eskalasi", g.group, g.title, metric, value
    c = report.coordinator
    for metric, value in (("dilaporkan", c.reported), ("tiket_dilaporkan", c.tickets), ("otomatis_sla", c.automatic),
                          ("rekomendasi", c.recommendations), ("tiket_direkomendasi", c.tickets_recommended),
                          ("menunggu_akhir_bulan", c.waiting_at_end),
                          ("median_rekomendasi_jam_kerja", c.median_recommendation_hours)):
        yield "koordinator", "-", "Koordinator Helpdesk", metric, value
    for o in report.oldest_open:
        yield "terbuka_tertua", o.number, o.subject, "umur_jam_kerja", o.age_hours
    if report.survey is not None:
        yield from _survey_rows(report.survey)


def _survey_rows(v: SurveyFigures) -> Iterable[tuple[str, str, str, str, object]]:
    """The survey (SKM) in the same long form: counts, each element's NRR, the index, comments."""
    ix = v.index
    rate = None if v.rate is None else round(100 * v.rate, 1)
    yield from (("skm", "-", label, metric, value) for label, metric, value in (
        ("Responden", "jumlah", v.responses), ("Tiket selesai", "jumlah", v.closed),
        ("Tingkat respons", "persen", rate)))
    for e in ix.elements:
        yield "skm", e.element.code, e.element.name_id, "nrr", None if e.nrr is None else round(e.nrr, 4)
    yield "skm", "IKM", "Nilai IKM (jumlah NRR tertimbang)", "nilai", None if ix.ikm is None else round(ix.ikm, 4)
    yield "skm", "IKM", "IKM konversi", "nilai", None if ix.converted is None else round(ix.converted, 2)
    category = ix.category
    if category is not None:
        yield "skm", "IKM", category.kinerja_id, "mutu", category.mutu
    for c in v.comments:
        yield "skm_saran", c.number, c.text, c.ratings, c.at


def report_csv(report: Report) -> str:
    """The figures as CSV in long form: ``bagian,kunci,label,ukuran,nilai`` (decimal point).

    Text cells are quoted and escaped against formulas (``maild.documents.cells``: the oldest
    open tickets are listed by their subjects); the figures stay numbers.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(("bulan", "bagian", "kunci", "label", "ukuran", "nilai"))
    for section, key, label, metric, value in _csv_rows(report):
        row = (report.month, section, key, label, metric, "" if value is None else _rounded(value))
        writer.writerow(tuple(csv_cell(v) for v in row))
    return out.getvalue()


def write_report(report: Report, directory: Path, templates: Templates = None) -> tuple[Path, Path]:
    """Write ``laporan-helpdesk-YYYY-MM.html`` and ``.csv`` into ``directory`` (created if missing).

    The CSV is written with a byte order mark so that spreadsheet programs read it as UTF-8.
    """
    directory.mkdir(parents=True, exist_ok=True)
    table = directory / csv_name(report.month)
    html = table.with_suffix(".html")
    html.write_text(report_html(report, templates), encoding="utf-8")
    table.write_bytes(report_csv_bytes(report))
    return html, table


__all__ = ["csv_name", "page_parts", "report_charts", "report_csv", "report_csv_bytes", "report_html", "write_report"]
