"""Stage 1: mailbox to inbound rows. Commit first, then move the message out of the inbox.

If the process dies after the fetch, the message is still in the inbox (it was only PEEKed).
If it dies after the commit but before the move, the next fetch finds the message again and
the UNIQUE key says we have it; the move is simply done again.

No message can stop intake: a batch's new messages are stored in one statement, and should
that fail, each in its own savepoint; one whose headers cannot be stored as read is stored by
the hash of its bytes. A batch is bounded by bytes as well as by count, and of a message over
the size limit only the header block is read: its body makes no ticket, and the message goes
whole to the quarantine folder.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.store.db import transaction
from maild.store.models import TO_QUARANTINE, InboundMessage
from maild.mail.keys import body_of, key_for, sender_of
from maild.transport.sources import Fetched, Mailbox
from maild.store.queries import insert_ignore, insert_ignore_many
from maild.sop.vocabulary import MessageState
from maild.stages.protocol import each_in_savepoint

log = logging.getLogger(__name__)


class Ingest:
    """Moves new mail from a mailbox into the database."""

    def __init__(
        self,
        mailbox: Mailbox,
        factory: sessionmaker[Session],
        clock: Clock,
        batch_size: int = 200,
        quarantine_folder: str = "Quarantine",
        batch_bytes: int = 64 * 1024 * 1024,
        max_message_bytes: int = 25 * 1024 * 1024,
        mailbox_name: str = "default",
    ) -> None:
        self.mailbox = mailbox
        self.mailbox_name = mailbox_name
        self.factory = factory
        self.clock = clock
        self.batch_size = batch_size
        self.quarantine_folder = quarantine_folder
        self.batch_bytes = batch_bytes
        self.max_message_bytes = max_message_bytes

    def run_once(self) -> int:
        """Take one batch from the mailbox; return how many messages were handled."""
        batch = self.mailbox.fetch_new(self.batch_size, max_bytes=self.batch_bytes,
                                       head_only_over=self.max_message_bytes)
        if batch:
            with transaction(self.factory) as session:
                rest = self._store_new(session, batch)
                each_in_savepoint(session, rest, self._store, self._store_raw_only)
            # Only now, with the rows committed, may the messages leave the inbox: the ones
            # read whole to the processed folder, the oversized ones whole to the quarantine.
            self.mailbox.release([m for m in batch if m.complete])
            self.mailbox.release([m for m in batch if not m.complete], folder=self.quarantine_folder)
        return len(batch) + self._quarantine_dead()

    def _row(self, fetched: Fetched, key: str, message_id: str | None, sender: str, sha256: str) -> dict[str, object]:
        """The ledger row of ``fetched``; an oversized one (its header block only) is marked as
        quarantined already, since the message itself goes to the quarantine folder."""
        now = self.clock()
        return {
            "key": key, "mailbox": self.mailbox_name, "message_id": message_id, "sender": sender, "sha256": sha256, "raw": fetched.raw,
            "size": fetched.total_size, "source": self.mailbox.description[:200], "uidvalidity": fetched.uidvalidity,
            "uid": fetched.uid, "received_at": now, "state": MessageState.NEW, "attempts": 0,
            "quarantined_at": None if fetched.complete else now,
        }

    def _store_new(self, session: Session, batch: Sequence[Fetched]) -> list[Fetched]:
        """Store the batch's messages that are new, all in one statement; return the others
        (a key the ledger has, or a second message under one key) for ``_store`` to judge one
        by one. If the statement fails (a header PostgreSQL cannot take), nothing of it stays
        and every message goes the careful way. One statement, not a savepoint and an insert
        per message: most mail is new, and that was a third of ingest (profiled)."""
        rows: list[dict[str, object]] = []
        together: list[Fetched] = []
        rest: list[Fetched] = []
        size = 0
        for fetched in batch:
            # The database driver copies what it binds: the statement's bytes are bounded, so
            # a batch of large messages goes one by one and holds one copy at a time.
            if len(fetched.raw) > _TOGETHER_BYTES or size + len(fetched.raw) > _TOGETHER_BYTES:
                rest.append(fetched)
                continue
            size += len(fetched.raw)
            k = key_for(fetched.raw)
            rows.append(self._row(fetched, k.key, k.message_id, sender_of(fetched.raw), k.sha256))
            together.append(fetched)
        if not together:
            return rest
        try:
            with session.begin_nested():
                inserted = insert_ignore_many(session, InboundMessage, rows, "key")
        except SQLAlchemyError as exc:
            log.info("batch of %d messages stored one by one: %s", len(together), type(exc).__name__)
            return list(batch)
        for fetched, row in zip(together, rows):
            if row["key"] in inserted:
                inserted.discard(row["key"])  # the first under its key is the one stored
            else:
                rest.append(fetched)
        return rest

    def _store(self, session: Session, fetched: Fetched) -> None:
        k = key_for(fetched.raw)
        values = self._row(fetched, k.key, k.message_id, sender_of(fetched.raw), k.sha256)
        if insert_ignore(session, InboundMessage, values, ["key"]):
            return
        first = session.scalars(select(InboundMessage).where(InboundMessage.key == k.key)).one()
        if first.sha256 == k.sha256:
            return  # the very same bytes again: a redelivery after a crash, nothing to do
        if body_of(first.raw) == body_of(fetched.raw):
            # Same Message-ID and body, other headers: one message delivered twice (To + Cc).
            values.update(key=_own_key(k.key, k.sha256), state=MessageState.DONE, disposition="duplicate",
                          reason=f"same Message-ID and body as message {first.id}", ticket_id=first.ticket_id,
                          processed_at=self.clock())
        else:
            # Same Message-ID, different content: a broken mailer reusing IDs. Never drop it.
            values.update(key=_own_key(k.key, k.sha256))
            log.warning("message-id %s reused with different content; processing as its own message", k.message_id)
        insert_ignore(session, InboundMessage, values, ["key"])

    def _store_raw_only(self, session: Session, fetched: Fetched, exc: Exception) -> None:
        """Keep a message whose headers could not be stored as read (a NUL byte in a header on
        PostgreSQL, say): its raw bytes under their hash, nothing read from its headers, so the
        pipeline can try it and quarantine it if it must; the messages behind it go on."""
        digest = hashlib.sha256(fetched.raw).hexdigest()
        log.error("message %s could not be stored as read (%s: %s); kept by its hash", fetched.ref,
                  type(exc).__name__, exc)
        values = self._row(fetched, f"sha256:{digest}", None, "", digest)
        why = f"stored by hash: {type(exc).__name__}: {exc}"
        insert_ignore(session, InboundMessage, {**values, "last_error": why.replace("\x00", "\\0")[:2000]}, ["key"])

    def _quarantine_dead(self) -> int:
        """Put a copy of each newly quarantined message (dead, oversized, spam) into the
        quarantine folder, for people to see. One message in memory at a time."""
        with transaction(self.factory) as session:
            dead: Sequence[tuple[int, str | None, str | None]] = session.execute(to_quarantine()).all()
            for row_id, message_id, last_error in dead:
                raw = session.scalar(select(InboundMessage.raw).where(InboundMessage.id == row_id))
                self.mailbox.keep_copy(self.quarantine_folder, raw or b"")
                del raw
                session.execute(update(InboundMessage).where(InboundMessage.id == row_id)
                                .values(quarantined_at=self.clock()))
                log.warning("message %s (%s) quarantined: %s", row_id, message_id, last_error)
            return len(dead)


_TOGETHER_BYTES = 8 * 1024 * 1024  # of raw mail in one INSERT


def to_quarantine() -> Select[tuple[int, str | None, str | None]]:
    """The next messages to copy to the quarantine folder; run every cycle, so it reads the
    partial index of the messages waiting for it, never the whole ledger."""
    return (select(InboundMessage.id, InboundMessage.message_id, InboundMessage.last_error)
            .where(TO_QUARANTINE).limit(20))


def _own_key(key: str, sha256: str) -> str:
    """The key of a second message under one Message-ID: its hash kept whole within the
    column's 400 characters (cut from the end, a long Message-ID would lose the hash and the
    key would be the first message's again: the message would not be stored)."""
    suffix = f"/sha256:{sha256}"
    return key[: 400 - len(suffix)] + suffix
