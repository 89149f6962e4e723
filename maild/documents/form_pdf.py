"""The recording form as an A4 PDF, drawn with fpdf2 from the values ``form_data`` loaded.

Drawing only: the PDF shows a ``FormData`` and never reads the database. It embeds DejaVu
Sans (shipped in ``fonts/`` with its licence), so what people wrote prints as written: ``≥``,
``→``, typographic quotes, accented names. A character the font has no glyph for (an emoji, a
Chinese character) is printed as its Unicode name in brackets (``[GRINNING FACE]``) by
``pdf_text``: an official record never shows a ``?`` where the reporter wrote something.
The layout follows a paper form: numbered shaded sections (one per SOP step), label/value
rows, checkboxes for the choices, and the two signatures at the end.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import cast

from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace
from fpdf.enums import MethodReturnValue, XPos, YPos
from fpdf.util import Padding

from maild.base.resources import resource_dir
from maild.documents.form_data import FormData
from maild.sop.vocabulary import Priority, TicketType, labels

_FONT = "DejaVu"
# fpdf2 style -> the file of that face; "U" (underline) is drawn, not a face of its own.
_FACES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
# Invisible or layout characters: what they stand for on a printed form.
_PDF_REPLACEMENTS = {"\t": "    ", "\u00a0": " ", "\u200b": "", "\ufeff": "", "\u00ad": ""}


def _font_file(style: str) -> Path:
    return resource_dir("fonts") / _FACES[style]


@cache
def _covered() -> frozenset[int]:
    """The code points every face of the font has a glyph for (read once: the font files are
    shipped with maild and do not change while it runs)."""
    faces = []
    for style in _FACES:
        with TTFont(_font_file(style), lazy=True) as font:
            faces.append(set(font.getBestCmap()))
    return frozenset(set.intersection(*faces))


def pdf_text(text: str) -> str:
    """``text`` as the form's font can print it: every character it has a glyph for as it is;
    an accented letter it lacks as its base letter; anything else as its Unicode name in
    brackets (``[GRINNING FACE]``), never a ``?``. Control characters become spaces."""
    covered = _covered()
    out: list[str] = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        if ch in _PDF_REPLACEMENTS:
            out.append(_PDF_REPLACEMENTS[ch])
        elif 0xFE00 <= ord(ch) <= 0xFE0F:
            continue  # a variation selector (emoji or text style of the character before it)
        elif ch == "\n" or (ord(ch) in covered and ch.isprintable()):
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(" ")
        elif unicodedata.category(ch) in ("Cf", "Mn", "Me"):
            continue  # joiners and marks the font lacks carry no meaning of their own
        else:
            out.append(_stand_in(ch, covered))
    return "".join(out)


def _stand_in(ch: str, covered: frozenset[int]) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and base != ch and all(ord(c) in covered for c in base):
        return base
    return f"[{unicodedata.name(ch, f'U+{ord(ch):04X}')}]"


def form_pdf(data: FormData) -> bytes:
    """The form as an A4 PDF (fpdf2, DejaVu Sans embedded, text through ``pdf_text``)."""
    pdf = _FormPdf(data)
    pdf.add_page()
    pdf.title_block()
    _pdf_report_sections(pdf, data)
    _pdf_follow_up(pdf, data)
    _pdf_escalation(pdf, data)
    _pdf_coordinator(pdf, data)
    _pdf_closing(pdf, data)
    pdf.signatures()
    return bytes(pdf.output())


_MARGIN = 18.0
_WIDTH = 210.0 - 2 * _MARGIN  # usable width of an A4 page, mm
_LABEL_W = 50.0
_LINE = 4.6  # line height of 9 pt text, mm
_PAD = 1.6
_GREY = (232, 234, 237)
_DARK = (60, 60, 60)


class _FormPdf(FPDF):
    """An A4 page with the form's running header and footer, and its building blocks."""

    def __init__(self, data: FormData) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.data = data
        self.set_margins(_MARGIN, 14, _MARGIN)
        self.set_auto_page_break(True, margin=16)
        self.set_title(pdf_text(f"Formulir Pencatatan Gangguan dan Permintaan Layanan {data.number}"))
        self.set_author(pdf_text(data.lpse_name))
        self.set_creator("maild")
        for style in _FACES:
            self.add_font(_FONT, style, _font_file(style))

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(_FONT, "", 8)
        self.set_text_color(*_DARK)
        self.cell(_WIDTH, 4, pdf_text(f"{self.data.lpse_name} - Formulir Pencatatan Gangguan dan Permintaan "
                                      f"Layanan - Tiket {self.data.number}"), align="L")
        self.ln(7)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, "", 7.5)
        self.set_text_color(*_DARK)
        printed = f"Dicetak {self.data.printed_at}" if self.data.printed_at else ""
        self.cell(_WIDTH / 2, 4, pdf_text(f"SOP 05 - Tiket {self.data.number}   {printed}"), align="L")
        self.cell(_WIDTH / 2, 4, f"Halaman {self.page_no()} dari {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    def title_block(self) -> None:
        """The letterhead (logo, the LPSE's name, a double rule), the title and the ticket number."""
        d, top = self.data, self.get_y()
        if d.logo:
            self.image(io.BytesIO(d.logo), x=_MARGIN, y=top, h=20)
        self.set_font(_FONT, "B", 15)
        self.cell(_WIDTH, 7, pdf_text(d.lpse_name.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(_FONT, "", 9.5)
        for line in ("Layanan Pengadaan Secara Elektronik - Helpdesk",
                     "Standar 05: Pengelolaan Gangguan/Permasalahan dan Permintaan Layanan"):
            self.cell(_WIDTH, 5, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = max(self.get_y(), top + 20) + 2
        self.set_line_width(0.8)
        self.line(_MARGIN, y, _MARGIN + _WIDTH, y)
        self.set_line_width(0.2)
        self.line(_MARGIN, y + 1.2, _MARGIN + _WIDTH, y + 1.2)
        self.set_y(y + 5)
        self.set_font(_FONT, "B", 12.5)
        self.cell(_WIDTH, 6, "FORMULIR PENCATATAN GANGGUAN DAN PERMINTAAN LAYANAN", align="C",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(_FONT, "", 10)
        self.cell(_WIDTH, 6, pdf_text(f"Nomor Tiket: {d.number}"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def section(self, number: int, title: str, step: str) -> None:
        """A shaded bar: ``3. URAIAN LAPORAN`` with the SOP step on the right."""
        if self.will_page_break(6 + 4 * _LINE):
            self.add_page()
        self.ln(2.5)
        self.set_fill_color(*_GREY)
        self.set_font(_FONT, "B", 9.5)
        self.cell(_WIDTH - 40, 6, pdf_text(f"{number}. {title.upper()}"), border="LTB", fill=True)
        self.set_font(_FONT, "I", 8)
        self.cell(40, 6, pdf_text(step), border="RTB", fill=True, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def field(self, label: str, value: str) -> None:
        """A row of the form: the label on the left, the value (wrapped) on the right."""
        text = pdf_text(value.strip() or "-")[:2500]
        self.set_font(_FONT, "", 9)
        lines = self._line_count(_WIDTH - _LABEL_W - 2 * _PAD, text)
        self.set_font(_FONT, "B", 8.5)
        height = max(lines, self._line_count(_LABEL_W - 2 * _PAD, pdf_text(label)), 1) * _LINE + 2 * _PAD
        if self.will_page_break(height):
            self.add_page()
        x, y = _MARGIN, self.get_y()
        self.set_fill_color(246, 247, 249)
        self.rect(x, y, _LABEL_W, height, style="DF")
        self.rect(x + _LABEL_W, y, _WIDTH - _LABEL_W, height, style="D")
        self.set_xy(x + _PAD, y + _PAD)
        self.multi_cell(_LABEL_W - 2 * _PAD, _LINE, pdf_text(label), align="L")
        self.set_font(_FONT, "", 9)
        self.set_xy(x + _LABEL_W + _PAD, y + _PAD)
        self.multi_cell(_WIDTH - _LABEL_W - 2 * _PAD, _LINE, text, align="L")
        self.set_xy(x, y + height)

    def _line_count(self, width: float, text: str) -> int:
        """How many lines ``text`` takes in the current font at ``width``."""
        lines = self.multi_cell(width, _LINE, text, dry_run=True, output=MethodReturnValue.LINES)
        return len(cast(list[str], lines))

    def checks(self, label: str, options: Sequence[tuple[str, str]], selected: str | None) -> None:
        """A row of checkboxes, the selected one crossed: the way a paper form asks a choice."""
        height = _LINE + 2 * _PAD + 0.6
        if self.will_page_break(height):
            self.add_page()
        x, y = _MARGIN, self.get_y()
        self.set_fill_color(246, 247, 249)
        self.rect(x, y, _LABEL_W, height, style="DF")
        self.rect(x + _LABEL_W, y, _WIDTH - _LABEL_W, height, style="D")
        self.set_font(_FONT, "B", 8.5)
        self.set_xy(x + _PAD, y + _PAD)
        self.cell(_LABEL_W - 2 * _PAD, _LINE, pdf_text(label))
        self.set_font(_FONT, "", 9)
        cx, box = x + _LABEL_W + _PAD + 0.5, 3.4
        for key, name in options:
            top = y + (height - box) / 2
            self.rect(cx, top, box, box)
            if key == selected:
                self.set_line_width(0.45)
                self.line(cx + 0.6, top + 0.6, cx + box - 0.6, top + box - 0.6)
                self.line(cx + 0.6, top + box - 0.6, cx + box - 0.6, top + 0.6)
                self.set_line_width(0.2)
            self.set_xy(cx + box + 1.4, y + _PAD + 0.3)
            self.set_font(_FONT, "B" if key == selected else "", 9)
            self.cell(self.get_string_width(pdf_text(name)) + 1, _LINE, pdf_text(name))
            cx += box + 1.4 + self.get_string_width(pdf_text(name)) + 5.5
        self.set_xy(x, y + height)

    def note(self, text: str) -> None:
        """A full-width bordered line of text (an empty section says so)."""
        self.set_font(_FONT, "I", 9)
        self.multi_cell(_WIDTH, _LINE + 1.5, pdf_text(text), border=1, align="L", padding=Padding(0.6, _PAD, 0.6, _PAD),
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def block(self, text: str) -> None:
        """Long text (the report) over the full width; it may run onto the next page."""
        self.set_font(_FONT, "", 9)
        self.multi_cell(_WIDTH, _LINE, pdf_text(text.strip() or "-")[:6000], border=1, align="L",
                        padding=Padding(_PAD, _PAD, _PAD, _PAD), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def signatures(self) -> None:
        """Acknowledged by the coordinator (left), made by the helpdesk officer (right), dated."""
        d = self.data
        if self.will_page_break(48):
            self.add_page()
        self.ln(7)
        y, half = self.get_y(), _WIDTH / 2
        place = f"{d.place}, {d.signed_date}" if d.signed_date else f"{d.place}, ......................"
        for x, lines, name in ((_MARGIN, ("", "Mengetahui,", "Koordinator Helpdesk"), d.coordinator),
                               (_MARGIN + half, (place, "", "Petugas Helpdesk"), d.officer)):
            self.set_xy(x, y)
            self.set_font(_FONT, "", 9.5)
            for line in lines:
                self.cell(half, 5, pdf_text(line), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_xy(x, y + 38)
            self.set_font(_FONT, "BU" if name else "", 9.5)
            self.cell(half, 5, pdf_text(name or "(..............................................)"), align="C")


def _pdf_report_sections(pdf: _FormPdf, d: FormData) -> None:
    """Sections 1-4: the report, the reporter, what was reported, the classification."""
    pdf.section(1, "Data Laporan", "SOP langkah 1")
    pdf.field("Nomor tiket", d.number + (f" (terkait tiket {d.linked_to})" if d.linked_to else ""))
    pdf.field("Tanggal diterima", d.received_date)
    pdf.field("Jam diterima", d.received_time)
    pdf.checks("Media pelaporan", d.channel_options, d.channel_checked)
    pdf.field("Dicatat oleh", d.received_by)
    pdf.section(2, "Data Pelapor", "SOP langkah 1")
    pdf.field("Nama pelapor", d.reporter_name)
    pdf.field("Instansi / perusahaan", d.organisation)
    pdf.field("Email", d.email)
    pdf.field("Telepon", d.phone)
    pdf.section(3, "Uraian Laporan", "SOP langkah 1")
    pdf.field("Perihal", d.subject)
    pdf.block(d.description)
    pdf.field("Lampiran", "\n".join(f"{a.filename} ({a.size})" for a in d.attachments) or "Tidak ada lampiran.")
    pdf.section(4, "Klasifikasi", "SOP langkah 2")
    pdf.checks("Jenis laporan", tuple(labels(TicketType).items()), d.type)
    pdf.field("Kategori", d.category_label)
    pdf.checks("Prioritas", tuple(labels(Priority).items()), d.priority)
    pdf.field("Dasar klasifikasi", d.classified_by)


def _pdf_follow_up(pdf: _FormPdf, d: FormData) -> None:
    """Section 5: every follow-up action, dated, with who took it."""
    pdf.section(5, "Tindak Lanjut Penanganan", "SOP langkah 3 dan 5")
    if not d.follow_up:
        pdf.note("Belum ada tindak lanjut yang dicatat.")
        return
    pdf.set_font(_FONT, "", 8.5)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(cell_fill_mode="NONE", col_widths=(8, 33, 97, 36), line_height=4.2,
                   text_align=("CENTER", "LEFT", "LEFT", "LEFT"), padding=(1.2, 1.4), width=_WIDTH, align="LEFT",
                   headings_style=FontFace(emphasis="BOLD", fill_color=_GREY)) as table:
        table.row(("No", "Tanggal / jam", "Tindakan", "Oleh"))
        for i, e in enumerate(d.follow_up, 1):
            what = e.what + (f": {_clip(e.text, 700)}" if e.text else "")
            table.row((str(i), pdf_text(e.at), pdf_text(what), pdf_text(e.who)))


def _pdf_escalation(pdf: _FormPdf, d: FormData) -> None:
    """Section 6: escalation to other service management, and the answers."""
    pdf.section(6, "Eskalasi / Koordinasi Layanan Lain", "SOP langkah 4")
    if not d.escalations:
        pdf.note("Tidak dieskalasi: ditangani oleh Helpdesk.")
        return
    for n, esc in enumerate(d.escalations, 1):
        suffix = f" ({n})" if len(d.escalations) > 1 else ""
        pdf.field(f"Dieskalasi kepada{suffix}", esc.group)
        pdf.field("Tanggal eskalasi", f"{esc.at}, oleh {esc.by}")
        pdf.field("Catatan eskalasi", esc.note or "-")
        answers = "\n".join(f"{a.at} - {a.who}: {_clip(a.text, 900)}" for a in esc.answers)
        pdf.field("Jawaban", answers or "Belum ada jawaban.")


def _pdf_coordinator(pdf: _FormPdf, d: FormData) -> None:
    """Section 7: reported to the coordinator, and the recommendations."""
    pdf.section(7, "Koordinator Helpdesk", "SOP langkah 6 dan 7")
    if not d.coordinator_reports and not d.recommendations:
        pdf.note("Tidak dilaporkan kepada Koordinator Helpdesk.")
        return
    reports = "\n".join(f"{r.at}, oleh {r.who}" + (f": {_clip(r.text, 500)}" if r.text else "")
                         for r in d.coordinator_reports)
    pdf.field("Dilaporkan kepada Koordinator", reports or "-")
    recs = "\n".join(f"{r.at} - {r.who}: {_clip(r.text, 900)}" for r in d.recommendations)
    pdf.field("Rekomendasi Koordinator", recs or "Belum ada rekomendasi.")


def _pdf_closing(pdf: _FormPdf, d: FormData) -> None:
    """Section 8: the result given to the reporter, closing, and the working time used."""
    pdf.section(8, "Hasil Penanganan dan Penutupan", "SOP langkah 8")
    pdf.field("Hasil penanganan", d.result or "Belum selesai.")
    pdf.field("Status tiket", d.state_label)
    pdf.field("Tanggal / jam ditutup", f"{d.closed_date} {d.closed_time}" if d.closed else "-")
    pdf.field("Waktu tanggapan pertama", d.times.response_sentence)
    pdf.field("Waktu penyelesaian", d.times.resolution_sentence)
    pdf.field("Petugas Helpdesk", d.officer or "-")


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
