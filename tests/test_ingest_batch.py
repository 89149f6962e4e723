"""Ingest stores a batch's new messages in one statement and judges the rest one by one, on
SQLite and PostgreSQL: a redelivery, one message delivered twice (To + Cc), a Message-ID
reused for other content, and a batch whose statement the database refuses (each message
then goes in its own savepoint, the refused one kept by its hash). Nothing lost, nothing
stored twice, whatever the batch holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from harness import ledger, report, start, tickets, write_config
from maild.app.daemon import Daemon
from maild.transport.maildir import deliver

REFUSED = "tolak@cv-tolak.co.id"


@pytest.fixture
def desk(tmp_path: Path, db_url: str) -> Iterator[tuple[Daemon, Path]]:
    inbox = tmp_path / "in"
    config = write_config(tmp_path, {"database": {"url": db_url}, "mailbox": {"url": f"maildir:{inbox}"},
                                     "smtp": {"url": f"maildir:{tmp_path}/out"}, "digest": {"enabled": False}})
    daemon = start(config)[0]
    yield daemon, inbox
    daemon.close()


def test_one_batch_with_new_mail_a_redelivery_a_copy_and_a_reused_message_id(desk: tuple[Daemon, Path]) -> None:
    daemon, inbox = desk
    earlier = report(sender="lama@cv-lama.co.id", subject="Laporan kemarin")
    deliver(inbox, earlier.raw)
    assert daemon.ingest.run_once() == 1

    first = report(sender="budi@cv-maju.co.id")
    copy = b"X-Original-To: helpdesk-cc@lpse.tanatidungkab.go.id\n" + first.raw  # the Cc delivery
    reused = first.raw.replace(b"Mohon bantuannya", b"Ini laporan lain, isinya berbeda")
    other = report(sender="siti@cv-sejahtera.co.id", subject="Upload dokumen gagal")
    for raw in (first.raw, copy, reused, earlier.raw, other.raw):
        deliver(inbox, raw)
    assert daemon.ingest.run_once() == 5

    rows = ledger(daemon)
    assert len(rows) == 5  # the redelivery of the earlier report is not stored again
    by_mid = sorted((r.message_id, r.disposition or "", r.key.startswith("mid:") and "/sha256:" not in r.key)
                    for r in rows)
    assert by_mid == sorted([
        (earlier.message_id, "", True),
        (first.message_id, "", True),  # the first under the Message-ID keeps the plain key
        (first.message_id, "duplicate", False),  # the Cc copy: recorded, done, no ticket of its own
        (first.message_id, "", False),  # other content under the same id: a message of its own
        (other.message_id, "", True),
    ])
    assert daemon.run_once()
    assert len(tickets(daemon)) == 4  # earlier, first, the reused id's report, other
    assert not list(inbox.joinpath("new").iterdir()) and not list(inbox.joinpath("cur").iterdir())


def _refuse_sender(daemon: Daemon) -> None:
    """A trigger that refuses a row from ``REFUSED``: the database itself says no to one row."""
    with daemon.engine.begin() as conn:
        if daemon.engine.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER refuse BEFORE INSERT ON inbound_messages WHEN NEW.sender = "
                              f"'{REFUSED}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
        else:
            conn.execute(text(f"CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.sender = '{REFUSED}' "
                              "THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ "
                              "LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON inbound_messages FOR EACH ROW "
                              "EXECUTE FUNCTION refuse()"))


def test_a_batch_the_database_refuses_is_stored_one_by_one(desk: tuple[Daemon, Path]) -> None:
    daemon, inbox = desk
    _refuse_sender(daemon)
    before = report(sender="andi@cv-andalan.co.id", subject="Lupa password")
    refused = report(sender=REFUSED, subject="Laporan yang ditolak database")
    after = report(sender="rina@cv-rindang.co.id", subject="Sertifikat elektronik kedaluwarsa")
    for raw in (before.raw, refused.raw, after.raw):
        deliver(inbox, raw)
    assert daemon.ingest.run_once() == 3

    rows = {r.sender: r for r in ledger(daemon)}
    assert set(rows) == {"andi@cv-andalan.co.id", "rina@cv-rindang.co.id", ""}
    assert rows["andi@cv-andalan.co.id"].key == f"mid:{before.message_id}"
    assert rows["rina@cv-rindang.co.id"].key == f"mid:{after.message_id}"
    kept = rows[""]  # nothing read from its headers, kept by the hash of its bytes
    assert kept.key.startswith("sha256:") and kept.raw == refused.raw
    assert "stored by hash" in (kept.last_error or "") and "refused by the test" in (kept.last_error or "")
    assert not list(inbox.joinpath("new").iterdir())  # all three out of the inbox: all three committed
