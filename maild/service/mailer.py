"""Composing the SOP's mails for a ticket and queueing them in the outbox.

Builds the template views from the ticket's rows (so templates never see ORM objects) and
queues each mail with the idempotency key ``{cause}/{kind}/{recipient}`` in the caller's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maild.store.models import Event, InboundMessage, OutgoingMail, Party, Ticket
from maild.mail.parse import parse
from maild.store.outbox import Identity, Outgoing, OutgoingFile, enqueue, usable_address
from maild.render.answers import Answers
from maild.render.renderer import Renderer, human_size, local_time
from maild.mail.tokens import format_token
from maild.render.views import EarlierTicket, FileLine, FilesView, HistoryItem, MailView, TicketView
from maild.service.forwarding import Forwarding
from maild.sop.phrases import ago, duration, event_name
from maild.sop.vocabulary import label

_HISTORY_EVENTS = {
    "report_received", "reporter_replied", "staff_answered", "note_added", "escalated", "group_replied",
    "reported_to_coordinator", "recommended", "resolved", "reopened", "assigned", "classified",
}


@dataclass(frozen=True)
class MailerSettings:
    identity: Identity
    language: str
    timezone: str
    tag: str
    reopen_window_days: int
    # The reporter's files a mail to the team carries, in bytes together ([attachments]).
    forward_max_bytes: int = 10 * 1024 * 1024
    # [survey] mode: what the closing mail asks the reporter ("full", "overall" or "off").
    survey_mode: str = "off"


class Mailer:
    """Renders and queues mail about tickets; ``answers`` are the stored answers ``#jawab``
    sends (None: there are none)."""

    def __init__(self, renderer: Renderer, settings: MailerSettings, answers: Answers | None = None) -> None:
        self.renderer = renderer
        self.settings = settings
        self.answers = answers

    def answer_names(self) -> tuple[str, ...]:
        """The stored answers ``#jawab`` knows (for the help block and its refusals)."""
        return self.answers.names() if self.answers is not None else ()

    def ticket_view(self, session: Session, ticket: Ticket, now: datetime) -> TicketView:
        s = self.settings
        lang = s.language
        reporter = session.get(Party, ticket.reporter_id) if ticket.reporter_id else None
        assignee = session.get(Party, ticket.assignee_id) if ticket.assignee_id else None

        return TicketView(
            number=ticket.number,
            token=format_token(s.tag, ticket.number),
            subject=ticket.subject,
            state=label(ticket.state, lang),
            type=label(ticket.type, lang),
            category=ticket.category or "-",
            priority=label(ticket.priority, lang),
            reporter_name=(reporter.name or reporter.address) if reporter else (ticket.reporter_name or "-"),
            reporter_address=reporter.address if reporter else "",
            reporter_contact=ticket.contact or "",
            created_at=local_time(ticket.created_at, s.timezone, lang),
            age=duration(now - ticket.created_at, lang),
            ago=ago(now - ticket.created_at, lang),
            assignee=(assignee.name or assignee.address) if assignee else "-",
        )

    def _with_parts(self, session: Session, view: MailView, ticket: Ticket, parts: frozenset[str]) -> MailView:
        """The view with the ticket parts this mail's templates show, loaded now."""
        loaded: dict[str, object] = {}
        if parts:
            session.flush()  # what this message wrote so far belongs in the history
        if "report" in parts:
            loaded["report"] = self._report(session, ticket)
        if "rules" in parts:
            created = session.scalars(
                select(Event).where(Event.ticket_id == ticket.id, Event.event == "report_received").limit(1)
            ).first()
            loaded["rules"] = tuple(created.detail.get("rules", ())) if created else ()
        if "history" in parts:
            loaded["history"] = _not_repeated(self._history(session, ticket), "report" in parts, view.text)
        if "earlier" in parts and ticket.reporter_id is not None:
            loaded["earlier_count"], loaded["earlier"] = self._earlier(session, ticket)
        return replace(view, ticket=replace(view.ticket, **loaded)) if loaded else view

    def _earlier(self, session: Session, ticket: Ticket) -> tuple[int, tuple[EarlierTicket, ...]]:
        """How many other tickets the reporter has, and the newest three (by the reporter index)."""
        s = self.settings
        others = select(Ticket).where(Ticket.reporter_id == ticket.reporter_id, Ticket.id != ticket.id)
        count = session.scalar(select(func.count()).select_from(others.subquery())) or 0
        newest = session.scalars(others.order_by(Ticket.id.desc()).limit(3)).all() if count else []
        return count, tuple(EarlierTicket(t.number, t.subject, label(t.state, s.language),
                                          local_time(t.created_at, s.timezone, s.language)) for t in newest)

    @staticmethod
    def _report(session: Session, ticket: Ticket) -> str:
        """The report as the reporter wrote it (the text of the ticket's first message)."""
        first = session.scalars(
            select(InboundMessage).where(InboundMessage.ticket_id == ticket.id).order_by(InboundMessage.id).limit(1)
        ).first()
        return parse(first.raw).text.strip()[:6000] if first is not None else ""

    def _history(self, session: Session, ticket: Ticket) -> tuple[HistoryItem, ...]:
        s = self.settings
        items = []
        for e in session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)):
            if e.event in _HISTORY_EVENTS:
                items.append(HistoryItem(local_time(e.created_at, s.timezone, s.language), e.actor,
                                         event_name(e.event, s.language),
                                         str(e.detail.get("text", ""))[:2000], e.event))
        return tuple(items)

    def queue(
        self,
        session: Session,
        kind: str,
        ticket: Ticket,
        recipient: str,
        view: MailView,
        cause: str,
        now: datetime,
        automatic: bool = False,
        in_reply_to: str | None = None,
        references: tuple[str, ...] | None = None,
        attachments: Forwarding | None = None,
    ) -> bool:
        """Render ``kind`` for ``recipient`` and queue it; False if it was queued already or
        the address cannot be written to. ``attachments``: the reporter's files the mail carries
        (and lists), and those it lists as left out."""
        if not usable_address(recipient):
            return False
        if attachments:
            view = replace(view, files=self._files_view(ticket, attachments))
        parts = self.renderer.parts_used(kind, self.settings.language)
        rendered = self.renderer.render(kind, self.settings.language, self._with_parts(session, view, ticket, parts))
        refs = self.references(session, ticket) if references is None else references
        return enqueue(
            session,
            self.settings.identity,
            Outgoing(
                cause=cause,
                template=kind,
                recipient=recipient,
                recipient_name=view.recipient_name,
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                rendered=rendered,
                language=self.settings.language,
                automatic=automatic,
                in_reply_to=in_reply_to or (refs[-1] if refs else None),
                references=refs,
                attachments=attachments.files if attachments else (),
            ),
            now,
        )

    def _files_view(self, ticket: Ticket, forwarding: Forwarding) -> FilesView:
        lang = self.settings.language
        left_ids = " ".join(f"--id {f.id}" for f in forwarding.left_out)
        return FilesView(
            attached=tuple(FileLine(f.filename, human_size(f.size, lang), f.id) for f in forwarding.attached),
            left_out=tuple(FileLine(f.filename, human_size(f.size, lang), f.id) for f in forwarding.left_out),
            budget=human_size(forwarding.budget, lang),
            save_command=f"maild attachments save {ticket.number} {left_ids}".strip(),
        )

    def queue_notice(
        self, session: Session, kind: str, recipient: str, recipient_name: str, view: Any, cause: str, topic: str,
        now: datetime, in_reply_to: str | None = None, automatic: bool = True,
        images: tuple[tuple[str, bytes], ...] = (), attachments: tuple[OutgoingFile, ...] = (),
    ) -> bool:
        """Render and queue a mail that is about no ticket (the size-limit notice, the digest,
        the monthly report with its CSV as ``attachments``); ``topic`` stands in for the ticket
        number in its Message-ID. False if queued already."""
        if not usable_address(recipient):
            return False
        rendered = self.renderer.render(kind, self.settings.language, view)
        return enqueue(session, self.settings.identity, Outgoing(
            cause=cause, template=kind, recipient=recipient, recipient_name=recipient_name, ticket_id=None,
            ticket_number=topic, rendered=rendered, language=self.settings.language, automatic=automatic,
            in_reply_to=in_reply_to, images=images, attachments=attachments,
        ), now)

    def references(self, session: Session, ticket: Ticket) -> tuple[str, ...]:
        """The ticket's first message, so every mail about it threads together in mail clients."""
        first = session.scalar(
            select(InboundMessage.message_id).where(InboundMessage.ticket_id == ticket.id,
                                                    InboundMessage.message_id.is_not(None))
            .order_by(InboundMessage.id).limit(1)
        )
        return (first,) if first else ()

    def sent_to(self, session: Session, ticket: Ticket) -> set[str]:
        return set(session.scalars(select(OutgoingMail.recipient).where(OutgoingMail.ticket_id == ticket.id)))

def _not_repeated(history: tuple[HistoryItem, ...], report_shown: bool, text: str) -> tuple[HistoryItem, ...]:
    """The history without the text a mail already shows in full: the report (when the mail
    cites it) and the note this mail carries (its newest event), each listed by date only."""
    items = list(history)
    if report_shown:
        items = [replace(h, text="") if h.event == "report_received" else h for h in items]
    if text.strip():
        for i in range(len(items) - 1, -1, -1):
            if items[i].text.strip() == text.strip():
                items[i] = replace(items[i], text="")
                break
    return tuple(items)
