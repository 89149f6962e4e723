"""Keeping a message's attachments with its ticket, within the per-attachment limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from maild.mail.mime import Attachment
from maild.store.models import Ticket
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
