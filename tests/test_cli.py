"""The CLI end to end on the embedded defaults (local Maildir in, Maildir out)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import report
from harness import run_cli as maild

DEMO = Path(__file__).resolve().parent.parent / "demo" / "mail"




@pytest.fixture
def helpdesk(tmp_path: Path) -> Path:
    config = tmp_path / "maild.toml"
    maild(config, "init")
    assert (tmp_path / "maild.secret").stat().st_mode & 0o777 == 0o600
    return config


def test_init_refuses_to_overwrite(helpdesk: Path) -> None:
    proc = maild(helpdesk, "init", ok=False)
    assert proc.returncode == 1 and "--force" in proc.stderr


def test_run_once_on_the_embedded_maildir(helpdesk: Path) -> None:
    inbox = helpdesk.parent / "Maildir" / "new"
    for eml in sorted(DEMO.glob("*.eml")):
        shutil.copy(eml, inbox)
    maild(helpdesk, "run", "--once")
    assert list(inbox.iterdir()) == []
    assert len(list((helpdesk.parent / "Maildir" / ".Processed" / "cur").iterdir())) == 6
    tickets = json.loads(maild(helpdesk, "tickets", "list", "--json").stdout)
    assert [t["number"] for t in tickets] == ["26-0004", "26-0003", "26-0002", "26-0001"]
    assert tickets[2]["subject"] == "Upload dokumen penawaran gagal – paket jalan desa"
    ledger = json.loads(maild(helpdesk, "messages", "list", "--json").stdout)
    assert [m["disposition"] for m in reversed(ledger)] == [
        "new_ticket", "new_ticket", "new_ticket", "new_ticket", "follow_up", "auto_reply"]
    sent = list((helpdesk.parent / "sent" / "new").iterdir())
    assert len(sent) == 4
    show = json.loads(maild(helpdesk, "tickets", "show", "26-0001", "--json").stdout)
    assert [e["event"] for e in show["events"]] == ["report_received", "reporter_replied"]
    assert show["mail"][0]["state"] == "sent"
    human = maild(helpdesk, "tickets", "show", "26-0001").stdout
    assert "report_received" in human
    raw = subprocess.run([sys.executable, "-m", "maild", "--config", str(helpdesk), "messages", "show", "1", "--raw"],
                         capture_output=True, timeout=60).stdout
    assert raw == (DEMO / "01-login.eml").read_bytes()


def test_inject_uses_the_same_path_and_is_idempotent(helpdesk: Path, tmp_path: Path) -> None:
    eml = tmp_path / "r.eml"
    eml.write_bytes(report().raw)
    out = maild(helpdesk, "inject", str(eml)).stdout
    assert "new_ticket" in out
    maild(helpdesk, "inject", str(eml))
    assert len(json.loads(maild(helpdesk, "tickets", "list", "--json").stdout)) == 1
    outbox = json.loads(maild(helpdesk, "outbox", "list", "--json").stdout)
    assert [(o["state"], o["template"]) for o in outbox] == [("queued", "ack")]


def test_dead_letters_list_show_requeue(helpdesk: Path, tmp_path: Path) -> None:
    # A message that cannot be processed: simulate with a database trigger-free trick, the
    # row is put in the dead state the way the pipeline does after three failures.
    eml = tmp_path / "r.eml"
    eml.write_bytes(report().raw)
    maild(helpdesk, "inject", str(eml))
    import sqlite3

    db = sqlite3.connect(helpdesk.parent / "maild.db")
    db.execute("UPDATE inbound_messages SET state='dead', attempts=3, last_error='RuntimeError: boom'")
    db.commit()
    db.close()
    listed = json.loads(maild(helpdesk, "dead", "list", "--json").stdout)
    assert [(d["id"], d["last_error"]) for d in listed] == [(1, "RuntimeError: boom")]
    assert "boom" in maild(helpdesk, "dead", "show", "1").stdout
    maild(helpdesk, "dead", "requeue", "1")
    assert json.loads(maild(helpdesk, "dead", "list", "--json").stdout) == []
    bad = maild(helpdesk, "dead", "requeue", "99", ok=False)
    assert bad.returncode == 1 and "99" in bad.stderr


def test_outbox_retry_of_failed_mail(helpdesk: Path, tmp_path: Path) -> None:
    eml = tmp_path / "r.eml"
    eml.write_bytes(report().raw)
    maild(helpdesk, "inject", str(eml))
    import sqlite3

    db = sqlite3.connect(helpdesk.parent / "maild.db")
    db.execute("UPDATE outbox SET state='failed', last_error='550 5.1.1 no such user'")
    db.commit()
    db.close()
    assert json.loads(maild(helpdesk, "outbox", "list", "--state", "failed", "--json").stdout)[0]["id"] == 1
    assert "1 mail due now" in maild(helpdesk, "outbox", "retry").stdout
    maild(helpdesk, "run", "--once")
    assert json.loads(maild(helpdesk, "outbox", "list", "--json").stdout)[0]["state"] == "sent"


def test_db_status_and_unknown_ticket(helpdesk: Path) -> None:
    assert "current 0009, newest 0009" in maild(helpdesk, "db", "status").stdout
    proc = maild(helpdesk, "tickets", "show", "26-9999", ok=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "maild: error: no ticket 26-9999"


def test_check_config_masks_secrets(helpdesk: Path) -> None:
    text = helpdesk.read_text().replace('password_file = ""', 'password = "rahasia-sekali"', 1)
    helpdesk.write_text(text)
    proc = maild(helpdesk, "check-config")
    assert "rahasia-sekali" not in proc.stdout and '"password": "****"' in proc.stdout


def test_rules_test_explains_without_changing_anything(helpdesk: Path) -> None:
    out = maild(helpdesk, "rules", "test", str(DEMO / "01-login.eml"), str(DEMO / "04-down.eml")).stdout
    assert "01-login.eml" in out and "akun" in out
    assert "jaringan" in out
    assert json.loads(maild(helpdesk, "tickets", "list", "--json").stdout) == []


def test_broken_rules_file_is_one_line_and_exit_78(helpdesk: Path) -> None:
    rules = helpdesk.parent / "rules.toml"
    rules.write_text('[[rule]]\nname = "x"\nwhen.subject.keywords = ["a"]\npriority = "urgentt"\n')
    helpdesk.write_text(helpdesk.read_text().replace('file = ""', 'file = "rules.toml"'))
    proc = maild(helpdesk, "check-config", ok=False)
    assert proc.returncode == 78
    line = proc.stderr.strip()
    assert "\n" not in line and "rules.toml" in line and "'x'" in line and "urgentt" in line


@pytest.mark.parametrize("kind", ["sqlite-missing-dir", "postgresql-closed-port"])
def test_unreachable_database_is_one_line_and_exit_75_for_every_command(tmp_path: Path, kind: str) -> None:
    from servers import free_port

    url = (f"sqlite:///{tmp_path}/no-such-dir/maild.db" if kind.startswith("sqlite")
           else f"postgresql+psycopg://maild:rahasia@127.0.0.1:{free_port()}/maild")
    config = tmp_path / "maild.toml"
    config.write_text(f'[helpdesk]\nsecret = "x"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    for command in (["tickets", "list"], ["messages", "list"], ["outbox", "list"], ["tickets", "show", "26-0001"],
                    ["run", "--once"]):
        proc = maild(config, *command, ok=False)
        line = proc.stderr.strip()
        assert proc.returncode == 75, (command, proc.stderr)
        assert "\n" not in line and line.startswith("maild: temporary failure: database unreachable: "), line
        assert "rahasia" not in line
    assert not (tmp_path / "no-such-dir").exists()


def test_small_cli_conveniences(helpdesk: Path, tmp_path: Path) -> None:
    inbox = helpdesk.parent / "Maildir" / "new"
    shutil.copy(DEMO / "01-login.eml", inbox)
    maild(helpdesk, "run", "--once")
    [ticket] = json.loads(maild(helpdesk, "tickets", "list", "--json").stdout)
    # Indonesian state names, as the labels and #status read them, are the same filters.
    for word, found in (("baru", 1), ("new", 1), ("Baru", 1), ("terbuka", 1), ("open", 1), ("selesai", 0),
                        ("di-koordinator", 0)):
        rows = json.loads(maild(helpdesk, "tickets", "list", "--state", word, "--json").stdout)
        assert len(rows) == found, word
    bad = maild(helpdesk, "tickets", "list", "--state", "hilang", ok=False)
    assert bad.returncode == 2 and "selesai" in bad.stderr
    # A bare count gets the form of a ticket number.
    number = ticket["number"]
    proc = maild(helpdesk, "tickets", "show", "1", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"maild: error: no ticket 1: ticket numbers look like {number} (year-number)"
    # --from after --to is a usage error.
    for command in (["export", "register"], ["tickets", "list"]):
        proc = maild(helpdesk, *command, "--from", "2026-11-30", "--to", "2026-11-01", ok=False)
        assert proc.returncode == 2 and "--from 2026-11-30 is after --to 2026-11-01" in proc.stderr
    # report without a month, or with a bare --month: the last full month.
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Makassar"))
    last = f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"
    for args in ([], ["--month"]):
        out = maild(helpdesk, "report", *args, "--out", str(tmp_path / "rep")).stdout
        assert f"laporan-helpdesk-{last}.html" in out


def test_overdue_lists_old_tickets_behind_fifty_newer_ones(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from desk import Desk, wita
    desk = Desk(tmp_path)
    old = [desk.open(f"Lama {i}", wita(9, 1 + i)) for i in range(10)]  # months ago: long overdue
    fresh = datetime.now(timezone.utc) - timedelta(minutes=5)
    for i in range(50):
        desk.open(f"Baru {i}", fresh + timedelta(seconds=i))
    desk.services.close()
    listed = json.loads(maild(tmp_path / "maild.toml", "tickets", "list", "--overdue", "--json").stdout)
    assert [t["number"] for t in listed] == old[::-1]
    assert all(t["working_hours"] > 100 for t in listed)
    few = json.loads(maild(tmp_path / "maild.toml", "tickets", "list", "--overdue", "--limit", "3", "--json").stdout)
    assert [t["number"] for t in few] == old[:-4:-1]
