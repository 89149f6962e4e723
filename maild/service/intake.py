"""Opening a ticket: the one way a report becomes a ticket, whatever brought it.

Mail (the pipeline), a phone or walk-in report (``maild tickets new``) and an old mailbox
(``maild import``) all come here, so the same report is classified by the same rules, gets the
same assignee and escalation, and is acknowledged under the same policy (the rule's
``acknowledge``, the bounce hold-off and the hourly limit) whichever way it arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from maild.mail.bounds import SUBJECT_CHARS, clean_line
from maild.mail.parse import Address, ParsedMail
from maild.render.renderer import local_time
from maild.service import actions
from maild.service.actions import SYSTEM_ACTOR, Act, Roles, attempt
from maild.service.attachments import keep_attachments
from maild.service.auto_mail import why_not_write
from maild.service.mailer import Mailer
from maild.sop import rules, sla
from maild.sop.vocabulary import Channel, State
from maild.sop.workcal import WorkCalendar
from maild.sop.workflow import advance
from maild.store.models import Ticket
from maild.store.queries import add_ticket_party, get_or_create_party, next_number, note_event, party, record_event


@dataclass(frozen=True)
class IntakeSettings:
    """What opening a ticket needs from the configuration."""

    roles: Roles
    timezone: str
    calendar: WorkCalendar  # the configured one: a rule's working_hours follows [calendar]
    own_addresses: frozenset[str]
    auto_limit_per_hour: int
    max_attachment_bytes: int = 10 * 1024 * 1024
    policy: sla.Policy | None = None  # the SLA targets: the staff's notice says when to respond by


@dataclass(frozen=True)
class Report:
    """A report as it reached the helpdesk, whatever the channel."""

    subject: str
    text: str
    channel: Channel
    mail: ParsedMail  # what the rules read (for a phone report, one made from its fields)
    cause: str  # the idempotency key of what caused it
    taken_by: str = SYSTEM_ACTOR  # who recorded it: maild for mail, the staff member for a phone call
    contact: str = ""
    organisation: str = ""
    reporter_name: str = ""  # kept on the ticket when there is no address (a phone report)
    inbound_id: int | None = None
    linked_ticket_id: int | None = None
    may_answer: bool = True  # False for machines (auto-replies, lists): never acknowledged
    not_answer_reason: str = ""
    quiet: bool = False  # imported from an old mailbox: record everything, mail nothing
    detail: Mapping[str, Any] = field(default_factory=dict)  # channel facts for the event

    @property
    def reporter(self) -> Address | None:
        return self.mail.sender if self.mail.sender and self.mail.sender.address else None


@dataclass(frozen=True)
class Opened:
    """What came of a report: the ticket (None when the rules quarantined it) and why."""

    ticket: Ticket | None
    hits: tuple[str, ...]
    acknowledged: bool
    why_not_acknowledged: str = ""

    @property
    def quarantined(self) -> bool:
        return self.ticket is None


def report_by_hand(
    subject: str, text: str, channel: Channel, reporter_name: str, reporter_address: str, cause: str, taken_by: str,
    now: datetime, contact: str = "", organisation: str = "",
) -> Report:
    """A report that did not come by mail, shaped so the rules read it as they read mail."""
    sender = Address(reporter_address, reporter_name) if reporter_address else None
    mail = ParsedMail(message_id=None, in_reply_to=(), references=(), sender=sender, to=(), cc=(), reply_to=(),
                      return_path=None, subject=subject, date=now, text=text, html=None, attachments=(), headers=(),
                      content_type="text/plain", size=len(text.encode()))
    detail = {"channel": str(channel), "reporter": reporter_name, "contact": contact, "organisation": organisation,
              "taken_by": taken_by}
    return Report(subject, text, channel, mail, cause, taken_by, contact, organisation, reporter_name, detail=detail)


def open_ticket(
    session: Session, mailer: Mailer, ruleset: rules.RuleSet, settings: IntakeSettings, report: Report, now: datetime,
) -> Opened:
    """Classify, record, acknowledge and announce one report, in the caller's transaction."""
    context = rules.RuleContext(received_at=now, in_working_hours=settings.calendar.in_working_hours(now))
    verdict = rules.classify(report.mail, ruleset, context)
    # Worded once, in the helpdesk's language: the event keeps them as the team reads them.
    hits = tuple(h.worded(mailer.settings.language) for h in verdict.hits)
    if verdict.quarantine:
        return Opened(None, hits, False, "quarantined by rule")
    ticket, new_reporter = _record(session, mailer, settings, report, verdict, hits, now)
    # What the rules do (assign, escalate) is maild's doing, not the doing of whoever typed the report.
    act = Act(session, mailer, settings.roles, ticket, SYSTEM_ACTOR, report.cause, now,
              in_reply_to=report.mail.message_id,
              references=(report.mail.message_id,) if report.mail.message_id else (), quiet=report.quiet,
              inbound_id=report.inbound_id, message_has_files=bool(report.mail.attachments))
    if verdict.assignee and verdict.assignee in settings.roles.staff:
        actions.assign(act, verdict.assignee)
    why_not = _why_not_acknowledge(act, settings, report, verdict, new_reporter)
    if why_not:
        note_event(session, ticket, "ack_suppressed", SYSTEM_ACTOR, report.cause, now, {"why": why_not})
    else:
        reporter = report.reporter
        assert reporter is not None  # _why_not_acknowledge says why when there is none
        act.mail(verdict.ack_template or "ack", reporter.address, act.view(reporter.name, extra={
            "received_at": local_time(now, settings.timezone, mailer.settings.language)}), automatic=True)
    team = [(address, name) for address, name in act.team() if address != report.taken_by]
    files = act.message_files() if team else None
    respond_by = _respond_by(settings, ticket, mailer.settings.language) if team else {}
    for address, name in team:
        act.mail("new_ticket", address, act.view(name, report.text[:6000], extra=respond_by), files=files)
    if verdict.escalate and verdict.group:
        attempt(act, [], "rule", lambda: actions.escalate(act, verdict.group or "", "; ".join(hits)))
    return Opened(ticket, hits, not why_not, why_not)


def _respond_by(settings: IntakeSettings, ticket: Ticket, language: str) -> dict[str, str]:
    """``{"respond_by": local time}``: when the response target of a new ticket falls due, in
    working time as the SLA timers measure it (nothing is paused yet); empty without targets."""
    if settings.policy is None:
        return {}
    target = settings.policy.target(ticket.type, ticket.priority).response
    due = sla.due(settings.calendar, ticket.created_at, target, ())
    return {"respond_by": local_time(due, settings.timezone, language)}


def _record(
    session: Session, mailer: Mailer, settings: IntakeSettings, report: Report, verdict: rules.Verdict,
    hits: Sequence[str], now: datetime,
) -> tuple[Ticket, bool]:
    """The ticket, its people, attachments and its first event."""
    reporter, new_reporter = (get_or_create_party(session, report.reporter.address, now, report.reporter.name)
                              if report.reporter else (None, False))
    ticket = Ticket(
        mailbox=mailer.settings.identity.mailbox,
        number=next_number(session, now.astimezone(ZoneInfo(settings.timezone)).year, mailer.settings.identity.mailbox),
        subject=clean_line(report.subject, SUBJECT_CHARS), state=State.NEW, type=verdict.type, category=verdict.category,
        priority=verdict.priority, channel=Channel.IMPORT if report.quiet else report.channel,
        language=mailer.settings.language, reporter_id=reporter.id if reporter else None,
        contact=report.contact or None,
        reporter_name=None if reporter is not None else (report.reporter_name[:200] or None),
        linked_ticket_id=report.linked_ticket_id, created_at=now, updated_at=now,
    )
    session.add(ticket)
    session.flush()
    if reporter is not None:
        add_ticket_party(session, ticket.id, reporter.id, "reporter")
    sender = reporter.address if reporter else ""
    for addr in (*report.mail.to, *report.mail.cc):
        if addr.address not in settings.own_addresses and addr.address != sender:
            add_ticket_party(session, ticket.id, party(session, addr.address, now, addr.name).id, "cc")
    keep_attachments(session, report.inbound_id, ticket, report.mail.attachments, settings.max_attachment_bytes,
                     sender, report.cause, now)
    detail = {**report.detail, "subject": clean_line(report.mail.subject, SUBJECT_CHARS), "rules": list(hits), "text": report.text[:4000]}
    record_event(session, ticket, advance(None, "report_received"), report.taken_by if report.taken_by != SYSTEM_ACTOR
                 else (sender or "(unknown sender)"), report.cause, now, detail)
    return ticket, new_reporter


def _why_not_acknowledge(
    act: Act, settings: IntakeSettings, report: Report, verdict: rules.Verdict, new_reporter: bool
) -> str:
    if report.reporter is None:
        return "no address to write to" if report.channel != Channel.EMAIL else "no sender address"
    if not report.may_answer:
        return report.not_answer_reason or "not a person: never answered"
    why_not = why_not_write(act.session, report.reporter.address, act.now, settings.auto_limit_per_hour,
                            new_reporter, act.reporter())
    if report.quiet:
        why_not = "imported from an old mailbox: nothing is mailed"
    if not why_not and verdict.acknowledge is False:
        why_not = "acknowledgement switched off by rule"
    return why_not
