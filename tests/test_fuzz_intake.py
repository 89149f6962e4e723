"""Fuzzing intake end to end: hostile From, Sender, Reply-To, Message-ID and Subject headers
through ingest and the pipeline, on SQLite and PostgreSQL (issue 10, "Done when").

Whatever the headers hold (control characters and NUL, nested and unclosed comments, broken
encoded words, 8-bit bytes, folding, thousands of parentheses), the daemon's run ends normally,
every delivered message reaches the ledger (rows == messages delivered), none is left waiting,
none fails, and the inbox is empty afterwards.

Bounded cost: 40 examples per database in the "ci" profile of ``test_fuzz`` (twenty times that
with ``HYPOTHESIS_PROFILE=long``); one database and daemon per test, the messages accumulating
in it, as in a real inbox.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from harness import HELPDESK, start, write_config
from maild.app.daemon import Daemon
from maild.sop.vocabulary import MessageState
from maild.store.models import InboundMessage
from maild.transport.maildir import deliver
from test_fuzz import fuzz_settings

PIECES = ["(", ")", "(((", ")))", "\\", '"', "<", ">", "@", ",", ";", ":", " ", "\t", "\x00", "\x01", "\x7f",
          "\r\n ", "\r\n\t", "\r", "\n", "=?utf-8?b?", "=?utf-8?q?", "?=", "=?", "=00", "=0D=0A", "QmNjOg==",
          "budi", "siti@cv.id", "cv．example", "ä", "é@x", "<a@b>", "Bcc: x@evil.example", "mid@cv.id", "..",
          "\u202e", "\ufeff", "🙂", "x" * 300]


@st.composite
def header_value(draw: st.DrawFn) -> bytes:
    """A header value as bytes: text, raw 8-bit, pieces that parsers trip on, or deep nesting."""
    kind = draw(st.sampled_from(["text", "binary", "pieces", "nested", "long"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8")
    if kind == "binary":
        return draw(st.binary(max_size=200)).replace(b"\n", b"\n ")  # kept inside its header
    if kind == "nested":
        depth = draw(st.integers(300, 3000))
        closed = draw(st.booleans())
        inner = draw(st.sampled_from(["siti@cv.id", "", "<siti@cv.id>", "\x00"]))
        return ("(" * depth + inner + (")" * depth if closed else "") + " <budi@cv.id>").encode()
    if kind == "long":
        return draw(st.sampled_from(["S", "é", " kata", "("])).encode() * draw(st.integers(1000, 200_000))
    return "".join(draw(st.lists(st.sampled_from(PIECES), max_size=30))).encode("utf-8")


HEADERS = ("From", "Sender", "Reply-To", "Message-ID", "Subject")


@dataclass
class Desk:
    daemon: Daemon
    maildir: Path
    seq: Iterator[int]
    delivered: int = 0


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[Desk]:
    config = write_config(tmp_path, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{tmp_path}/Maildir"},
        "smtp": {"url": f"maildir:{tmp_path}/sent"},
    }, staff=True)
    daemon, _ = start(config)
    try:
        yield Desk(daemon, tmp_path / "Maildir", itertools.count())
    finally:
        daemon.close()


def message(seq: int, headers: dict[str, bytes | None]) -> bytes:
    """One message with the drawn headers; its sequence number makes its bytes unique."""
    lines = [f"X-Fuzz-Seq: {seq}".encode(), f"To: {HELPDESK}".encode(), b"Date: Mon, 2 Nov 2026 09:00:00 +0700"]
    lines += [name.encode() + b": " + value for name, value in headers.items() if value is not None]
    return b"\r\n".join(lines) + f"\r\n\r\nLaporan nomor {seq}.\r\n".encode()


def ledger_states(daemon: Daemon) -> dict[str, int]:
    with daemon.factory() as s:
        return dict(s.execute(select(InboundMessage.state, func.count()).group_by(InboundMessage.state)).all())


@settings(fuzz_settings(40), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                    HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(headers=st.fixed_dictionaries({name: st.none() | header_value() for name in HEADERS}))
def test_whatever_the_headers_every_message_reaches_the_ledger(desk: Desk, headers: dict[str, bytes | None]) -> None:
    deliver(desk.maildir, message(next(desk.seq), headers))
    desk.delivered += 1
    assert desk.daemon.run_once()  # returns normally: no exception escapes a stage
    states = ledger_states(desk.daemon)
    assert sum(states.values()) == desk.delivered
    assert states.get(MessageState.NEW, 0) == 0 and states.get(MessageState.DEAD, 0) == 0, states
    assert os.listdir(desk.maildir / "new") == [] and os.listdir(desk.maildir / "cur") == []
