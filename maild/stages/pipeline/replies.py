"""A message about an existing ticket: the reporter adding something, a thank-you or a survey
rating after the close, or the team (staff, coordinator, a group manager) answering and giving commands."""

from __future__ import annotations

from sqlalchemy import select

from maild.mail.quotes import split_reply
from maild.service import actions, survey
from maild.service.actions import Act, attempt
from maild.service.attachments import keep_attachments
from maild.service.dispatch import run_command
from maild.sop import threads
from maild.sop.authority import effective_role
from maild.sop.codes import Phrase, Refused, Why
from maild.sop.courtesy import substance
from maild.sop.skm import Rating, SurveyMode, parse_rating
from maild.sop.commands import CommandName, Parsed, may_use, parse_commands
from maild.sop.vocabulary import Role, State
from maild.stages.pipeline.context import Message, Outcome, Services
from maild.stages.pipeline.proving import prove_sender
from maild.store.models import Event, Party, Ticket
from maild.store.queries import note_event

# A short reply with one of these after the ticket was closed is a thank-you, not a new problem:
# it is recorded and does not reopen the ticket (a known nuisance in RT and Zammad).
_THANKS = ("terima kasih", "terimakasih", "makasih", "trims", "thanks", "thank you", "tq", "matur nuwun")


def handle(services: Services, msg: Message, ticket: Ticket, decision: threads.ThreadDecision) -> Outcome:
    """Record the reply on ``ticket`` and do what it asks, if its sender may."""
    s, mail, row = services.settings, msg.facts.mail, msg.row
    keep_attachments(msg.session, row.id, ticket, mail.attachments, s.intake.max_attachment_bytes, msg.facts.sender,
                     row.key, msg.now)
    act = Act(msg.session, services.mailer, s.intake.roles, ticket, msg.facts.sender, row.key, msg.now,
              in_reply_to=mail.message_id, quiet=msg.quiet, inbound_id=row.id,
              message_has_files=bool(mail.attachments))
    verdict = msg.facts.screening
    if not verdict.may_answer:
        # An out-of-office answer to our mail: keep it on the ticket, never act on it.
        note_event(act.session, ticket, "auto_reply_received", act.actor, act.cause, act.now,
                   {"why": verdict.reason, "subject": mail.subject})
        return Outcome(verdict.kind, ticket.id, f"{decision.reason}; {verdict.reason}")
    reply = split_reply(mail.text)
    text = reply.text
    role = s.intake.roles.role_of(act.actor)
    if role != Role.REPORTER:
        proof = prove_sender(s, msg, ticket, act.actor)
        if not proof.ok:
            return _unproven(act, msg, text, decision, proof.how)
        # Commands and answers only from what the sender wrote now: never quoted or forwarded.
        applied = team_message(act, role, reply.own)
        return Outcome("follow_up", ticket.id, f"{decision.reason}; {role} proven ({proof.how}); {applied}")
    rating = survey_rating(services, msg, ticket, reply.own)
    if rating is not None:
        # A rating never reopens: the closing mail asked for it.
        done = survey.answer(act, rating, mail.message_id)
        what = "recorded" if done == survey.ANSWERED else "this ticket was rated already: kept as an event"
        return Outcome("follow_up", ticket.id, f"{decision.reason.rsplit(': ', 1)[0]}; a survey rating "
                                               f"({rating.numbers}): {what}, not reopened")
    if decision.action == threads.REOPEN:
        if is_thanks(text):
            act.event("thanks_received", {"text": text})
            return Outcome("follow_up", ticket.id, f"{decision.reason[:-len(': reopened')]}; a thank-you: "
                                                   "recorded, not reopened")
        actions.reopen(act, text)
        return Outcome("reopen", ticket.id, decision.reason)
    actions.reporter_replied(act, text)
    return Outcome("follow_up", ticket.id, decision.reason)


def survey_rating(services: Services, msg: Message, ticket: Ticket, own: str) -> Rating | None:
    """The survey rating this message holds, if it is one: the reporter of a closed ticket,
    writing (in their own words, never the quoted closing mail) a rating first, while the
    survey is on (``maild.sop.skm.parse_rating``)."""
    if services.settings.survey_mode == SurveyMode.OFF or ticket.state != State.CLOSED:
        return None
    if not msg.facts.screening.may_answer or ticket.reporter_id is None:
        return None
    reporter = msg.session.get(Party, ticket.reporter_id)
    if reporter is None or reporter.address != msg.facts.sender:
        return None
    return parse_rating(own)


def team_message(act: Act, role: Role, text: str) -> str:
    """Commands and an answer from staff, the coordinator or a group manager.

    ``text`` is what the sender wrote in this message (``Reply.own``). A manager acts only on
    a ticket escalated to their group, while it is (``sop.authority``); otherwise nothing is
    done, the mail is recorded on the ticket and the manager is told why."""
    parsed = parse_commands(text)
    escalated_to = _escalated_to(act) if role == Role.MANAGER else frozenset()
    authority = effective_role(role, act.actor, act.ticket.state, escalated_to)
    if authority.refused is not None:
        return _out_of_scope(act, parsed, text, authority.refused)
    applied: list[str] = []
    refused = [Refused(r.line, r.reason) for r in parsed.refused]
    act.hold_reporter_mail()
    resolution_pending = any(c.name == CommandName.RESOLVE and not c.value for c in parsed.commands)
    # With "#jawab NAMA" the text follows the stored answer in its one mail (or nothing is
    # sent, when the name is unknown): it is never a second answer of its own.
    stored = any(c.name == CommandName.ANSWER_TEMPLATE for c in parsed.commands)
    # A greeting and a name are not an answer: nothing goes to the reporter, and the staff
    # member is told so in the confirmation.
    answer = parsed.body if substance(parsed.body, _names_of(act)) else ""
    # What a command that writes to the reporter (a bare #selesai, #jawab) carries of the text:
    # never the text of a reply marked internal.
    for_reporter = "" if parsed.internal else answer
    if parsed.body:
        if parsed.internal:
            applied.append(attempt(act, refused, "#catatan", lambda: actions.note(act, parsed.body)))
        elif not answer:
            if not stored:  # with a stored answer, something did go to the reporter
                applied.append("no_answer")
        elif role == Role.MANAGER:
            applied.append(attempt(act, refused, "(jawaban)", lambda: actions.group_reply(act, answer)))
        elif role == Role.COORDINATOR and act.ticket.state == State.WITH_COORDINATOR:
            applied.append(attempt(act, refused, "(rekomendasi)", lambda: actions.recommend(act, answer)))
        elif not resolution_pending and not stored:
            applied.append(attempt(act, refused, "(jawaban)", lambda: actions.answer(act, answer)))
    for command in parsed.commands:
        if not may_use(command.name, role):
            refused.append(Refused(command.line, Phrase(Why.ROLE_MAY_NOT, (command.name, role))))
            continue
        applied.append(attempt(act, refused, command.line, lambda c=command: run_command(act, c, for_reporter)))
    act.send_held()
    applied = [a for a in applied if a]
    if parsed.commands or refused or "no_answer" in applied:
        act.mail("confirm", act.actor,
                 act.view(act.roles.name_of(act.actor), applied=tuple(applied), refused=tuple(refused)))
    return f"done: {', '.join(applied) or 'nothing'}" + (f"; refused: {len(refused)}" if refused else "")


def _names_of(act: Act) -> tuple[str, ...]:
    """The words the sender signs with: their configured name and their address's local part."""
    return (act.roles.name_of(act.actor), act.actor.partition("@")[0].replace(".", " ").replace("_", " "))


def _escalated_to(act: Act) -> frozenset[str]:
    """The managers of the group the ticket's last ``escalated`` event names (none if never)."""
    detail = act.session.scalars(
        select(Event.detail).where(Event.ticket_id == act.ticket.id, Event.event == "escalated")
        .order_by(Event.id.desc()).limit(1)
    ).first()
    group = act.roles.group(str(detail.get("group", ""))) if isinstance(detail, dict) else None
    return frozenset(group.managers) if group is not None else frozenset()


def _out_of_scope(act: Act, parsed: Parsed, text: str, why: Phrase) -> str:
    """A manager writing about a ticket not escalated to their group: recorded, no effect, told."""
    note_event(act.session, act.ticket, "out_of_scope", act.actor, act.cause, act.now,
               {"text": text[:4000], "why": str(why.why), "state": act.ticket.state})
    refused = [Refused(c.line, why) for c in parsed.commands]
    refused += [Refused(r.line, r.reason) for r in parsed.refused]
    if parsed.body:
        refused.insert(0, Refused("(jawaban)", why))
    if refused:
        act.mail("confirm", act.actor,
                 act.view(act.roles.name_of(act.actor), applied=(), refused=tuple(refused)))
    return f"refused: the ticket is not escalated to {act.actor}'s group"


def _unproven(act: Act, msg: Message, text: str, decision: threads.ThreadDecision, why: str) -> Outcome:
    """Mail that claims to come from the team but proves nothing: recorded, changes nothing,
    and the real person (at the registered address) is told."""
    mail = msg.facts.mail
    note_event(act.session, act.ticket, "unverified_mail", act.actor, act.cause, act.now,
               {"text": text[:4000], "why": why, "subject": mail.subject})
    view = act.view(act.roles.name_of(act.actor), text[:2000], extra={"subject": mail.subject})
    act.mail("unverified", act.actor, view)
    return Outcome("follow_up", act.ticket.id,
                   f"{decision.reason}; sender is in the team but proved nothing ({why}): recorded, no effect")


def is_thanks(text: str) -> bool:
    """A short reply that thanks (≤ 30 words, no question): recorded, never reopens."""
    lowered = " ".join(text.lower().split())
    return len(lowered.split()) <= 30 and "?" not in lowered and any(t in lowered for t in _THANKS)
