"""Stored answers (issue 12, item 2): ``#jawab NAMA`` sends the reporter a stored answer and
what the staff member typed, in one mail; an unknown name is refused with a suggestion and
nothing is sent; ``maild answers list|show``; a broken answer is a config error found at once.

The stories run over the real Dovecot and SMTP servers with the desk of test_sop_stories, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import STAFF, imap_sections, report, start, write_config
from maild.app.factory import answers
from maild.base.clock import FrozenClock
from maild.base.errors import ConfigError
from maild.base.resources import resource_dir
from maild.base.settings import AnswersSettings, HelpdeskSettings, Settings
from maild.render.answers import sample_values
from servers import ImapAccount, SmtpSink
from test_indonesian import english_in
from test_sop_stories import REPORTER, Desk, by_recipient, desk  # noqa: F401 (fixture)

SHIPPED = resource_dir("templates") / "answers"
NAMES = ("gagal-unggah", "registrasi-penyedia", "reset-password", "sertifikat-elektronik")
EXTRA = "Akun Bapak sudah kami periksa, silakan dicoba kembali hari ini."


def _to_reporter(mails: list) -> list:  # type: ignore[type-arg]
    return [m for m in mails if m.to == REPORTER]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _notice(desk: Desk, subject: str = "Lupa password akun penyedia"):  # type: ignore[no-untyped-def]
    desk.send(report(subject=subject).raw)
    return by_recipient(desk.new_mail())[STAFF]


# -- by email ---------------------------------------------------------------------------------


def test_jawab_sends_the_stored_answer_and_the_typed_line_in_one_mail(desk: Desk) -> None:
    notice = _notice(desk)
    assert ("Jawaban tersimpan untuk #jawab: gagal-unggah, registrasi-penyedia, reset-password, "
            "sertifikat-elektronik.") in notice.text
    desk.reply(notice, STAFF, f"#jawab reset-password\n{EXTRA}")
    mails = desk.new_mail()
    [answer] = _to_reporter(mails)
    text = _flat(answer.text)
    # The template, rendered for this reporter, then the staff member's line, once.
    assert "Berikut cara mengatur ulang password akun SPSE Bapak/Ibu Budi Santoso:" in text
    assert text.index('tautan "Lupa Password"') < text.index(EXTRA) and text.count(EXTRA) == 1
    assert "{{" not in answer.text and "Helpdesk LPSE Uji" in text
    [confirm] = [m for m in mails if m.to == STAFF]
    assert "jawaban tersimpan reset-password dikirim ke pelapor" in confirm.text
    assert [e for e, _, _ in desk.story()] == ["report_received", "staff_answered", "assigned"]
    assert desk.ticket().state == "in_progress"


def test_the_rest_of_the_jawab_line_follows_the_answer_too(desk: Desk) -> None:
    notice = _notice(desk, "Gagal upload dokumen penawaran")
    desk.reply(notice, STAFF, "#answer GAGAL-UNGGAH Server sudah normal kembali.")
    [answer] = _to_reporter(desk.new_mail())
    text = _flat(answer.text)
    assert "SPAMKODOK" in text and text.index("SPAMKODOK") < text.index("Server sudah normal kembali.")


def test_an_unknown_name_is_refused_with_a_suggestion_and_nothing_is_sent(desk: Desk) -> None:
    notice = _notice(desk)
    desk.reply(notice, STAFF, f"#jawab reset-pasword\n{EXTRA}")
    [confirm] = desk.new_mail()  # to the staff member only: nothing reaches the reporter
    assert confirm.to == STAFF
    assert ("#jawab reset-pasword: jawaban tersimpan 'reset-pasword' tidak dikenal, tidak ada yang dikirim ke "
            "pelapor; maksud Anda reset-password?") in _flat(confirm.text)
    assert [e for e, _, _ in desk.story()] == ["report_received"] and desk.ticket().state == "new"
    desk.reply(notice, STAFF, "#jawab xyzzy")
    [confirm] = desk.new_mail()
    assert "(jawaban tersimpan: gagal-unggah, registrasi-penyedia, reset-password, sertifikat-elektronik)" in \
        _flat(confirm.text)


def test_jawab_with_selesai_is_one_closing_mail_holding_the_answer(desk: Desk) -> None:
    notice = _notice(desk, "Gagal upload dokumen penawaran")
    desk.reply(notice, STAFF, f"#jawab gagal-unggah\n{EXTRA}\n#selesai")
    [closing] = _to_reporter(desk.new_mail())
    text = _flat(closing.text)
    assert "telah selesai ditangani" in text and "SPAMKODOK" in text
    assert text.count(EXTRA) == 1 and text.index("SPAMKODOK") < text.index(EXTRA)
    assert desk.ticket().state == "closed"
    assert [e for e, _, _ in desk.story()] == ["report_received", "staff_answered", "assigned", "resolved"]


def test_the_text_of_an_internal_reply_never_follows_a_stored_answer(desk: Desk) -> None:
    notice = _notice(desk)
    desk.reply(notice, STAFF, "#internal\n#jawab reset-password\nPelapor ini sudah tiga kali lapor, cek log.")
    [answer] = _to_reporter(desk.new_mail())
    assert "Lupa Password" in answer.text and "tiga kali" not in answer.text
    assert [e for e, _, _ in desk.story()] == ["report_received", "note_added", "staff_answered", "assigned"]


# -- the shipped answers ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_shipped_answers_compile_and_read_in_their_language(language: str) -> None:
    stored = answers(Settings(helpdesk=HelpdeskSettings(language=language)))
    assert stored.names() == NAMES
    for name in NAMES:
        text = stored.render(name, sample_values("Helpdesk LPSE Uji", "helpdesk@lpse.example", "LPSE"))
        assert "Budi Santoso" in text and "{{" not in text
        if language == "id":
            assert not english_in(text), (name, english_in(text))


# -- the command line and the checks ----------------------------------------------------------


def _maild(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maild", "--config", str(config), *args],
                          capture_output=True, text=True)


def _config(tmp_path: Path, folder: str = "") -> Path:
    text = '[helpdesk]\nsecret = "x"\nname = "Helpdesk LPSE Uji"\n'
    if folder:
        text += f'[answers]\nfolder = "{folder}"\n'
    path = tmp_path / "maild.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_lists_and_shows_the_answers(tmp_path: Path) -> None:
    config = _config(tmp_path)
    listed = _maild(config, "answers", "list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == list(NAMES)
    assert "Berikut cara mengatur ulang password" in listed.stdout
    shown = _maild(config, "answers", "show", "reset-password")
    assert shown.returncode == 0 and "Bapak/Ibu Budi Santoso:" in shown.stdout
    assert "Helpdesk LPSE Uji" in shown.stdout and "{{" not in shown.stdout
    raw = _maild(config, "answers", "show", "reset-password", "--raw")
    assert raw.stdout == (SHIPPED / "id" / "reset-password.txt.j2").read_text(encoding="utf-8")
    unknown = _maild(config, "answers", "show", "reset-pasword")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.count("\n") == 1 and "did you mean 'reset-password'?" in unknown.stderr


def test_the_folder_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "jawaban").mkdir()
    (tmp_path / "jawaban" / "salam.txt.j2").write_text("Halo {{ reporter_name }} dari {{ helpdesk_name }}.\n")
    (tmp_path / "jawaban" / "catatan.md").write_text("bukan jawaban\n")  # other files are not answers
    listed = _maild(_config(tmp_path, "jawaban"), "answers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"name": "salam"' in listed.stdout and "reset-password" not in listed.stdout


@pytest.mark.parametrize(("filename", "text", "words"), [
    ("rusak.txt.j2", "Bapak/Ibu {{ reporter_name }\n", ["rusak.txt.j2 line 1"]),
    ("rusak.txt.j2", "{% if ticket.number %}\nbelum ditutup\n", ["rusak.txt.j2 line", "endif"]),
    ("rusak.txt.j2", "Bapak/Ibu {{ reporter.name }}\n", ["rusak.txt.j2", "'reporter' is undefined"]),
    ("rusak.txt.j2", "{{ ticket.__class__.__mro__ }}\n", ["rusak.txt.j2", "unsafe"]),
    ("Lupa Password.txt.j2", "Halo\n", ["'Lupa Password' must be a short id"]),
    ("kosong.txt.j2", "{# nothing #}\n", ["kosong.txt.j2: the answer is empty"]),
])
def test_a_broken_answer_fails_check_config_with_one_line(tmp_path: Path, filename: str, text: str,
                                                          words: list[str]) -> None:
    folder = tmp_path / "jawaban"
    shutil.copytree(SHIPPED / "id", folder)
    (folder / filename).write_text(text, encoding="utf-8")
    proc = _maild(_config(tmp_path, "jawaban"), "check-config")
    assert proc.returncode == 78, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "answers.folder:" in proc.stderr
    for word in words:
        assert word in proc.stderr
    (folder / filename).unlink()
    assert _maild(_config(tmp_path, "jawaban"), "check-config").returncode == 0


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"answers.folder: .*tidakada is not a folder"):
        answers(Settings(answers=AnswersSettings(folder=str(tmp_path / "tidakada"))))


# -- an answer that fails on one ticket only --------------------------------------------------


@pytest.fixture
def fragile_desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    """A desk whose answers folder (beside the config) holds an answer that works for the
    sample subject but not for a short one."""
    folder = tmp_path / "jawaban"
    folder.mkdir()
    (folder / "huruf.txt.j2").write_text("Huruf ke-21 subjek Anda: {{ ticket.subject[20] }}\n", encoding="utf-8")
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["digest"] = {"enabled": False}
    sections["answers"] = {"folder": "jawaban"}
    config = write_config(tmp_path, sections, staff=True)
    daemon, _ = start(config, FrozenClock())
    yield Desk(daemon, imap_account, smtp_sink, FrozenClock())
    daemon.close()


def test_an_answer_that_fails_on_a_ticket_is_refused_not_a_crash(fragile_desk: Desk) -> None:
    notice = _notice(fragile_desk, "Akun")
    assert "Jawaban tersimpan untuk #jawab: huruf." in notice.text
    fragile_desk.reply(notice, STAFF, f"#jawab huruf\n{EXTRA}")
    [confirm] = fragile_desk.new_mail()
    assert confirm.to == STAFF
    assert "jawaban tersimpan 'huruf' gagal disusun untuk tiket ini; tidak ada yang dikirim ke pelapor" in \
        _flat(confirm.text)
    assert [e for e, _, _ in fragile_desk.story()] == ["report_received"]
