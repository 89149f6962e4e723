"""The register: one row per ticket with every field of the recording form (csv or xlsx).

An LPSE is audited on whether its records are complete; the register is the recording form
for every ticket of a period, in one table an auditor can filter.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.documents.cells import csv_text, xlsx_text
from maild.documents.form_data import FormData, forms
from maild.documents.settings import FormSettings
from maild.store.models import Ticket

COLUMNS = (
    "No. Tiket", "Tanggal Diterima", "Jam Diterima", "Saluran", "Dicatat oleh", "Nama Pelapor",
    "Instansi/Perusahaan", "Email", "Telepon", "Subjek", "Uraian", "Jenis", "Kategori", "Prioritas",
    "Klasifikasi oleh", "Tindak Lanjut", "Eskalasi", "Dilaporkan ke Koordinator", "Rekomendasi Koordinator",
    "Hasil", "Status", "Tanggal Selesai", "Jam Selesai", "Tanggapan Pertama", "Penyelesaian",
    "Petugas Helpdesk", "Terkait Tiket",
)


# In the XLSX register these are real dates, times and numbers (sortable), with a display format.
_DATE, _TIME, _HOURS = "DD-MM-YYYY", "HH:MM", "0.0"
XLSX_COLUMNS = tuple({"Tanggapan Pertama": "Tanggapan Pertama (jam kerja)",
                      "Penyelesaian": "Penyelesaian (jam kerja)"}.get(c, c) for c in COLUMNS) + (
    "Target Tanggapan (jam kerja)", "Target Penyelesaian (jam kerja)")

Cell = str | float | date | time | None


def register_rows(session: Session, start: datetime, end: datetime, settings: FormSettings) -> list[FormData]:
    """Every ticket of ``settings.mailbox`` received in [start, end), oldest first: its recording
    form's data."""
    tickets = session.scalars(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end,
                             Ticket.mailbox == settings.mailbox).order_by(Ticket.id)
    ).all()
    return forms(session, tickets, settings)


def _lines(entries: tuple[object, ...]) -> str:
    return "\n".join(f"{e.at} {e.who}: {e.what}" + (f" - {e.text}" if e.text else "")  # type: ignore[attr-defined]
                     for e in entries)


def text_row(d: FormData) -> dict[str, str]:
    """A register row as text, column by column (the CSV)."""
    escalations = "\n".join(
        f"{e.at} {e.group} (oleh {e.by}): {e.note}" + "".join(f"\n  jawaban {a.at} {a.who}: {a.text}" for a in e.answers)
        for e in d.escalations)
    values = (
        d.number, d.received_date, d.received_time, d.channel_label, d.received_by, d.reporter_name,
        d.organisation, d.email, d.phone, d.subject, d.description, d.type_label, d.category_label,
        d.priority_label, d.classified_by, _lines(d.follow_up), escalations, _lines(d.coordinator_reports),
        _lines(d.recommendations), d.result, d.state_label, d.closed_date, d.closed_time,
        d.times.response_sentence, d.times.resolution_sentence, d.officer, d.linked_to,
    )
    return dict(zip(COLUMNS, (str(v) for v in values)))


def typed_row(d: FormData) -> list[Cell]:
    """A register row for the XLSX columns: the text of ``text_row``, but the moments as local
    dates and times and the working time as hours (None: not yet)."""
    text = text_row(d)
    received, closed, t = d.received_at, d.closed_at, d.times
    moments: dict[str, Cell] = {
        "Tanggal Diterima": received.date() if received else text["Tanggal Diterima"],
        "Jam Diterima": received.time().replace(second=0, microsecond=0, tzinfo=None) if received
        else text["Jam Diterima"],
        "Tanggal Selesai": closed.date() if closed else None,
        "Jam Selesai": closed.time().replace(second=0, microsecond=0, tzinfo=None) if closed else None,
        "Tanggapan Pertama": t.response_hours, "Penyelesaian": t.resolution_hours,
    }
    return [moments[c] if c in moments else text[c] for c in COLUMNS] + [
        t.response_target_hours, t.resolution_target_hours]


def to_csv(rows: list[FormData]) -> str:
    """CSV with a BOM, so spreadsheet programs read it as UTF-8.

    Every cell of a ticket is quoted and text that would start a formula is prefixed with
    ``'`` (``maild.documents.cells``): the cells are what reporters wrote. The header is ours.
    """
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerow(COLUMNS)
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), quoting=csv.QUOTE_ALL)
    writer.writerows({c: csv_text(row[c]) for c in COLUMNS} for row in map(text_row, rows))
    return out.getvalue()


def write_xlsx(rows: list[FormData], path: Path, title: str) -> None:
    """An Excel workbook: a header row that stays in view, wrapped text, a filter; dates,
    times and hours as real values (they sort), text always as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Register"
    sheet.append(list(XLSX_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(map(typed_row, rows), start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=number, column=column)
            if isinstance(value, str):
                cell.value = xlsx_text(value)
                # openpyxl makes any text starting with "=" a formula; text here is the
                # ticket's, so it is stored as text whatever it starts with.
                cell.data_type = "s"
            elif value is not None:
                cell.value = value
                cell.number_format = (_HOURS if isinstance(value, float) else _TIME if isinstance(value, time)
                                      else _DATE)
    for column in sheet.columns:
        letter = column[0].column_letter
        sheet.column_dimensions[letter].width = min(60, max(12, *(len(str(c.value or "")) for c in column[:50])))
        for cell in column[1:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    book.properties.title = title
    book.save(path)
