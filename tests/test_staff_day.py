"""A staff member's day with the reporter's eyes on it: one reply from staff gives the reporter
at most one mail, and every mail the reporter gets keeps one subject and one thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import STAFF, imap_sections, report, start, write_config
from maild.base.clock import FrozenClock
from maild.store.models import Party, Ticket
from servers import ImapAccount, SmtpSink
from test_sop_stories import COORDINATOR, INFRA, REPORTER, Desk, by_recipient, desk  # noqa: F401 (fixture)

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
    assert [e for e, _, _ in desk.story()] == ["report_received", "staff_answered", "assigned", "resolved"]


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
        # Each answers the reporter's own report, never a staff message they did not see.
        assert m.msg["In-Reply-To"].strip() == f"<{first.message_id}>"


RINA = "rina@lpse.example"


@pytest.fixture
def team(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    """Two staff members, Petugas and Rina; ``request.param``-free: assign on first answer is on."""
    yield from _desk(tmp_path, db_url, imap_account, smtp_sink, "")


@pytest.fixture
def team_no_auto(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    yield from _desk(tmp_path, db_url, imap_account, smtp_sink, "assign_on_first_answer = false\n")


def _desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink, helpdesk: str):  # type: ignore[no-untyped-def]
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["digest"] = {"enabled": False}
    config = write_config(tmp_path, sections, staff=True)
    text = config.read_text().replace("[helpdesk]\n", "[helpdesk]\n" + helpdesk)
    config.write_text(text + f'[[staff]]\nname = "Rina Wati"\naddress = "{RINA}"\n')
    clock = FrozenClock()
    daemon, _ = start(config, clock)
    yield Desk(daemon, imap_account, smtp_sink, clock)
    daemon.close()


def _assignee(desk: Desk) -> str | None:
    with desk.daemon.factory() as session:
        ticket = session.get(Ticket, desk.ticket().id)
        party = session.get(Party, ticket.assignee_id) if ticket and ticket.assignee_id else None
        return party.address if party else None


def test_assign_to_myself(team: Desk) -> None:
    team.send(report(subject=SUBJECT).raw)
    notices = by_recipient(team.new_mail())
    team.reply(notices[RINA], RINA, "#tugaskan saya")
    mails = team.new_mail()
    assert _assignee(team) == RINA
    confirm = by_recipient(mails)[RINA]
    assert "Ditolak" not in confirm.text and "Rina Wati" in confirm.text
    # The other staff member learns who took it; nothing goes to the reporter.
    [taken] = [m for m in mails if m.to == STAFF]
    assert "Rina Wati" in taken.text and "26-0001" in taken.text
    assert REPORTER not in {m.to for m in mails}


def test_the_first_to_answer_takes_the_ticket_and_the_others_are_told(team: Desk) -> None:
    team.send(report(subject=SUBJECT).raw)
    notices = by_recipient(team.new_mail())
    team.reply(notices[STAFF], STAFF, "Silakan gunakan menu Lupa Password.")
    mails = team.new_mail()
    assert _assignee(team) == STAFF
    assert {m.to for m in mails} == {REPORTER, RINA}
    taken = by_recipient(mails)[RINA]
    assert "Petugas" in taken.text
    # Rina's later answer does not take it over, and nobody is told again.
    team.reply(notices[RINA], RINA, "Sudah dicoba?")
    assert {m.to for m in team.new_mail()} == {REPORTER}
    assert _assignee(team) == STAFF


def test_first_answer_assigns_only_when_configured(team_no_auto: Desk) -> None:
    team_no_auto.send(report(subject=SUBJECT).raw)
    notices = by_recipient(team_no_auto.new_mail())
    team_no_auto.reply(notices[STAFF], STAFF, "Silakan gunakan menu Lupa Password.")
    assert {m.to for m in team_no_auto.new_mail()} == {REPORTER}
    assert _assignee(team_no_auto) is None


def test_the_staff_notification_lists_the_reporters_earlier_tickets(desk: Desk) -> None:
    desk.send(report(subject="Lupa password").raw)
    first = by_recipient(desk.new_mail())[STAFF]
    assert "Laporan sebelumnya" not in first.text
    desk.send(report(subject="Upload dokumen gagal").raw)
    desk.send(report(subject="Lupa password lagi").raw)
    third = [m for m in desk.new_mail() if m.to == STAFF][-1]
    assert "Laporan sebelumnya dari pelapor ini: 2 tiket." in third.text
    listed = third.text.split("Laporan sebelumnya")[1].split("Isi laporan")[0]
    assert "26-0002 Upload dokumen gagal (Baru" in listed and "26-0001 Lupa password (Baru" in listed
    assert listed.index("26-0002") < listed.index("26-0001")  # newest first
    # Someone else's tickets are not theirs.
    desk.send(report(sender="sari@cv-lain.co.id", name="Sari", subject="Akun terkunci").raw)
    assert "Laporan sebelumnya" not in [m for m in desk.new_mail() if m.to == STAFF][-1].text


def test_who_helped_is_told_when_the_ticket_closes(desk: Desk) -> None:
    desk.send(report(subject="SPSE lambat").raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#eskalasi infrastruktur Mohon cek server")
    desk.new_mail()
    desk.reply(notice, STAFF, "#koordinator Mohon arahan")
    desk.new_mail()
    desk.reply(notice, STAFF, "#selesai Server sudah normal kembali.")
    mails = by_recipient(desk.new_mail())
    assert set(mails) == {REPORTER, STAFF, INFRA, COORDINATOR}
    for helper in (INFRA, COORDINATOR):
        assert "telah ditutup" in mails[helper].text and "Server sudah normal kembali." in mails[helper].text
    # A manager has no name in the config: they are greeted by their group's title.
    assert mails[INFRA].text.startswith("Yth. Tim Infrastruktur Diskominfo,")
