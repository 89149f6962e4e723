"""Bringing in an old helpdesk mailbox (an mbox file, a Maildir, or single message files).

Every old message goes through the same steps as new mail (the inbound key, the ledger row,
the pipeline's parse -> screen -> thread -> rules -> SOP), in the pipeline's quiet mode:
nothing is mailed to anyone (no acknowledgement, no staff notification, no confirmation),
each message counts as received at its own Date, and its tickets are marked as imported
(channel ``import``), which the SLA clock leaves alone.

Three choices make the import safe beside a running daemon and safe to repeat:

- Messages are fed oldest first (by their Date header; without one, by the mailbox's
  delivery time), so replies find the tickets of the reports they answer, whatever order the
  file holds them in, and reopen windows count as they did at the time.
- An imported row is written already claimed (``done``) and processed in the same
  transaction, so it is never ``new``: a daemon running meanwhile cannot pick it up and
  acknowledge an old report, and the import never touches live mail that is waiting.
- The inbound key (Message-ID, else the SHA-256 of the bytes) decides "have it": a second
  import, or a message that already came in through the live mailbox, is skipped. A message
  that fails is rolled back whole and reported; running the import again retries it.

A Maildir's subfolders (``.Sent``, ``.Trash``, ``.Junk``, ``.Drafts``, ``.Processed``) are not
read: they would turn the helpdesk's own mail and spam into tickets. Pass a subfolder's
path explicitly to bring it in too.
"""

from __future__ import annotations

import logging
import mailbox
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.base.errors import MaildError, TransientError
from maild.sop.vocabulary import MessageState
from maild.mail.keys import body_of, key_for
from maild.stages.pipeline import Pipeline, record_outcome
from maild.store.db import transaction
from maild.store.models import InboundMessage
from maild.store.queries import insert_ignore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
_BATCH = 100  # messages per transaction: one commit (an fsync on SQLite) per batch, not per message
_HEADERS = BytesHeaderParser(policy=compat32)


class Importing(Protocol):
    """Where old mail goes: a database and the pipeline (``factory.Services``, or a ``Daemon``)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def factory(self) -> sessionmaker[Session]: ...

    @property
    def pipeline(self) -> Pipeline: ...


@dataclass(frozen=True)
class ImportResult:
    """What the import did, for the CLI's summary."""

    found: int  # messages in the sources
    imported: int  # recorded now
    skipped: int  # already in the database (an earlier import, or the live mailbox)
    failed: int  # could not be processed: nothing recorded, listed in ``errors``
    tickets: int  # new tickets among the imported
    dispositions: Mapping[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Old:
    """One old message: when it was received, where it is, and how to read it."""

    when: datetime
    order: int
    origin: str  # "path#n", for error lines
    source: str  # the ledger's source column
    read: Callable[[], bytes]


def import_messages(
    into: Importing,
    sources: str | Path | Sequence[str | Path],
    progress: Progress | None = None,
) -> ImportResult:
    """Import mbox files, Maildirs and message files into the database of ``into``, quietly.

    ``progress(done, total)`` is called once before the first message and after each one.
    Raises MaildError for a path that is none of these, TransientError when the database
    goes away; a message that fails is reported in the result and the import goes on.
    """
    paths = [Path(sources)] if isinstance(sources, (str, Path)) else [Path(p) for p in sources]
    now = into.clock()
    boxes: list[mailbox.Mailbox] = []
    try:
        old = sorted(_collect(paths, boxes, now), key=lambda m: (m.when, m.order))
        return _feed(into, old, now, progress)
    finally:
        for box in boxes:
            box.close()


def _feed(into: Importing, old: list[_Old], now: datetime, progress: Progress | None) -> ImportResult:
    total = len(old)
    dispositions: Counter[str] = Counter()
    skipped, errors = 0, []
    if progress:
        progress(0, total)
    done = 0
    for start in range(0, total, _BATCH):
        try:
            with transaction(into.factory) as session:
                for message in old[start:start + _BATCH]:
                    try:
                        outcome = _one(into, session, message, now)
                    except _Failed as failure:
                        errors.append(f"{message.origin}: {failure}")
                    else:
                        if outcome is None:
                            skipped += 1
                        else:
                            dispositions[outcome] += 1
                    done += 1
                    if progress:
                        progress(done, total)
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(f"database: {exc.__class__.__name__}: {exc.orig or exc}") from exc
    imported = sum(dispositions.values())
    return ImportResult(
        found=total, imported=imported, skipped=skipped, failed=len(errors),
        tickets=dispositions["new_ticket"] + dispositions["new_linked"],
        dispositions=dict(sorted(dispositions.items())), errors=tuple(errors),
    )


class _Failed(Exception):
    """One message could not be processed; its savepoint was rolled back."""


def _one(into: Importing, session: Session, message: _Old, now: datetime) -> str | None:
    """Record and process one message in a savepoint: its disposition, or None when the
    database has it already. Raises _Failed when it fails (nothing of it stays)."""
    savepoint = session.begin_nested()
    row: InboundMessage | None = None
    try:
        raw = message.read()
        row = _store(session, raw, message, now, into.pipeline.settings.mailbox)
        if row is None:
            savepoint.commit()
            return None
        # As in the pipeline: no autoflush; its Core inserts are visible at once.
        with session.no_autoflush:
            outcome = into.pipeline.process(session, row, message.when, quiet=True)
            record_outcome(session, row, outcome)
        savepoint.commit()
        return outcome.disposition
    except (OperationalError, InterfaceError):
        savepoint.rollback()
        raise
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the import
        savepoint.rollback()
        if row is not None and row in session:
            # Its insert is undone; the next row may get the same id, and must not find this
            # object (with the failed message's bytes) in the session's identity map.
            session.expunge(row)
        log.error("import of %s failed: %s", message.origin, exc, exc_info=exc)
        raise _Failed(f"{type(exc).__name__}: {exc}") from exc


def _store(session: Session, raw: bytes, message: _Old, now: datetime, mailbox: str) -> InboundMessage | None:
    """The ledger row of ``mailbox`` (the one imported into), written already claimed; None
    when the database has the message."""
    k = key_for(raw)
    alternative = f"{k.key}/sha256:{k.sha256}"[:400]
    known = session.scalars(select(InboundMessage).where(InboundMessage.key.in_((k.key, alternative)))).all()
    body = _lf(body_of(raw))
    if any(r.sha256 == k.sha256 or _lf(body_of(r.raw)) == body for r in known):
        return None  # the same message (perhaps with other headers or line ends): have it
    # The same Message-ID with other content is another message (a broken mailer): keep it
    # under a key of its own, as the ingest stage does.
    key = alternative if any(r.key == k.key for r in known) else k.key
    values = {
        "key": key,
        "mailbox": mailbox,
        "message_id": k.message_id,
        "sha256": k.sha256,
        "raw": raw,
        "size": len(raw),
        "source": message.source[:200],
        "uidvalidity": None,
        "uid": None,
        "received_at": message.when,
        "state": MessageState.DONE,  # never NEW: a running daemon must not take it for live mail
        "attempts": 0,
        "processed_at": now,
    }
    if not insert_ignore(session, InboundMessage, values, ["key"]):
        return None  # arrived through the live mailbox a moment ago
    return session.scalars(select(InboundMessage).where(InboundMessage.key == key)
                           .execution_options(populate_existing=True)).one()


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


# -- reading the sources ----------------------------------------------------------------------
def _collect(paths: list[Path], boxes: list[mailbox.Mailbox], now: datetime) -> Iterator[_Old]:
    order = 0
    for path in paths:
        for origin, read, fallback in _messages(path, boxes):
            raw = read()
            when = _date(raw) or _fallback_date(fallback) or now
            yield _Old(min(when, now), order, origin, f"import:{path}", read)
            order += 1


def _messages(path: Path, boxes: list[mailbox.Mailbox]
              ) -> Iterator[tuple[str, Callable[[], bytes], Callable[[], datetime | None]]]:
    """(origin, read the bytes, the mailbox's delivery time) of each message in ``path``."""
    if path.is_dir():
        if not ((path / "cur").is_dir() or (path / "new").is_dir()):
            raise MaildError(f"{path}: a directory without cur/ and new/ is not a Maildir")
        maildir = mailbox.Maildir(path, factory=None, create=False)
        boxes.append(maildir)
        for key in sorted(maildir.keys()):
            yield (f"{path}#{key}", _reader(maildir, key),
                   lambda key=key: _timestamp(maildir.get_message(key).get_date()))
        return
    try:
        with open(path, "rb") as fh:
            start = fh.read(5)
    except OSError as exc:
        raise MaildError(f"{path}: cannot read: {exc.strerror}") from None
    if start != b"From ":
        # One message per file (.eml), as 'maild inject' takes them.
        yield str(path), path.read_bytes, lambda: _timestamp(path.stat().st_mtime)
        return
    mbox = mailbox.mbox(path, factory=None, create=False)
    boxes.append(mbox)
    for n, key in enumerate(mbox.keys(), 1):
        yield f"{path}#{n}", _reader(mbox, key), lambda key=key: _from_line_date(mbox.get_message(key).get_from())


def _reader(box: mailbox.Mailbox, key: str) -> Callable[[], bytes]:
    return lambda: box.get_bytes(key)


def _date(raw: bytes) -> datetime | None:
    """The Date header as an aware UTC time, or None."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    value = _HEADERS.parsebytes(head + b"\n\n").get("Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _fallback_date(delivered: Callable[[], datetime | None]) -> datetime | None:
    try:
        return delivered()
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _timestamp(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds else None


def _from_line_date(from_line: str) -> datetime | None:
    """The date of an mbox ``From sender Mon Nov  2 01:00:00 2026`` line (UTC by convention)."""
    words = from_line.split()
    try:
        return datetime.strptime(" ".join(words[1:6]), "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
