"""Keeping a message's attachments with its ticket, within the per-attachment limit, and
reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.mail.mime import Attachment
from maild.store.models import AttachmentRow, Blob, InboundMessage, Ticket
from maild.store.queries import note_event, store_attachments


def keep_attachments(
    session: Session, inbound_id: int | None, ticket: Ticket | None, attachments: Sequence[Attachment],
    limit: int, actor: str, cause: str, now: datetime,
) -> None:
    """Store the attachments; one over ``limit`` bytes stays only inside the raw message (kept
    whole in the ledger) and the ticket says so. A report without a message (by phone) has
    none."""
    if inbound_id is None:
        return
    store_attachments(session, inbound_id, ticket.id if ticket else None, [a for a in attachments if a.size <= limit])
    for att in (a for a in attachments if a.size > limit):
        if ticket is not None:
            note_event(session, ticket, "attachment_too_large", actor or "-", f"{cause}:{att.sha256}", now,
                       {"filename": att.filename, "size": att.size, "limit": limit, "inbound": inbound_id})


@dataclass(frozen=True)
class StoredFile:
    """An attachment kept with a ticket: what it is, and which message brought it."""

    id: int
    inbound_id: int
    sender: str
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool


def stored_files(session: Session, ticket_id: int, inbound_id: int | None = None) -> tuple[StoredFile, ...]:
    """The ticket's attachments in the order they arrived (only those of message ``inbound_id``
    when given); their content stays in the database until ``file_content`` reads it."""
    q = (select(AttachmentRow, InboundMessage.sender)
         .join(InboundMessage, InboundMessage.id == AttachmentRow.inbound_id)
         .where(AttachmentRow.ticket_id == ticket_id))
    if inbound_id is not None:
        q = q.where(AttachmentRow.inbound_id == inbound_id)
    return tuple(StoredFile(a.id, a.inbound_id, sender, a.filename, a.content_type, a.size, a.sha256, a.inline)
                 for a, sender in session.execute(q.order_by(AttachmentRow.id)))


def files_of(session: Session, ticket_ids: Sequence[int]) -> dict[int, tuple[StoredFile, ...]]:
    """``stored_files`` of each of ``ticket_ids`` (a ticket without files is left out), in one query."""
    out: dict[int, list[StoredFile]] = {}
    for a, sender in session.execute(
            select(AttachmentRow, InboundMessage.sender).join(InboundMessage, InboundMessage.id == AttachmentRow.inbound_id)
            .where(AttachmentRow.ticket_id.in_(list(ticket_ids))).order_by(AttachmentRow.id)):
        out.setdefault(a.ticket_id, []).append(
            StoredFile(a.id, a.inbound_id, sender, a.filename, a.content_type, a.size, a.sha256, a.inline))
    return {tid: tuple(files) for tid, files in out.items()}


def file_content(session: Session, sha256: str) -> bytes:
    """An attachment's bytes (stored once per distinct content)."""
    blob = session.get(Blob, sha256)
    return blob.content if blob is not None else b""
