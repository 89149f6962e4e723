"""Crash and fault tests: the real daemon in a subprocess, killed and restarted for real."""

from __future__ import annotations

import email
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness import append, imap_sections, report, write_config
from harness import folder_count as inbox_count
from maild.base.config import load_settings
from maild.store.db import make_engine, session_factory, upgrade
from maild.store.models import InboundMessage, OutgoingMail, Ticket
from maild.stages.sender import SenderSettings
from servers import Dovecot, ImapAccount, SmtpSink
from sqlalchemy import func, select

pytestmark = pytest.mark.slow


def maild(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start the real daemon; its log goes to daemon.log beside the config (a pipe could fill)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(config.parent / "daemon.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen([sys.executable, "-m", "maild", "--config", str(config), *args],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)


def daemon_log(config: Path) -> str:
    return (config.parent / "daemon.log").read_text(errors="replace")


def prepare(tmp_path: Path, db_url: str, account: ImapAccount, sink: SmtpSink, **mailbox: object) -> Path:
    sections = imap_sections(account, db_url, sink.port)
    sections["mailbox"].update(mailbox)
    config = write_config(tmp_path, sections)
    engine = make_engine(load_settings(config).database.url)
    upgrade(engine)
    engine.dispose()
    return config






REPORTS = 400
TOTAL = REPORTS + REPORTS // 2  # and a reply to every second report


def test_sigkill_at_random_points_loses_and_doubles_nothing(
    tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink
) -> None:
    config = prepare(tmp_path, db_url, imap_account, smtp_sink, batch_size=10)
    seed = int(os.environ.get("MAILD_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    # Enough work that runs killed a second or so in do not finish it: maild got faster, and a
    # smaller mailbox was done in four runs on a loaded machine (too few kills to prove much).
    reports = [report(sender=f"pelapor{i}@cv-{i}.co.id", subject=f"Laporan {i}") for i in range(REPORTS)]
    replies = [
        report(sender=f"pelapor{i}@cv-{i}.co.id", subject=f"Re: Laporan {i}", in_reply_to=reports[i].message_id,
               body=f"Tambahan untuk laporan {i}")
        for i in range(0, REPORTS, 2)
    ]
    append(imap_account, *[r.raw for r in reports + replies])

    # Kill moments are spread over start-up and the first moments of work, scaled to this
    # machine's start-up time, so each run gets a little further and every stage is hit.
    # The quicker of two start-ups: one slowed by a passing load would widen every window.
    startups = []
    for _ in range(2):
        began = time.monotonic()
        assert maild(config, "check-config").wait(timeout=60) == 0
        startups.append(time.monotonic() - began)
    startup = min(startups)
    kills = 0
    finished = False
    for _ in range(25):  # runs killed at random moments (start-up, ingest, pipeline, send)
        proc = maild(config, "run", "--once")
        try:
            proc.wait(timeout=rng.uniform(0.8 * startup, startup + 0.3))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, daemon_log(config)[-3000:]
        if inbox_count(imap_account) == 0:
            finished = True
            break
    assert kills >= 5, f"the daemon finished before it could be killed enough (seed {seed})"
    if not finished:  # then one run left alone to finish the work
        proc = maild(config, "run", "--once")
        assert proc.wait(timeout=600) == 0, daemon_log(config)[-3000:]
    assert inbox_count(imap_account) == 0

    settings = load_settings(config)
    engine = make_engine(settings.database.url)
    with session_factory(engine)() as s:
        rows = s.scalars(select(InboundMessage)).all()
        by_mid = {r.message_id: r for r in rows}
        assert len(rows) == TOTAL and len(by_mid) == TOTAL, f"seed {seed}"
        assert {r.state for r in rows} == {"done"}
        assert s.scalar(select(func.count(Ticket.id))) == REPORTS
        numbers = {t.id: t.number for t in s.scalars(select(Ticket))}
        for i, rep in enumerate(replies):
            assert by_mid[rep.message_id].disposition == "follow_up", f"seed {seed}"
            assert by_mid[rep.message_id].ticket_id == by_mid[reports[2 * i].message_id].ticket_id
        assert Counter(r.disposition for r in rows) == {"new_ticket": REPORTS, "follow_up": REPORTS // 2}
        assert len(set(numbers.values())) == REPORTS
        acks = s.scalars(select(OutgoingMail)).all()
        assert len(acks) == REPORTS and {a.state for a in acks} == {"sent"}
        assert Counter(a.recipient for a in acks) == {f"pelapor{i}@cv-{i}.co.id": 1 for i in range(REPORTS)}
        ours = {f"<{a.message_id}>" for a in acks}
    engine.dispose()
    got = Counter(email.message_from_bytes(m.data)["Message-ID"] for m in smtp_sink.messages)
    # Every acknowledgement reached the SMTP server; a resend (the at-least-once window) carries
    # the same Message-ID, so the reporter's mail client shows it once.
    assert set(got) == ours
    # A kill can catch at most one uncommitted batch of the sender.
    assert sum(got.values()) - len(got) <= kills * SenderSettings.commit_every
    assert inbox_count(imap_account, "Processed") == TOTAL
    print(f"kill test: seed {seed}, {kills} kills, {sum(got.values()) - len(got)} resent acknowledgements")


def wait_until(predicate, timeout: float, what: str, config: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; daemon log:\n{daemon_log(config)[-3000:]}")


def test_imap_restart_sighup_and_sigterm(
    tmp_path: Path, db_url: str, dovecot: Dovecot, imap_account: ImapAccount, smtp_sink: SmtpSink
) -> None:
    config = prepare(tmp_path, db_url, imap_account, smtp_sink)
    proc = maild(config, "run")
    try:
        append(imap_account, *[report(sender=f"a{i}@x.id").raw for i in range(10)])
        wait_until(lambda: len(smtp_sink.messages) >= 10, 30, "10 acknowledgements", config)

        dovecot.restart()
        append(imap_account, *[report(sender=f"b{i}@x.id").raw for i in range(10)])
        wait_until(lambda: len(smtp_sink.messages) >= 20, 60, "20 acknowledgements after the IMAP restart", config)

        # A broken config on reload is refused; the daemon keeps the old one and goes on.
        good = config.read_text()
        config.write_text(good + "\n[bogus]\nx = 1\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        append(imap_account, *[report(sender="c@x.id").raw])
        wait_until(lambda: len(smtp_sink.messages) >= 21, 30, "an acknowledgement after a bad reload", config)
        # So is a broken rules file: the daemon keeps the rules it had loaded.
        rules = config.parent / "rules.toml"
        rules.write_text('[[rule]]\nname = "rusak"\nwhen.subject.regex = "(("\npriority = "tinggi"\n')
        config.write_text(good.replace('[database]', f'[rules]\nfile = "{rules}"\n[database]'))
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        append(imap_account, *[report(sender="d@x.id").raw])
        wait_until(lambda: len(smtp_sink.messages) >= 22, 30, "an acknowledgement after a bad rules file", config)
        assert proc.poll() is None

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = daemon_log(config)
    assert "reload failed" in err and "unknown section [bogus]" in err
    assert "rules.toml" in err and "'rusak'" in err
    assert "Traceback" not in err
    assert inbox_count(imap_account) == 0
    recipients = Counter(email.message_from_bytes(m.data)["To"] for m in smtp_sink.messages)
    assert len(recipients) == 22 and set(recipients.values()) == {1}
