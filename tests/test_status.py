"""``maild status``: the health on one screen and in JSON, and exit 1 when a person is needed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from harness import report, run_cli, write_config
from maild.transport.maildir import deliver


def _helpdesk(tmp_path: Path, db_url: str) -> Path:
    config = write_config(tmp_path, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{tmp_path / 'Maildir'}"},
        "smtp": {"url": f"maildir:{tmp_path / 'sent'}"},
        "digest": {"enabled": False},
    }, staff=True)
    run_cli(config, "db", "upgrade")
    return config


def _sql(db_url: str, statement: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_status_of_a_working_helpdesk_then_of_one_that_needs_attention(tmp_path: Path, db_url: str) -> None:
    config = _helpdesk(tmp_path, db_url)
    for i in range(3):
        deliver(tmp_path / "Maildir", report(sender=f"pelapor{i}@cv-maju.co.id", subject=f"Tidak bisa login {i}").raw)
    run_cli(config, "run", "--once")

    figures = json.loads(run_cli(config, "status", "--json").stdout)
    assert figures["healthy"] is True and figures["problems"] == []
    assert figures["tickets_open"] == 3 and figures["tickets_overdue"] == 0
    assert figures["mail_queued"] == 0 and figures["mail_failed"] == 0 and figures["oldest_queued_seconds"] is None
    assert figures["messages_waiting"] == 0 and figures["messages_dead"] == 0
    assert figures["last_received_at"] and figures["last_sent_at"]
    assert figures["db_revision"] == figures["db_newest"]
    screen = run_cli(config, "status").stdout
    assert "3 open, 0 overdue" in screen and "status         ok" in screen

    # One acknowledgement bounced for good, one message the pipeline gave up on, and one mail
    # queued two hours ago that never left: each needs a person.
    _sql(db_url, "UPDATE outbox SET state='failed' WHERE id = (SELECT MIN(id) FROM outbox)")
    _sql(db_url, "UPDATE inbound_messages SET state='dead' WHERE id = (SELECT MIN(id) FROM inbound_messages)")
    _sql(db_url, "UPDATE outbox SET state='queued', sent_at=NULL, created_at='2000-01-01 00:00:00' "
                 "WHERE id = (SELECT MAX(id) FROM outbox)")
    proc = run_cli(config, "status", "--json", ok=False)
    assert proc.returncode == 1
    figures = json.loads(proc.stdout)
    assert figures["problems"] == ["mail_failed", "messages_dead", "outbox_stuck"]
    assert figures["mail_failed"] == 1 and figures["messages_dead"] == 1 and figures["mail_queued"] == 1
    assert figures["oldest_queued_seconds"] > 3600
    proc = run_cli(config, "status", ok=False)
    assert proc.returncode == 1 and "NEEDS ATTENTION" in proc.stdout and "maild outbox retry" in proc.stdout
