"""A staff member's day with the reporter's eyes on it: one reply from staff gives the reporter
at most one mail, and every mail the reporter gets keeps one subject and one thread."""

from __future__ import annotations

from harness import STAFF, report
from test_sop_stories import INFRA, REPORTER, Desk, by_recipient, desk  # noqa: F401 (fixture)

SUBJECT = "Lupa password akun penyedia"


def _to_reporter(mails: list) -> list:  # type: ignore[type-arg]
    return [m for m in mails if m.to == REPORTER]


def test_an_answer_with_a_resolution_is_one_mail(desk: Desk) -> None:
    first = report(subject=SUBJECT)
    desk.send(first.raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Silakan login kembali dengan password baru.\n#selesai Password sudah direset")
    [closing] = _to_reporter(desk.new_mail())
    assert "Silakan login kembali" in closing.text and "Password sudah direset" in closing.text
    assert desk.ticket().state == "closed"
    assert [e for e, _, _ in desk.story()] == ["report_received", "staff_answered", "resolved"]


def test_an_answer_with_an_escalation_is_one_mail(desk: Desk) -> None:
    desk.send(report(subject=SUBJECT).raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Kami teruskan ke tim server, mohon ditunggu.\n#eskalasi infrastruktur Cek server")
    mails = desk.new_mail()
    [told] = _to_reporter(mails)
    assert "mohon ditunggu" in told.text and "Tim Infrastruktur Diskominfo" in told.text
    assert "Cek server" not in told.text  # the note to the group stays internal
    assert INFRA in {m.to for m in mails}


def test_a_refused_command_does_not_swallow_the_answer(desk: Desk) -> None:
    desk.send(report(subject=SUBJECT).raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Silakan coba lagi besok.\n#eskalasi tidakada Cek")
    [answer] = _to_reporter(desk.new_mail())
    assert "Silakan coba lagi besok" in answer.text


def test_every_mail_to_the_reporter_keeps_one_subject_and_thread(desk: Desk) -> None:
    first = report(subject=SUBJECT)
    desk.send(first.raw)
    mails = desk.new_mail()
    notice = by_recipient(mails)[STAFF]
    got = _to_reporter(mails)
    desk.reply(notice, STAFF, "Mohon tunggu sebentar.")
    got += _to_reporter(desk.new_mail())
    desk.reply(notice, STAFF, "#eskalasi infrastruktur Cek")
    got += _to_reporter(desk.new_mail())
    desk.reply(notice, STAFF, "#selesai Sudah beres")
    got += _to_reporter(desk.new_mail())
    assert len(got) == 4
    assert {m.subject for m in got} == {f"[LPSE #26-0001] {SUBJECT}"}
    for m in got:
        assert f"<{first.message_id}>" in m.msg["References"]
        assert m.msg["In-Reply-To"]
