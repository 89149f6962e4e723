"""The satisfaction survey's figures for a period as text (``maild report --skm``) and as data
(``--json``). Output only: ``maild.documents.survey_figures`` computes them."""

from __future__ import annotations

from typing import Any

from maild.documents.labels import format_number
from maild.documents.survey_figures import SurveyFigures

REGULATION = "Permenpan RB Nomor 14 Tahun 2017"


def _line(text: str) -> str:
    """A comment on one terminal line: reporters' text may hold control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def survey_text(v: SurveyFigures, title: str) -> str:
    """The figures as an Indonesian text a terminal shows (numbers with a decimal comma)."""
    ix = v.index
    out = [f"Survei Kepuasan Masyarakat {title} ({REGULATION})",
           f"Responden      : {v.responses} dari {v.closed} tiket selesai ({v.percent_rate})"]
    if ix.ikm is None or ix.converted is None or ix.category is None:
        return "\n".join([*out, "Belum ada penilaian."]) + "\n"
    out += ["", f"{'Unsur':<48} {'Responden':>9} {'NRR':>6} {'Tertimbang':>10}"]
    for e in ix.elements:
        out.append(f"{e.element.code + ' ' + e.element.name_id:<48} {e.respondents:>9} {format_number(e.nrr, 2):>6} "
                   f"{format_number(e.weighted, 3):>10}")
    out += ["", f"IKM            : {format_number(ix.ikm, 3)}",
            f"IKM konversi   : {format_number(ix.converted, 2)}",
            f"Mutu pelayanan : {ix.category.mutu} ({ix.category.kinerja_id})"]
    if v.comments:
        out += ["", "Saran dan masukan:"]
        out += [f"  {c.number} [{c.ratings}] {_line(c.text)}" for c in v.comments]
    return "\n".join(out) + "\n"


def survey_data(v: SurveyFigures) -> dict[str, Any]:
    """The figures for scripts: exact values, keys in English, times in ISO 8601 UTC."""
    ix = v.index
    category = ix.category
    return {
        "start": v.start.isoformat(), "end": v.end.isoformat(), "responses": v.responses,
        "closed": v.closed, "response_rate": v.rate,
        "elements": [{"code": e.element.code, "name": e.element.name_id, "respondents": e.respondents,
                      "total": e.total, "nrr": e.nrr, "weighted": e.weighted} for e in ix.elements],
        "ikm": ix.ikm, "ikm_converted": ix.converted,
        "mutu": category.mutu if category else None, "kinerja": category.kinerja_id if category else None,
        "comments": [{"ticket": c.number, "ratings": c.ratings, "text": c.text} for c in v.comments],
    }


__all__ = ["survey_data", "survey_text"]
