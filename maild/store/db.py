"""Opening the database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from maild.base.config import mask_url
from maild.base.errors import ConfigError, TransientError
from maild.base.resources import resource_dir


def make_engine(url: str) -> Engine:
    """An engine with the settings maild relies on (SQLite: WAL, full sync, foreign keys)."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        # SQLAlchemy's message quotes the URL it could not parse, password and all.
        raise ConfigError(f"database.url: cannot use {mask_url(url)!r}: "
                          f"{str(exc).replace(url, mask_url(url))}") from None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the CLI) run beside the daemon; FULL makes a commit survive power loss,
    # which matters because a message leaves the mailbox only after its commit.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    # pysqlite's own transaction handling starts a transaction only before a write, so a
    # SAVEPOINT that came first would open the transaction itself and its RELEASE would commit
    # it: one item's "savepoint" of a stage would commit on its own. maild says BEGIN itself
    # (the SQLAlchemy recipe for pysqlite), so savepoints nest inside the stage's transaction.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: the write lock is taken at BEGIN, waiting (busy_timeout) for the writer before.
    # A deferred transaction that read first and writes later fails at once, without waiting,
    # when another writer (the sending thread) committed in between: SQLite cannot move its
    # snapshot forward. maild's transactions write; its readers (the CLI) wait a moment.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (the pipeline reads them afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def holding(session: Session, *models: type) -> Iterator[None]:
    """Keep every instance of ``models`` the session loads or inserts until the block ends.

    The session's identity map holds its objects weakly: a party or ticket read by one step of
    a message and let go is read again by the next step's ``session.get``, one more round trip
    each (eight party lookups per new ticket, three ticket reads per follow-up, measured by
    ``tests/test_statement_counts.py``). Held, ``session.get`` answers from memory, with the
    values a query would have returned in this transaction too (a query does not overwrite an
    object already in the session)."""
    held: list[object] = []

    def keep(_session: Session, instance: object) -> None:
        if isinstance(instance, models):
            held.append(instance)

    event.listen(session, "loaded_as_persistent", keep)
    event.listen(session, "pending_to_persistent", keep)
    try:
        yield
    finally:
        event.remove(session, "loaded_as_persistent", keep)
        event.remove(session, "pending_to_persistent", keep)
        held.clear()


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise TransientError(f"database upgrade failed: {exc}") from exc


def revisions(engine: Engine) -> tuple[str | None, str]:
    """(current revision of the database, newest revision shipped)."""
    script = ScriptDirectory.from_config(_alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head() or ""


def require_current(engine: Engine) -> None:
    """Refuse to run on a database whose schema is behind the code."""
    try:
        current, head = revisions(engine)
    except SQLAlchemyError as exc:
        # The driver's words, without SQLAlchemy's SQL and link lines.
        raise TransientError(f"database unreachable: {getattr(exc, 'orig', None) or exc}") from None
    if current != head:
        raise ConfigError(
            f"database schema is at {current or 'nothing'}, the code needs {head}: run 'maild db upgrade'"
        )


class SqliteLock:
    """An exclusive lock on a SQLite database's ``.lock`` file, held while one daemon runs.

    SQLite serves one daemon: a second ``maild run`` on the same file is refused at its start.
    The kernel lets go of the lock when the process dies, however it dies, so a daemon
    restarted after a crash never finds its own old lock in the way. Held by the process
    (``maild run``), not by a daemon object: a reload builds a new daemon under the same lock."""

    def __init__(self, url: str) -> None:
        self._file: Any = None
        parsed = make_url(url)
        database = parsed.database
        self.path = (Path(f"{database}.lock") if parsed.get_backend_name() == "sqlite"
                     and database not in (None, "", ":memory:") else None)

    def acquire(self) -> None:
        """Take the lock, or ConfigError naming the process that holds it."""
        if self.path is None or not self.path.parent.is_dir():
            return  # no database here to share: opening it says what is wrong, in one line
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the daemon's life, closed by release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(f"another maild run ({holder}) is working on {self.path.with_suffix('')}: SQLite "
                              "serves one daemon; for several daemons use PostgreSQL") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go of the lock (the daemon stops)."""
        if self._file is not None:
            self._file.close()
            self._file = None
