"""Survei Kepuasan Masyarakat (SKM): the reporter's rating, read from a reply, and the index the
regulation computes from the ratings. Pure: no database, no clock, no I/O.

The regulation: Peraturan Menteri Pendayagunaan Aparatur Negara dan Reformasi Birokrasi
Nomor 14 Tahun 2017 tentang Pedoman Penyusunan Survei Kepuasan Masyarakat Unit Penyelenggara
Pelayanan Publik (Permenpan RB 14/2017), Lampiran:

- nine elements (unsur) of service, U1-U9 (``ELEMENTS``), each rated on a scale of 1 to 4
  (1 tidak baik / tidak sesuai ... 4 sangat baik / sangat sesuai);
- NRR per element (nilai rata-rata) = the total of the element's values / the number of
  respondents who rated it;
- NRR tertimbang = NRR x 1/9 (the weight, "0,111" in the regulation's tables: every element
  weighs the same); IKM (SKM unit pelayanan) = the sum of the weighted NRRs, a value from 1 to 4;
- IKM konversi = IKM x 25 (25 to 100);
- the category (``CATEGORIES``), by nilai persepsi / interval IKM / interval konversi / mutu
  pelayanan / kinerja unit pelayanan:
  1: 1,00-2,5996 / 25,00-64,99 / D / Tidak Baik;  2: 2,60-3,064 / 65,00-76,60 / C / Kurang Baik;
  3: 3,0644-3,532 / 76,61-88,30 / B / Baik;  4: 3,5324-4,00 / 88,31-100,00 / A / Sangat Baik.

maild weighs with the exact 1/9 rather than the rounded 0,111, so that a unit every respondent
rated 4 scores 100,00 (the top of the regulation's interval), not 99,90. The category is read
from the converted value rounded to two decimals, as the intervals are written, so the
intervals leave no gaps (64,995 rounds to 65,00: C).

A rating that stands for the whole service (one number: ``overall``) counts as that value for
every element, so one formula, the regulation's, serves both kinds of answer and a month that
has both; for answers that are all overall ratings it is the mean rating x 25.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class SurveyMode(StrEnum):
    """``[survey] mode``: what the closing mail asks for."""

    OFF = "off"  # no invitation; a reply with a number is an ordinary reply
    OVERALL = "overall"  # one number for the whole service
    FULL = "full"  # nine numbers, one per element (one number is still taken, as overall)


@dataclass(frozen=True)
class Element:
    """One unsur of the regulation."""

    code: str
    name_id: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_id


ELEMENTS: tuple[Element, ...] = (
    Element("U1", "Persyaratan", "Requirements"),
    Element("U2", "Sistem, Mekanisme, dan Prosedur", "System, mechanism and procedure"),
    Element("U3", "Waktu Penyelesaian", "Time to completion"),
    Element("U4", "Biaya/Tarif", "Cost/fee"),
    Element("U5", "Produk Spesifikasi Jenis Pelayanan", "What the service delivers"),
    Element("U6", "Kompetensi Pelaksana", "Staff competence"),
    Element("U7", "Perilaku Pelaksana", "Staff conduct"),
    Element("U8", "Penanganan Pengaduan, Saran dan Masukan", "Handling of complaints and suggestions"),
    Element("U9", "Sarana dan Prasarana", "Facilities"),
)
SCALE = (1, 2, 3, 4)


def element_names(language: str) -> tuple[str, ...]:
    """The nine elements' names in ``language``, in the regulation's order."""
    return tuple(e.name(language) for e in ELEMENTS)


@dataclass(frozen=True)
class Category:
    """Mutu pelayanan and kinerja unit pelayanan for a converted index."""

    mutu: str  # A, B, C or D
    kinerja_id: str
    kinerja_en: str
    lowest: float  # the lowest converted value (two decimals) in this category

    def kinerja(self, language: str) -> str:
        return self.kinerja_en if language == "en" else self.kinerja_id


# Highest first; the lowest converted value of each interval of the regulation.
CATEGORIES: tuple[Category, ...] = (
    Category("A", "Sangat Baik", "Very good", 88.31),
    Category("B", "Baik", "Good", 76.61),
    Category("C", "Kurang Baik", "Fair", 65.00),
    Category("D", "Tidak Baik", "Poor", 25.00),
)


def category(converted: float) -> Category:
    """The category of an IKM konversi (25-100), read at two decimals as the intervals are written."""
    value = round(converted + 1e-9, 2)  # 88.305 is 88.31 as the tables write it, whatever the float
    for c in CATEGORIES:
        if value >= c.lowest:
            return c
    return CATEGORIES[-1]


# -- a reply that holds a rating ----------------------------------------------------------------
@dataclass(frozen=True)
class Rating:
    """What a reporter answered: one overall number, or nine (one per element); and the rest."""

    overall: int | None
    elements: tuple[int, ...] | None
    comment: str

    def scores(self) -> tuple[int, ...]:
        """The value for each of the nine elements (an overall rating stands for every one)."""
        if self.elements is not None:
            return self.elements
        assert self.overall is not None
        return (self.overall,) * len(ELEMENTS)

    @property
    def numbers(self) -> str:
        """The rating as it was given: ``4`` or ``3 4 4 4 3 4 4 4 4``."""
        return " ".join(str(v) for v in (self.elements or (self.overall,)))


# A value: one digit 1-4 that is not part of a longer number or word ("26-0001", "2026", "4G").
_VALUE = re.compile(r"[1-4](?![0-9A-Za-z_])")
# Between values: spaces or newlines, or a comma or semicolon with optional spaces.
_SEP = re.compile(r"\s*[,;]\s*|\s+")
# After a lone value on its line: nothing, or a stop, comma or exclamation mark ("4.", "4!").
_ALONE = re.compile(r"[ \t]*[.!,;]*[ \t]*(\n|\Z)")
# After a lone value, a comment on the same line must be set off by one of these ("4, cepat",
# "4 - mantap"); a full stop or a bracket there reads as a numbered list ("2. masih error").
_SET_OFF = re.compile(r"[ \t]*[,;:!\u2013\u2014-]+[ \t]*")
# Words of thanks that may follow a lone value after a space ("4 terima kasih").
_THANKS = re.compile(r"[ \t]+(terima ?kasih|makasih|trims|thanks|thank you|tq|matur nuwun)\b", re.IGNORECASE)
_COMMENT_MAX = 4000


def parse_rating(own: str) -> Rating | None:
    """The rating a reply starts with, or None: ``own`` is only what the reporter wrote (the
    quoted closing mail holds the invitation's digits and never counts).

    A rating is the first thing written: exactly one value, or exactly nine, each a single
    digit 1-4, separated by spaces, newlines, commas or semicolons. A lone value must stand on
    its line (``4``, ``4.``), or be set off from what follows by a comma, colon, dash or ``!``,
    or be followed by thanks: "2 hari lagi masih error", "1. Masih gagal", "3,5" or "4 orang"
    are not ratings. Whatever follows the rating is the reporter's comment.
    """
    text = own.lstrip()
    values: list[int] = []
    pos = 0
    while True:
        found = _VALUE.match(text, pos)
        if found is None:
            break
        values.append(int(found.group()))
        pos = found.end()
        sep = _SEP.match(text, pos)
        if sep is None or _VALUE.match(text, sep.end()) is None:
            break
        pos = sep.end()
    rest = text[pos:]
    if len(values) == len(ELEMENTS):
        if not rest or rest[0].isspace() or rest[0] in ".,;:!-":
            comment = rest.lstrip(" \t\r\n.,;:!-\u2013\u2014")
            if not comment[:1].isdigit():
                return Rating(None, tuple(values), comment[:_COMMENT_MAX].strip())
        return None
    if len(values) != 1:
        return None
    for pattern in (_ALONE, _SET_OFF, _THANKS):
        found = pattern.match(rest)
        if found is None or (pattern is _SET_OFF and not rest[found.end():found.end() + 1].strip()):
            continue
        comment = rest[found.start(1):] if pattern is _THANKS else rest[found.end():]
        comment = comment.strip()
        if comment[:1].isdigit():
            return None  # "2-3 hari", "1: 2 masalah": a range or a list, not a rating
        return Rating(values[0], None, comment[:_COMMENT_MAX])
    return None


# -- the index ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElementScore:
    """One element's figures: its NRR and its weighted NRR (None: nobody rated it)."""

    element: Element
    respondents: int
    total: int
    nrr: float | None
    weighted: float | None

    @property
    def category(self) -> Category | None:
        return category(self.nrr * 25) if self.nrr is not None else None


@dataclass(frozen=True)
class Index:
    """The IKM of a set of responses, computed as the regulation prescribes."""

    respondents: int
    elements: tuple[ElementScore, ...]
    ikm: float | None  # 1-4
    converted: float | None  # IKM konversi, 25-100

    @property
    def category(self) -> Category | None:
        return category(self.converted) if self.converted is not None else None


WEIGHT = 1 / len(ELEMENTS)  # NRR tertimbang = NRR x 1/9 ("0,111")


def compute(ratings: Sequence[Rating]) -> Index:
    """The IKM and its conversion from the ratings (Permenpan RB 14/2017, Lampiran)."""
    scores = [r.scores() for r in ratings]
    elements = []
    for i, element in enumerate(ELEMENTS):
        values = [s[i] for s in scores]
        nrr = sum(values) / len(values) if values else None
        elements.append(ElementScore(element, len(values), sum(values), nrr,
                                     nrr * WEIGHT if nrr is not None else None))
    if not scores:
        return Index(0, tuple(elements), None, None)
    ikm = sum(e.weighted or 0.0 for e in elements)
    return Index(len(scores), tuple(elements), ikm, ikm * 25)


__all__ = [
    "CATEGORIES", "Category", "ELEMENTS", "Element", "ElementScore", "Index", "Rating", "SCALE", "SurveyMode",
    "WEIGHT", "category", "compute", "element_names", "parse_rating",
]
