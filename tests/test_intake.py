"""One way to open a ticket: a report by mail and the same report by `maild tickets new` are
treated alike (classification, assignee, escalation, acknowledgement, rate limit), and a rule's
``working_hours`` follows the configured calendar."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from harness import report, run_cli, start, write_config
from maild.base.clock import FrozenClock
from maild.store.models import Event, OutgoingMail, Party, Ticket
from maild.transport.maildir import deliver

STAFF_A = "petugas.a@lpse.example"
STAFF_B = "petugas.b@lpse.example"
INFRA = "infra@diskominfo.example"
REPORTER = "budi@cv-maju.co.id"

RULES = """
[[rule]]
name = "uji-coba"
when.text.keywords = ["uji coba"]
acknowledge = false

[[rule]]
name = "server"
when.text.keywords = ["server mati"]
type = "incident"
category = "jaringan_server"
priority = "high"
group = "infrastruktur"
assignee = "petugas.b@lpse.example"
escalate = true

[[rule]]
name = "luar-jam"
when.working_hours = false
priority = "critical"

[[rule]]
name = "lainnya"
when.always = true
type = "service_request"
category = "lainnya"
priority = "medium"
"""


def desk(directory: Path, limit: int = 1000, calendar: dict[str, object] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rules.toml").write_text(RULES, encoding="utf-8")
    sections: dict[str, dict[str, object]] = {
        "database": {"url": f"sqlite:///{directory}/maild.db"},
        "mailbox": {"url": f"maildir:{directory}/Maildir"},
        "smtp": {"url": f"maildir:{directory}/sent"},
        "rules": {"file": str(directory / "rules.toml")},
        "limits": {"auto_replies_per_sender_per_hour": limit},
        # Every hour of every day is a working hour unless a test says otherwise, so the
        # subprocess's real clock cannot change the outcome.
        "calendar": calendar or {"hours": ["mon-sun 00:00-23:59"]},
    }
    config = write_config(directory, sections)
    config.write_text(config.read_text() + f'[[staff]]\nname = "Petugas A"\naddress = "{STAFF_A}"\n'
                      f'[[staff]]\nname = "Petugas B"\naddress = "{STAFF_B}"\n'
                      f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur"\nmanagers = ["{INFRA}"]\n',
                      encoding="utf-8")
    run_cli(config, "db", "upgrade")
    return config


def by_mail(config: Path, subject: str, body: str) -> None:
    deliver(config.parent / "Maildir", report(sender=REPORTER, subject=subject, body=body).raw)
    run_cli(config, "run", "--once")


def by_phone(config: Path, subject: str, body: str) -> None:
    out = run_cli(config, "tickets", "new", "--subject", subject, "--text", body, "--name", "Budi Santoso",
                  "--email", REPORTER, "--channel", "telepon", "--as", STAFF_A, "--json").stdout
    assert json.loads(out)["number"]


def outcome(config: Path) -> list[dict[str, object]]:
    """What each ticket became, leaving out what differs by channel on purpose."""
    daemon, _ = start(config)
    try:
        with daemon.factory() as s:
            rows = []
            for t in s.scalars(select(Ticket).order_by(Ticket.id)):
                assignee = s.get(Party, t.assignee_id).address if t.assignee_id else None
                events = [e.event for e in s.scalars(select(Event).where(Event.ticket_id == t.id).order_by(Event.id))]
                ack = s.scalars(select(Event).where(Event.ticket_id == t.id, Event.event == "ack_suppressed")).first()
                mails = sorted((m.template, m.recipient) for m in s.scalars(
                    select(OutgoingMail).where(OutgoingMail.ticket_id == t.id)) if m.recipient != STAFF_A)
                rows.append({"state": t.state, "type": t.type, "category": t.category, "priority": t.priority,
                             "assignee": assignee, "events": events, "mails": mails,
                             "ack_suppressed": ack.detail["why"].split(":")[0] if ack else None})
            return rows
    finally:
        daemon.close()


@pytest.mark.parametrize("subject, body", [
    ("Server mati sejak pagi", "Server mati, SPSE tidak bisa diakses."),
    ("Uji coba helpdesk", "Ini hanya uji coba."),
    ("Minta jadwal verifikasi", "Kapan jadwal verifikasi berkas kami?"),
])
def test_the_same_report_by_mail_and_by_phone_is_treated_alike(tmp_path: Path, subject: str, body: str) -> None:
    mail_desk, phone_desk = desk(tmp_path / "mail"), desk(tmp_path / "phone")
    by_mail(mail_desk, subject, body)
    by_phone(phone_desk, subject, body)
    mailed, phoned = outcome(mail_desk), outcome(phone_desk)
    assert len(mailed) == len(phoned) == 1
    assert mailed == phoned


def test_the_server_rule_assigns_escalates_and_acknowledges_either_way(tmp_path: Path) -> None:
    config = desk(tmp_path)
    by_phone(config, "Server mati sejak pagi", "Server mati, SPSE tidak bisa diakses.")
    [ticket] = outcome(config)
    assert (ticket["category"], ticket["priority"], ticket["assignee"], ticket["state"]) == \
        ("jaringan_server", "high", STAFF_B, "escalated")
    assert ("escalation", INFRA) in ticket["mails"] and ("ack", REPORTER) in ticket["mails"]


@pytest.mark.parametrize("first, second", [(by_mail, by_phone), (by_phone, by_mail)])
def test_the_hourly_limit_counts_acknowledgements_of_both_channels(tmp_path: Path, first, second) -> None:  # type: ignore[no-untyped-def]
    config = desk(tmp_path, limit=1)
    first(config, "Minta jadwal verifikasi", "Kapan jadwal verifikasi?")
    second(config, "Minta akun baru", "Mohon dibuatkan akun.")
    one, two = outcome(config)
    assert ("ack", REPORTER) in one["mails"] and one["ack_suppressed"] is None
    assert ("ack", REPORTER) not in two["mails"] and two["ack_suppressed"] == "rate limit"


# -- working hours follow [calendar] ------------------------------------------------------------
WITA = 8  # hours ahead of UTC


def wita(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour - WITA, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("moment, priority", [
    (wita(2, 11), "medium"),  # Wednesday 11:00: inside the configured 10:00-12:00
    (wita(2, 9), "critical"),  # Wednesday 09:00: inside the default hours, outside the configured ones
    (wita(3, 11), "critical"),  # Thursday 11:00, a configured day off
])
def test_working_hours_rule_follows_the_configured_calendar(tmp_path: Path, moment: datetime, priority: str) -> None:
    config = desk(tmp_path, calendar={"hours": ["mon-fri 10:00-12:00"], "days_off": ["2026-12-03"]})
    daemon, _ = start(config, FrozenClock(moment))
    try:
        deliver(tmp_path / "Maildir", report(sender=REPORTER, subject="Minta jadwal verifikasi").raw)
        daemon.ingest.run_once()
        daemon.pipeline.run_once()
        with daemon.factory() as s:
            [ticket] = s.scalars(select(Ticket)).all()
            assert ticket.priority == priority
    finally:
        daemon.close()

