"""Clock-driven work: SLA levels fire once, by themselves, over the real mail servers; the
coordinator's digest comes once per working day. Time is a FrozenClock: no sleeping."""

from __future__ import annotations

import email
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness import STAFF, append, events, imap_sections, report, start, tickets, write_config
from maild.base.clock import FrozenClock
from maild.store.models import OutgoingMail, TimerFiring
from servers import ImapAccount, SmtpSink
from sqlalchemy import func, select

COORDINATOR = "koordinator@lpse.example"
HEAD = "kepala@lpse.example"
MONDAY_0900_WITA = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


def sections(account: ImapAccount, db_url: str, sink: SmtpSink) -> dict[str, dict[str, object]]:
    sec = imap_sections(account, db_url, sink.port)
    sec["coordinator"] = {"name": "Koordinator Helpdesk", "address": COORDINATOR}
    sec["sla"] = {"check_every": 0, "head_address": HEAD, "head_after_hours": 16}
    return sec


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    clock = FrozenClock(MONDAY_0900_WITA)
    daemon, _ = start(write_config(tmp_path, sections(imap_account, db_url, smtp_sink), staff=True), clock)
    yield daemon, imap_account, smtp_sink, clock
    daemon.close()




def subject(msg: email.message.Message) -> str:
    return " ".join(str(email.header.make_header(email.header.decode_header(msg["Subject"]))).split())


def mail_to(sink: SmtpSink, address: str, words: str = "") -> list[email.message.Message]:
    got = [email.message_from_bytes(m.data) for m in sink.messages if m.rcpt_tos == (address,)]
    return [m for m in got if words in subject(m)]


def test_untouched_ticket_reaches_the_coordinator_by_itself(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = desk
    append(account, report(subject="Lupa password akun penyedia").raw)  # medium: 4 h response, 24 h resolution
    daemon.run_once()
    [ticket] = tickets(daemon)
    assert ticket.priority == "medium"

    clock.advance(hours=3, minutes=59)
    daemon.run_once()
    assert [e.event for e in events(daemon, ticket.id)] == ["report_received"]

    clock.advance(minutes=2)  # 4 working hours on Monday 13:01 WITA
    daemon.run_once()
    assert [e.event for e in events(daemon, ticket.id)][-1] == "sla_response_missed"
    assert len(mail_to(sink, STAFF, "Belum ditanggapi")) == 1

    # 24 working hours: Monday 09:00 + 24 h of 8.5 h days -> Thursday 07:30 + 6.5 h... well past by Friday.
    clock.now = datetime(2026, 11, 6, 1, 0, tzinfo=timezone.utc)  # Friday 09:00 WITA
    daemon.run_once()
    ticket = tickets(daemon)[0]
    assert ticket.state == "with_coordinator"
    story = [(e.event, e.step, e.actor) for e in events(daemon, ticket.id)]
    assert ("reported_to_coordinator", 6, "maild") in story
    [to_coordinator] = mail_to(sink, COORDINATOR, "Dilaporkan ke Koordinator")
    assert "Otomatis: batas waktu penyelesaian terlewati" in to_coordinator.get_payload()[0].get_payload(
        decode=True).decode()

    for _ in range(3):  # nothing fires twice
        daemon.run_once()
    with daemon.factory() as s:
        assert s.scalar(select(func.count(TimerFiring.id)).where(TimerFiring.kind.like("sla_%"))) == 2

    clock.now = datetime(2026, 11, 10, 1, 0, tzinfo=timezone.utc)  # the next level: the head of the LPSE
    daemon.run_once()
    assert len(mail_to(sink, HEAD, "Kepala LPSE")) == 1


def test_clock_pauses_while_escalated(tmp_path: Path, db_url: str, imap_account: ImapAccount,
                                      smtp_sink: SmtpSink) -> None:
    clock = FrozenClock(MONDAY_0900_WITA)
    sec = sections(imap_account, db_url, smtp_sink)
    config = write_config(tmp_path, sec, staff=True)
    config.write_text(config.read_text() + '[[groups]]\nname = "infrastruktur"\nmanagers = ["infra@x.id"]\n')
    daemon, _ = start(config, clock)
    try:
        append(imap_account, report(subject="Lupa password").raw)
        daemon.run_once()
        [ticket] = tickets(daemon)
        from maild.service import actions
        from maild.service.actions import Act
        from maild.store.models import Ticket

        with daemon.factory() as s, s.begin():
            t = s.get(Ticket, ticket.id)
            act = Act(s, daemon.pipeline.mailer, daemon.pipeline.settings.intake.roles, t, STAFF, "test:escalate", clock())
            actions.escalate(act, "infrastruktur", "cek")
        clock.now = datetime(2026, 11, 13, 1, 0, tzinfo=timezone.utc)  # two weeks of waiting on the group
        daemon.run_once()
        assert [e.event for e in events(daemon, ticket.id) if e.event.startswith("sla_")] == []
    finally:
        daemon.close()


def test_restart_in_the_middle_of_firing_fires_once(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = desk
    append(account, report(sender="a@x.id").raw)
    append(account, report(sender="b@x.id").raw)
    daemon.run_once()
    clock.advance(hours=5)

    class Crash(BaseException):
        """Not an Exception: a kill is not a failure one level's savepoint would catch."""

    real = daemon.timers.mailer

    class Dying:
        """The mailer dies on the second reminder, as a killed process would mid-way."""

        calls = 0
        settings = real.settings

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        def queue(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Dying.calls += 1
            if Dying.calls == 2:
                raise Crash()
            return real.queue(*args, **kwargs)

    daemon.timers.mailer = Dying()
    with pytest.raises(Crash):
        daemon.timers.run_once(force=True)
    with daemon.factory() as s:
        assert s.scalar(select(func.count(TimerFiring.id)).where(TimerFiring.kind.like("sla_%"))) == 0
    daemon.timers.mailer = real
    assert daemon.timers.run_once(force=True) == 2
    assert daemon.timers.run_once(force=True) == 0
    with daemon.factory() as s:
        reminders = s.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.template == "sla_reminder"))
    assert reminders == 2



def test_one_level_that_cannot_fire_does_not_hold_back_the_others(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = desk
    append(account, report(sender="a@x.id").raw)
    append(account, report(sender="b@x.id").raw)
    daemon.run_once()
    clock.advance(hours=5)
    real = daemon.timers.mailer

    class Broken:
        """The first reminder's mail cannot be rendered (say, a broken template)."""

        calls = 0
        settings = real.settings

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        def queue(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("template broken")
            return real.queue(*args, **kwargs)

    daemon.timers.mailer = Broken()
    assert daemon.timers.run_once(force=True) == 1  # the other ticket's reminder went out
    daemon.timers.mailer = real
    assert daemon.timers.run_once(force=True) == 1  # the failed one, at the next check
    assert daemon.timers.run_once(force=True) == 0
    with daemon.factory() as s:
        reminders = s.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.template == "sla_reminder"))
    assert reminders == 2

TWO_DAEMONS = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    sys.path.insert(0, sys.argv[3])
    from maild.base.clock import FrozenClock
    from maild.base.config import load_settings
    from maild.app.daemon import build
    from maild.transport.sources import FilesMailbox
    daemon = build(load_settings(sys.argv[1]), FrozenClock(datetime.fromisoformat(sys.argv[2])),
                   mailbox=FilesMailbox([]))
    go = sys.argv[4]
    while not __import__("os").path.exists(go):
        time.sleep(0.005)
    print(daemon.timers.run_once(force=True) + daemon.digest.run_once())
    daemon.close()
""")


@pytest.mark.slow
def test_two_daemons_on_one_postgresql_fire_each_timer_once(tmp_path: Path, imap_account: ImapAccount,
                                                            smtp_sink: SmtpSink) -> None:
    from servers import pg_schema

    with pg_schema() as url:
        clock = FrozenClock(MONDAY_0900_WITA)
        config = write_config(tmp_path, sections(imap_account, url, smtp_sink), staff=True)
        daemon, _ = start(config, clock)
        try:
            for i in range(6):
                append(imap_account, report(sender=f"p{i}@x.id").raw)
            daemon.run_once()
        finally:
            daemon.close()
        script = tmp_path / "timers_once.py"
        script.write_text(TWO_DAEMONS)
        go = tmp_path / "go"
        later = (MONDAY_0900_WITA + timedelta(days=3)).isoformat()  # 25.5 working hours: response and resolution due
        procs = [subprocess.Popen([sys.executable, str(script), str(config), later, str(Path.cwd()), str(go)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        go.write_text("go")
        results = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), results
        fired = sorted(int(out.strip().splitlines()[-1]) for out, _ in results)
        daemon, _ = start(config, clock)
        try:
            with daemon.factory() as s:
                # The tickets each digest listed are stored beside it (kind digest_listed, for the
                # coordinator's proof): they are not firings of their own.
                firings = s.scalar(select(func.count(TimerFiring.id)).where(TimerFiring.kind != "digest_listed"))
                reminders = s.scalar(select(func.count(OutgoingMail.id)).where(
                    OutgoingMail.template.in_(("sla_reminder", "coordinator", "digest"))))
        finally:
            daemon.close()
        # 6 tickets x (response + resolution) + Thursday's digest, fired by one daemon or the other,
        # never both; Monday's digest went out during the set-up run.
        assert sum(fired) == 13 and firings == 14
        assert reminders == 6 + 6 + 2
        print(f"two daemons fired {fired}")


def test_waiting_for_the_reporter_stops_the_sla_clock(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = desk
    append(account, report(subject="Lupa password").raw)
    daemon.run_once()
    [ticket] = tickets(daemon)
    notice = [m for m in mail_to(sink, STAFF, "Tiket baru")][0]
    append(account, report(sender=STAFF, name="Petugas", subject="Re: " + subject(notice),
                           in_reply_to=notice["Message-ID"].strip("<>"),
                           body="Mohon kirimkan NPWP dan user ID Anda.\n#status tunggu").raw)
    daemon.run_once()
    clock.now = datetime(2026, 11, 13, 1, 0, tzinfo=timezone.utc)  # two weeks without an answer
    daemon.run_once()
    assert not [e for e in events(daemon, ticket.id) if e.event.startswith("sla_")]
    append(account, report(subject="Re: [LPSE #26-0001] Lupa password", body="NPWP: 01.234.567.8-901").raw)
    daemon.run_once()
    clock.now = datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)  # 3 working days after the answer
    daemon.run_once()
    assert [e.event for e in events(daemon, ticket.id) if e.event.startswith("sla_")] == ["sla_resolution_missed"]


def test_a_reopened_ticket_is_reminded_again(desk) -> None:  # type: ignore[no-untyped-def]
    daemon, account, sink, clock = desk
    append(account, report(subject="Lupa password akun penyedia").raw)  # medium: 4 h response
    daemon.run_once()
    [ticket] = tickets(daemon)
    clock.advance(hours=4, minutes=1)
    daemon.run_once()
    assert len(mail_to(sink, STAFF, "Belum ditanggapi")) == 1

    [notice] = mail_to(sink, STAFF, "Tiket baru")
    append(account, report(sender=STAFF, name="Petugas", subject="Re: " + subject(notice),
                           in_reply_to=notice["Message-ID"].strip("<>"), body="#selesai Password sudah direset.").raw)
    daemon.run_once()
    assert tickets(daemon)[0].state == "closed"
    [closing] = mail_to(sink, "budi@cv-maju.co.id", "[LPSE #26-0001]")[-1:]
    clock.advance(hours=1)
    append(account, report(subject="Re: " + subject(closing), in_reply_to=closing["Message-ID"].strip("<>"),
                           body="Masih belum bisa login, pesan galatnya sama. Mohon dicek lagi.").raw)
    daemon.run_once()
    assert tickets(daemon)[0].state != "closed"

    # The reopened ticket has its own response target, measured from the reopening (Monday
    # 14:01 WITA): 1 h 59 min on Monday, so 4 working hours end on Tuesday at 09:31.
    clock.now = datetime(2026, 11, 3, 1, 25, tzinfo=timezone.utc)  # Tuesday 09:25 WITA
    daemon.run_once()
    assert len(mail_to(sink, STAFF, "Belum ditanggapi")) == 1
    clock.now = datetime(2026, 11, 3, 1, 40, tzinfo=timezone.utc)  # Tuesday 09:40 WITA
    daemon.run_once()
    assert len(mail_to(sink, STAFF, "Belum ditanggapi")) == 2
    for _ in range(2):
        daemon.run_once()
    assert [e.event for e in events(daemon, ticket.id)].count("sla_response_missed") == 2
    assert len(mail_to(sink, STAFF, "Belum ditanggapi")) == 2
