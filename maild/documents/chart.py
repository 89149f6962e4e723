"""Small grouped bar charts as PNG bytes, for the HTML part of the daily digest.

The chart shows, per category, two horizontal bars side by side: the week's intake and the
week's closings, each with its number written at the bar's end. Horizontal bars are used
because category keys such as ``registrasi_verifikasi`` are long: they read left to right in
a label column instead of being rotated or squeezed under vertical bars.

Pure: no file, network or database access; everything is built in memory and returned as
bytes. Deterministic: the same input gives the same bytes (PNG without timestamps, no
randomness, one built-in font).

Font: Pillow >= 10.1 ships a scalable TrueType font (Aileron) inside the package, reached by
``ImageFont.load_default(size=N)``; no system font file is needed. On an older Pillow or one
built without FreeType the fixed bitmap default font is used instead: uglier, still legible.

Colours: blue and orange from the Okabe-Ito palette, which stay apart for the common forms
of colour blindness, and whose lightness differs enough (grey ~87 vs ~162) to stay apart when
printed in greyscale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeAlias

from PIL import Image, ImageDraw, ImageFont

Colour: TypeAlias = tuple[int, int, int]
Font: TypeAlias = "ImageFont.FreeTypeFont | ImageFont.ImageFont"

INTAKE_COLOUR: Colour = (0x00, 0x72, 0xB2)  # Okabe-Ito blue, dark in greyscale
CLOSED_COLOUR: Colour = (0xE6, 0x9F, 0x00)  # Okabe-Ito orange, light in greyscale
BACKGROUND: Colour = (0xFF, 0xFF, 0xFF)
TEXT_COLOUR: Colour = (0x22, 0x22, 0x22)
MUTED_COLOUR: Colour = (0x55, 0x55, 0x55)
AXIS_COLOUR: Colour = (0x44, 0x44, 0x44)

EMPTY_TEXT = "Tidak ada data"
ELLIPSIS = "\u2026"
MIN_WIDTH = 320
MAX_BARS = 200

_PAD = 16  # outer margin
_TITLE_SIZE = 18
_LABEL_SIZE = 13
_VALUE_SIZE = 12
_LEGEND_SIZE = 13
_BAR_H = 12  # thickness of one bar
_BAR_GAP = 2  # between the two bars of a category
_GROUP_GAP = 12  # between categories
_LABEL_GAP = 8  # between a category label and the axis
_VALUE_GAP = 5  # between a bar's end and its number
_SWATCH = 12  # legend square
_MAX_LABEL_SHARE = 0.38  # the label column takes at most this share of the width


@dataclass(frozen=True)
class Bar:
    """One category of the chart: its label and the week's intake and closed counts."""

    label: str
    intake: int
    closed: int


@dataclass(frozen=True)
class _Layout:
    """Computed geometry of one chart, in pixels."""

    width: int
    height: int
    title_y: int
    legend_y: int
    plot_top: int
    label_right: int
    axis_x: int
    bar_max: int
    scale_max: int


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    """The built-in scalable font at ``size`` px, or the bitmap default where it is missing."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: no size argument, bitmap font only
        return ImageFont.load_default()


def _text_width(font: Font, text: str) -> int:
    """Advance width of ``text`` in whole pixels."""
    return int(round(font.getlength(text))) if text else 0


def _cap_offsets(font: Font) -> tuple[int, int]:
    """Top and bottom of a capital letter relative to the draw origin (to centre text on cap height)."""
    left, top, right, bottom = font.getbbox("X")
    return int(top), int(bottom)


def _fit(font: Font, text: str, max_width: int) -> str:
    """``text`` on one line, cut and ended with an ellipsis where it is wider than ``max_width``."""
    text = " ".join(text.split())
    if _text_width(font, text) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that still fits together with the ellipsis
        mid = (lo + hi + 1) // 2
        if _text_width(font, text[:mid].rstrip() + ELLIPSIS) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo else ELLIPSIS


def format_count(n: int) -> str:
    """A count as written on the chart: plain digits, grouped by spaces from 10 000 on.

    A space is read the same way in Indonesian and English, where "." and "," are not.
    """
    digits = str(n)
    if n < 10_000:
        return digits
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return " ".join(groups)


def _draw_text(
    draw: ImageDraw.ImageDraw,
    x: int,
    centre_y: int,
    text: str,
    font: Font,
    fill: Colour,
    align: Literal["left", "right"] = "left",
) -> None:
    """Draw one line with its capital height centred on ``centre_y``, starting (or ending) at ``x``."""
    top, bottom = _cap_offsets(font)
    y = centre_y - (top + bottom) // 2
    if align == "right":
        x -= _text_width(font, text)
    draw.text((x, y), text, font=font, fill=fill)


def _validate(bars: Sequence[Bar], width: int) -> None:
    """Reject input that cannot make a sensible chart."""
    if width < MIN_WIDTH:
        raise ValueError(f"width must be at least {MIN_WIDTH} px, got {width}")
    if len(bars) > MAX_BARS:
        raise ValueError(f"at most {MAX_BARS} categories, got {len(bars)}")
    for bar in bars:
        if bar.intake < 0 or bar.closed < 0:
            raise ValueError(f"negative count in {bar!r}")


def _layout(bars: Sequence[Bar], width: int) -> _Layout:
    """Place title, legend and plot for ``bars`` at ``width`` px."""
    label_font, value_font = _font(_LABEL_SIZE), _font(_VALUE_SIZE)
    title_font = _font(_TITLE_SIZE)
    title_top, title_bottom = _cap_offsets(title_font)
    title_y = _PAD + (title_bottom - title_top) // 2
    legend_y = title_y + (title_bottom - title_top) // 2 + 10 + _SWATCH // 2
    plot_top = legend_y + _SWATCH // 2 + 14

    label_cap = int(width * _MAX_LABEL_SHARE)
    label_w = min(label_cap, max((_text_width(label_font, " ".join(b.label.split())) for b in bars), default=0))
    label_right = _PAD + label_w
    axis_x = label_right + _LABEL_GAP
    scale_max = max((max(b.intake, b.closed) for b in bars), default=0)
    value_w = max((_text_width(value_font, format_count(max(b.intake, b.closed))) for b in bars), default=0)
    bar_max = max(1, width - _PAD - value_w - _VALUE_GAP - axis_x)

    group_h = 2 * _BAR_H + _BAR_GAP
    if bars:
        plot_h = len(bars) * group_h + (len(bars) - 1) * _GROUP_GAP
    else:
        plot_h = 2 * _BAR_H
    height = plot_top + plot_h + _PAD
    return _Layout(width, height, title_y, legend_y, plot_top, label_right, axis_x, bar_max, scale_max)


def _bar_length(value: int, layout: _Layout) -> int:
    """Pixel length of a bar for ``value``: proportional, and at least 1 px for any non-zero count."""
    if value <= 0 or layout.scale_max <= 0:
        return 0
    return max(1, round(value * layout.bar_max / layout.scale_max))


def bar_chart_png(
    bars: Sequence[Bar],
    title: str,
    legend: tuple[str, str] = ("Masuk", "Selesai"),
    width: int = 640,
    *,
    empty_text: str = EMPTY_TEXT,
) -> bytes:
    """Render a grouped horizontal bar chart of intake and closed counts per category as PNG.

    One row per ``Bar`` in the given order: the label on the left (cut with "…" where too
    long), the intake bar above the closed bar, each with its count at its end; the title on
    top, the legend (``legend[0]`` for intake, ``legend[1]`` for closed) under it, a vertical
    axis line at zero. The image is ``width`` px wide and grows in height with the number of
    bars. With no bars it shows ``empty_text`` instead of a plot; with all counts zero the
    bars are empty and the zeros are written.

    Raises ValueError for a width under ``MIN_WIDTH``, more than ``MAX_BARS`` bars, or a
    negative count.
    """
    _validate(bars, width)
    layout = _layout(bars, width)
    image = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    title_font = _font(_TITLE_SIZE)
    inner_w = width - 2 * _PAD
    _draw_text(draw, _PAD, layout.title_y, _fit(title_font, title, inner_w), title_font, TEXT_COLOUR)

    if not bars:
        body_font = _font(_LABEL_SIZE)
        centre_y = layout.plot_top + _BAR_H
        _draw_text(draw, _PAD, centre_y, _fit(body_font, empty_text, inner_w), body_font, MUTED_COLOUR)
        return _png(image)

    _draw_legend(draw, layout, legend)
    label_font, value_font = _font(_LABEL_SIZE), _font(_VALUE_SIZE)
    label_w = layout.label_right - _PAD
    y = layout.plot_top
    for bar in bars:
        label = _fit(label_font, bar.label, label_w)
        _draw_text(draw, layout.label_right, y + _BAR_H + _BAR_GAP // 2, label, label_font, TEXT_COLOUR, "right")
        for value, colour, top in (
            (bar.intake, INTAKE_COLOUR, y),
            (bar.closed, CLOSED_COLOUR, y + _BAR_H + _BAR_GAP),
        ):
            length = _bar_length(value, layout)
            if length:
                draw.rectangle((layout.axis_x + 1, top, layout.axis_x + length, top + _BAR_H - 1), fill=colour)
            value_x = layout.axis_x + length + _VALUE_GAP
            _draw_text(draw, value_x, top + _BAR_H // 2, format_count(value), value_font, MUTED_COLOUR)
        y += 2 * _BAR_H + _BAR_GAP + _GROUP_GAP

    axis_bottom = y - _GROUP_GAP + 3
    draw.line((layout.axis_x, layout.plot_top - 3, layout.axis_x, axis_bottom), fill=AXIS_COLOUR, width=1)
    return _png(image)


def _draw_legend(draw: ImageDraw.ImageDraw, layout: _Layout, legend: tuple[str, str]) -> None:
    """Two coloured squares with their names, left-aligned under the title."""
    font = _font(_LEGEND_SIZE)
    max_name = (layout.width - 2 * _PAD) // 2 - _SWATCH - 6 - 18
    x = _PAD
    for name, colour in ((legend[0], INTAKE_COLOUR), (legend[1], CLOSED_COLOUR)):
        top = layout.legend_y - _SWATCH // 2
        draw.rectangle((x, top, x + _SWATCH - 1, top + _SWATCH - 1), fill=colour)
        text = _fit(font, name, max_name)
        _draw_text(draw, x + _SWATCH + 6, layout.legend_y, text, font, TEXT_COLOUR)
        x += _SWATCH + 6 + _text_width(font, text) + 18


def _png(image: Image.Image) -> bytes:
    """Encode ``image`` as PNG bytes: no metadata, so the bytes depend on the pixels only."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
