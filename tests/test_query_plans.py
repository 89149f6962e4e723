"""The statements maild runs on every cycle, every minute or every day read an index, not a
whole table, on both databases: the plans of the very statements the code executes (caught
as they go to the driver), on a schema built by the migrations and a few thousand rows in
the shape of a desk with years of history (most tickets closed, most mail long handled)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Executable, event, insert, text
from sqlalchemy.orm import Session

from maild.documents.digest import week_closings, week_intake
from maild.documents.form_data import coordinator_party
from maild.documents.report_figures import load_month, month_events, month_tickets
from maild.documents.survey_figures import month_responses, survey_figures
from maild.stages.ingest import to_quarantine
from maild.store.db import make_engine, upgrade
from maild.service.admin import TicketFilter, ticket_query
from maild.store.models import OPEN_TICKET, Event, InboundMessage, Party, SurveyResponse, Ticket
from maild.store.queries import open_work

NOW = datetime(2026, 12, 2, 2, tzinfo=timezone.utc)
N = 4000
MONTH = (datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 12, 1, tzinfo=timezone.utc))
WAITING = 97 * 41  # a dead message not yet copied to the quarantine folder


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    _fill(engine)
    yield engine
    engine.dispose()


def _fill(engine: Engine) -> None:
    """Two years of a desk: one ticket in 20 open, a few messages dead or spam (all but one
    already copied to the quarantine folder), three events per ticket, a reporter for every
    second ticket, one coordinator and a survey answer for every fifth ticket."""
    day = timedelta(days=730) / N
    tickets, messages, events = [], [], []
    for i in range(1, N + 1):
        at = NOW - (N - i) * day
        tickets.append({"id": i, "number": f"{i:08d}", "subject": f"Laporan {i}", "channel": "email",
                        "language": "id", "state": "new" if i % 20 == 0 else "closed", "category": f"c{i % 7}",
                        "created_at": at, "updated_at": at,
                        "closed_at": None if i % 20 == 0 else at + timedelta(days=2)})
        dead = i % 97 == 0
        messages.append({"id": i, "key": f"mid:{i}@x", "sha256": f"{i:064d}", "raw": b"x" * 400, "size": 400,
                         "source": "bench", "sender": f"r{i}@x.example", "subject": "", "received_at": at,
                         "state": "dead" if dead else "done", "attempts": 0, "ticket_id": None if dead else i,
                         "disposition": "spam" if i % 89 == 0 else None if dead else "new_ticket",
                         "quarantined_at": None if i == WAITING else at if dead or i % 89 == 0 else None})
        for j, name in enumerate(("report_received", "staff_answered", "resolved")):
            events.append({"id": 3 * i + j, "key": f"e:{i}:{j}", "ticket_id": i, "event": name, "actor": "s@x",
                           "cause": "c", "detail": {}, "created_at": at + timedelta(hours=j)})
    # A survey answer for every fifth ticket, two days after it came in.
    responses = [{"ticket_id": i, "reporter": f"r{i}@x.example", "overall": 4, "comment": "",
                  "created_at": NOW - (N - i) * day + timedelta(days=2)} for i in range(5, N + 1, 5)]
    parties = [{"id": k, "address": f"r{k}@x.example", "name": "", "created_at": NOW,
                "role": "coordinator" if k == 7 else "reporter"} for k in range(1, N // 2)]
    with engine.begin() as conn:
        for model, rows in ((Party, parties), (Ticket, tickets), (InboundMessage, messages), (Event, events),
                            (SurveyResponse, responses)):
            conn.execute(insert(model), rows)
    if engine.dialect.name == "postgresql":
        # autovacuum gathers PostgreSQL's statistics; maild never runs ANALYZE on SQLite, whose
        # planner then knows only the indexes: the plans here are the ones a desk gets.
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _executed(engine: Engine, statement: Executable) -> tuple[str, Any]:
    """The SQL and parameters the driver receives for ``statement`` (run once for real)."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with engine.connect() as conn:
            conn.execute(statement).all()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return seen[-1]


def _sqlite_plan(engine: Engine, statement: Executable) -> list[str]:
    sql, params = _executed(engine, statement)
    with engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]


def _pg_scans(engine: Engine, statement: Executable) -> list[tuple[str, str | None, str | None]]:
    """(node type, relation, index) of every node of the plan."""
    sql, params = _executed(engine, statement)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    out = []

    def walk(node: dict[str, Any]) -> None:
        out.append((node["Node Type"], node.get("Relation Name"), node.get("Index Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return out


def _overdue_chunk() -> Executable:
    """``tickets list --overdue`` of every mailbox: the open tickets older than the smallest
    target, a chunk below the last one seen (its id range must read the open tickets' index,
    not every ticket by the key)."""
    return (ticket_query(TicketFilter()).where(OPEN_TICKET, Ticket.created_at <= NOW, Ticket.id < N // 2)
            .order_by(Ticket.id.desc()).limit(500))


STATEMENTS = {
    "quarantine": (lambda: to_quarantine(), "inbound_messages", "ix_inbound_messages_to_quarantine"),
    "open_work": (lambda: open_work("default"), "tickets", ("ix_tickets_mailbox_open", "ix_tickets_open")),
    "overdue": (lambda: _overdue_chunk(), "tickets", "ix_tickets_open"),
    "week_closings": (lambda: week_closings(NOW - timedelta(days=7), "default"), "events", "ix_events_event_created_at"),
    "week_intake": (lambda: week_intake(NOW - timedelta(days=7), "default"), "tickets",
                    ("ix_tickets_mailbox_created_at", "ix_tickets_created_at")),
    "coordinator": (lambda: coordinator_party(), "parties", "ix_parties_role"),
    "month_tickets": (lambda: month_tickets(*MONTH, "default"), "tickets",
                      ("ix_tickets_mailbox_closed_at", "ix_tickets_closed_at")),
    "month_events": (lambda: month_events(*MONTH, "default"), "tickets",
                     ("ix_tickets_mailbox_closed_at", "ix_tickets_closed_at")),
    "month_responses": (lambda: month_responses(*MONTH), "survey_responses", "ix_survey_responses_created_at"),
}


@pytest.mark.parametrize("name", list(STATEMENTS))
def test_the_statement_reads_its_index(engine: Engine, name: str) -> None:
    """SQLite, without statistics, must take the first index named (one that leads with the
    mailbox: ``mailbox = ?`` alone would read every ticket by the unique (mailbox, number)
    index); PostgreSQL, with them, any of those named."""
    make, table, indexes = STATEMENTS[name]
    names = (indexes,) if isinstance(indexes, str) else indexes
    index = names[0]
    if engine.dialect.name == "sqlite":
        plan = _sqlite_plan(engine, make())
        on_table = [line for line in plan if line.split()[1:2] == [table]]
        # Every read of the table is by the index (or the primary key): a search by another
        # index can be a whole-history read too (``created_at < end`` is nearly every ticket).
        by_index = [f"INDEX {index} " in f"{line} " for line in on_table]
        assert on_table and all(b or "PRIMARY KEY" in line for b, line in zip(by_index, on_table)), plan
        assert any(by_index), plan
    else:
        scans = _pg_scans(engine, make())
        assert any(i in names and kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
                   for kind, _, i in scans), scans
        assert not any(kind == "Seq Scan" and rel == table for kind, rel, _ in scans), scans


def test_the_quarantine_query_finds_what_waits(engine: Engine) -> None:
    with engine.connect() as conn:
        assert [row[0] for row in conn.execute(to_quarantine())] == [WAITING]


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/plans.db")
    upgrade(engine)
    _fill(engine)
    yield engine
    engine.dispose()


def test_no_query_reads_every_ticket_by_the_mailbox_alone(sqlite_engine: Engine) -> None:
    """What the monthly report and the SKM figures ask, as they ask it: on SQLite no plan reads
    the tickets by ``mailbox = ?`` alone (the unique (mailbox, number) index: with one mailbox,
    every ticket ever). Seen with a million tickets: the survey's responses joined to their
    tickets that way took the report from 1.3 to 2.4 s."""
    engine = sqlite_engine
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as session:
            survey_figures(session, *MONTH, "Asia/Makassar")
            load_month(session, *MONTH, "default")
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) >= 4
    with engine.connect() as conn:
        for sql, params in seen:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            assert not any("sqlite_autoindex_tickets_1 (mailbox=?)" in line for line in plan), (sql, plan)
