"""Several mailboxes in one maild: the config, the migration, a ticket's mailbox, hand-over,
people per mailbox, leases, and one daemon per SQLite database."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harness import report, toml_value
from maild.app.daemon import Daemon, build
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from maild.store.db import make_engine, session_factory, transaction, upgrade
from maild.store.leases import Holder, Leases
from maild.store.models import InboundMessage, OutgoingMail, Ticket
from maild.transport.maildir import deliver

LPSE, VERIF, KTT = "helpdesk@lpse.example", "verifikasi@lpse.example", "helpdesk@ktt.example"
RINA, BUDI, SARI = "rina@lpse.example", "budi@lpse.example", "sari@ktt.example"


def config_text(db_url: str, extra: str = "") -> str:
    """Three helpdesks: LPSE at the top level, VERIF and KTT in [[mailboxes]], each with its own staff."""
    return f"""
[helpdesk]
address = "{LPSE}"
name = "Helpdesk LPSE Uji"
secret = "test-secret"
[database]
url = {toml_value(db_url)}
[mailbox]
url = "maildir:in-lpse"
poll_interval = 1
[smtp]
url = "maildir:sent"
[limits]
auto_replies_per_sender_per_hour = 1000
[[staff]]
name = "Rina"
address = "{RINA}"

[[mailboxes]]
name = "verif"
url = "maildir:in-verif"
address = "{VERIF}"
helpdesk_name = "Verifikasi LPSE Uji"
ticket_tag = "VERIF"
[[mailboxes.staff]]
name = "Budi"
address = "{BUDI}"

[[mailboxes]]
name = "ktt"
url = "maildir:in-ktt"
address = "{KTT}"
ticket_tag = "KTT"
language = "en"
[[mailboxes.staff]]
name = "Sari"
address = "{SARI}"
{extra}"""


def write(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "maild.toml"
    path.write_text(config_text(db_url, extra), encoding="utf-8")
    return path


def started(tmp_path: Path, db_url: str) -> tuple[Daemon, FrozenClock]:
    settings = load_settings(write(tmp_path, db_url))
    engine = make_engine(settings.database.url)
    upgrade(engine)
    engine.dispose()
    clock = FrozenClock()
    return build(settings, clock), clock


def inbox(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"in-{name}"


# -- the config ---------------------------------------------------------------------------------
def test_a_mailbox_takes_what_it_does_not_set_from_the_top_level(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "sqlite:///maild.db"))
    assert settings.mailbox_names == ("default", "verif", "ktt")
    top, verif, ktt = (settings.for_mailbox(n) for n in settings.mailbox_names)
    assert (top.helpdesk.ticket_tag, top.helpdesk.address, top.mailbox.name) == ("LPSE", LPSE, "default")
    assert (verif.helpdesk.ticket_tag, verif.helpdesk.address, verif.helpdesk.name) == (
        "VERIF", VERIF, "Verifikasi LPSE Uji")
    assert verif.mailbox.url == f"maildir:{tmp_path / 'in-verif'}"  # relative to the config file
    assert verif.mailbox.poll_interval == 1  # inherited
    assert [p.address for p in verif.staff] == [BUDI] and [p.address for p in top.staff] == [RINA]
    assert (ktt.helpdesk.language, ktt.helpdesk.name, ktt.smtp.envelope_from) == ("en", "Helpdesk LPSE Uji", KTT)
    assert ktt.mid_domain == "ktt.example"
    # Each signs its Message-IDs with a key of its own: a proof at one is nothing at another.
    assert len({top.hmac_key, verif.hmac_key, ktt.hmac_key}) == 3
    assert top.hmac_key == b"test-secret"  # the top level's ids stay valid across the upgrade


def test_a_single_mailbox_config_is_one_default_mailbox(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text('[helpdesk]\nsecret = "s"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.mailbox_names == ("default",)
    assert settings.for_mailbox("default").helpdesk == settings.helpdesk


@pytest.mark.parametrize(("extra", "message"), [
    ('[[mailboxes]]\nname = "verif"\nurl = "maildir:x"\naddress = "x@lpse.example"\nticket_tag = "X"\n',
     "mailboxes[2].name: 'verif' is already another mailbox's"),
    ('[[mailboxes]]\nname = "dua"\nurl = "maildir:x"\naddress = "x@lpse.example"\nticket_tag = "verif"\n',
     "mailboxes[2].ticket_tag: 'verif' is already another mailbox's"),
    ('[[mailboxes]]\nname = "dua"\nurl = "maildir:x"\naddress = "HELPDESK@lpse.example"\nticket_tag = "D"\n',
     "mailboxes[2].address: 'helpdesk@lpse.example' is already another mailbox's"),
    ('[[mailboxes]]\nname = "dua"\naddress = "d@lpse.example"\nticket_tag = "D"\n',
     "mailboxes[2].url: must be set"),
    ('[[mailboxes]]\nname = "dua dua"\nurl = "maildir:x"\naddress = "d@lpse.example"\nticket_tag = "D"\n',
     "mailboxes[2].name: 'dua dua' must be one word"),
    ('[[mailboxes]]\nname = "dua"\nurl = "maildir:x"\naddress = "d@lpse.example"\nticket_tag = "D"\nadress = "D"\n',
     "unknown key mailboxes[2].adress (did you mean 'address'?)"),
    ('[[mailboxes]]\nname = "dua"\nurl = "maildir:x"\naddress = "d@lpse.example"\nticket_tag = "D"\nlanguage = "jv"\n',
     "mailboxes[dua]: helpdesk.language: 'jv' is not one of 'id', 'en'"),
])
def test_mailboxes_that_cannot_be_told_apart_are_refused(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "sqlite:///maild.db", extra))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_top_level_mailbox_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[helpdesk]\nsecret = "s"\n[mailbox]\nname = "lpse"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="the top-level mailbox is always 'default'"):
        load_settings(path)


# -- tickets of three helpdesks -----------------------------------------------------------------
def mails(daemon: Daemon) -> list[OutgoingMail]:
    with daemon.factory() as s:
        return list(s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def test_each_mailbox_numbers_tags_and_signs_its_own_tickets(tmp_path: Path, db_url: str) -> None:
    daemon, _clock = started(tmp_path, db_url)
    try:
        for name, who in (("lpse", "a@cv.id"), ("verif", "b@cv.id"), ("ktt", "c@cv.id"), ("verif", "d@cv.id")):
            deliver(inbox(tmp_path, name), report(sender=who, subject=f"Laporan dari {who}").raw)
        assert daemon.run_once()
        with daemon.factory() as s:
            got = {(t.mailbox, t.number) for t in s.scalars(select(Ticket))}
        assert got == {("default", "26-0001"), ("verif", "26-0001"), ("ktt", "26-0001"), ("verif", "26-0002")}
        acks = {m.recipient: m for m in mails(daemon) if m.template == "ack"}
        assert acks["a@cv.id"].subject.startswith("[LPSE #26-0001]")
        assert acks["b@cv.id"].subject.startswith("[VERIF #26-0001]")
        assert acks["d@cv.id"].subject.startswith("[VERIF #26-0002]")
        assert acks["c@cv.id"].subject.startswith("[KTT #26-0001]")
        head = email.message_from_bytes(acks["b@cv.id"].raw, policy=email.policy.default)
        assert VERIF in head["From"] and head["Message-ID"].endswith("@lpse.example>")
        assert email.message_from_bytes(acks["c@cv.id"].raw, policy=email.policy.default)["Content-Language"] in (
            "en", None)
        assert {m.mailbox for m in mails(daemon) if m.recipient in ("b@cv.id", "d@cv.id")} == {"verif"}
        # Each mailbox's staff hear of their own tickets only.
        told = {(m.recipient, m.subject.split("]")[0] + "]") for m in mails(daemon) if m.template == "new_ticket"}
        assert told == {(RINA, "[LPSE #26-0001]"), (BUDI, "[VERIF #26-0001]"), (BUDI, "[VERIF #26-0002]"),
                        (SARI, "[KTT #26-0001]")}
        # The outbox sends each mailbox's mail from its own envelope address.
        sent = sorted((tmp_path / "sent" / "new").iterdir())
        assert len(sent) == len(mails(daemon))
    finally:
        daemon.close()


def test_a_reply_that_reaches_another_mailbox_is_handed_to_its_ticket(tmp_path: Path, db_url: str) -> None:
    daemon, _clock = started(tmp_path, db_url)
    try:
        deliver(inbox(tmp_path, "verif"), report(sender="b@cv.id", subject="Verifikasi berkas").raw)
        assert daemon.run_once()
        ack = next(m for m in mails(daemon) if m.template == "ack")
        # The reporter answers the acknowledgement, but to the LPSE address (by reference) ...
        by_ref = report(sender="b@cv.id", subject="Re: berkas", body="Berkas terlampir.", in_reply_to=ack.message_id)
        deliver(inbox(tmp_path, "lpse"), by_ref.raw)
        # ... and writes again with the token only, to the KTT address.
        by_token = report(sender="b@cv.id", subject="[VERIF #26-0001] tambahan", body="Satu lagi.")
        deliver(inbox(tmp_path, "ktt"), by_token.raw)
        assert daemon.run_once()
        with daemon.factory() as s:
            rows = {r.message_id: r for r in s.scalars(select(InboundMessage))}
            verif_ticket = s.scalars(select(Ticket).where(Ticket.mailbox == "verif")).one()
            assert s.scalar(select(Ticket.id).where(Ticket.mailbox != "verif")) is None  # no ticket elsewhere
        for mid in (by_ref.message_id, by_token.message_id):
            assert (rows[mid].mailbox, rows[mid].disposition, rows[mid].ticket_id) == (
                "verif", "follow_up", verif_ticket.id)
    finally:
        daemon.close()


def test_commands_at_a_mailbox_are_its_own_staffs(tmp_path: Path, db_url: str) -> None:
    daemon, clock = started(tmp_path, db_url)
    try:
        deliver(inbox(tmp_path, "verif"), report(sender="b@cv.id", subject="Verifikasi berkas").raw)
        assert daemon.run_once()
        # Attack: LPSE's staff member writes a command on VERIF's ticket; she is nobody there.
        clock.now += timedelta(minutes=5)
        deliver(inbox(tmp_path, "verif"), report(sender=RINA, name="Rina", subject="[VERIF #26-0001]",
                                                 body="#selesai\nSudah saya tutup.").raw)
        assert daemon.run_once()
        first = select(Ticket).where(Ticket.mailbox == "verif", Ticket.number == "26-0001")
        with daemon.factory() as s:
            assert s.scalars(first).one().state != "closed"  # (a stranger's mail with a token opens its own)
        # Its legitimate twin: VERIF's own staff member answers the notification he got.
        note = next(m for m in mails(daemon) if m.template == "new_ticket" and m.recipient == BUDI)
        clock.now += timedelta(minutes=5)
        deliver(inbox(tmp_path, "verif"), report(sender=BUDI, name="Budi", subject=f"Re: {note.subject}",
                                                 body="#selesai\nBerkas sudah diverifikasi.",
                                                 in_reply_to=note.message_id).raw)
        assert daemon.run_once()
        with daemon.factory() as s:
            assert s.scalars(first).one().state == "closed"
    finally:
        daemon.close()


# -- leases ------------------------------------------------------------------------------------
def leases_on(db_url: str, clock: FrozenClock, holder: Holder, gone: bool = False,
              exclusive: bool = False) -> Leases:
    engine = make_engine(db_url)
    upgrade(engine)
    return Leases(session_factory(engine), clock, holder, 30, gone=lambda pid: gone, exclusive=exclusive)


def test_a_mailbox_is_read_by_one_daemon_and_taken_over_when_its_lease_runs_out(db_url: str) -> None:
    clock = FrozenClock()
    first = leases_on(db_url, clock, Holder("host-a", "b1", 100, "aa"))
    second = leases_on(db_url, clock, Holder("host-b", "b2", 200, "bb"))
    assert first.claim(["default", "verif"]) == {"default", "verif"}
    assert second.claim(["default", "verif"]) == frozenset()
    clock.now += timedelta(seconds=20)
    assert first.claim(["default"]) == {"default"}  # renewed: verif is left to run out
    clock.now += timedelta(seconds=15)
    assert second.claim(["default", "verif"]) == {"verif"}
    assert first.claim(["default", "verif"]) == {"default"}  # verif is the second's now
    first.release()
    assert second.claim(["default", "verif"]) == {"default", "verif"}


def test_a_dead_process_of_this_host_gives_up_its_lease_at_once(db_url: str) -> None:
    clock = FrozenClock()
    leases_on(db_url, clock, Holder("host-a", "b1", 100, "aa")).claim(["default"])
    other_host = leases_on(db_url, clock, Holder("host-b", "b1", 200, "bb"), gone=True)
    assert other_host.claim(["default"]) == frozenset()  # its pid says nothing about host-a
    alive_here = leases_on(db_url, clock, Holder("host-a", "b1", 300, "cc"), gone=False)
    assert alive_here.claim(["default"]) == frozenset()
    restarted = leases_on(db_url, clock, Holder("host-a", "b1", 400, "dd"), gone=True)
    assert restarted.claim(["default"]) == {"default"}


def test_a_second_daemon_on_sqlite_is_refused_with_one_line(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from test_crash import maild

    path = write(tmp_path, "sqlite:///maild.db")
    engine = make_engine(load_settings(path).database.url)
    upgrade(engine)
    engine.dispose()
    for name in ("lpse", "verif", "ktt"):
        for sub in ("new", "cur", "tmp"):
            (inbox(tmp_path, name) / sub).mkdir(parents=True)
    first = maild(path, "run")
    try:
        lock = tmp_path / "maild.db.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for args in (("run",), ("run", "--once")):
            second = subprocess.run([sys.executable, "-m", "maild", "--config", str(path), *args],
                                    capture_output=True, text=True, timeout=120)
            assert second.returncode == 78
            assert second.stderr.strip() == (
                f"maild: config error: another maild run (pid {first.pid}) is working on {tmp_path / 'maild.db'}: "
                "SQLite serves one daemon; for several daemons use PostgreSQL")
        first.send_signal(signal.SIGHUP)  # a reload builds a new daemon under the same lock
        while "config reloaded" not in (tmp_path / "daemon.log").read_text() and time.monotonic() < deadline + 60:
            assert "reload failed" not in (tmp_path / "daemon.log").read_text()
            time.sleep(0.1)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    log = (tmp_path / "daemon.log").read_text()
    assert "config reloaded" in log and "reload failed" not in log
    # The lock went with the first: the next daemon starts.
    again = subprocess.run([sys.executable, "-m", "maild", "--config", str(path), "run", "--once"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr


def test_the_daemon_holds_every_mailbox_it_serves_on_sqlite(tmp_path: Path) -> None:
    daemon, _ = started(tmp_path, "sqlite:///maild.db")
    try:
        assert daemon.run_once()
        assert daemon.leases.held == {"default", "verif", "ktt"}
        with transaction(daemon.factory) as s:
            from maild.store.leases import leases
            assert [(v.mailbox, v.ours) for v in leases(s, str(daemon.leases.holder))] == [
                ("default", True), ("ktt", True), ("verif", True)]
    finally:
        daemon.close()


# -- the upgrade -------------------------------------------------------------------------------
def test_a_single_mailbox_database_upgrades_into_the_default_mailbox(db_url: str) -> None:
    from datetime import datetime

    from sqlalchemy import text

    from maild.store.queries import next_number

    engine = make_engine(db_url)
    upgrade(engine, "0007")
    when = datetime(2026, 3, 2, 1, 0)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ticket_counters (year, last_seq) VALUES (2026, 41)"))
        conn.execute(text("INSERT INTO tickets (number, subject, state, channel, language, created_at, updated_at) "
                          "VALUES ('26-0041', 'Lama', 'new', 'email', 'id', :t, :t)"), {"t": when})
        conn.execute(text("INSERT INTO inbound_messages (key, sha256, raw, size, source, sender, subject, received_at, "
                          "state, attempts) VALUES ('mid:a@b', 'x', :raw, 3, 's', '', '', :t, 'done', 0)"),
                     {"raw": b"abc", "t": when})
        conn.execute(text("INSERT INTO outbox (key, message_id, recipient, template, automatic, subject, raw, state, "
                          "attempts, next_attempt_at, created_at) VALUES ('k', 'm@x', 'a@b.id', 'ack', true, 's', "
                          ":raw, 'queued', 0, :t, :t)"), {"raw": b"abc", "t": when})
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        assert s.scalars(select(Ticket.mailbox)).all() == ["default"]
        assert s.scalars(select(InboundMessage.mailbox)).all() == ["default"]
        assert s.scalars(select(OutgoingMail.mailbox)).all() == ["default"]
        assert next_number(s, 2026, "default") == "26-0042"  # the count goes on
        assert next_number(s, 2026, "verif") == "26-0001"  # another mailbox counts its own
        s.add(Ticket(mailbox="verif", number="26-0041", subject="", state="new", created_at=when.astimezone(),
                     updated_at=when.astimezone()))
        s.flush()  # the same number in another mailbox is another ticket
    engine.dispose()


def test_the_doctor_checks_each_mailbox_by_name(tmp_path: Path) -> None:
    from maild.app.doctor import run_checks

    path = write(tmp_path, "sqlite:///maild.db")
    engine = make_engine(load_settings(path).database.url)
    upgrade(engine)
    engine.dispose()
    for name in ("lpse", "verif"):  # the KTT Maildir is missing
        for sub in ("new", "cur", "tmp"):
            (inbox(tmp_path, name) / sub).mkdir(parents=True)
    checks = {c.name: c for c in run_checks(path, FrozenClock())}
    assert checks["mailbox"].ok and checks["mailbox [verif]"].ok
    assert not checks["mailbox [ktt]"].ok and "in-ktt does not exist" in checks["mailbox [ktt]"].detail
    assert checks["answers [ktt]"].detail.endswith("answers/en)")  # KTT writes in English
