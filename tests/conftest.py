"""Shared pytest fixtures: a real Dovecot, a real SMTP sink, SQLite and PostgreSQL URLs.

The helpers live in ``tests/servers.py`` (plain module). Missing servers make tests FAIL
with a RuntimeError, never skip.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:  # `from servers import ...` also without pythonpath=tests
    sys.path.insert(0, _TESTS_DIR)

from servers import Dovecot, ImapAccount, SmtpSink, pg_schema, private_dovecot  # noqa: E402


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the whole session (ports picked at runtime), stopped at the end
    (``servers.private_dovecot``)."""
    with private_dovecot() as server:
        yield server


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox user for this test (password ``secret``)."""
    if not dovecot.running:  # a previous test stopped it and did not start it again
        dovecot.start()
    return dovecot.add_user()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SMTP sink on 127.0.0.1 (no TLS, no AUTH), stopped at teardown."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL to an empty database: SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/maild.db"
    else:
        with pg_schema() as url:
            yield url
