"""Stage 1: mailbox to inbound rows. Commit first, then move the message out of the inbox.

If the process dies after the fetch, the message is still in the inbox (it was only PEEKed).
If it dies after the commit but before the move, the next fetch finds the message again and
the UNIQUE key says we have it; the move is simply done again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.store.db import transaction
from maild.store.models import InboundMessage
from maild.mail.keys import body_of, key_for, sender_of
from maild.transport.sources import Fetched, Mailbox
from maild.store.queries import insert_ignore
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
    ) -> None:
        self.mailbox = mailbox
        self.factory = factory
        self.clock = clock
        self.batch_size = batch_size
        self.quarantine_folder = quarantine_folder

    def run_once(self) -> int:
        """Take one batch from the mailbox; return how many messages were handled."""
        batch = self.mailbox.fetch_new(self.batch_size)
        if batch:
            with transaction(self.factory) as session:
                each_in_savepoint(session, batch, self._store, self._store_raw_only)
            # Only now, with the rows committed, may the messages leave the inbox.
            self.mailbox.release(batch)
        return len(batch) + self._quarantine_dead()

    def _store(self, session: Session, fetched: Fetched) -> None:
        k = key_for(fetched.raw)
        values = {
            "key": k.key,
            "message_id": k.message_id,
            "sender": sender_of(fetched.raw),
            "sha256": k.sha256,
            "raw": fetched.raw,
            "size": len(fetched.raw),
            "source": self.mailbox.description[:200],
            "uidvalidity": fetched.uidvalidity,
            "uid": fetched.uid,
            "received_at": self.clock(),
            "state": MessageState.NEW,
            "attempts": 0,
        }
        if insert_ignore(session, InboundMessage, values, ["key"]):
            return
        first = session.scalars(select(InboundMessage).where(InboundMessage.key == k.key)).one()
        if first.sha256 == k.sha256:
            return  # the very same bytes again: a redelivery after a crash, nothing to do
        if body_of(first.raw) == body_of(fetched.raw):
            # Same Message-ID and body, other headers: one message delivered twice (To + Cc).
            values.update(key=f"{k.key}/sha256:{k.sha256}"[:400], state=MessageState.DONE, disposition="duplicate",
                          reason=f"same Message-ID and body as message {first.id}", ticket_id=first.ticket_id,
                          processed_at=self.clock())
        else:
            # Same Message-ID, different content: a broken mailer reusing IDs. Never drop it.
            values.update(key=f"{k.key}/sha256:{k.sha256}"[:400])
            log.warning("message-id %s reused with different content; processing as its own message", k.message_id)
        insert_ignore(session, InboundMessage, values, ["key"])

    def _store_raw_only(self, session: Session, fetched: Fetched, exc: Exception) -> None:
        """Keep a message whose headers could not be stored as read (a NUL byte in a header on
        PostgreSQL, say): its raw bytes under their hash, nothing read from its headers, so the
        pipeline can try it and quarantine it if it must; the messages behind it go on."""
        digest = hashlib.sha256(fetched.raw).hexdigest()
        log.error("message %s could not be stored as read (%s: %s); kept by its hash", fetched.ref,
                  type(exc).__name__, exc)
        insert_ignore(session, InboundMessage, {
            "key": f"sha256:{digest}", "message_id": None, "sender": "", "sha256": digest, "raw": fetched.raw,
            "size": len(fetched.raw), "source": self.mailbox.description[:200], "uidvalidity": fetched.uidvalidity,
            "uid": fetched.uid, "received_at": self.clock(), "state": MessageState.NEW, "attempts": 0,
            "last_error": f"stored by hash: {type(exc).__name__}: {exc}"[:2000],
        }, ["key"])

    def _quarantine_dead(self) -> int:
        """Put a copy of each newly quarantined message (dead, oversized, spam) into the
        quarantine folder, for people to see."""
        with transaction(self.factory) as session:
            dead: Sequence[InboundMessage] = session.scalars(
                select(InboundMessage)
                .where(or_(InboundMessage.state == MessageState.DEAD, InboundMessage.disposition.in_(("oversized", "spam"))),
                       InboundMessage.quarantined_at.is_(None))
                .limit(20)
            ).all()
            for row in dead:
                self.mailbox.keep_copy(self.quarantine_folder, row.raw)
                row.quarantined_at = self.clock()
                log.warning("message %s (%s) quarantined: %s", row.id, row.message_id, row.last_error)
            return len(dead)
