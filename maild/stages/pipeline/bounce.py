"""A delivery failure: never a ticket, never answered. Recorded on the ticket whose mail
bounced, the failing address marked (no automatic mail to it for a while), the team told.

Anyone can write a delivery report naming any address, so an address is marked failing only
when the report returns a mail we sent to that very address: its original Message-ID is one
we minted whose HMAC verifies for the address, or the outbox row with that Message-ID went to
it. The other addresses are recorded on the ticket (if any) as an unverified bounce: not
marked, the team not told.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.mail.bounces.report import Bounce
from maild.mail.tokens import read_minted_id, verify_minted_id
from maild.service.actions import SYSTEM_ACTOR, Act
from maild.service.attachments import keep_attachments
from maild.stages.pipeline.context import Message, Outcome, PipelineSettings, Services
from maild.store.models import OutgoingMail, Ticket
from maild.store.queries import note_event, party, ticket_by_references


def handle(services: Services, msg: Message, target: Ticket | None) -> Outcome:
    """Record the bounce (``target``: the ticket the thread points at, if any)."""
    session, row, now, bounce = msg.session, msg.row, msg.now, msg.facts.bounce
    if bounce is not None and bounce.original_message_id:
        found = ticket_by_references(session, [bounce.original_message_id])
        target = found[0] if found else target
    actor = msg.facts.sender or "mailer-daemon"
    keep_attachments(session, row.id, target, msg.facts.mail.attachments,
                     services.settings.intake.max_attachment_bytes, msg.facts.sender, row.key, now)
    if bounce is None:
        why = msg.facts.screening.reason
        if target is not None:
            note_event(session, target, "bounce_received", actor, row.key, now,
                       {"reason": why, "subject": msg.facts.mail.subject})
        return Outcome("bounce", target.id if target else None, why)
    ours = ours_to(session, services.settings, bounce)
    unverified = [a for a in bounce.recipients if a not in ours]
    if bounce.permanent:
        for address in ours:
            failing = party(session, address, now)
            failing.failing_since = failing.failing_since or now
    summary = f"{'failed' if bounce.permanent else 'delayed'}: {', '.join(ours) or '-'} {bounce.status} ({bounce.how})"
    if unverified:
        summary += f"; not a mail we sent them, not marked: {', '.join(unverified)}"
    if target is not None:
        detail = {"recipients": ours, "status": bounce.status, "permanent": bounce.permanent,
                  "diagnostic": bounce.diagnostic[:500], "how": bounce.how}
        if unverified:
            note_event(session, target, "bounce_unverified", actor, row.key, now, {
                **detail, "recipients": unverified, "original_message_id": (bounce.original_message_id or "")[:300]})
        if ours:
            note_event(session, target, "bounce_received", actor, row.key, now, detail)
        if bounce.permanent and ours:
            act = Act(session, services.mailer, services.settings.intake.roles, target, SYSTEM_ACTOR, row.key, now,
                      quiet=msg.quiet)
            for address, name in act.team():
                act.mail("bounce_notice", address, act.view(name, bounce.diagnostic[:1000], extra={
                    "recipients": ", ".join(ours), "status": bounce.status}))
    return Outcome("bounce", target.id if target else None, summary)


def ours_to(session: Session, settings: PipelineSettings, bounce: Bounce) -> list[str]:
    """The reported addresses that the returned mail was ours, sent to them: by the HMAC of the
    Message-ID we minted for that recipient, or by the outbox row with that Message-ID."""
    mid = bounce.original_message_id
    if not mid or not bounce.recipients:
        return []
    minted = read_minted_id(mid, settings.mid_domain)
    sent_to = {r.lower() for r in session.scalars(select(OutgoingMail.recipient).where(OutgoingMail.message_id == mid))}
    return [a for a in bounce.recipients
            if a.lower() in sent_to or minted is not None and verify_minted_id(settings.hmac_key, minted, a)]
