"""Which of the reporter's files go with a mail to the team, within the size budget.

A screenshot the reporter attached must reach whoever works on the report: the staff
notification of a report and of a reporter's follow-up carry that message's attachments; the
escalation to a group and the report to the coordinator carry every file the reporter sent
so far. A mail carries at most ``budget`` bytes of files (their own size, before the base64
that makes them a third larger); what does not fit is left out and the mail lists it with
the command that writes it out (``maild attachments save``).

Not passed on, and not listed: an inline image under ``SIGNATURE_IMAGE_BYTES`` (the logos
and icons of mail signatures), and a second copy of content already chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.service.attachments import StoredFile, file_content, stored_files
from maild.store.models import InboundMessage, Party, Ticket
from maild.store.outbox import OutgoingFile

SIGNATURE_IMAGE_BYTES = 10 * 1024


@dataclass(frozen=True)
class Forwarding:
    """The files one mail is about: those it carries (with their content) and those left out."""

    attached: tuple[StoredFile, ...] = ()
    left_out: tuple[StoredFile, ...] = ()
    files: tuple[OutgoingFile, ...] = ()  # the content of ``attached``, in the same order
    budget: int = 0

    def __bool__(self) -> bool:
        return bool(self.attached or self.left_out)


def is_signature_image(f: StoredFile) -> bool:
    """An inline image under ``SIGNATURE_IMAGE_BYTES``: a signature's logo or icon, not evidence."""
    return f.inline and f.content_type.startswith("image/") and f.size < SIGNATURE_IMAGE_BYTES


def choose(files: Iterable[StoredFile], budget: int) -> tuple[list[StoredFile], list[StoredFile]]:
    """Split ``files`` into those that fit ``budget`` bytes together, in the order they came
    (a large file left out does not keep a smaller later one out), and the rest."""
    attached: list[StoredFile] = []
    left_out: list[StoredFile] = []
    seen: set[str] = set()
    used = 0
    for f in files:
        if f.sha256 in seen or is_signature_image(f):
            continue
        seen.add(f.sha256)
        if used + f.size <= budget:
            attached.append(f)
            used += f.size
        else:
            left_out.append(f)
    return attached, left_out


def of_message(session: Session, ticket: Ticket, inbound_id: int | None, budget: int) -> Forwarding:
    """The attachments of message ``inbound_id`` (none for a report without a message)."""
    if inbound_id is None:
        return Forwarding(budget=budget)
    session.flush()  # the pipeline runs without autoflush: the message's attachments were just added
    return _load(session, stored_files(session, ticket.id, inbound_id), budget)


def of_reporter(session: Session, ticket: Ticket, budget: int) -> Forwarding:
    """Every file the reporter sent on this ticket so far: those of the report and of the
    reporter's later messages (not the team's, nor a bounce's)."""
    session.flush()  # as in of_message: what this message added belongs in it
    reporter = session.get(Party, ticket.reporter_id) if ticket.reporter_id else None
    first = session.scalar(select(InboundMessage.id).where(InboundMessage.ticket_id == ticket.id)
                           .order_by(InboundMessage.id).limit(1))
    address = reporter.address.lower() if reporter is not None else None
    files = [f for f in stored_files(session, ticket.id) if f.inbound_id == first or f.sender.lower() == address]
    return _load(session, files, budget)


def _load(session: Session, files: Iterable[StoredFile], budget: int) -> Forwarding:
    attached, left_out = choose(files, budget)
    contents = tuple(OutgoingFile(f.filename, f.content_type, file_content(session, f.sha256)) for f in attached)
    return Forwarding(tuple(attached), tuple(left_out), contents, budget)
