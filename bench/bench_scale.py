"""Scale benchmark: does maild stay as fast with N tickets of history as with a thousand?

For each size N (``--sizes``, default 1000,100000) on one database (``--db``):

* A fresh database (SQLite file in a temp dir, or a fresh PostgreSQL schema from
  ``tests/servers.pg_schema``) is upgraded by the migrations and filled fast through the real
  schema with bulk inserts, committed in chunks: N tickets at a steady 30 a day (a provincial
  desk), so going back N/30 days (numbered per year, counters set), about N/3 reporters, the reporter as ticket party, three events
  per ticket (report_received with the report's text, staff_answered, resolved), the
  original mail (about 700 bytes) in the ledger and two sent mails (acknowledgement, closing)
  in the outbox. Open work does not grow with history: the newest 50 tickets and 5 old
  stragglers are open, every other one closed. Nor does a month's or a week's intake: a larger
  N is a longer history, so the report, the register and the digest have the same month to
  show at every size, and what grows in their times is what the history costs. PostgreSQL is ANALYZEd (autovacuum would do
  it); SQLite is not (maild never runs ANALYZE).
* The same 1,000 messages (``bench_ingest.generate``, fixed seed: 800 reports, 200 replies)
  go into a local Maildir and ``maild run --once`` is timed as a whole process (ingest,
  pipeline and sending into a Maildir sink): ms per message.
* Then, each timed as the whole CLI process a person runs (best of two): ``tickets list``,
  ``tickets list --overdue``, ``digest --preview``, ``report --month`` (the last full month,
  HTML and CSV written) and ``export register`` over the last 31 days.
* ``--explain``: then ``tickets list --overdue`` and the digest run once more in this process,
  every SQL statement timed; the four slowest are printed with their plans (``EXPLAIN
  (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite) while the schema
  still exists.

The table prints every figure at every size and its ratio to the first size. Filling takes
about 10 s per 100,000 tickets on SQLite; a million takes about 10 GB of disk.

Usage::

    .venv/bin/python bench/bench_scale.py [--sizes 1000,100000] [--db sqlite|postgresql] [--keep] [--explain]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests")]

from bench_ingest import SEED, generate  # noqa: E402
from harness import write_config  # noqa: E402
from sqlalchemy import Engine, insert, text  # noqa: E402

from maild.documents.report_figures import last_full_month  # noqa: E402
from maild.mail.tokens import format_number  # noqa: E402
from maild.store.db import make_engine, upgrade  # noqa: E402
from maild.store.models import (  # noqa: E402
    Event, InboundMessage, OutgoingMail, Party, Ticket, TicketCounter, TicketParty,
)

MESSAGES = 1000
CHUNK = 20_000
PER_DAY = 30
OPEN_NEWEST = 50
STRAGGLERS = 5
TZ = "Asia/Makassar"
CATEGORIES = ("akun_penyedia", "jaringan_server", "dokumen_penawaran", "sertifikat_elektronik", "e_katalog", None)
TYPES = ("incident", "service_request", "problem")
PRIORITIES = ("low", "medium", "medium", "high", "critical")
SUBJECTS = ("Lupa password akun SPSE", "Upload dokumen penawaran gagal", "Registrasi penyedia belum diverifikasi",
            "SPSE tidak bisa diakses", "Sertifikat elektronik kedaluwarsa", "Produk e-katalog tidak tampil")
TEXT = ("Selamat pagi, kami dari {c} mengalami kendala: {s}. Sudah dicoba beberapa kali sejak kemarin "
        "dengan browser lain tetapi hasilnya sama. Mohon bantuan, batas waktu paket sudah dekat. Terima kasih.")
FIGURES = ("ingest ms/msg", "tickets list s", "list --overdue s", "digest --preview s", "report --month s",
           "export register s")


@dataclass
class Result:
    size: int
    fill_s: float = 0.0
    new_tickets: int = 0
    figures: dict[str, float] = field(default_factory=dict)


def _raw(i: int, sender: str, subject: str, body: str, at: datetime) -> bytes:
    return (f"From: {sender}\r\nTo: helpdesk@lpse.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <scale-{i}@bench.example>\r\nDate: {at:%a, %d %b %Y %H:%M:%S +0000}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def fill(engine: Engine, n: int, now: datetime, seed: int) -> None:
    """N tickets of history with their parties, events, ledger rows and sent mail."""
    rng = random.Random(seed)
    reporters = max(10, n // 3)
    step = timedelta(days=1) / PER_DAY
    start = now - step * (n + 1)
    stragglers = {n * (k + 1) // (STRAGGLERS + 1) for k in range(STRAGGLERS)}
    seq: dict[int, int] = {}
    with engine.begin() as conn:
        for lo in range(0, reporters, CHUNK):
            conn.execute(insert(Party), [
                {"id": j, "address": f"pelapor{j}@penyedia{j % 97}.example", "name": f"Pelapor {j}",
                 "role": "reporter", "created_at": start} for j in range(lo + 1, min(reporters, lo + CHUNK) + 1)])
    for lo in range(1, n + 1, CHUNK):
        tickets, parties, events, ledger, outbox = [], [], [], [], []
        for i in range(lo, min(n, lo + CHUNK - 1) + 1):
            at = start + step * i
            seq[at.year] = seq.get(at.year, 0) + 1
            number = format_number(at.year, seq[at.year])
            reporter = rng.randint(1, reporters)
            address = f"pelapor{reporter}@penyedia{reporter % 97}.example"
            subject = rng.choice(SUBJECTS)
            body = TEXT.format(c=f"CV Penyedia {reporter % 97}", s=subject.lower())
            is_open = i > n - OPEN_NEWEST or i in stragglers
            closed_at = None if is_open else at + timedelta(days=rng.randint(1, 5))
            tickets.append({
                "id": i, "number": number, "subject": subject, "state": "new" if is_open else "closed",
                "type": rng.choice(TYPES), "category": rng.choice(CATEGORIES), "priority": rng.choice(PRIORITIES),
                "channel": "email", "language": "id", "reporter_id": reporter, "created_at": at,
                "updated_at": closed_at or at, "first_response_at": None if is_open else at + timedelta(hours=2),
                "closed_at": closed_at})
            parties.append({"ticket_id": i, "party_id": reporter, "role": "reporter"})
            cause = f"mid:scale-{i}@bench.example"
            events.append({"key": f"{cause}/report_received", "ticket_id": i, "event": "report_received",
                           "actor": address, "step": 1, "cause": cause, "old_state": None, "new_state": "new",
                           "detail": {"subject": subject, "rules": [], "text": body}, "created_at": at})
            if not is_open:
                events.append({"key": f"{cause}/staff_answered", "ticket_id": i, "event": "staff_answered",
                               "actor": "petugas@lpse.example", "step": 5, "cause": cause, "old_state": "new",
                               "new_state": "in_progress", "detail": {}, "created_at": at + timedelta(hours=2)})
                events.append({"key": f"{cause}/resolved", "ticket_id": i, "event": "resolved",
                               "actor": "petugas@lpse.example", "step": 8, "cause": cause,
                               "old_state": "in_progress", "new_state": "closed", "detail": {}, "created_at": closed_at})
            raw = _raw(i, address, subject, body, at)
            ledger.append({"id": i, "key": cause, "message_id": f"scale-{i}@bench.example", "sha256": f"{i:064x}",
                           "raw": raw, "size": len(raw), "source": "bench", "sender": address, "subject": subject,
                           "received_at": at, "state": "done", "attempts": 1, "disposition": "new_ticket",
                           "ticket_id": i, "processed_at": at})
            for template, sent in (("ack", at), ("closing", closed_at)):
                if sent is None:
                    continue
                outbox.append({"key": f"{cause}/{template}/{address}", "message_id": f"{template}-{i}@lpse.example",
                               "ticket_id": i, "recipient": address, "template": template, "automatic": True,
                               "subject": f"[LPSE #{number}] {subject}", "raw": raw[:400], "state": "sent",
                               "attempts": 1, "next_attempt_at": sent, "created_at": sent, "sent_at": sent})
        with engine.begin() as conn:
            for model, rows in ((Ticket, tickets), (TicketParty, parties), (Event, events),
                                (InboundMessage, ledger), (OutgoingMail, outbox)):
                conn.execute(insert(model), rows)
    with engine.begin() as conn:
        conn.execute(insert(TicketCounter), [{"year": y, "last_seq": s} for y, s in seq.items()])
        if engine.dialect.name == "postgresql":
            # The explicit ids above leave the sequences behind; maild's own inserts need them past.
            for table in ("parties", "tickets", "events", "inbound_messages", "outbox"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory}/maild.db"
        return
    from servers import pg_schema
    with pg_schema() as url:
        yield url


def cli(config: Path, *args: str) -> float:
    """Wall time of ``maild ARGS`` as a person runs it; the best of two."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "maild", "--log-level", "WARNING", "--config", str(config), *args],
                              cwd=config.parent, capture_output=True, timeout=3600)
        best = min(best, time.perf_counter() - started)
        if proc.returncode != 0:
            raise SystemExit(f"maild {' '.join(args)} failed:\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return best


def run_size(n: int, kind: str, root: Path, corpus: list[bytes], explaining: bool = False) -> Result:
    directory = root / f"n{n}"
    directory.mkdir()
    result = Result(n)
    now = datetime.now(timezone.utc)
    with database(kind, directory) as url:
        config = write_config(directory, {"database": {"url": url}, "mailbox": {"url": "maildir:in"},
                                          "smtp": {"url": "maildir:out"}}, staff=True)
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        fill(engine, n, now, SEED)
        result.fill_s = time.perf_counter() - started
        inbox = directory / "in" / "new"
        inbox.mkdir(parents=True, exist_ok=True)
        for k, raw in enumerate(corpus):
            (inbox / f"{k:05d}.bench").write_bytes(raw)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "maild", "--log-level", "WARNING", "--config", str(config),
                               "run", "--once"], cwd=directory, capture_output=True, timeout=3600)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"maild run --once failed:\n{proc.stderr.decode(errors='replace')[-2000:]}")
        with engine.connect() as conn:
            result.new_tickets = conn.execute(text("SELECT count(*) FROM tickets")).scalar_one() - n
            left = conn.execute(text("SELECT count(*) FROM inbound_messages WHERE state != 'done'")).scalar_one()
        if left or any(inbox.iterdir()):
            raise SystemExit(f"N={n}: {left} messages not done, {len(list(inbox.iterdir()))} left in the inbox")
        engine.dispose()
        result.figures["ingest ms/msg"] = elapsed * 1000 / len(corpus)
        result.figures["tickets list s"] = cli(config, "tickets", "list")
        result.figures["list --overdue s"] = cli(config, "tickets", "list", "--overdue")
        result.figures["digest --preview s"] = cli(config, "digest", "--preview")
        result.figures["report --month s"] = cli(config, "report", "--month", last_full_month(now, TZ),
                                                 "--out", str(directory))
        day = now.date()
        result.figures["export register s"] = cli(config, "export", "register", "--from",
                                                  str(day - timedelta(days=31)), "--to", str(day),
                                                  "--out", str(directory / "register.csv"))
        if explaining:
            explain(config, n)
    return result


def explain(config: Path, n: int) -> None:
    """``tickets list --overdue`` and the digest, run in this process as the CLI runs them, with
    every SQL statement timed; the slowest statements are printed with their plans (EXPLAIN
    ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite): what grows, and why."""
    from sqlalchemy import event

    from maild.app.cli.context import Context
    from maild.base.clock import system_clock
    from maild.service import admin

    timed: list[tuple[float, str, Any]] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        conn.info["started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        timed.append((time.perf_counter() - conn.info.pop("started"), sql, params))

    obj = Context(str(config))
    with obj.services() as parts:
        event.listen(parts.engine, "before_cursor_execute", before)
        event.listen(parts.engine, "after_cursor_execute", after)
        started = time.perf_counter()
        with parts.factory() as session:
            overdue = admin.overdue_tickets(session, admin.TicketFilter(limit=50), parts.sla, parts.calendar,
                                            system_clock())
        listed = time.perf_counter() - started
        started = time.perf_counter()
        with parts.factory() as session:
            parts.digest.compose(session, system_clock())
        digested = time.perf_counter() - started
        event.remove(parts.engine, "before_cursor_execute", before)
        event.remove(parts.engine, "after_cursor_execute", after)
        print(f"\nN={n:,}: in-process --overdue {listed:.3f} s ({len(overdue)} tickets), digest compose "
              f"{digested:.3f} s, {len(timed)} statements, {sum(t for t, _, _ in timed):.3f} s in the database")
        pg = parts.engine.dialect.name == "postgresql"
        with parts.engine.connect() as conn:
            for seconds, sql, params in sorted(timed, key=lambda t: -t[0])[:4]:
                print(f"  {seconds * 1000:8.1f} ms  {' '.join(sql.split())[:300]}")
                prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
                for row in conn.exec_driver_sql(prefix + sql, params):
                    line = " | ".join(str(c) for c in row)
                    print("             " + (line if len(line) <= 160 else line[:157] + "..."))


def print_table(results: list[Result], kind: str) -> None:
    base = results[0]
    print(f"\nmaild at scale on {kind}: 1,000 messages into a database of N tickets; CLI wall times, best of 2")
    head = f"{'':>20}" + "".join(f"{f'N={r.size:,}':>22}" for r in results)
    print(head)
    print(f"{'fill s':>20}" + "".join(f"{r.fill_s:>22.1f}" for r in results))
    print(f"{'new tickets':>20}" + "".join(f"{r.new_tickets:>22}" for r in results))
    for name in FIGURES:
        cells = []
        for r in results:
            value = r.figures[name]
            ratio = value / base.figures[name]
            cells.append(f"{value:>10.3f} (x{ratio:.2f})")
        print(f"{name:>20}" + "".join(f"{c:>22}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="ticket counts, comma-separated; the first is the base")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, logs)")
    parser.add_argument("--explain", action="store_true", help="after each size's figures, time every statement "
                        "of --overdue and the digest in-process and print the plans of the slowest")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    corpus = [g.raw for g in generate(MESSAGES, SEED)]
    root = Path(tempfile.mkdtemp(prefix="maild-scale-"))
    results: list[Result] = []
    try:
        for n in sizes:
            results.append(run_size(n, args.db, root, corpus, args.explain))
            r = results[-1]
            print(f"N={n:,}: filled in {r.fill_s:.1f} s; " + ", ".join(f"{k} {v:.3f}" for k, v in r.figures.items()),
                  flush=True)
            if not args.keep:
                shutil.rmtree(root / f"n{n}", ignore_errors=True)
        print_table(results, args.db)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
