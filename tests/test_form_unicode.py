"""The recording form's PDF prints what people wrote: DejaVu Sans is embedded, and a character
it has no glyph for is printed as its Unicode name, never as "?"."""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from desk import Desk, wita
from maild.base.resources import resource_dir
from maild.documents.form_data import form_data
from maild.documents.form_pdf import form_pdf, pdf_text
from maild.documents.settings import form_settings

SUBJECT = "Unggah gagal untuk file ≥ 5 MB → “kutip” café 中"
TEXT = "Nilai HPS Rp 1.000.000; berkas ≥ 5 MB ditolak → mohon dibantu “segera” 👍\ufe0f 😀 中文 é\u200d"
PRINTED = ("≥ 5 MB", "Rp 1.000.000", "“kutip”", "“segera”", "café", "→", "é", "😀")  # DejaVu has 😀
STAND_INS = ("[THUMBS UP SIGN]", "[CJK UNIFIED IDEOGRAPH-4E2D]", "[CJK UNIFIED IDEOGRAPH-6587]")


def test_pdf_text_keeps_what_the_font_has_and_names_what_it_lacks() -> None:
    assert pdf_text("≥ → “x” é ő Rp 1.000.000") == "≥ → “x” é ő Rp 1.000.000"
    assert pdf_text("ok 👍\ufe0f 中\x07!") == "ok [THUMBS UP SIGN] [CJK UNIFIED IDEOGRAPH-4E2D] !"
    assert pdf_text("\U0010FFFD") == "[U+10FFFD]"


@pytest.fixture
def pdf(tmp_path: Path) -> bytes:
    desk = Desk(tmp_path)
    try:
        number = desk.open(SUBJECT, wita(11, 3, 9), text=TEXT)
        with desk.services.factory() as session:
            data = form_data(session, number, form_settings(desk.settings))
    finally:
        desk.services.close()
    assert data is not None
    return form_pdf(data)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_form_pdf_prints_unicode_and_stand_ins(pdf: bytes, tmp_path: Path) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert fonts and all("DejaVuSans" in f for f in fonts), fonts  # embedded, no core font
    text = flat("\n".join(page.extract_text() for page in reader.pages))
    for piece in (*PRINTED, *STAND_INS):
        assert piece in text, (piece, text)
    assert "?" not in text
    if shutil.which("pdftotext"):  # poppler reads it alike
        path = tmp_path / "f.pdf"
        path.write_bytes(pdf)
        poppler = flat(subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                                      text=True, check=True).stdout)
        for piece in (*PRINTED, *STAND_INS):
            assert piece in poppler, (piece, poppler)
        assert "?" not in poppler


def test_the_font_and_its_licence_are_shipped(tmp_path: Path) -> None:
    fonts = resource_dir("fonts")
    assert {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "LICENSE"} <= \
        {p.name for p in fonts.iterdir()}
    assert "Bitstream" in (fonts / "LICENSE").read_text(encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    if importlib.util.find_spec("hatchling") is None:  # the build backend, to build the wheel offline
        pytest.skip("hatchling is not installed: cannot build the wheel here")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(root)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("maild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"maild/fonts/DejaVuSans.ttf", "maild/fonts/DejaVuSans-Bold.ttf", "maild/fonts/DejaVuSans-Oblique.ttf",
            "maild/fonts/LICENSE"} <= names
