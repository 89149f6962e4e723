"""The monthly report measured at an injected moment: the current month's open tickets are
aged to now, and the summary reconciles when tickets are reopened."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk import Desk, wita
from maild.documents.report_figures import Report, last_full_month
from maild.documents.report_output import report_csv, report_html

@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    yield d
    d.services.close()


def page_text(report: Report) -> str:
    page = report_html(report)
    body = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S))
    return " ".join(html.unescape(body).split())


def test_a_ticket_of_an_hour_ago_in_the_current_month_is_not_overdue(desk: Desk) -> None:
    number = desk.open("Tidak bisa login SPSE", wita(12, 2, 9))  # a Wednesday, in working hours
    now = wita(12, 2, 10)
    report = desk.report("2026-12", now)
    [row] = report.oldest_open
    assert row.number == number
    assert row.age_hours == pytest.approx(1.0) and not row.overdue and row.calendar_days == 0
    assert report.partial and report.as_of == now and report.period == "1-2 Desember 2026"
    [tr] = [tr for tr in re.findall(r"<tr[^>]*>.*?</tr>", report_html(report), flags=re.S) if number in tr]
    assert "1,0" in tr and "&#9888;" not in tr and "late" not in tr
    text = page_text(report)
    assert "Sepuluh Tiket Terbuka Tertua Saat Ini" in text and "terbuka saat ini 1" in text
    # The month measured when it is over: the same ticket, aged to the month's end.
    over = desk.report("2026-12", wita(1, 5, year=2027))
    assert not over.partial and over.oldest_open[0].age_hours > 100 and over.oldest_open[0].overdue


def test_last_full_month() -> None:
    assert last_full_month(wita(12, 2), "Asia/Makassar") == "2026-11"
    assert last_full_month(wita(1, 1, 0, year=2027), "Asia/Makassar") == "2026-12"  # 16:00 UTC on 31 Dec


def test_a_month_with_reopened_tickets_reconciles(desk: Desk) -> None:
    t1 = desk.open("Open at the start, closed, reopened", wita(10, 20))
    t2 = desk.open("Closed in October, reopened in November", wita(10, 15))
    t5 = desk.open("Closed in October, reopened and closed in November", wita(10, 1))
    desk.close(t2, wita(10, 20, 10))
    desk.close(t5, wita(10, 2))
    t3 = desk.open("New, closed, reopened, closed again", wita(11, 3))
    desk.reopen(t5, wita(11, 3, 11))
    desk.close(t3, wita(11, 4))
    desk.close(t1, wita(11, 5))
    desk.reopen(t3, wita(11, 6))
    desk.close(t3, wita(11, 9))
    desk.reopen(t1, wita(11, 10))
    t4 = desk.open("New and still open", wita(11, 10, 11))
    desk.reopen(t2, wita(11, 12))
    desk.close(t5, wita(11, 20))

    r = desk.report("2026-11", wita(12, 2))
    assert not r.partial
    assert (r.open_at_start, r.intake, r.closed, r.open_at_end) == (1, 2, 3, 3)  # t1 | t3 t4 | t1 t3 t5 | t1 t2 t4
    assert r.reopened == 3  # t1, t2, t5; t3 was closed again and counts once, in closed
    assert r.open_at_start + r.intake + r.reopened - r.closed == r.open_at_end
    assert {o.number for o in r.oldest_open} == {t1, t2, t4}

    text = page_text(r)
    found = re.search(r"Terbuka awal bulan (\d+) \+ masuk (\d+) \+ dibuka kembali (\d+) − selesai (\d+) = "
                      r"terbuka akhir bulan (\d+)", text)
    assert found is not None, text
    start, came, reopened, closed, end = map(int, found.groups())
    assert (start, came, reopened, closed, end) == (1, 2, 3, 3, 3) and start + came + reopened - closed == end
    assert "3 dibuka kembali" in text

    rows = {r_["kunci"]: int(r_["nilai"]) for r_ in csv.DictReader(io.StringIO(report_csv(r)))
            if r_["bagian"] == "ringkasan"}
    assert rows["terbuka_awal"] + rows["masuk"] + rows["dibuka_kembali"] - rows["selesai"] == rows["terbuka_akhir"]
    assert rows["dibuka_kembali"] == 3
