"""What can be done to a ticket, with its events and its mail: one function per action.

Each returns a short code of what it did (``assigned:budi@...``, ``maild.sop.codes.Done``); a
refusal is ActionRefused with a ``Phrase`` (a code and its values). The confirmation template
words both in the mail's language (``maild.sop.phrases``).

The pipeline (staff commands by email) and the CLI call the same functions, so an action has
the same effects whichever way it was taken. Each function checks the SOP state machine,
changes the ticket, appends the event and queues the mail, all in the caller's transaction;
a move the SOP does not allow raises IllegalTransition, an impossible request ActionRefused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.base.errors import IllegalTransition, MaildError
from maild.base.suggest import closest
from maild.mail.tokens import format_ticket_name
from maild.render.answers import AnswerFailed, AnswerTicket, AnswerValues
from maild.render.views import MailView
from maild.service import forwarding
from maild.service.forwarding import Forwarding
from maild.service.mailer import Mailer
from maild.sop.codes import Done, Phrase, Refused, Why, done
from maild.sop.phrases import say
from maild.sop.vocabulary import Role, State, Status
from maild.sop.workflow import advance
from maild.store import queries as store
from maild.store.models import Party, Ticket, TicketParty


class ActionRefused(MaildError):
    """The action cannot be done as asked (unknown group, no coordinator configured, ...).

    ``why`` is told to the team in their language; the message (the CLI's) is in English."""

    def __init__(self, why: Phrase) -> None:
        super().__init__(say(why, "en"))
        self.why = why


log = logging.getLogger(__name__)

SYSTEM_ACTOR = "maild"  # who acts when nobody does: rules, timers, the pipeline itself

# Which held mail to the reporter wins when one message caused several (lower wins).
_WEIGHT = {"closing": 0, "escalated": 1, "answer": 2}


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    managers: tuple[str, ...]


@dataclass(frozen=True)
class Roles:
    """Who is who, and the categories the team files tickets under, from the configuration."""

    staff: dict[str, str] = field(default_factory=dict)  # address -> name
    coordinator: tuple[str, str] = ("", "")  # (address, name)
    groups: tuple[Group, ...] = ()
    assign_on_answer: bool = True  # the first staff member to answer takes the ticket
    # The categories ``#kategori`` accepts; empty: any short id (a setup without rules).
    categories: tuple[str, ...] = ()

    def group_names(self) -> tuple[str, ...]:
        """The groups ``#eskalasi`` can reach: those with a manager's address."""
        return tuple(g.name for g in self.groups if g.managers)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name.lower() == name.lower()), None)

    def role_of(self, address: str) -> Role:
        if address and address == self.coordinator[0]:
            return Role.COORDINATOR
        if address in self.staff:
            return Role.STAFF
        if any(address in g.managers for g in self.groups):
            return Role.MANAGER
        return Role.REPORTER

    def name_of(self, address: str) -> str:
        """How mail names a person: their configured name; a group manager (who has none in
        the config) by their group's title; else the address."""
        if address == self.coordinator[0]:
            return self.coordinator[1] or address
        if address in self.staff:
            return self.staff[address] or address
        group = next((g for g in self.groups if address in g.managers), None)
        return (group.title or group.name) if group is not None else address


@dataclass
class Act:
    """The context of one action: where, by whom, why, when."""

    session: Session
    mailer: Mailer
    roles: Roles
    ticket: Ticket
    actor: str
    cause: str
    now: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] | None = None  # the ticket's first Message-ID, looked up once
    quiet: bool = False  # importing old mail: record everything, mail nothing
    inbound_id: int | None = None  # the message that caused the action, if a message did
    # While a team message is handled, its mail to the reporter waits here, so that one staff
    # reply gives the reporter one mail (``send_held``), however many actions it took.
    held: list[tuple[str, str, MailView]] | None = None
    # Whether the message that caused the action carried files: when it did not, there are
    # none of its files to look up (one query less for most messages).
    message_has_files: bool = True

    def view(self, recipient_name: str = "", text: str = "", **kw: Any) -> MailView:
        ident = self.mailer.settings.identity
        return MailView(
            ticket=self.mailer.ticket_view(self.session, self.ticket, self.now),
            helpdesk_name=ident.name,
            helpdesk_address=ident.address,
            recipient_name=recipient_name,
            text=text,
            actor=self.roles.name_of(self.actor),
            reopen_days=self.mailer.settings.reopen_window_days,
            groups=self.roles.group_names(),
            categories=self.roles.categories,
            survey=self.mailer.settings.survey_mode,
            answers=self.mailer.answer_names(),
            **kw,
        )

    def event(self, name: str, detail: dict[str, Any]) -> None:
        store.record_event(self.session, self.ticket, advance(self.ticket.state, name), self.actor, self.cause,
                           self.now, detail)

    def mail(self, kind: str, recipient: str, view: MailView, automatic: bool = False,
             files: Forwarding | None = None) -> None:
        if self.quiet:
            return
        if self.held is not None and not automatic and self._is_reporter(recipient):
            self.held.append((kind, recipient, view))
            return
        self._queue(kind, recipient, view, automatic, files)

    def hold_reporter_mail(self) -> None:
        """From now on, keep mail to the reporter until ``send_held``."""
        self.held = []

    def send_held(self) -> None:
        """Queue one mail for what was held: the weightiest (the closing, then the escalation
        notice, then the answer), carrying the answer's text when there was one, each text once
        (a stored answer already holds the typed text a bare ``#selesai`` closes with)."""
        held, self.held = self.held or [], None
        if not held:
            return
        kinds = [kind for kind, _, _ in held]
        kind, recipient, view = held[min(range(len(held)), key=lambda i: _WEIGHT.get(kinds[i], 9))]
        answer = next((v.text for k, _, v in held if k == "answer"), "")
        if kind != "answer" and answer and answer not in view.text:
            text = answer if view.text and view.text in answer else "\n\n".join(t for t in (view.text, answer) if t)
            view = replace(view, text=text)
        self._queue(kind, recipient, view, False)

    def _is_reporter(self, address: str) -> bool:
        rep = self.reporter()
        return rep is not None and rep.address == address

    def _queue(self, kind: str, recipient: str, view: MailView, automatic: bool,
               files: Forwarding | None = None) -> None:
        if self.references is None:
            self.references = self.mailer.references(self.session, self.ticket)
        role = self.roles.role_of(recipient)
        if role != Role.REPORTER:
            # The help block tells each member of the team what their reply does.
            view = replace(view, reader_role=str(role))
        # The reporter never saw the team's own messages: mail to them answers the ticket's
        # thread (their report), not the staff member's reply that caused it.
        to_reporter_from_team = self._is_reporter(recipient) and not self._is_reporter(self.actor)
        self.mailer.queue(self.session, kind, self.ticket, recipient, view, self.cause, self.now,
                          automatic=automatic, in_reply_to=None if to_reporter_from_team else self.in_reply_to,
                          references=self.references, attachments=files)

    def message_files(self) -> Forwarding:
        """The files of the message that caused this action, to pass on to the team."""
        if self.quiet:
            return Forwarding()
        if not self.message_has_files:
            return Forwarding(budget=self.mailer.settings.forward_max_bytes)
        return forwarding.of_message(self.session, self.ticket, self.inbound_id,
                                     self.mailer.settings.forward_max_bytes)

    def reporter_files(self) -> Forwarding:
        """Every file the reporter sent on the ticket so far, to pass on to the team."""
        if self.quiet:
            return Forwarding()
        return forwarding.of_reporter(self.session, self.ticket, self.mailer.settings.forward_max_bytes)

    def staff_touched(self) -> None:
        if self.ticket.first_response_at is None and self.roles.role_of(self.actor) != Role.REPORTER:
            self.ticket.first_response_at = self.now

    def team(self) -> list[tuple[str, str]]:
        """Who hears about the ticket: its assignee, or every staff member."""
        if self.ticket.assignee_id:
            p = self.session.get(Party, self.ticket.assignee_id)
            if p is not None:
                return [(p.address, p.name)]
        return sorted(self.roles.staff.items())

    def reporter(self) -> Party | None:
        return self.session.get(Party, self.ticket.reporter_id) if self.ticket.reporter_id else None


def answer(act: Act, text: str) -> str:
    """The helpdesk's answer to the reporter (SOP step 5). A reporter without an address (a
    phone report) cannot be mailed: the record says so and the staff member is told to call."""
    rep = act.reporter()
    act.event("staff_answered", {"text": text, **_not_mailed(act, rep)})
    act.staff_touched()
    if act.roles.assign_on_answer and act.ticket.assignee_id is None and act.actor in act.roles.staff:
        _take(act, act.actor)
    if rep is None:
        return done(Done.ANSWERED_BY_HAND)
    act.mail("answer", rep.address, act.view(rep.name, text))
    return done(Done.ANSWERED)


def stored_answer(act: Act, name: str, text: str = "") -> str:
    """A stored answer (``#jawab NAMA``, ``maild answers``) for this ticket, followed by what
    the staff member typed, sent as one answer through ``answer``. An unknown name is refused
    with the closest one, and nothing is sent."""
    known = act.mailer.answer_names()
    key = name.strip().lower()
    if key not in known or act.mailer.answers is None:
        raise ActionRefused(Phrase(Why.UNKNOWN_ANSWER, (name, closest(name, known), *known)))
    try:
        stored = act.mailer.answers.render(key, _answer_values(act))
    except AnswerFailed as exc:
        log.error("ticket %s: %s", act.ticket.number, exc)
        raise ActionRefused(Phrase(Why.ANSWER_FAILED, (key,))) from None
    result = answer(act, "\n\n".join(t for t in (stored, text.strip()) if t))
    return done(Done.STORED_ANSWER, key) if result == done(Done.ANSWERED) else result


def _answer_values(act: Act) -> AnswerValues:
    """What a stored answer may show of this ticket: the reporter's name (their address's
    local part when they gave none), the ticket, the helpdesk."""
    ident, rep = act.mailer.settings.identity, act.reporter()
    name = (rep.name if rep is not None else "") or act.ticket.reporter_name or ""
    if not name and rep is not None:
        name = rep.address.partition("@")[0]
    ticket = act.mailer.ticket_view(act.session, act.ticket, act.now)
    return AnswerValues(name, AnswerTicket(ticket.number, ticket.subject, ticket.token), ident.name, ident.address)


def _not_mailed(act: Act, rep: Party | None) -> dict[str, str]:
    if rep is not None:
        return {}
    return {"not_mailed": f"no address: tell the reporter by {act.ticket.channel or 'phone'}"
                          + (f" ({act.ticket.contact})" if act.ticket.contact else "")}


def note(act: Act, text: str) -> str:
    act.event("note_added", {"text": text, "internal": True})
    act.staff_touched()
    return done(Done.NOTED)


def set_status(act: Act, value: str) -> str:
    """``in_progress``, or ``waiting`` for the reporter (the SLA clock stops until they reply)."""
    act.event("status_updated", {"status": value})
    act.staff_touched()
    return done(Done.WAITING if value == Status.WAITING else Done.STATUS)


def classify(act: Act, field_name: str, value: str) -> str:
    """Set the ticket's type, category or priority (SOP step 2). A category must be one of the
    configured ones: a misspelt one would split the statistics into a category of its own."""
    if field_name == "category" and act.roles.categories and value not in act.roles.categories:
        raise ActionRefused(Phrase(Why.UNKNOWN_CATEGORY,
                                   (value, closest(value, act.roles.categories), *act.roles.categories)))
    setattr(act.ticket, field_name, value)
    act.event("classified", {field_name: value})
    act.staff_touched()
    return done(Done(field_name), value)


def assign(act: Act, who: str) -> str:
    """Give the ticket to a staff member, by address, name, first name or ``saya``/``me``."""
    address = _staff_address(act.roles, who, act.actor)
    if address is None:
        staff = sorted(act.roles.staff)
        names = [*staff, *(n for n in act.roles.staff.values() if n)]
        suggestion = closest(who, names)
        raise ActionRefused(Phrase(Why.NOT_STAFF, (who, suggestion, *staff)))
    _take(act, address)
    act.staff_touched()
    return done(Done.ASSIGNED, address)


def _take(act: Act, address: str) -> None:
    """Make ``address`` the assignee. The first time a ticket gets one, the rest of the staff
    (who were all told of the report) learn who took it."""
    unassigned = act.ticket.assignee_id is None
    person = store.party(act.session, address, act.now, act.roles.staff.get(address, ""), "staff")
    act.ticket.assignee_id = person.id
    store.add_ticket_party(act.session, act.ticket.id, person.id, "staff")
    act.event("assigned", {"assignee": address})
    if address != act.actor:
        act.mail("assigned", address, act.view(person.name))
    if unassigned:
        for other, name in sorted(act.roles.staff.items()):
            if other not in (address, act.actor):
                act.mail("taken", other, act.view(name))


def escalate(act: Act, group_name: str, text: str) -> str:
    """Pass the ticket to another service group (SOP step 4)."""
    group = act.roles.group(group_name)
    if group is None or not group.managers:
        known = act.roles.group_names()
        raise ActionRefused(Phrase(Why.NO_GROUP, (group_name, closest(group_name, known), *known)))
    act.event("escalated", {"group": group.name, "text": text})
    act.staff_touched()
    files = act.reporter_files()
    for manager in group.managers:
        p = store.party(act.session, manager, act.now, "", "manager")
        store.add_ticket_party(act.session, act.ticket.id, p.id, "group")
        act.mail("escalation", manager, act.view(group.title or group.name, text, group=group.title), files=files)
    rep = act.reporter()
    if rep is not None:
        act.mail("escalated", rep.address, act.view(rep.name, group=group.title or group.name))
    return done(Done.ESCALATED, group.title or group.name)


def to_coordinator(act: Act, text: str) -> str:
    """Report the ticket to the helpdesk coordinator (SOP step 6)."""
    address, name = act.roles.coordinator
    if not address:
        raise ActionRefused(Phrase(Why.NO_COORDINATOR))
    act.event("reported_to_coordinator", {"text": text})
    act.staff_touched()
    person = store.party(act.session, address, act.now, name, "coordinator")
    store.add_ticket_party(act.session, act.ticket.id, person.id, "coordinator")
    act.mail("coordinator", address, act.view(name, text), files=act.reporter_files())
    return done(Done.COORDINATOR)


def recommend(act: Act, text: str) -> str:
    """The coordinator's recommendation (SOP step 7), passed to the assignee or the staff."""
    act.event("recommended", {"text": text})
    for address, name in act.team():
        act.mail("recommendation", address, act.view(name, text))
    return done(Done.RECOMMENDED)


def group_reply(act: Act, text: str) -> str:
    """A service group's answer (SOP step 4), passed to the assignee or the staff."""
    act.event("group_replied", {"text": text})
    for address, name in act.team():
        act.mail("group_reply", address, act.view(name, text))
    return done(Done.GROUP_REPLY)


def resolve(act: Act, text: str) -> str:
    """Tell the reporter the result and close the ticket (SOP step 8)."""
    rep = act.reporter()
    act.event("resolved", {"text": text, **_not_mailed(act, rep)})
    act.staff_touched()
    _tell_who_helped(act, text)
    if rep is None:
        return done(Done.RESOLVED_BY_HAND)
    act.mail("closing", rep.address, act.view(rep.name, text))
    return done(Done.RESOLVED)


def _tell_who_helped(act: Act, text: str) -> None:
    """The group managers and the coordinator the ticket was passed to learn how it ended,
    so nobody keeps working on a ticket that is already closed."""
    helpers = act.session.execute(
        select(Party.address, Party.name).join(TicketParty, TicketParty.party_id == Party.id)
        .where(TicketParty.ticket_id == act.ticket.id, TicketParty.role.in_(("group", "coordinator")))
        .order_by(Party.address)
    ).all()
    for address, name in helpers:
        if address != act.actor:
            act.mail("closed_notice", address, act.view(name or act.roles.name_of(address), text))


def reopen(act: Act, text: str = "") -> str:
    act.event("reopened", {"text": text})
    if act.roles.role_of(act.actor) == Role.REPORTER:
        for address, name in act.team():
            act.mail("reopened", address, act.view(name, text))
    return done(Done.REOPENED)


def reporter_replied(act: Act, text: str) -> None:
    """The reporter added something: record it and tell whoever works on the ticket."""
    act.event("reporter_replied", {"text": text})
    files = act.message_files()
    for address, name in act.team():
        act.mail("reporter_reply", address, act.view(name, text), files=files)


_MYSELF = frozenset({"saya", "aku", "me", "myself"})


def _staff_address(roles: Roles, who: str, actor: str) -> str | None:
    who = who.strip().lower()
    if who in _MYSELF:
        return actor if actor in roles.staff else None
    if who in roles.staff:
        return who
    for address, name in roles.staff.items():
        if name and (name.lower() == who or name.lower().split()[0] == who or address.split("@")[0] == who):
            return address
    return None


def merge(act: Act, into: Ticket) -> str:
    """Close this ticket as a duplicate of ``into``: its people join ``into``, and mail about
    it is threaded there from now on."""
    if into.mailbox != act.ticket.mailbox:
        # Each mailbox's staff see only its tickets: a merge would move people and mail across.
        raise ActionRefused(Phrase(Why.OTHER_MAILBOX, (act.ticket.number, format_ticket_name(into.mailbox, into.number),
                                                       into.mailbox)))
    if into.id == act.ticket.id or into.state == State.CLOSED:
        raise ActionRefused(Phrase(Why.CANNOT_MERGE, (act.ticket.number, into.number)))
    act.event("merged", {"into": into.number})
    act.ticket.merged_into_id = into.id
    act.ticket.linked_ticket_id = into.id
    for party_id, role in act.session.execute(
        select(TicketParty.party_id, TicketParty.role).where(TicketParty.ticket_id == act.ticket.id)
    ).all():
        store.add_ticket_party(act.session, into.id, party_id, "cc" if role == "reporter" else role)
    store.note_event(act.session, into, "merged_in", act.actor, act.cause, act.now, {"from": act.ticket.number})
    return done(Done.MERGED, into.number)


def attempt(act: Act, refused: list[Refused], line: str, action: Callable[[], str]) -> str:
    """Run one action in its own savepoint: a refused one leaves no trace but its refusal,
    appended to ``refused`` with the line that asked for it."""
    savepoint = act.session.begin_nested()
    held = len(act.held) if act.held is not None else 0
    try:
        result = action()
    except ActionRefused as exc:
        savepoint.rollback()
        if act.held is not None:
            del act.held[held:]  # the mail of an action that left no trace is not sent either
        refused.append(Refused(line, exc.why))
        return ""
    except IllegalTransition as exc:
        savepoint.rollback()
        if act.held is not None:
            del act.held[held:]
        refused.append(Refused(line, Phrase(Why.NOT_NOW, (exc.state, exc.event))))
        return ""
    savepoint.commit()
    return result
