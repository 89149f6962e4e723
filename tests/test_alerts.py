"""[alerts]: one mail to the admin when the mailbox cannot be read or the outbox is stuck for
longer than configured, one when it recovers; never more, across ticks and restarts. Over the
real Dovecot (stopped, then started) and the real SMTP sink (4xx, then accepting), on SQLite
and PostgreSQL, with a clock the test moves."""

from __future__ import annotations

import email
import json
import threading
import time
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text as sql_text

from harness import imap_sections, report, run_cli, start, write_config
from maild.app.daemon import Daemon
from maild.app.metrics import Metrics
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from maild.service import health
from maild.sop.vocabulary import Alarm
from maild.stages.alerts import MailboxLook
from maild.store.models import OutgoingMail
from maild.transport.maildir import deliver
from servers import Dovecot, ImapAccount, SmtpSink, pg_schema

ADMIN = "admin@diskominfo.example"


def alerts_section(**extra: Any) -> dict[str, Any]:
    return {"admin_address": ADMIN, "mailbox_after_minutes": 15, "outbox_after_minutes": 30, **extra}


def admin_mail(sink: SmtpSink) -> list[EmailMessage]:
    """What the admin received, in order."""
    out = []
    for got in sink.messages:
        if got.rcpt_tos == (ADMIN,):
            msg = email.message_from_bytes(got.data, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
    return out


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


def queued_alerts(daemon: Daemon) -> list[OutgoingMail]:
    with daemon.factory() as s:
        return list(s.scalars(select(OutgoingMail).where(OutgoingMail.recipient == ADMIN).order_by(OutgoingMail.id)))


def open_alerts(daemon: Daemon) -> tuple[health.OpenAlert, ...]:
    with daemon.factory() as s:
        return health.open_alerts(s)


def read_again(daemon: Daemon) -> None:
    """Tick until the mailbox is read (the daemon's back-off runs on the real monotonic clock)."""
    deadline = time.monotonic() + 60
    daemon.tick()
    while daemon.mailbox_error:
        assert time.monotonic() < deadline, daemon.mailbox_error
        time.sleep(0.2)
        daemon.tick()


def test_a_mailbox_outage_mails_the_admin_once_and_once_when_it_recovers(
        tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink, dovecot: Dovecot) -> None:
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["alerts"] = alerts_section()
    config = write_config(tmp_path, sections)
    clock = FrozenClock()
    began = clock()
    daemon, _ = start(config, clock)
    try:
        dovecot.stop()
        daemon.tick()
        assert daemon.mailbox_error and daemon.mailbox_failing_since == began
        clock.advance(minutes=14, seconds=59)
        daemon.tick()
        assert queued_alerts(daemon) == [] and admin_mail(smtp_sink) == []

        clock.advance(seconds=1)
        daemon.tick()
        [alert] = admin_mail(smtp_sink)
        assert str(alert["Subject"]) == ("Peringatan maild: kotak surat default tidak dapat dibaca sejak "
                                         "2 November 2026 09:00 WITA")
        body = text(alert)
        assert daemon.mailbox_error in body  # the technical line, verbatim
        assert "sudah 15 menit" in body and imap_account.user in body
        assert '"maild status"' in body and '"maild doctor"' in body
        assert [(a.mailbox, a.alarm, a.since) for a in open_alerts(daemon)] == [("default", Alarm.MAILBOX, began)]

        for _ in range(3):
            clock.advance(minutes=20)
            daemon.tick()
        daemon.close()
        daemon, _ = start(config, clock)  # a restart while the mailbox is still down
        daemon.tick()
        clock.advance(minutes=30)
        daemon.tick()
        assert daemon.mailbox_error and len(queued_alerts(daemon)) == 1 and len(admin_mail(smtp_sink)) == 1

        dovecot.start()
        read_again(daemon)
        daemon.run_once()
        alert_again, recovered = admin_mail(smtp_sink)
        assert alert_again["Message-ID"] == alert["Message-ID"]
        assert str(recovered["Subject"]) == "Pulih: kotak surat default dapat dibaca lagi setelah 1 jam 45 menit"
        assert "Gangguan berlangsung 1 jam 45 menit, sejak 2 November 2026 09:00 WITA" in text(recovered)
        assert open_alerts(daemon) == ()

        for _ in range(3):
            clock.advance(minutes=20)
            daemon.tick()
        assert len(admin_mail(smtp_sink)) == 2 and len(queued_alerts(daemon)) == 2
    finally:
        if not dovecot.running:
            dovecot.start()
        daemon.close()


def test_a_short_outage_mails_nobody(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink,
                                     dovecot: Dovecot) -> None:
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["alerts"] = alerts_section()
    clock = FrozenClock()
    daemon, _ = start(write_config(tmp_path, sections), clock)
    try:
        dovecot.stop()
        daemon.tick()
        clock.advance(minutes=10)
        daemon.tick()
        dovecot.start()
        read_again(daemon)
        assert daemon.mailbox_failing_since is None
        clock.advance(minutes=10)  # 20 minutes after the first failure, but it read in between
        daemon.tick()
        assert queued_alerts(daemon) == [] and open_alerts(daemon) == ()
    finally:
        if not dovecot.running:
            dovecot.start()
        daemon.close()


def test_a_stuck_outbox_mails_the_admin_once_and_once_when_it_flows(
        tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    maildir = tmp_path / "Maildir"
    config = write_config(tmp_path, {
        "database": {"url": db_url}, "mailbox": {"url": f"maildir:{maildir}"},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"}, "digest": {"enabled": False},
        "alerts": alerts_section(),
    })
    clock = FrozenClock()
    daemon, _ = start(config, clock)
    try:
        smtp_sink.mode = "tempfail"
        deliver(maildir, report().raw)
        daemon.run_once()
        clock.advance(minutes=29)
        daemon.tick()
        assert queued_alerts(daemon) == []

        clock.advance(minutes=1)
        daemon.tick()
        [alert] = queued_alerts(daemon)
        assert (alert.template, alert.state) == ("alert", "queued")  # stuck behind the same relay
        assert alert.subject == ("Peringatan maild: email keluar tertahan sejak 2 November 2026 09:00 WITA "
                                 "(kotak surat default)")
        [opened] = open_alerts(daemon)
        assert (opened.alarm, opened.since) == (Alarm.OUTBOX, clock() - timedelta(minutes=30))

        # The open alert shows where the admin looks meanwhile: `maild status` and the metrics.
        status = run_cli(config, "status", "--json", ok=False)
        assert status.returncode == 1
        figures = json.loads(status.stdout)
        assert "alert_open" in figures["problems"]
        assert [(a["mailbox"], a["alarm"]) for a in figures["alerts"]] == [("default", "outbox")]
        assert "outbox of mailbox default in trouble since" in run_cli(config, "status", ok=False).stdout
        metrics = Metrics(clock)
        metrics.factory = daemon.factory
        assert scraped(metrics)['maild_alert_open{alarm=outbox,mailbox=default}'] == 1
        assert scraped(metrics)['maild_alert_open{alarm=mailbox,mailbox=default}'] == 0

        for _ in range(3):
            clock.advance(minutes=20)
            daemon.tick()
        daemon.close()
        daemon, _ = start(config, clock)
        clock.advance(minutes=20)
        daemon.tick()
        assert len(queued_alerts(daemon)) == 1 and admin_mail(smtp_sink) == []

        smtp_sink.mode = "ok"
        clock.advance(hours=2)  # past the sender's back-off
        daemon.run_once()
        alert_mail, recovered = admin_mail(smtp_sink)
        assert str(alert_mail["Subject"]).startswith("Peringatan maild: email keluar tertahan")
        assert "451 4.3.0" in text(alert_mail)
        assert str(recovered["Subject"]) == "Pulih: email keluar terkirim lagi setelah 3 jam 50 menit (kotak surat default)"
        assert open_alerts(daemon) == ()
        assert scraped(metrics)['maild_alert_open{alarm=outbox,mailbox=default}'] == 0

        clock.advance(hours=1)
        daemon.run_once()
        assert len(admin_mail(smtp_sink)) == 2
    finally:
        daemon.close()


def scraped(metrics: Metrics) -> dict[str, float]:
    samples = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


def test_no_admin_address_no_alert(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    maildir = tmp_path / "Maildir"
    config = write_config(tmp_path, {
        "database": {"url": db_url}, "mailbox": {"url": f"maildir:{maildir}"},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"}, "digest": {"enabled": False},
    })
    clock = FrozenClock()
    daemon, settings = start(config, clock)
    try:
        assert settings.alerts.admin_address == ""
        smtp_sink.mode = "tempfail"
        deliver(maildir, report().raw)
        daemon.run_once()
        clock.advance(hours=3)
        daemon.tick()
        assert open_alerts(daemon) == ()
        with daemon.factory() as s:
            assert {o.template for o in s.scalars(select(OutgoingMail))} == {"ack"}
    finally:
        daemon.close()


@pytest.mark.parametrize(("alerts", "error"), [
    ({"admin_address": "admin"}, "alerts.admin_address: 'admin' is not an email address"),
    ({"mailbox_after_minutes": 0}, "alerts.mailbox_after_minutes: must be at least 1"),
    ({"outbox_after_minutes": -5}, "alerts.outbox_after_minutes: must be at least 1"),
    ({"admin": "x@y.z"}, "admin"),
])
def test_alert_settings_are_checked(tmp_path: Path, alerts: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_settings(write_config(tmp_path, {"alerts": alerts}))


def test_two_daemons_at_the_same_moment_mail_one_alert_and_one_recovery(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """Two daemons on one PostgreSQL database both see the mailbox failing, at the same moment:
    a lock the test holds on timer_firings lets both read "no alert open" before either writes,
    so only the UNIQUE key decides who mails. Then both see it read again, at the same moment."""
    with pg_schema() as url:
        config = write_config(tmp_path, {
            "database": {"url": url}, "mailbox": {"url": f"maildir:{tmp_path / 'Maildir'}"},
            "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"}, "digest": {"enabled": False},
            "alerts": alerts_section(),
        })
        clock = FrozenClock()
        first, _ = start(config, clock)
        second, _ = start(config, clock)
        try:
            def together(looks: tuple[MailboxLook, MailboxLook]) -> list[int]:
                results: list[int] = []
                with first.engine.connect() as holder:
                    holder.execute(sql_text("LOCK TABLE timer_firings IN EXCLUSIVE MODE"))
                    threads = [threading.Thread(target=lambda d=d, look=look: results.append(d.alerts.run_once(look)))
                               for d, look in zip((first, second), looks)]
                    for t in threads:
                        t.start()
                    deadline = time.monotonic() + 60
                    with first.engine.connect() as watcher:
                        while watcher.scalar(sql_text("SELECT count(*) FROM pg_locks WHERE NOT granted "
                                                  "AND relation = 'timer_firings'::regclass")) < 2:
                            assert time.monotonic() < deadline and all(t.is_alive() for t in threads)
                            time.sleep(0.05)
                    holder.commit()
                for t in threads:
                    t.join(timeout=60)
                return sorted(results)

            source = "maildir:Maildir"
            clock.advance(minutes=30)
            failing = (MailboxLook("default", source, clock() - timedelta(minutes=20), "down"),
                       MailboxLook("default", source, clock() - timedelta(minutes=16), "down"))
            assert together(failing) == [0, 1]
            assert [o.template for o in queued_alerts(first)] == ["alert"]
            clock.advance(minutes=10)  # (the alert mail waits unsent: 30 minutes would be a stuck outbox)
            assert together((MailboxLook("default", source, None), MailboxLook("default", source, None))) == [0, 1]
            assert [o.template for o in queued_alerts(first)] == ["alert", "alert_recovered"]
            assert open_alerts(first) == ()
        finally:
            first.close()
            second.close()
