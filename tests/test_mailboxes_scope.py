"""Each mailbox's staff see only their tickets: two helpdesks on one maild (the top-level LPSE
and a [[mailboxes]] "verif" with its own staff and coordinator), a ticket 26-0001 in each.

The digest, the monthly report, the register and the form of each mailbox are about its own
tickets and go to its own people; the CLI names a ticket of another mailbox ``VERIF#26-0001``
(or takes ``--mailbox``); ``maild status`` and the metrics show each mailbox and its lease.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from harness import STAFF, report, run_cli, start, write_config
from maild.app.daemon import Daemon
from maild.app.metrics import Metrics
from maild.base.clock import FrozenClock
from maild.base.settings import Settings
from maild.documents.form_data import form_data
from maild.documents.register import register_rows
from maild.documents.report_figures import month_bounds, monthly_report
from maild.documents.settings import form_settings
from maild.mail.tokens import key_hash
from maild.service import actions
from maild.service.actions import Act
from maild.store.models import InboundMessage, OutgoingMail, Ticket, TimerFiring
from maild.transport.maildir import deliver

COORDINATOR = "koordinator@lpse.example"
VERIFIER = "verifikator@lpse.example"
VERIF_COORDINATOR = "koord-verif@lpse.example"
# Monday 2 November 2026, 07:00 WITA: before the digest's time, so the reports come in alone.
MONDAY_MORNING = datetime(2026, 11, 1, 23, 0, tzinfo=timezone.utc)
LPSE_SUBJECTS = ("Tidak bisa login ke SPSE", "Upload dokumen penawaran gagal")
VERIF_SUBJECT = "Permohonan verifikasi akun penyedia baru"


@dataclass
class Helpdesks:
    config: Path
    settings: Settings
    daemon: Daemon
    clock: FrozenClock

    def desk(self, name: str):  # type: ignore[no-untyped-def]
        return next(d for d in self.daemon.desks if d.name == name)

    def mailbox_of_ticket(self, mailbox: str, number: str) -> Ticket:
        with self.daemon.factory() as s:
            return s.scalars(select(Ticket).where(Ticket.mailbox == mailbox, Ticket.number == number)).one()


def _two_mailboxes(tmp_path: Path, db_url: str, own_coordinator: bool) -> Path:
    config = write_config(tmp_path, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{tmp_path}/lpse"},
        "smtp": {"url": f"maildir:{tmp_path}/sent"},
        "coordinator": {"name": "Koordinator LPSE", "address": COORDINATOR},
        "sla": {"check_every": 0},
    }, staff=True)
    verif = ["[[mailboxes]]", 'name = "verif"', f'url = "maildir:{tmp_path}/verif"',
             'address = "verifikasi@lpse.example"', 'ticket_tag = "VERIF"', 'helpdesk_name = "Verifikasi LPSE Uji"',
             "[[mailboxes.staff]]", 'name = "Verifikator"', f'address = "{VERIFIER}"']
    if own_coordinator:
        verif += ["[mailboxes.coordinator]", 'name = "Koordinator Verifikasi"', f'address = "{VERIF_COORDINATOR}"']
    config.write_text(config.read_text() + "\n".join(verif) + "\n", encoding="utf-8")
    return config


def _helpdesks(tmp_path: Path, db_url: str, own_coordinator: bool = True) -> Iterator[Helpdesks]:
    config = _two_mailboxes(tmp_path, db_url, own_coordinator)
    for i, subject in enumerate(LPSE_SUBJECTS):
        deliver(tmp_path / "lpse", report(sender=f"pelapor{i}@cv-maju.co.id", subject=subject).raw)
    deliver(tmp_path / "verif", report(sender="sari@cv-baru.co.id", subject=VERIF_SUBJECT, name="Sari").raw)
    clock = FrozenClock(MONDAY_MORNING)
    daemon, settings = start(config, clock)
    try:
        assert daemon.run_once()
        yield Helpdesks(config, settings, daemon, clock)
    finally:
        daemon.close()


@pytest.fixture
def helpdesks(tmp_path: Path, db_url: str) -> Iterator[Helpdesks]:
    yield from _helpdesks(tmp_path, db_url)


def _text(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.default)
    return msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_both_mailboxes_number_from_26_0001(helpdesks: Helpdesks) -> None:
    with helpdesks.daemon.factory() as s:
        rows = {(t.mailbox, t.number, t.subject) for t in s.scalars(select(Ticket))}
    assert rows == {("default", "26-0001", LPSE_SUBJECTS[0]), ("default", "26-0002", LPSE_SUBJECTS[1]),
                    ("verif", "26-0001", VERIF_SUBJECT)}


def test_each_digest_lists_its_own_tickets_and_goes_to_its_own_coordinator(helpdesks: Helpdesks) -> None:
    h = helpdesks
    with h.daemon.factory() as s, s.begin():
        # The verif acknowledgement bounced and one of its messages died: the verif digest's business.
        s.execute(update(OutgoingMail).where(OutgoingMail.mailbox == "verif", OutgoingMail.template == "ack")
                  .values(state="failed", last_error="550 5.1.1 no such user"))
        s.execute(kill_first_message(s, "verif"))
    h.clock.now = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 WITA
    assert sum(d.digest.run_once() for d in h.daemon.desks) == 2
    with h.daemon.factory() as s:
        mails = {o.mailbox: o for o in s.scalars(select(OutgoingMail).where(OutgoingMail.template == "digest"))}
    assert {m: o.recipient for m, o in mails.items()} == {"default": COORDINATOR, "verif": VERIF_COORDINATOR}
    lpse, verif = _text(mails["default"].raw), _text(mails["verif"].raw)
    assert "[LPSE #26-0001]" in lpse and "[LPSE #26-0002]" in lpse and "VERIF" not in lpse
    assert "[VERIF #26-0001]" in verif and "LPSE #" not in verif
    assert VERIF_SUBJECT in verif and VERIF_SUBJECT not in lpse and LPSE_SUBJECTS[0] not in verif
    with h.daemon.factory() as s:
        # A reply to a digest proves its sender for the tickets it listed: its own mailbox's.
        for name, o in mails.items():
            listed = set(s.scalars(select(TimerFiring.ticket_id)
                                   .where(TimerFiring.key.startswith(f"listed:{key_hash(o.key)}:"))))
            mine = set(s.scalars(select(Ticket.id).where(Ticket.mailbox == name)))
            assert listed == mine
        views = {d.name: d.digest.compose(s, h.clock()) for d in h.daemon.desks}
    assert (views["default"].open_count, views["verif"].open_count) == (2, 1)
    assert views["default"].failed_mail == () and len(views["verif"].failed_mail) == 1
    assert views["default"].dead_messages == () and len(views["verif"].dead_messages) == 1
    assert sum(w.intake for w in views["default"].week) == 2 and sum(w.intake for w in views["verif"].week) == 1


def kill_first_message(session, mailbox: str):  # type: ignore[no-untyped-def]
    """The first message of ``mailbox`` made dead (the pipeline gave up on it)."""
    first = session.scalar(select(InboundMessage.id).where(InboundMessage.mailbox == mailbox).limit(1))
    return update(InboundMessage).where(InboundMessage.id == first).values(state="dead", last_error="RuntimeError: boom")


def test_one_coordinator_of_two_mailboxes_gets_both_digests(tmp_path: Path, db_url: str) -> None:
    for h in _helpdesks(tmp_path, db_url, own_coordinator=False):
        h.clock.now = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)
        assert sum(d.digest.run_once() for d in h.daemon.desks) == 2
        assert sum(d.digest.run_once() for d in h.daemon.desks) == 0  # once a day each
        with h.daemon.factory() as s:
            keys = set(s.scalars(select(TimerFiring.key).where(TimerFiring.kind == "digest")))
            mails = s.execute(select(OutgoingMail.mailbox, OutgoingMail.recipient)
                              .where(OutgoingMail.template == "digest")).all()
        # The top level's key is as before several mailboxes; the other's carries its name.
        assert keys == {f"digest:{COORDINATOR}:2026-11-02", f"verif:digest:{COORDINATOR}:2026-11-02"}
        assert sorted(mails) == [("default", COORDINATOR), ("verif", COORDINATOR)]


def test_each_monthly_report_and_register_counts_its_own_tickets(helpdesks: Helpdesks) -> None:
    h = helpdesks
    verif = h.desk("verif")
    with h.daemon.factory() as s, s.begin():
        h.clock.now = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)
        actions.resolve(Act(s, verif.pipeline.mailer, verif.pipeline.settings.intake.roles,
                            s.get(Ticket, h.mailbox_of_ticket("verif", "26-0001").id), VERIFIER, "t:close",
                            h.clock()), "Akun sudah diverifikasi.")
    h.clock.now = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # Tuesday 1 December, 09:00 WITA
    start, end = month_bounds("2026-11", "Asia/Makassar")
    with h.daemon.factory() as s:
        for name, intake, closed, rows in (
                ("default", 2, 0, [("26-0001", LPSE_SUBJECTS[0]), ("26-0002", LPSE_SUBJECTS[1])]),
                ("verif", 1, 1, [("26-0001", VERIF_SUBJECT)])):
            documents = form_settings(h.settings.for_mailbox(name))
            month = monthly_report(s, "2026-11", documents, h.clock())
            assert (month.intake, month.closed, month.open_at_end) == (intake, closed, intake - closed)
            assert month.survey is not None and month.survey.closed == closed  # each asked its own for a rating
            assert [(r.number, r.subject) for r in register_rows(s, start, end, documents)] == rows
        verif_form = form_data(s, "26-0001", form_settings(h.settings.for_mailbox("verif")))
        lpse_form = form_data(s, "26-0001", form_settings(h.settings.for_mailbox("default")))
    assert verif_form is not None and verif_form.subject == VERIF_SUBJECT
    assert lpse_form is not None and lpse_form.subject == LPSE_SUBJECTS[0]
    # Each mails its own report to its own coordinator, once.
    assert sum(d.report_mail.run_once() for d in h.daemon.desks) == 2
    assert sum(d.report_mail.run_once() for d in h.daemon.desks) == 0
    with h.daemon.factory() as s:
        keys = set(s.scalars(select(TimerFiring.key).where(TimerFiring.kind == "report")))
        mails = s.execute(select(OutgoingMail.mailbox, OutgoingMail.recipient)
                          .where(OutgoingMail.template == "monthly_report")).all()
    assert keys == {"report:2026-11", "report:verif:2026-11"}
    assert sorted(mails) == [("default", COORDINATOR), ("verif", VERIF_COORDINATOR)]


def test_cli_names_the_ticket_of_another_mailbox(helpdesks: Helpdesks) -> None:
    config = helpdesks.config

    def subject(*args: str) -> str:
        return json.loads(run_cli(config, "tickets", "show", *args, "--json").stdout)["subject"]

    assert subject("26-0001") == LPSE_SUBJECTS[0]
    assert subject("26-0001", "--mailbox", "verif") == VERIF_SUBJECT
    assert subject("26-0001", "--mailbox", "VERIF") == VERIF_SUBJECT  # by its tag, any case
    assert subject("VERIF#26-0001") == VERIF_SUBJECT
    assert subject("verif#26-0001") == VERIF_SUBJECT
    assert subject("LPSE#26-0001") == LPSE_SUBJECTS[0]

    unknown = run_cli(config, "tickets", "show", "26-0001", "--mailbox", "verfi", ok=False)
    assert unknown.returncode == 2
    assert "no mailbox 'verfi' (configured: default (LPSE), verif (VERIF)); did you mean verif?" in unknown.stderr
    clash = run_cli(config, "tickets", "show", "VERIF#26-0001", "--mailbox", "default", ok=False)
    assert clash.returncode == 2 and "is a ticket of mailbox verif, but --mailbox says default" in clash.stderr
    missing = run_cli(config, "tickets", "show", "26-0002", "--mailbox", "verif", ok=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "maild: error: no ticket 26-0002 in mailbox verif (there is LPSE#26-0002)"

    listed = json.loads(run_cli(config, "tickets", "list", "--json").stdout)
    assert sorted((t["mailbox"], t["number"]) for t in listed) == [
        ("default", "26-0001"), ("default", "26-0002"), ("verif", "26-0001")]
    assert "MAILBOX" in run_cli(config, "tickets", "list").stdout.splitlines()[0]
    only = json.loads(run_cli(config, "tickets", "list", "--mailbox", "verif", "--json").stdout)
    assert [(t["mailbox"], t["number"], t["subject"]) for t in only] == [("verif", "26-0001", VERIF_SUBJECT)]

    register = run_cli(config, "export", "register", "--from", "2026-11-01", "--to", "2026-11-30",
                       "--mailbox", "verif").stdout
    assert VERIF_SUBJECT in register and LPSE_SUBJECTS[0] not in register


def test_cli_acts_as_the_team_of_the_tickets_mailbox_and_never_merges_across(helpdesks: Helpdesks) -> None:
    config = helpdesks.config
    outsider = run_cli(config, "tickets", "reply", "VERIF#26-0001", "Sudah kami cek.", "--as", STAFF, ok=False)
    assert outsider.returncode == 2 and f"{STAFF} is not a staff member or the coordinator of mailbox verif" \
        in outsider.stderr
    run_cli(config, "tickets", "reply", "VERIF#26-0001", "Akun Anda sudah diverifikasi.", "--as", VERIFIER)
    with helpdesks.daemon.factory() as s:
        answer = s.scalars(select(OutgoingMail).where(OutgoingMail.template == "answer")).one()
    assert answer.mailbox == "verif" and answer.ticket_id == helpdesks.mailbox_of_ticket("verif", "26-0001").id

    across = run_cli(config, "tickets", "merge", "26-0002", "VERIF#26-0001", "--as", STAFF, ok=False)
    assert across.returncode == 1
    assert across.stderr.strip() == ("maild: error: cannot merge 26-0002 into verif#26-0001: that ticket is "
                                     "mailbox verif's, and tickets merge within their own mailbox only")
    assert helpdesks.mailbox_of_ticket("default", "26-0002").merged_into_id is None
    # A bare INTO is of NUMBER's mailbox: within the top level, the merge is done.
    run_cli(config, "tickets", "merge", "26-0002", "26-0001", "--as", STAFF)
    assert helpdesks.mailbox_of_ticket("default", "26-0002").merged_into_id == \
        helpdesks.mailbox_of_ticket("default", "26-0001").id


def test_status_and_metrics_show_each_mailbox_and_its_lease(helpdesks: Helpdesks) -> None:
    h = helpdesks
    holder = str(h.daemon.leases.holder)
    metrics = Metrics(h.clock, factory=h.daemon.factory)
    samples = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    for name in ("default", "verif"):
        assert samples[("maild_mailbox_lease", (("holder", holder), ("mailbox", name)))] == 1
    assert samples[("maild_mailbox_tickets_open", (("mailbox", "default"),))] == 2
    assert samples[("maild_mailbox_tickets_open", (("mailbox", "verif"),))] == 1
    assert ("maild_outbox_queued", ()) in samples  # the total is still there

    figures = json.loads(run_cli(h.config, "status", "--json").stdout)
    boxes = {m["name"]: m for m in figures["mailboxes"]}
    assert list(boxes) == ["default", "verif"]
    assert (boxes["default"]["tag"], boxes["default"]["address"]) == ("LPSE", "helpdesk@lpse.example")
    assert (boxes["verif"]["tag"], boxes["verif"]["address"]) == ("VERIF", "verifikasi@lpse.example")
    assert (boxes["default"]["tickets_open"], boxes["verif"]["tickets_open"]) == (2, 1)
    assert boxes["verif"]["lease_holder"] == holder and boxes["verif"]["lease_expires_at"]
    screen = run_cli(h.config, "status").stdout
    assert "mailbox        verif verifikasi@lpse.example [VERIF]: 1 open, " in screen
