"""A message over the size limit: kept (raw in the ledger, a copy in the quarantine folder), no
ticket, and the sender told the limit when an automatic mail may go to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from maild.mail.bounds import bounded
from maild.mail.parse import parse
from maild.mail.screen import screen
from maild.service.auto_mail import why_not_write
from maild.stages.pipeline.context import Outcome, Services
from maild.store.models import InboundMessage

_MB = 1024 * 1024


def handle(services: Services, session: Session, row: InboundMessage, now: datetime, quiet: bool) -> Outcome:
    """Only the header block is read: the body is what is too large to take (ingest stored
    only the header block; the whole message went to the quarantine folder)."""
    s = services.settings
    head = bounded(parse(row.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n\r\n"))
    sender = head.sender.address if head.sender else ""
    limit_mb = s.max_message_bytes / _MB
    reason = f"{row.size / _MB:.1f} MB is over the {limit_mb:.0f} MB limit: quarantined, no ticket"
    verdict = screen(head, s.intake.own_addresses, s.mid_domain)
    if quiet:
        why_not = "imported"
    elif sender and not verdict.may_answer:
        why_not = verdict.reason
    else:
        why_not = why_not_write(session, sender, now, s.intake.auto_limit_per_hour)
    if not why_not:
        ident = services.mailer.settings.identity
        services.mailer.queue_notice(session, "too_large", sender, "", {
            "recipient_name": head.sender.name if head.sender else "", "subject": head.subject,
            "size_mb": f"{row.size / _MB:.1f}", "limit_mb": f"{limit_mb:.0f}",
            "helpdesk_name": ident.name, "helpdesk_address": ident.address,
        }, row.key, "limit", now, in_reply_to=head.message_id)
    return Outcome("oversized", None, reason + (f"; sender not told: {why_not}" if why_not else "; sender told"),
                   sender=sender, subject=head.subject)
