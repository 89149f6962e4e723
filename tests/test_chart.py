"""The digest's bar chart: real PNG, deterministic, bars measured from the pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from maild.documents.chart import (
    CLOSED_COLOUR,
    INTAKE_COLOUR,
    MIN_WIDTH,
    Bar,
    Colour,
    _fit,
    _font,
    bar_chart_png,
    format_count,
)

Rect = tuple[int, int, int, int]  # left, top, width, height

WEEK = [
    Bar("registrasi_verifikasi", 14, 11),
    Bar("jaringan_server", 6, 6),
    Bar("sertifikat_elektronik", 9, 4),
    Bar("lupa_password", 22, 21),
    Bar("aplikasi_spse", 11, 7),
    Bar("tender_paket", 3, 0),
    Bar("e_katalog", 5, 5),
    Bar("lainnya", 2, 1),
]


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return image


def _rects(image: Image.Image, colour: Colour) -> list[Rect]:
    """Solid rectangles of exactly ``colour``, top to bottom: runs per row, merged down."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    pixels = rgb.load()
    assert pixels is not None
    runs_by_row: list[list[tuple[int, int]]] = []
    for y in range(height):
        runs: list[tuple[int, int]] = []
        x = 0
        while x < width:
            if pixels[x, y] == colour:
                start = x
                while x < width and pixels[x, y] == colour:
                    x += 1
                runs.append((start, x - start))
            else:
                x += 1
        runs_by_row.append(runs)
    rects: list[Rect] = []
    open_rects: dict[tuple[int, int], int] = {}  # (left, width) -> top
    for y in range(height + 1):
        row = set(runs_by_row[y]) if y < height else set()
        for key in list(open_rects):
            if key not in row:
                top = open_rects.pop(key)
                rects.append((key[0], top, key[1], y - top))
        for key in row:
            open_rects.setdefault(key, y)
    return sorted(rects, key=lambda r: (r[1], r[0]))


def _bars(image: Image.Image, colour: Colour) -> list[Rect]:
    """The plot's bars of ``colour``: every rectangle but the legend swatch (the topmost one)."""
    rects = _rects(image, colour)
    assert rects, "legend swatch missing"
    return rects[1:]


def _luma(colour: Colour) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_png_size_and_mode() -> None:
    image = _open(bar_chart_png(WEEK, "Tiket minggu ini"))
    assert image.mode == "RGB"
    assert image.size[0] == 640
    assert 200 < image.size[1] < 600
    assert _open(bar_chart_png(WEEK, "Tiket", width=480)).size[0] == 480


def test_small_for_a_week_of_eight_categories() -> None:
    assert len(bar_chart_png(WEEK, "Tiket minggu ini per kategori")) < 50_000


def test_deterministic() -> None:
    first = bar_chart_png(WEEK, "Tiket minggu ini")
    assert bar_chart_png(list(WEEK), "Tiket minggu ini") == first
    assert bar_chart_png(tuple(WEEK), "Tiket minggu ini") == first
    changed = [*WEEK[:-1], Bar("lainnya", 2, 2)]
    assert bar_chart_png(changed, "Tiket minggu ini") != first


def test_height_grows_with_the_number_of_bars() -> None:
    heights = [_open(bar_chart_png(WEEK[:1] * n, "T")).size[1] for n in (1, 2, 8, 20)]
    assert heights == sorted(set(heights)), heights
    widths = {_open(bar_chart_png(WEEK[:1] * n, "T")).size[0] for n in (1, 2, 8, 20)}
    assert widths == {640}


def test_twenty_bars_all_drawn() -> None:
    bars = [Bar(f"kategori_{i}", i + 1, i + 1) for i in range(20)]
    image = _open(bar_chart_png(bars, "Dua puluh"))
    assert len(_bars(image, INTAKE_COLOUR)) == 20
    assert len(_bars(image, CLOSED_COLOUR)) == 20


def test_empty_chart_renders_a_message_and_no_bars() -> None:
    image = _open(bar_chart_png([], "Tiket minggu ini"))
    assert image.size[0] == 640 and image.size[1] > 40
    assert _rects(image, INTAKE_COLOUR) == [] and _rects(image, CLOSED_COLOUR) == []
    darkest = image.convert("L").getextrema()[0]
    assert isinstance(darkest, int) and darkest < 128, "no text drawn"
    # the message is really drawn: another message gives other pixels
    assert bar_chart_png([], "Tiket minggu ini", empty_text="No data") != bar_chart_png([], "Tiket minggu ini")
    assert bar_chart_png([], "Tiket minggu ini") != bar_chart_png([], "Lain")


def test_all_zero_chart_renders_without_bars() -> None:
    image = _open(bar_chart_png([Bar("a", 0, 0), Bar("lainnya", 0, 0)], "Nol"))
    assert _bars(image, INTAKE_COLOUR) == []
    assert _bars(image, CLOSED_COLOUR) == []


def test_intake_bar_longer_than_closed_bar_in_proportion() -> None:
    image = _open(bar_chart_png([Bar("registrasi_verifikasi", 10, 5)], "T"))
    [intake] = _bars(image, INTAKE_COLOUR)
    [closed] = _bars(image, CLOSED_COLOUR)
    assert intake[0] == closed[0], "bars start at the same axis"
    assert intake[1] < closed[1], "intake above closed"
    assert intake[3] == closed[3] >= 8, "bars are thick enough to see"
    assert abs(intake[2] - 2 * closed[2]) <= 1, (intake, closed)
    assert intake[2] > 200, "the largest bar uses the width"


def test_bar_lengths_follow_the_numbers_across_categories() -> None:
    bars = [Bar("a", 10, 5), Bar("b", 2, 8), Bar("c", 0, 4), Bar("d", 1234, 617)]
    image = _open(bar_chart_png(bars, "T"))
    intake = _bars(image, INTAKE_COLOUR)
    closed = _bars(image, CLOSED_COLOUR)
    assert len(intake) == 3 and len(closed) == 4  # "c" has no intake bar
    lengths_in = [r[2] for r in intake]
    lengths_cl = [r[2] for r in closed]
    longest = lengths_in[2]
    for value, length in zip((10, 2, 1234), lengths_in):
        assert abs(length - value * longest / 1234) <= 1, (value, length)
    for value, length in zip((5, 8, 4, 617), lengths_cl):
        assert abs(length - value * longest / 1234) <= 1, (value, length)
    # rows keep the given order, top to bottom
    assert [r[1] for r in intake] == sorted(r[1] for r in intake)
    assert closed[0][1] < closed[1][1] < closed[2][1] < closed[3][1]


def test_small_nonzero_count_still_visible() -> None:
    image = _open(bar_chart_png([Bar("a", 5000, 1)], "T"))
    [closed] = _bars(image, CLOSED_COLOUR)
    assert closed[2] >= 1


def test_colours_distinct_in_colour_and_in_greyscale() -> None:
    assert abs(_luma(INTAKE_COLOUR) - _luma(CLOSED_COLOUR)) > 50
    image = _open(bar_chart_png([Bar("a", 10, 10)], "T"))
    [intake] = _bars(image, INTAKE_COLOUR)
    [closed] = _bars(image, CLOSED_COLOUR)
    grey = image.convert("L")
    g_in = grey.getpixel((intake[0] + 2, intake[1] + 2))
    g_cl = grey.getpixel((closed[0] + 2, closed[1] + 2))
    assert isinstance(g_in, int) and isinstance(g_cl, int)
    assert abs(g_in - g_cl) > 50


def _margins_blank(image: Image.Image, margin: int) -> bool:
    grey = image.convert("L")
    width, height = grey.size
    left = grey.crop((0, 0, margin, height)).getextrema()
    right = grey.crop((width - margin, 0, width, height)).getextrema()
    bottom = grey.crop((0, height - margin, width, height)).getextrema()
    return left == right == bottom == (255, 255)


def test_long_labels_and_large_numbers_stay_inside() -> None:
    label = "sertifikat_elektronik_" * 12
    bars = [Bar(label, 1234, 987), Bar("b", 0, 0), Bar("lainnya", 98765, 3)]
    for width in (MIN_WIDTH, 400, 640):
        image = _open(bar_chart_png(bars, "Judul yang panjang " * 20, width=width))
        assert image.size[0] == width
        assert _margins_blank(image, 8), width
        intake = _bars(image, INTAKE_COLOUR)
        assert intake[1][2] > width // 4, "label column must not eat the plot"


def test_plain_chart_stays_inside_margins() -> None:
    assert _margins_blank(_open(bar_chart_png(WEEK, "Tiket minggu ini")), 8)


def test_fit_truncates_with_ellipsis() -> None:
    font = _font(13)
    assert _fit(font, "lainnya", 300) == "lainnya"
    cut = _fit(font, "registrasi_verifikasi_" * 10, 120)
    assert cut.endswith("\u2026") and cut.startswith("registrasi")
    assert font.getlength(cut) <= 120
    assert _fit(font, "a\nb\t c", 300) == "a b c"


def test_format_count() -> None:
    assert [format_count(n) for n in (0, 7, 1234, 9999, 12345, 1234567)] == [
        "0", "7", "1234", "9999", "12 345", "1 234 567",
    ]


@pytest.mark.parametrize(
    ("bars", "width"),
    [([Bar("a", -1, 0)], 640), ([Bar("a", 1, -2)], 640), ([Bar("a", 1, 1)], MIN_WIDTH - 1)],
)
def test_rejects_bad_input(bars: list[Bar], width: int) -> None:
    with pytest.raises(ValueError):
        bar_chart_png(bars, "T", width=width)
