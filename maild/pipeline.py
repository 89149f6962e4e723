"""Stage 2: inbound rows to tickets, events and queued mail. One message, top to bottom.

Each message is processed in its own savepoint inside a batch transaction: all of its
effects (ticket, event, outbox rows, ledger entry) commit together or not at all. A message
that fails is retried; after ``max_attempts`` failures it is marked dead (quarantined) with
the reason, and the daemon goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from maild import screen as screening
from maild import threads
from maild.clock import Clock
from maild.db import transaction
from maild.models import InboundMessage, Ticket
from maild.outbox import Identity, Outgoing, enqueue, usable_address
from maild.parse import ParsedMail, parse
from maild.render import Renderer, local_time
from maild.store import (
    add_ticket_party,
    automatic_mails_since,
    next_number,
    note_event,
    party,
    record_event,
    store_attachments,
    ticket_by_number,
    ticket_by_references,
    ticket_ref,
)
from maild.tokens import clean_subject, find_number, format_token
from maild.workflow import advance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline needs from the configuration."""

    identity: Identity
    tag: str
    language: str
    timezone: str
    reopen_window: timedelta
    staff: frozenset[str]
    own_addresses: frozenset[str]
    auto_limit_per_hour: int
    max_attempts: int


@dataclass(frozen=True)
class AckView:
    """What the acknowledgement template sees."""

    number: str
    token: str
    subject: str
    reporter_name: str
    reporter_address: str
    helpdesk_name: str
    helpdesk_address: str
    received_at: str


@dataclass(frozen=True)
class Outcome:
    """What became of one message: the ledger's disposition, the ticket and why."""

    disposition: str
    ticket_id: int | None
    reason: str


class Pipeline:
    """Turns stored inbound messages into tickets and replies."""

    def __init__(
        self, factory: sessionmaker[Session], renderer: Renderer, settings: PipelineSettings, clock: Clock
    ) -> None:
        self.factory = factory
        self.renderer = renderer
        self.settings = settings
        self.clock = clock

    def run_once(self, limit: int = 200, stopping: Callable[[], bool] = lambda: False) -> int:
        """Process up to ``limit`` waiting messages; return how many were handled."""
        with transaction(self.factory) as session:
            ids = session.scalars(
                select(InboundMessage.id).where(InboundMessage.state == "new").order_by(InboundMessage.id).limit(limit)
            ).all()
            done = 0
            for inbound_id in ids:
                if stopping():
                    break
                self._one(session, inbound_id)
                done += 1
        return done

    def _one(self, session: Session, inbound_id: int) -> None:
        now = self.clock()
        savepoint = session.begin_nested()
        try:
            # Claim the row: with two daemons on one PostgreSQL database the second blocks
            # here until the first commits, then finds nothing to claim.
            claimed = session.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id, InboundMessage.state == "new")
                .values(state="done", processed_at=now)
                .returning(InboundMessage.id)
            ).first()
            if not claimed:
                savepoint.rollback()
                return
            row = session.get(InboundMessage, inbound_id)
            assert row is not None
            outcome = self.process(session, row, now)
            row.disposition, row.ticket_id, row.reason = outcome.disposition, outcome.ticket_id, outcome.reason
            savepoint.commit()
        except Exception as exc:  # noqa: BLE001 - any failure of one message must not stop the others
            savepoint.rollback()
            self._failed(session, inbound_id, exc)

    def _failed(self, session: Session, inbound_id: int, exc: Exception) -> None:
        row = session.get(InboundMessage, inbound_id)
        if row is None:
            return
        session.refresh(row)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= self.settings.max_attempts:
            row.state, row.disposition = "dead", "quarantined"
            row.reason = f"failed {row.attempts} times: {row.last_error}"
        log.error(
            "message %s (Message-ID %s) failed, attempt %s/%s: %s",
            row.id, row.message_id, row.attempts, self.settings.max_attempts, row.last_error,
            exc_info=exc,
        )

    # -- one message --------------------------------------------------------------------
    def process(self, session: Session, row: InboundMessage, now: datetime) -> Outcome:
        """Decide and record everything one message causes. Runs inside the caller's transaction."""
        s = self.settings
        mail = parse(row.raw)
        sender = mail.sender.address if mail.sender else ""
        row.sender, row.subject = sender[:320], mail.subject[:2000]
        verdict = screening.screen(mail, s.own_addresses, s.identity.mid_domain)
        if verdict.kind == screening.OWN_LOOP:
            return Outcome("own_loop", None, verdict.reason)

        decision = threads.decide(sender, self._candidates(session, mail), s.staff, now, s.reopen_window)
        target = session.get(Ticket, decision.ticket.id) if decision.ticket else None

        if verdict.kind == screening.BOUNCE:
            if target is not None:
                note_event(session, target, "bounce_received", sender or "mailer-daemon", row.key, now,
                           {"reason": verdict.reason, "subject": mail.subject})
            store_attachments(session, row.id, target.id if target else None, mail.attachments)
            return Outcome("bounce", target.id if target else None, verdict.reason)

        if not verdict.may_answer and (target is None or decision.action == threads.NEW_LINKED):
            # Not a report from a person and not about a ticket of ours: ledger only.
            return Outcome(verdict.kind, None, f"{verdict.reason}; not a report: recorded, no ticket")

        if target is not None and decision.action in (threads.FOLLOW_UP, threads.REOPEN):
            return self._follow_up(session, row, mail, target, decision, verdict, now)
        return self._new_ticket(session, row, mail, decision, verdict, now)

    def _candidates(self, session: Session, mail: ParsedMail) -> threads.Candidates:
        refs = [*mail.in_reply_to, *reversed(mail.references)]
        found = ticket_by_references(session, refs)
        by_ref, ref = (ticket_ref(session, found[0]), found[1]) if found else (None, "")
        number = find_number(mail.subject, self.settings.tag)
        by_token = None
        if number:
            ticket = ticket_by_number(session, number)
            by_token = ticket_ref(session, ticket) if ticket else None
        return threads.Candidates(by_ref, ref, by_token, number)

    def _follow_up(
        self,
        session: Session,
        row: InboundMessage,
        mail: ParsedMail,
        ticket: Ticket,
        decision: threads.ThreadDecision,
        verdict: screening.Screening,
        now: datetime,
    ) -> Outcome:
        sender = row.sender
        detail = {"thread": decision.reason, "subject": mail.subject, "inbound": row.id}
        store_attachments(session, row.id, ticket.id, mail.attachments)
        if not verdict.may_answer:
            # An out-of-office answer to our mail: keep it on the ticket, never reopen for it.
            note_event(session, ticket, "auto_reply_received", sender, row.key, now, {**detail, "why": verdict.reason})
            return Outcome(verdict.kind, ticket.id, f"{decision.reason}; {verdict.reason}")
        if decision.action == threads.REOPEN:
            record_event(session, ticket, advance(ticket.state, "reopened"), sender, row.key, now, detail)
            return Outcome("reopen", ticket.id, decision.reason)
        event = "note_added" if sender in self.settings.staff else "reporter_replied"
        record_event(session, ticket, advance(ticket.state, event), sender, row.key, now, detail)
        return Outcome("follow_up", ticket.id, decision.reason)

    def _new_ticket(
        self,
        session: Session,
        row: InboundMessage,
        mail: ParsedMail,
        decision: threads.ThreadDecision,
        verdict: screening.Screening,
        now: datetime,
    ) -> Outcome:
        s = self.settings
        sender = row.sender
        tz = ZoneInfo(s.timezone)
        reporter = party(session, sender, now, mail.sender.name if mail.sender else "") if sender else None
        subject = clean_subject(mail.subject, s.tag)
        ticket = Ticket(
            number=next_number(session, now.astimezone(tz).year),
            subject=subject,
            state="new",
            channel="email",
            language=s.language,
            reporter_id=reporter.id if reporter else None,
            linked_ticket_id=decision.ticket.id if decision.ticket else None,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        if reporter is not None:
            add_ticket_party(session, ticket.id, reporter.id, "reporter")
        for addr in (*mail.to, *mail.cc):
            if addr.address not in s.own_addresses and addr.address != sender:
                add_ticket_party(session, ticket.id, party(session, addr.address, now, addr.name).id, "cc")
        store_attachments(session, row.id, ticket.id, mail.attachments)
        transition = advance(None, "report_received")
        detail = {"thread": decision.reason, "subject": mail.subject, "inbound": row.id}
        record_event(session, ticket, transition, sender or "(unknown sender)", row.key, now, detail)
        self._acknowledge(session, row, mail, ticket, verdict, now)
        disposition = "new_linked" if decision.action == threads.NEW_LINKED else "new_ticket"
        return Outcome(disposition, ticket.id, decision.reason)

    def _acknowledge(
        self,
        session: Session,
        row: InboundMessage,
        mail: ParsedMail,
        ticket: Ticket,
        verdict: screening.Screening,
        now: datetime,
    ) -> None:
        s = self.settings
        sender = row.sender
        why_not = self._why_not_answer(session, sender, verdict, now)
        if why_not:
            note_event(session, ticket, "ack_suppressed", "maild", row.key, now, {"why": why_not})
            return
        view = AckView(
            number=ticket.number,
            token=format_token(s.tag, ticket.number),
            subject=ticket.subject,
            reporter_name=mail.sender.name if mail.sender else "",
            reporter_address=sender,
            helpdesk_name=s.identity.name,
            helpdesk_address=s.identity.address,
            received_at=local_time(now, s.timezone, s.language),
        )
        rendered = self.renderer.render("ack", s.language, view)
        enqueue(
            session,
            s.identity,
            Outgoing(
                cause=row.key,
                template="ack",
                recipient=sender,
                recipient_name=view.reporter_name,
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                rendered=rendered,
                language=s.language,
                automatic=True,
                in_reply_to=mail.message_id,
                references=mail.references,
            ),
            now,
        )

    def _why_not_answer(self, session: Session, sender: str, verdict: screening.Screening, now: datetime) -> str:
        if not sender:
            return "no sender address"
        if not usable_address(sender):
            return f"sender address {sender!r} cannot be written to"
        if not verdict.may_answer:
            return verdict.reason
        sent = automatic_mails_since(session, sender, now - timedelta(hours=1))
        if sent >= self.settings.auto_limit_per_hour:
            return f"rate limit: {sent} automatic mails to {sender} in the last hour"
        return ""
