"""Mail the CLI queues does not wait for the daemon's next poll: a running daemon sends it at
once, whichever process queued it (the daemon watches the outbox while it waits for mail)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import report, run_cli, write_config
from maild.transport.maildir import deliver
from servers import SmtpSink


def test_mail_queued_by_the_cli_goes_out_at_once(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    maildir = tmp_path / "Maildir"
    config = write_config(tmp_path, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{maildir}", "poll_interval": 3600},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"},
        "digest": {"enabled": False},
    }, staff=True)
    run_cli(config, "db", "upgrade")
    deliver(maildir, report().raw)
    log = open(tmp_path / "daemon.log", "ab")  # noqa: SIM115 - the child owns it
    daemon = subprocess.Popen([sys.executable, "-m", "maild", "--config", str(config), "run"],
                              stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        smtp_sink.wait_for(2, timeout=60)  # the first report: acknowledged, staff told; now it idles
        # A poll interval of an hour: only a wake-up can bring this acknowledgement in time.
        run_cli(config, "tickets", "new", "--subject", "Lewat telepon", "--text", "Tidak bisa unggah",
                "--name", "Joko", "--email", "joko@cv-jaya.co.id", "--as", "petugas@lpse.example")
        got = smtp_sink.wait_for(3, timeout=60)
        assert "joko@cv-jaya.co.id" in {m.rcpt_tos[0] for m in got}
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
