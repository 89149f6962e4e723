"""Round trips per message: the statements the real pipeline sends to the database for a new
report, a reporter's follow-up and a staff reply with a command, on SQLite and PostgreSQL.

On PostgreSQL every statement is a round trip over the socket, so the count is the cost a
message pays beyond its own work. The bounds are the counts measured after the batching of
issue 14 (a new report took 23.4 statements, a follow-up 18.4, a staff command 37.4 before):
a change that adds a lookup per message shows here, with the statements it sent.
Each message still runs in its own savepoint (two statements of each count).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from desk import Desk as PhoneDesk, wita
from harness import STAFF, report, start, write_config
from maild.app.daemon import Daemon
from maild.documents.register import register_rows
from maild.documents.settings import form_settings
from maild.service import actions, health
from maild.store.models import OutgoingMail
from maild.transport.maildir import deliver

BATCH = 10  # messages per measured batch: the batch's own statements (claim, load) spread over them

# Statements per message, at most (measured: 14.4, 12.4 and 25.4 on both databases; the staff
# command's 26.4 lost the early flush of its ledger row when the result got its own UPDATE).
NEW_REPORT = 14.5
FOLLOW_UP = 12.5
STAFF_COMMAND = 25.5


class Desk:
    """A daemon on a Maildir and ``db_url``; counts what one pipeline batch sends."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.inbox = tmp_path / "in"
        config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": f"maildir:{self.inbox}"},
                                         "smtp": {"url": f"maildir:{tmp_path}/out"}, "digest": {"enabled": False}},
                              staff=True)
        self.daemon: Daemon = start(config)[0]

    def batch(self, raws: list[bytes]) -> tuple[float, list[str]]:
        """Statements per message of the pipeline's batch of ``raws`` (fetched first, and the
        resulting mail sent after, outside the count), and the statements themselves."""
        for raw in raws:
            deliver(self.inbox, raw)
        self.daemon.ingest.run_once()
        seen: list[str] = []

        def grab(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
            seen.append(re.sub(r"\s+", " ", sql))

        event.listen(self.daemon.engine, "before_cursor_execute", grab)
        try:
            done = self.daemon.pipeline.run_once()
        finally:
            event.remove(self.daemon.engine, "before_cursor_execute", grab)
        assert done == len(raws)
        assert self.daemon.run_once()
        return len(seen) / done, seen

    def outbox(self, template: str) -> list[OutgoingMail]:
        with self.daemon.factory() as session:
            return list(session.scalars(select(OutgoingMail).where(OutgoingMail.template == template)
                                        .order_by(OutgoingMail.id)))


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    desk = Desk(tmp_path, db_url)
    # The year's first ticket and the staff's party exist before anything is counted.
    desk.batch([report(sender="pertama@cv-awal.co.id").raw])
    yield desk
    desk.daemon.close()


def _reporter(i: int) -> str:
    return f"pelapor{i}@cv-{i}.co.id"


def _shown(statements: list[str]) -> str:
    """The statements by how often they ran, for the failure message."""
    return "\n".join(f"{n:4d} {sql[:160]}" for sql, n in Counter(
        re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", s) for s in statements).most_common())


def test_statements_per_message(desk: Desk) -> None:
    new, sent = desk.batch([report(sender=_reporter(i), name=f"Pelapor {i}", subject=f"Gagal unggah dokumen {i}").raw
                            for i in range(BATCH)])
    assert new <= NEW_REPORT, f"{new} statements per new report:\n{_shown(sent)}"
    acks = {m.recipient: m for m in desk.outbox("ack")}
    assert len(acks) == BATCH + 1  # every report acknowledged: the count is of the whole work
    assert sum("SAVEPOINT" in s and "RELEASE" not in s for s in sent) == BATCH  # one savepoint each

    follow, sent = desk.batch([report(sender=_reporter(i), name=f"Pelapor {i}", subject=f"Re: {acks[_reporter(i)].subject}",
                                      in_reply_to=acks[_reporter(i)].message_id, body="Masih gagal, mohon dicek.").raw
                               for i in range(BATCH)])
    assert follow <= FOLLOW_UP, f"{follow} statements per follow-up:\n{_shown(sent)}"
    assert len(desk.outbox("reporter_reply")) == BATCH  # the staff told of each

    notices = desk.outbox("new_ticket")[-BATCH:]
    command, sent = desk.batch([report(sender=STAFF, name="", subject=f"Re: {n.subject}", in_reply_to=n.message_id,
                                       body="Silakan login kembali.\n#selesai Password sudah direset").raw
                                for n in notices])
    assert command <= STAFF_COMMAND, f"{command} statements per staff command:\n{_shown(sent)}"
    assert len(desk.outbox("closing")) == BATCH  # every command did its work: each ticket closed


def test_a_new_report_leaves_nothing_changed_for_its_savepoint_to_flush(desk: Desk) -> None:
    """Each message's savepoint flushes what the session holds changed: with the ledger row's
    result written by one UPDATE and the new ticket's first event setting only what changes,
    a batch of new reports hands it nothing (an unchanged but touched object cost each
    savepoint a unit-of-work flush, five times a statement)."""
    touched: list[str] = []

    def seen(session: Any, context: Any, instances: Any) -> None:
        touched.extend(type(o).__name__ for o in session.dirty)

    for i in range(BATCH):
        deliver(desk.inbox, report(sender=_reporter(i), subject=f"Sertifikat elektronik {i}").raw)
    desk.daemon.ingest.run_once()
    event.listen(desk.daemon.factory, "before_flush", seen)
    try:
        assert desk.daemon.pipeline.run_once() == BATCH
    finally:
        event.remove(desk.daemon.factory, "before_flush", seen)
    assert touched == []
    assert len(desk.outbox("ack")) == BATCH + 1  # the work was done: every report acknowledged


def _statements(engine: Any, work: Any) -> int:
    seen: list[str] = []

    def grab(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", grab)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return len(seen)


def test_digest_register_and_status_ask_as_often_for_six_tickets_as_for_three(tmp_path: Path) -> None:
    """The digest's open tickets, the register's forms and ``maild status``'s open count are
    read in a number of queries that does not grow with the tickets (it grew by one to seven
    per ticket before)."""
    desk = PhoneDesk(tmp_path)
    services = desk.services
    start_at, end_at = wita(9, 1, 0), wita(10, 1, 0)

    def figures() -> dict[str, int]:
        with services.factory() as session:
            return {
                "digest": _statements(services.engine, lambda: services.digest.compose(session, wita(9, 28))),
                "register": _statements(services.engine, lambda: register_rows(
                    session, start_at, end_at, form_settings(desk.settings))),
                "status": _statements(services.engine, lambda: health.gather(
                    session, wita(9, 28), services.sla, services.calendar, ("x", "x"))),
            }

    def day(n: int) -> None:
        number = desk.open(f"Tidak bisa login {n}", wita(9, n))
        desk.act(number, wita(9, n, 10), lambda a: actions.answer(a, "Silakan coba reset password."))

    for n in range(1, 4):
        day(n)
    three = figures()
    for n in range(4, 7):
        day(n)
    desk.close(desk.open("Sudah selesai", wita(9, 7)), wita(9, 8))
    with services.factory() as session:
        assert len(register_rows(session, start_at, end_at, form_settings(desk.settings))) == 7
    assert figures() == three
