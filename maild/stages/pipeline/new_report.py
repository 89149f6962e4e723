"""A message that starts a ticket: shaped into a report and handed to the one way tickets open."""

from __future__ import annotations

from maild.mail.tokens import clean_subject
from maild.service.intake import Report, open_ticket
from maild.sop import threads
from maild.sop.vocabulary import Channel
from maild.stages.pipeline.context import Message, Outcome, Services


def handle(services: Services, msg: Message, decision: threads.ThreadDecision) -> Outcome:
    """Open the ticket the message reports (linked to an older one when it is about one)."""
    mail, row = msg.facts.mail, msg.row
    report = Report(
        subject=clean_subject(mail.subject, services.settings.tag), text=mail.text, channel=Channel.EMAIL,
        mail=mail, cause=row.key, inbound_id=row.id,
        linked_ticket_id=decision.ticket.id if decision.ticket else None,
        may_answer=msg.facts.screening.may_answer, not_answer_reason=msg.facts.screening.reason, quiet=msg.quiet,
        detail={"thread": decision.reason, "inbound": row.id},
    )
    opened = open_ticket(msg.session, services.mailer, services.ruleset, services.settings.intake, report, msg.now)
    if opened.ticket is None:
        return Outcome("spam", None, f"quarantined by rule: {'; '.join(opened.hits)}")
    disposition = "new_linked" if decision.action == threads.NEW_LINKED else "new_ticket"
    return Outcome(disposition, opened.ticket.id, decision.reason)
