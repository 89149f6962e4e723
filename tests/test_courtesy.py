"""A greeting and a name are not an answer (issue 11, item 1): pure table and a story over the
real Dovecot and SMTP servers."""

from __future__ import annotations

import pytest

from maild.sop.courtesy import substance
from test_sop_stories import REPORTER, Desk, by_recipient, desk  # noqa: F401 - the fixture
from harness import STAFF, report


@pytest.mark.parametrize("text", [
    "Salam,\nRina",
    "Salam,\nRina W.",
    "Terima kasih.\n\nRina Wulandari\nPetugas Helpdesk LPSE",
    "Hormat kami,\nPetugas",
    "Regards,\nPetugas Helpdesk",
    "Wassalam",
    "--\nPetugas",
    "Terima kasih atas kerja samanya.",
    "",
])
def test_courtesy_alone_is_no_answer(text: str) -> None:
    assert substance(text, ["Petugas"]) == ""


@pytest.mark.parametrize("text, kept", [
    ("Password sudah direset.\nSalam,\nRina", "Password sudah direset."),
    ("Selamat pagi Pak Budi,\nSilakan coba lagi.\nTerima kasih", "Selamat pagi Pak Budi,\nSilakan coba lagi."),
    ("Baik", "Baik"),
    ("Kode verifikasi: 1234", "Kode verifikasi: 1234"),
    ("Salam,\nMohon dicek ulang besok.", "Mohon dicek ulang besok."),
    ("Terima kasih, sudah kami teruskan ke tim infrastruktur.", "Terima kasih, sudah kami teruskan ke tim infrastruktur."),
])
def test_an_answer_is_kept(text: str, kept: str) -> None:
    assert substance(text, ["Petugas"]) == kept


def test_commands_and_a_sign_off_send_no_answer(desk: Desk) -> None:  # noqa: F811
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#status proses\n#kategori akun\n\nSalam,\nRina")
    mails = desk.new_mail()
    assert [m.to for m in mails] == [STAFF]  # the confirmation only: nothing reaches the supplier
    assert "hanya berisi salam atau nama" in mails[0].text
    assert "staff_answered" not in [e for e, _, _ in desk.story()]


def test_a_greeting_alone_is_not_sent_but_confirmed(desk: Desk) -> None:  # noqa: F811
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Terima kasih.\n\nPetugas\nHelpdesk LPSE")
    [confirm] = desk.new_mail()
    assert confirm.to == STAFF and "tidak ada jawaban yang dikirim" in confirm.text


def test_a_real_answer_with_a_sign_off_reaches_the_reporter_whole(desk: Desk) -> None:  # noqa: F811
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "Silakan reset password melalui menu Lupa Password.\n\nSalam,\nRina")
    mails = by_recipient(desk.new_mail())
    assert "menu Lupa Password" in mails[REPORTER].text and "Salam,\nRina" in mails[REPORTER].text.replace("\r", "")
