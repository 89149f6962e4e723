"""The outbox is sent beside the rest: a slow SMTP server does not hold up intake."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness import report, write_config
from maild.base.config import load_settings
from maild.store.db import make_engine, session_factory, upgrade
from maild.store.models import OutgoingMail, Ticket
from maild.transport.maildir import deliver
from servers import SmtpSink
from test_crash import daemon_log, maild

pytestmark = pytest.mark.slow


def test_a_stuck_smtp_server_does_not_hold_up_new_reports(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    inbox = tmp_path / "Maildir"
    config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": f"maildir:{inbox}"},
                                     "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}", "timeout": 300}})
    engine = make_engine(load_settings(config).database.url)
    upgrade(engine)
    factory = session_factory(engine)

    def count(model: type, *where: object) -> int:
        with factory() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def wait_for(what: str, predicate, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout  # generous: a deadline, never a speed
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon_log(config)[-3000:]}")

    smtp_sink.holding.set()  # the relay takes the first acknowledgement's DATA and does not answer
    proc = maild(config, "run")
    try:
        deliver(inbox, report(sender="pertama@cv.id", subject="Laporan pertama").raw)
        wait_for("the first ticket", lambda: count(Ticket) == 1)
        # The first acknowledgement is in the relay's hands, unanswered, when the next reports come.
        for i in range(3):
            deliver(inbox, report(sender=f"lain{i}@cv.id", subject=f"Laporan {i}").raw)
        wait_for("three more tickets while the relay hangs", lambda: count(Ticket) == 4)
        assert smtp_sink.messages == []
        smtp_sink.holding.clear()
        wait_for("every acknowledgement sent", lambda: count(OutgoingMail, OutgoingMail.state == "sent") == 4)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        smtp_sink.holding.clear()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        engine.dispose()
    received = sorted(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert received == ["lain0@cv.id", "lain1@cv.id", "lain2@cv.id", "pertama@cv.id"]  # each once
