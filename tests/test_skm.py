"""Survei Kepuasan Masyarakat (issue 12, item 1): the reporter rates the service by replying to
the closing mail; the monthly report shows the index as Permenpan RB 14/2017 computes it.

The pure checks: the regulation's arithmetic on a worked example, its category boundaries, and
which replies are ratings (and which only look like one). The story runs over the real Dovecot
and SMTP servers on SQLite and PostgreSQL, with the desk of test_sop_stories.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from harness import STAFF, report, run_cli
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from maild.base.settings import SURVEY_MODES, Settings
from maild.documents.report_figures import monthly_report
from maild.documents.report_output import report_csv, report_html
from maild.documents.settings import form_settings
from maild.documents.survey_figures import survey_figures, year_bounds
from maild.documents.survey_output import survey_text
from maild.sop.skm import ELEMENTS, Rating, SurveyMode, category, compute, parse_rating
from maild.store.models import OutgoingMail, SurveyResponse, Ticket
from test_sop_stories import REPORTER, Desk, by_recipient, desk  # noqa: F401 (fixture)


# -- the regulation's arithmetic ---------------------------------------------------------------

def test_nine_elements_in_the_regulations_order() -> None:
    assert [e.code for e in ELEMENTS] == [f"U{i}" for i in range(1, 10)]
    assert ELEMENTS[0].name_id == "Persyaratan" and ELEMENTS[7].name_id.startswith("Penanganan Pengaduan")
    assert set(SurveyMode) == set(SURVEY_MODES)  # the config's check and the enum agree


def test_worked_example() -> None:
    """Four respondents, worked by hand: NRR per element = total / respondents; the sum of the
    NRRs x 1/9 = IKM; x 25 = the converted index. The overall "2" counts as 2 for every element."""
    rows = [Rating(None, (3, 3, 3, 3, 3, 3, 3, 3, 3), ""), Rating(None, (4, 3, 3, 2, 3, 4, 4, 3, 3), ""),
            Rating(None, (3, 2, 3, 3, 3, 3, 4, 3, 2), ""), Rating(2, None, "")]
    index = compute(rows)
    # Totals 12 10 11 10 11 12 13 11 10 -> NRR 3,00 2,50 2,75 2,50 2,75 3,00 3,25 2,75 2,50; sum 25,00.
    assert [e.total for e in index.elements] == [12, 10, 11, 10, 11, 12, 13, 11, 10]
    assert [e.nrr for e in index.elements] == [3.0, 2.5, 2.75, 2.5, 2.75, 3.0, 3.25, 2.75, 2.5]
    assert index.respondents == 4
    assert index.ikm == pytest.approx(25 / 9)  # 2,778
    assert round(index.converted, 2) == 69.44
    assert index.category.mutu == "C" and index.category.kinerja_id == "Kurang Baik"


def test_everyone_rating_four_scores_one_hundred() -> None:
    index = compute([Rating(4, None, ""), Rating(None, (4,) * 9, "")])
    assert round(index.converted, 2) == 100.0 and index.category.mutu == "A"
    assert compute([]).converted is None and compute([]).category is None


@pytest.mark.parametrize("converted, mutu", [
    (25.0, "D"), (64.99, "D"), (64.994, "D"), (64.995, "C"), (65.0, "C"), (76.60, "C"), (76.604, "C"),
    (76.61, "B"), (88.30, "B"), (88.31, "A"), (100.0, "A"),
    # The regulation's intervals of the perception value, converted x 25:
    (2.5996 * 25, "D"), (2.60 * 25, "C"), (3.064 * 25, "C"), (3.0644 * 25, "B"), (3.532 * 25, "B"),
    (3.5324 * 25, "A"), (4.0 * 25, "A"),
])
def test_category_boundaries(converted: float, mutu: str) -> None:
    assert category(converted).mutu == mutu
    kinerja = {"A": "Sangat Baik", "B": "Baik", "C": "Kurang Baik", "D": "Tidak Baik"}
    assert category(converted).kinerja_id == kinerja[mutu]


# -- which replies are ratings -----------------------------------------------------------------

@pytest.mark.parametrize("own, numbers, comment", [
    ("4", "4", ""),
    ("  4 \n", "4", ""),
    ("4.", "4", ""),
    ("4!", "4", ""),
    ("4\n\nTerima kasih, sudah bisa login.", "4", "Terima kasih, sudah bisa login."),
    ("4, cepat sekali", "4", "cepat sekali"),
    ("3 - lumayan", "3", "lumayan"),
    ("4 terima kasih", "4", "terima kasih"),
    ("3 4 4 4 3 4 4 4 4 Terima kasih, cepat", "3 4 4 4 3 4 4 4 4", "Terima kasih, cepat"),
    ("3,4,4,4,3,4,4,4,4", "3 4 4 4 3 4 4 4 4", ""),
    ("3; 4; 4; 4; 3; 4; 4; 4; 4.", "3 4 4 4 3 4 4 4 4", ""),
    ("4\n3\n4\n4\n4\n4\n4\n4\n4\nMantap", "4 3 4 4 4 4 4 4 4", "Mantap"),
])
def test_ratings(own: str, numbers: str, comment: str) -> None:
    rating = parse_rating(own)
    assert rating is not None and rating.numbers == numbers and rating.comment == comment


@pytest.mark.parametrize("own", [
    "2 hari lagi masih error",  # a number that starts a sentence
    "Nomor tiket 26-0001 masih error",
    "26-0001",
    "0812-3456-7890 hubungi saya",  # a phone number
    "+62 812 3456 7890",
    "1. Masih tidak bisa login\n2. Dokumen gagal diunggah",  # a numbered list
    "1) Masih gagal",
    "2-3 hari lagi saya coba",  # a range
    "3,5 jam menunggu",  # a decimal
    "3:30 sore masih error",  # a time
    "4 orang tidak bisa login",
    "2026 anggaran baru",
    "4G lemot",
    "1 2 3",  # neither one value nor nine
    "3 4 4 4 3 4 4 4",
    "3 4 4 4 3 4 4 4 4 4",
    "3 4 4 4 3 4 4 4 4 5",
    "5",
    "0",
    "Masih error, 4 kali saya coba",  # the rating must come first
    "",
])
def test_not_ratings(own: str) -> None:
    assert parse_rating(own) is None


def test_config_mode_is_checked_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "maild.toml"
    config.write_text('[helpdesk]\nsecret = "x"\n[survey]\nmode = "ful"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="survey.mode: 'ful' is not one of .*did you mean 'full'"):
        load_settings(config)
    config.write_text('[helpdesk]\nsecret = "x"\n[survey]\nmode = "overall"\n', encoding="utf-8")
    assert load_settings(config).survey.mode == "overall"
    assert Settings().survey.mode == "full"


# -- the story ---------------------------------------------------------------------------------

SITI = "siti@pt-sejahtera.co.id"


def _closed(desk: Desk, sender: str, subject: str):  # type: ignore[no-untyped-def]
    """A report from ``sender``, closed by the staff; the closing mail the reporter got."""
    desk.send(report(sender=sender, subject=subject).raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#selesai Sudah kami perbaiki.")
    return by_recipient(desk.new_mail())[sender]


def _quoted(mail) -> str:  # type: ignore[no-untyped-def]
    """The closing mail quoted under a reply, as mail programs do: it holds the invitation's digits."""
    return "\n\nPada 2 Nov 2026, Helpdesk menulis:\n" + "\n".join("> " + line for line in mail.text.splitlines())


def _expected_index(responses: list[list[int]]) -> Fraction:
    """The regulation's arithmetic done apart, exactly: per element total / respondents, the sum
    of those x 1/9, x 25."""
    nrr = [Fraction(sum(r[i] for r in responses), len(responses)) for i in range(9)]
    return sum(nrr, Fraction(0)) / 9 * 25


def test_rating_by_reply_to_the_monthly_report(desk: Desk, tmp_path: Path) -> None:
    closing = _closed(desk, REPORTER, "Tidak bisa login")
    assert "Survei Kepuasan Masyarakat" in closing.text and "9. Sarana dan Prasarana" in closing.text
    desk.clock.advance(hours=2)
    desk.reply(closing, REPORTER, "4" + _quoted(closing))
    [thanks] = desk.new_mail()
    assert thanks.to == REPORTER and "Terima kasih atas penilaian Anda" in thanks.subject
    assert "Penilaian Anda (4)" in thanks.text
    first = desk.ticket()
    assert first.state == "closed"  # a rating never reopens
    assert [e for e, _, _ in desk.story()][-1] == "survey_answered"

    closing2 = _closed(desk, SITI, "Dokumen penawaran gagal diunggah")
    desk.clock.advance(hours=1)
    desk.reply(closing2, SITI, "3 4 4 4 3 4 4 4 4 Terima kasih, cepat" + _quoted(closing2))
    [thanks2] = desk.new_mail()
    assert thanks2.to == SITI and "Terima kasih, cepat" in thanks2.text
    desk.reply(closing2, SITI, "4")  # rated again: kept on the ticket, never thanked twice
    assert desk.new_mail() == []
    second = desk.ticket()
    assert second.state == "closed"
    assert [e for e, _, _ in desk.story()][-2:] == ["survey_answered", "survey_repeated"]

    # A rating on an open ticket is an ordinary reply.
    desk.send(report(sender="andi@cv-baru.co.id", subject="Lupa password").raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Silakan coba menu lupa password.")
    [answer] = desk.new_mail()
    desk.reply(answer, "andi@cv-baru.co.id", "4")
    assert [m.to for m in desk.new_mail()] == [STAFF]  # the staff hear of the reply
    assert [e for e, _, _ in desk.story()][-1] == "reporter_replied"

    with desk.daemon.factory() as s:
        rows = {s.get(Ticket, r.ticket_id).number: r for r in s.scalars(select(SurveyResponse))}
        assert set(rows) == {first.number, second.number}
        assert rows[first.number].overall == 4 and rows[first.number].u1 is None
        assert (rows[second.number].overall, rows[second.number].u1, rows[second.number].u5) == (None, 3, 3)
        assert rows[second.number].comment == "Terima kasih, cepat"
        assert s.scalar(select(OutgoingMail.id).where(OutgoingMail.template == "survey_thanks",
                                                      OutgoingMail.recipient == "andi@cv-baru.co.id")) is None

        # The monthly report, built as `maild report` builds it, with the test's clock.
        settings = load_settings(tmp_path / "maild.toml")
        rep = monthly_report(s, "2026-11", form_settings(settings), desk.clock())
        html, csv = report_html(rep), report_csv(rep)
        year = survey_figures(s, *year_bounds(2026, settings.helpdesk.timezone), settings.helpdesk.timezone)

    expected = _expected_index([[4] * 9, [3, 4, 4, 4, 3, 4, 4, 4, 4]])  # the overall 4 stands for all nine
    assert rep.survey is not None and rep.survey.responses == 2 and rep.survey.closed == 2
    assert rep.survey.index.converted == pytest.approx(float(expected))
    shown = f"{float(expected):.2f}".replace(".", ",")  # 97,22
    assert shown == "97,22"
    assert f"{shown} (A, Sangat Baik)" in html and "100,0%" in html
    assert "Terima kasih, cepat" in html
    assert '"skm","IKM","IKM konversi","nilai",97.22' in csv and '"skm","IKM","Sangat Baik","mutu","A"' in csv
    assert year.responses == 2 and year.index.converted == pytest.approx(float(expected))
    text = survey_text(year, "2026")
    assert "IKM konversi   : 97,22" in text and "Mutu pelayanan : A (Sangat Baik)" in text
    # The same through the command line, as an admin runs it.
    config = tmp_path / "maild.toml"
    assert run_cli(config, "report", "--skm", "--year", "2026").stdout == text
    data = json.loads(run_cli(config, "report", "--skm", "--year", "2026", "--json").stdout)
    assert data["responses"] == 2 and data["mutu"] == "A" and data["ikm_converted"] == pytest.approx(float(expected))
    assert "--skm" in run_cli(config, "report", "--year", "2026", ok=False).stderr

    # What is not a rating still reopens: the survey swallows no complaint.
    desk.reply(closing, REPORTER, "2 hari lagi masih error, mohon dicek" + _quoted(closing))
    assert [m.to for m in desk.new_mail()] == [STAFF]
    assert {t.number: t.state for t in _tickets(desk)}[first.number] == "in_progress"


def _tickets(desk: Desk) -> list[Ticket]:
    with desk.daemon.factory() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def test_comments_are_escaped_in_the_report(desk: Desk, tmp_path: Path) -> None:
    closing = _closed(desk, REPORTER, "Tidak bisa login")
    desk.reply(closing, REPORTER, '2, =HYPERLINK("http://x") <script>alert("x")</script>')
    with desk.daemon.factory() as s:
        rep = monthly_report(s, "2026-11", form_settings(load_settings(tmp_path / "maild.toml")), desk.clock())
    html, csv = report_html(rep), report_csv(rep)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "'=HYPERLINK" in csv and '"=HYPERLINK' not in csv  # never a formula in a spreadsheet
    assert rep.survey is not None and rep.survey.index.category.mutu == "D"  # 2 x 25 = 50


def test_a_rating_after_the_reopen_window_is_still_recorded(desk: Desk) -> None:
    closing = _closed(desk, REPORTER, "Tidak bisa login")
    desk.clock.advance(days=20)  # past threading.reopen_window_days: a reply would open a new ticket
    desk.reply(closing, REPORTER, "3\nAgak lama, tapi beres.")
    [thanks] = desk.new_mail()
    assert thanks.to == REPORTER and "Agak lama, tapi beres." in thanks.text
    assert len(_tickets(desk)) == 1 and desk.ticket().state == "closed"
    assert [e for e, _, _ in desk.story()][-1] == "survey_answered"


def test_the_invitation_follows_the_mode() -> None:
    from maild.render.renderer import Renderer
    from test_indonesian import _ticket_view
    from maild.render.views import MailView

    def closing(mode: str, language: str) -> str:
        view = MailView(ticket=_ticket_view(language), helpdesk_name="Helpdesk", helpdesk_address="h@lpse.example",
                        text="Selesai.", survey=mode)
        return Renderer().render("closing", language, view).text

    assert "Survei Kepuasan Masyarakat" not in closing("off", "id")
    assert "angka 1 sampai 4" in closing("overall", "id") and "Persyaratan" not in closing("overall", "id")
    full = closing("full", "id")
    assert "9 angka" in full and all(f"{i}. {e.name_id}" in full for i, e in enumerate(ELEMENTS, 1))
    assert "1. Requirements" in closing("full", "en")
