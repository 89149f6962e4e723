"""A delivery failure: never a ticket, never answered. Recorded on the ticket whose mail
bounced, the failing address marked (no automatic mail to it for a while), the team told."""

from __future__ import annotations

from maild.service.actions import SYSTEM_ACTOR, Act
from maild.service.attachments import keep_attachments
from maild.stages.pipeline.context import Message, Outcome, Services
from maild.store.models import Ticket
from maild.store.queries import note_event, party, ticket_by_references


def handle(services: Services, msg: Message, target: Ticket | None) -> Outcome:
    """Record the bounce (``target``: the ticket the thread points at, if any)."""
    session, row, now, bounce = msg.session, msg.row, msg.now, msg.facts.bounce
    if bounce is not None and bounce.original_message_id:
        found = ticket_by_references(session, [bounce.original_message_id])
        target = found[0] if found else target
    actor = row.sender or "mailer-daemon"
    keep_attachments(session, row.id, target, msg.facts.mail.attachments,
                     services.settings.intake.max_attachment_bytes, row.sender, row.key, now)
    if bounce is None:
        why = msg.facts.screening.reason
        if target is not None:
            note_event(session, target, "bounce_received", actor, row.key, now,
                       {"reason": why, "subject": msg.facts.mail.subject})
        return Outcome("bounce", target.id if target else None, why)
    if bounce.permanent:
        for address in bounce.recipients:
            failing = party(session, address, now)
            failing.failing_since = failing.failing_since or now
    summary = f"{'failed' if bounce.permanent else 'delayed'}: {', '.join(bounce.recipients) or '?'}" \
              f" {bounce.status} ({bounce.how})"
    if target is not None:
        detail = {"recipients": list(bounce.recipients), "status": bounce.status, "permanent": bounce.permanent,
                  "diagnostic": bounce.diagnostic[:500], "how": bounce.how}
        note_event(session, target, "bounce_received", actor, row.key, now, detail)
        if bounce.permanent:
            act = Act(session, services.mailer, services.settings.intake.roles, target, SYSTEM_ACTOR, row.key, now,
                      quiet=msg.quiet)
            for address, name in act.team():
                act.mail("bounce_notice", address, act.view(name, bounce.diagnostic[:1000], extra={
                    "recipients": ", ".join(bounce.recipients), "status": bounce.status}))
    return Outcome("bounce", target.id if target else None, summary)
