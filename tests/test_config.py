"""A bad config gives one line naming the key and the problem, and exit code 78."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maild.base.config import load_settings, masked
from maild.base.errors import ConfigError

GOOD = 'helpdesk.secret = "s3cret"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "maild.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[helpdesk]\nsecret = "x"\n'))
    assert s.mailbox.url == f"maildir:{tmp_path}/Maildir"
    assert s.database.url == f"sqlite:///{tmp_path}/maild.db"
    assert s.mid_domain == "lpse.tanatidungkab.go.id"
    assert masked(s)["helpdesk"]["secret"] == "****"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[helpdesk]\nsecret = "x"\n[mailbox]\npasword = "x"\n', ["mailbox.pasword", "did you mean 'password'"]),
        ('[helpdesk]\nsecret = "x"\n[mailbx]\n', ["unknown section [mailbx]", "did you mean 'mailbox'"]),
        ('[helpdesk]\nsecret = "x"\n[mailbox]\npoll_interval = "soon"\n', ["mailbox.poll_interval", "number"]),
        ('[helpdesk]\nsecret = "x"\nlanguage = "fr"\n', ["helpdesk.language", "'fr'"]),
        ('[helpdesk]\nsecret = "x"\ntimezone = "Mars/Olympus"\n', ["helpdesk.timezone"]),
        ('[helpdesk]\nsecret = "x"\n[mailbox]\nurl = "pop3://a@b"\n', ["mailbox.url"]),
        ('[helpdesk]\nsecret = "x"\n[smtp]\nurl = "http://x"\n', ["smtp.url"]),
        ('[helpdesk]\nsecret = "x"\n[mailbox]\npassword_file = "nope.txt"\n', ["mailbox.password_file", "nope.txt"]),
        ('[helpdesk]\nsecret = "x"\n[smtp]\npassword_env = "MAILD_NO_SUCH_VAR"\n', ["MAILD_NO_SUCH_VAR"]),
        ("[helpdesk]\n", ["helpdesk.secret"]),
        ('[helpdesk\nsecret = "x"\n', ["not valid TOML"]),
    ],
)
def test_bad_config_names_key(tmp_path: Path, text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILD_TEST_SECRET", "from-env")
    s = load_settings(write(tmp_path, '[helpdesk]\nsecret_env = "MAILD_TEST_SECRET"\n'))
    assert s.hmac_key == b"from-env"


def test_cli_exit_code_78_and_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[helpdesk]\nsecret = "x"\n[mailbox]\nbatch_size = 0\n')
    proc = subprocess.run([sys.executable, "-m", "maild", "--config", str(path), "check-config"],
                          capture_output=True, text=True)
    assert proc.returncode == 78
    assert proc.stderr.strip().count("\n") == 0
    assert "mailbox.batch_size" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_config(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "maild", "--config", str(tmp_path / "none.toml"), "tickets", "list"],
                          capture_output=True, text=True)
    assert proc.returncode == 78
    assert "maild init" in proc.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[digest]\ntime = "7.30"\n', ["digest.time", "'7.30'"]),
        ('[report]\ntime = "8"\n', ["report.time", "'8'"]),
        ('[sla]\ntargets = ["kritis 1 4"]\n', ["sla.targets", "kritis"]),
        ('[calendar]\nhours = ["mon-fri 8-16"]\n', ["calendar.hours", "8-16"]),
        ('[calendar]\ndays_off = ["2026-13-01"]\n', ["calendar.days_off", "2026-13-01"]),
        ('[sla]\npause_states = ["ditunda"]\n', ["sla.pause_states", "ditunda"]),
    ],
)
def test_what_run_refuses_check_config_and_doctor_refuse_alike(tmp_path: Path, text: str, words: list[str]) -> None:
    """One validation: check-config, run and doctor give the same line and exit 78."""
    path = write(tmp_path, GOOD + text)
    lines = []
    for command in (["check-config"], ["run", "--once"], ["doctor"]):
        proc = subprocess.run([sys.executable, "-m", "maild", "--config", str(path), *command],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 78, (command, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        out = proc.stderr.strip() or proc.stdout.strip()
        assert out.count("\n") == 0, out
        lines.append(out)
    check, run, doctor = lines
    assert check == run and check.startswith(f"maild: config error: {path}: ")
    message = check.removeprefix("maild: config error: ")
    assert message in doctor and doctor.startswith("FAIL config: ")
    for word in words:
        assert word in message
    assert not (tmp_path / "maild.db").exists()
