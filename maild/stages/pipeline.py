"""Stage 2: inbound rows to tickets, events and queued mail. One message, top to bottom.

Each message is processed in its own savepoint inside a batch transaction: all of its
effects (ticket, events, outbox rows, ledger entry) commit together or not at all. A message
that fails is retried; after ``max_attempts`` failures it is marked dead (quarantined) with
the reason, and the daemon goes on.

    parse -> screen (person or machine?) -> thread (which ticket?) ->
      new report:   classify by rules -> ticket -> acknowledge reporter, tell the staff
      reporter:     record, tell the assignee (reopen a recently closed ticket)
      staff, coordinator, group manager: prove the sender -> commands and answer
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from maild.service import actions

from maild.sop import rules

from maild.sop import threads
from maild.mail import screen as screening
from maild.service.actions import Act, ActionRefused, Roles
from maild.mail.bounces.report import Bounce, parse_bounce
from maild.base.clock import Clock
from maild.sop.commands import Command, parse_commands, split_first_word
from maild.store.db import transaction
from maild.base.errors import IllegalTransition
from maild.service.mailer import Mailer
from maild.store.outbox import Outgoing, enqueue
from maild.store.models import InboundMessage, Party, Ticket
from maild.mail.parse import ParsedMail, parse
from maild.sop.proof import prove
from maild.mail.quotes import split_reply
from maild.render.renderer import local_time
from maild.store.queries import (
    add_ticket_party,
    automatic_mails_since,
    get_or_create_party,
    next_number,
    note_event,
    party,
    record_event,
    store_attachments,
    ticket_by_number,
    ticket_by_references,
    ticket_ref,
)
from maild.mail.tokens import clean_subject, find_number
from maild.sop.workcal import in_working_hours
from maild.sop.workflow import advance

log = logging.getLogger(__name__)

# A short reply with one of these after the ticket was closed is a thank-you, not a new problem:
# it is recorded and does not reopen the ticket (a known nuisance in RT and Zammad).
_THANKS = ("terima kasih", "terimakasih", "makasih", "trims", "thanks", "thank you", "tq", "matur nuwun")


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline needs from the configuration."""

    tag: str
    timezone: str
    reopen_window: timedelta
    roles: Roles
    own_addresses: frozenset[str]
    auto_limit_per_hour: int
    max_attempts: int
    hmac_key: bytes
    mid_domain: str
    trusted_authserv_ids: tuple[str, ...] = ()
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024

    @property
    def team(self) -> frozenset[str]:
        r = self.roles
        managers = {m for g in r.groups for m in g.managers}
        return frozenset({*r.staff, *([r.coordinator[0]] if r.coordinator[0] else []), *managers})


@dataclass(frozen=True)
class Outcome:
    """What became of one message: the ledger's disposition, the ticket and why."""

    disposition: str
    ticket_id: int | None
    reason: str


class Pipeline:
    """Turns stored inbound messages into tickets and replies."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        mailer: Mailer,
        ruleset: rules.RuleSet,
        settings: PipelineSettings,
        clock: Clock,
    ) -> None:
        self.factory = factory
        self.mailer = mailer
        self.ruleset = ruleset
        self.settings = settings
        self.clock = clock

    def run_once(self, limit: int = 200, stopping: Callable[[], bool] = lambda: False, quiet: bool = False) -> int:
        """Process up to ``limit`` waiting messages; return how many were handled.

        ``quiet`` is for importing an old mailbox: nothing is mailed to anyone, each message
        counts as received at its own Date, and its tickets are marked as imported (channel
        ``import``), which the SLA clock leaves alone."""
        now = self.clock()
        with transaction(self.factory) as session:
            # Senders take turns: each sender's first waiting message, then each one's second...
            # so a flood from one address does not hold back everyone else's reports.
            turn = func.row_number().over(partition_by=InboundMessage.sender, order_by=InboundMessage.id)
            waiting = (select(InboundMessage.id, turn.label("turn")).where(InboundMessage.state == "new")
                       .order_by(InboundMessage.id).limit(limit * 20).subquery())
            ids = session.scalars(select(waiting.c.id).order_by(waiting.c.turn, waiting.c.id).limit(limit)).all()
            if not ids:
                return 0
            # Claim the batch in one statement: with two daemons on one PostgreSQL database the
            # second blocks here until the first commits, then claims nothing.
            claimed = sorted(session.scalars(
                update(InboundMessage)
                .where(InboundMessage.id.in_(ids), InboundMessage.state == "new")
                .values(state="done", processed_at=now)
                .returning(InboundMessage.id)
            ).all())
            rows = {r.id: r for r in session.scalars(select(InboundMessage).where(InboundMessage.id.in_(claimed)))}
            for position, inbound_id in enumerate(claimed):
                if stopping():
                    self._unclaim(session, claimed[position:])
                    return position
                self._one(session, rows[inbound_id], quiet)
            return len(claimed)

    def _one(self, session: Session, row: InboundMessage, quiet: bool = False) -> None:
        savepoint = session.begin_nested()
        try:
            # No autoflush: the rows a message writes are Core inserts, visible at once; the
            # ORM changes (the ticket, the ledger row) are flushed when they are needed and at
            # the savepoint. Autoflush before every query cost more than the queries (profiled).
            with session.no_autoflush:
                outcome = self.process(session, row, self.clock(), quiet)
            row.disposition, row.ticket_id, row.reason = outcome.disposition, outcome.ticket_id, outcome.reason
            savepoint.commit()
        except Exception as exc:  # noqa: BLE001 - any failure of one message must not stop the others
            savepoint.rollback()
            self._failed(session, row.id, exc)

    @staticmethod
    def _unclaim(session: Session, ids: list[int]) -> None:
        session.execute(update(InboundMessage).where(InboundMessage.id.in_(ids)).values(state="new", processed_at=None))

    def _failed(self, session: Session, inbound_id: int, exc: Exception) -> None:
        row = session.get(InboundMessage, inbound_id)
        if row is None:
            return
        session.refresh(row)
        row.state = "new"  # claimed with its batch; it waits for its next attempt
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
    def process(self, session: Session, row: InboundMessage, now: datetime, quiet: bool = False) -> Outcome:
        """Decide and record everything one message causes. Runs inside the caller's transaction."""
        s = self.settings
        if row.size > s.max_message_bytes:
            return self._oversized(session, row, now, quiet)
        mail = parse(row.raw)
        if quiet and mail.date is not None and mail.date < now:
            now = mail.date.astimezone(timezone.utc)
        sender = mail.sender.address if mail.sender else ""
        row.sender, row.subject = sender[:320], mail.subject[:2000]
        verdict = screening.screen(mail, s.own_addresses, s.mid_domain)
        if verdict.kind == screening.OWN_LOOP:
            return Outcome("own_loop", None, verdict.reason)

        decision = threads.decide(sender, self._candidates(session, mail), s.team, now, s.reopen_window)
        target = session.get(Ticket, decision.ticket.id) if decision.ticket else None

        bounce = parse_bounce(mail)
        if bounce is not None or verdict.kind == screening.BOUNCE:
            return self._bounce(session, row, mail, bounce, target, verdict.reason, now, quiet)

        if not verdict.may_answer and (target is None or decision.action == threads.NEW_LINKED):
            # Not a report from a person and not about a ticket of ours: ledger only.
            return Outcome(verdict.kind, None, f"{verdict.reason}; not a report: recorded, no ticket")

        if target is not None and decision.action in (threads.FOLLOW_UP, threads.REOPEN):
            row.ticket_id = target.id
            self._attachments(session, row, target, mail, now)
            act = Act(session, self.mailer, s.roles, target, sender, row.key, now, in_reply_to=mail.message_id,
                      quiet=quiet)
            return self._follow_up(act, mail, decision, verdict)
        return self._new_ticket(session, row, mail, decision, verdict, now, quiet)

    def _bounce(
        self, session: Session, row: InboundMessage, mail: ParsedMail, bounce: Bounce | None, target: Ticket | None,
        why: str, now: datetime, quiet: bool,
    ) -> Outcome:
        """A delivery failure: never a ticket, never answered; recorded on the ticket whose mail
        bounced, the failing address marked, and the people on the ticket told."""
        if bounce is not None and bounce.original_message_id:
            found = ticket_by_references(session, [bounce.original_message_id])
            target = found[0] if found else target
        self._attachments(session, row, target, mail, now)
        if bounce is None:
            if target is not None:
                note_event(session, target, "bounce_received", row.sender or "mailer-daemon", row.key, now,
                           {"reason": why, "subject": mail.subject})
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
            note_event(session, target, "bounce_received", row.sender or "mailer-daemon", row.key, now, detail)
            if bounce.permanent:
                act = Act(session, self.mailer, self.settings.roles, target, "maild", row.key, now, quiet=quiet)
                for address, name in act.team():
                    act.mail("bounce_notice", address, act.view(name, bounce.diagnostic[:1000], extra={
                        "recipients": ", ".join(bounce.recipients), "status": bounce.status}))
        return Outcome("bounce", target.id if target else None, summary)

    def _attachments(
        self, session: Session, row: InboundMessage, ticket: Ticket | None, mail: ParsedMail, now: datetime
    ) -> None:
        """Extract the attachments; one over the per-attachment limit stays only inside the raw
        message (kept whole in the ledger) and the ticket says so."""
        limit = self.settings.max_attachment_bytes
        store_attachments(session, row.id, ticket.id if ticket else None,
                          [a for a in mail.attachments if a.size <= limit])
        for att in (a for a in mail.attachments if a.size > limit):
            if ticket is not None:
                note_event(session, ticket, "attachment_too_large", row.sender or "-", f"{row.key}:{att.sha256}", now,
                           {"filename": att.filename, "size": att.size, "limit": limit, "inbound": row.id})

    def _oversized(self, session: Session, row: InboundMessage, now: datetime, quiet: bool) -> Outcome:
        """Too large to take: kept (raw, and a copy in the quarantine folder), the sender told."""
        s = self.settings
        head = parse(row.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\r\n\r\n")
        sender = head.sender.address if head.sender else ""
        row.sender, row.subject = sender[:320], head.subject[:2000]
        limit_mb = s.max_message_bytes / 1024 / 1024
        reason = f"{row.size / 1024 / 1024:.1f} MB is over the {limit_mb:.0f} MB limit: quarantined, no ticket"
        verdict = screening.screen(head, s.own_addresses, s.mid_domain)
        why_not = "" if not quiet else "imported"
        why_not = why_not or self._why_not_answer(session, sender, verdict, now, False)
        if not why_not:
            rendered = self.mailer.renderer.render("too_large", self.mailer.settings.language, {
                "recipient_name": head.sender.name if head.sender else "", "subject": head.subject,
                "size_mb": f"{row.size / 1024 / 1024:.1f}", "limit_mb": f"{limit_mb:.0f}",
                "helpdesk_name": self.mailer.settings.identity.name,
                "helpdesk_address": self.mailer.settings.identity.address,
            })
            enqueue(session, self.mailer.settings.identity, Outgoing(
                cause=row.key, template="too_large", recipient=sender, recipient_name="", ticket_id=None,
                ticket_number="limit", rendered=rendered, language=self.mailer.settings.language, automatic=True,
                in_reply_to=head.message_id,
            ), now)
        return Outcome("oversized", None, reason + (f"; sender not told: {why_not}" if why_not else "; sender told"))

    def _candidates(self, session: Session, mail: ParsedMail) -> threads.Candidates:
        refs = [*mail.in_reply_to, *reversed(mail.references)]
        found = ticket_by_references(session, refs)
        by_ref = ticket_ref(session, _merged_target(session, found[0])) if found else None
        ref = found[1] if found else ""
        number = find_number(mail.subject, self.settings.tag)
        by_token = None
        if number:
            ticket = ticket_by_number(session, number)
            by_token = ticket_ref(session, _merged_target(session, ticket)) if ticket else None
        return threads.Candidates(by_ref, ref, by_token, number)

    # -- replies on a ticket ------------------------------------------------------------
    def _follow_up(
        self, act: Act, mail: ParsedMail, decision: threads.ThreadDecision, verdict: screening.Screening
    ) -> Outcome:
        s = self.settings
        ticket = act.ticket
        if not verdict.may_answer:
            # An out-of-office answer to our mail: keep it on the ticket, never act on it.
            note_event(act.session, ticket, "auto_reply_received", act.actor, act.cause, act.now,
                       {"why": verdict.reason, "subject": mail.subject})
            return Outcome(verdict.kind, ticket.id, f"{decision.reason}; {verdict.reason}")
        text = split_reply(mail.text).text
        role = s.roles.role_of(act.actor)
        if role != "reporter":
            proof = prove(mail, act.actor, s.hmac_key, s.mid_domain, s.trusted_authserv_ids)
            if not proof.ok:
                return self._unproven(act, mail, text, decision, proof.how)
            applied = self._team_message(act, role, text)
            return Outcome("follow_up", ticket.id, f"{decision.reason}; {role} proven ({proof.how}); {applied}")
        if decision.action == threads.REOPEN:
            if _is_thanks(text):
                act.event("thanks_received", {"text": text})
                return Outcome("follow_up", ticket.id, f"{decision.reason[:-len(': reopened')]}; a thank-you: "
                                                       "recorded, not reopened")
            actions.reopen(act, text)
            return Outcome("reopen", ticket.id, decision.reason)
        actions.reporter_replied(act, text)
        return Outcome("follow_up", ticket.id, decision.reason)

    def _unproven(
        self, act: Act, mail: ParsedMail, text: str, decision: threads.ThreadDecision, why: str
    ) -> Outcome:
        """Mail that claims to come from the team but proves nothing: recorded, changes nothing,
        and the real person (at the registered address) is told."""
        note_event(act.session, act.ticket, "unverified_mail", act.actor, act.cause, act.now,
                   {"text": text[:4000], "why": why, "subject": mail.subject})
        view = act.view(act.roles.name_of(act.actor), text[:2000], extra={"subject": mail.subject})
        act.mail("unverified", act.actor, view)
        return Outcome("follow_up", act.ticket.id,
                       f"{decision.reason}; sender is in the team but proved nothing ({why}): recorded, no effect")

    def _team_message(self, act: Act, role: str, text: str) -> str:
        """Commands and an answer from staff, the coordinator or a group manager."""
        parsed = parse_commands(text)
        applied: list[str] = []
        refused = [f"{r.line}: {r.reason}" for r in parsed.refused]
        resolution_pending = any(c.name == "resolve" and not c.value for c in parsed.commands)
        if parsed.body:
            if parsed.internal:
                applied.append(self._try(act, refused, "#catatan", lambda: actions.note(act, parsed.body)))
            elif role == "manager":
                applied.append(self._try(act, refused, "(jawaban)", lambda: actions.group_reply(act, parsed.body)))
            elif role == "coordinator" and act.ticket.state == "with_coordinator":
                applied.append(self._try(act, refused, "(rekomendasi)", lambda: actions.recommend(act, parsed.body)))
            elif not resolution_pending:
                applied.append(self._try(act, refused, "(jawaban)", lambda: actions.answer(act, parsed.body)))
        for command in parsed.commands:
            if role == "manager" and command.name not in ("resolve", "note"):
                refused.append(f"{command.line}: a service group may use #selesai and #catatan only")
                continue
            applied.append(self._try(act, refused, command.line, lambda c=command: self._run(act, c, parsed.body)))
        applied = [a for a in applied if a]
        if parsed.commands or refused:
            act.mail("confirm", act.actor,
                     act.view(act.roles.name_of(act.actor), applied=tuple(applied), refused=tuple(refused)))
        return f"done: {', '.join(applied) or 'nothing'}" + (f"; refused: {len(refused)}" if refused else "")

    @staticmethod
    def _try(act: Act, refused: list[str], line: str, action: Callable[[], str]) -> str:
        """Run one action in its own savepoint: a refused command leaves no trace but its refusal."""
        savepoint = act.session.begin_nested()
        try:
            done = action()
        except (IllegalTransition, ActionRefused) as exc:
            savepoint.rollback()
            refused.append(f"{line}: {exc}")
            return ""
        savepoint.commit()
        return done

    @staticmethod
    def _run(act: Act, command: Command, body: str) -> str:
        name, value = command.name, command.value
        if name == "status":
            return actions.set_status(act, value)
        if name in ("type", "category", "priority"):
            return actions.classify(act, name, value if name != "category" else value.split()[0].lower())
        if name == "assign":
            return actions.assign(act, value)
        if name == "escalate":
            group, note = split_first_word(value)
            return actions.escalate(act, group, note)
        if name == "coordinator":
            return actions.to_coordinator(act, value)
        if name == "note":
            return actions.note(act, value)
        if name == "resolve":
            return actions.resolve(act, value or body)
        if name == "reopen":
            return actions.reopen(act, value)
        raise ActionRefused(f"#{name} cannot be used here")  # pragma: no cover - parse_commands knows all

    # -- a new report -------------------------------------------------------------------
    def _new_ticket(
        self,
        session: Session,
        row: InboundMessage,
        mail: ParsedMail,
        decision: threads.ThreadDecision,
        verdict: screening.Screening,
        now: datetime,
        quiet: bool = False,
    ) -> Outcome:
        s = self.settings
        sender = row.sender
        context = rules.RuleContext(received_at=now, in_working_hours=in_working_hours(now, s.timezone))
        classified = rules.classify(mail, self.ruleset, context)
        hits = [f"{h.rule}: {h.why}" for h in classified.hits]
        if classified.quarantine:
            return Outcome("spam", None, f"quarantined by rule: {'; '.join(hits)}")
        reporter, new_reporter = get_or_create_party(session, sender, now, mail.sender.name if mail.sender else "") \
            if sender else (None, False)
        ticket = Ticket(
            number=next_number(session, now.astimezone(ZoneInfo(s.timezone)).year),
            subject=clean_subject(mail.subject, s.tag),
            state="new",
            type=classified.type,
            category=classified.category,
            priority=classified.priority,
            channel="import" if quiet else "email",
            language=self.mailer.settings.language,
            reporter_id=reporter.id if reporter else None,
            linked_ticket_id=decision.ticket.id if decision.ticket else None,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        row.ticket_id = ticket.id
        if reporter is not None:
            add_ticket_party(session, ticket.id, reporter.id, "reporter")
        for addr in (*mail.to, *mail.cc):
            if addr.address not in s.own_addresses and addr.address != sender:
                add_ticket_party(session, ticket.id, party(session, addr.address, now, addr.name).id, "cc")
        self._attachments(session, row, ticket, mail, now)
        detail = {"thread": decision.reason, "subject": mail.subject, "inbound": row.id, "rules": hits,
                  "text": mail.text[:4000]}
        record_event(session, ticket, advance(None, "report_received"), sender or "(unknown sender)", row.key, now,
                     detail)
        act = Act(session, self.mailer, s.roles, ticket, "maild", row.key, now, in_reply_to=mail.message_id,
                  references=(mail.message_id,) if mail.message_id else (), quiet=quiet)
        if classified.assignee and classified.assignee in s.roles.staff:
            actions.assign(act, classified.assignee)
        self._acknowledge(act, row, mail, verdict, classified, new_reporter)
        for address, name in act.team():
            act.mail("new_ticket", address, act.view(name, mail.text[:6000]))
        if classified.escalate and classified.group:
            Pipeline._try(act, [], "rule", lambda: actions.escalate(act, classified.group or "", "; ".join(hits)))
        disposition = "new_linked" if decision.action == threads.NEW_LINKED else "new_ticket"
        return Outcome(disposition, ticket.id, decision.reason)

    def _acknowledge(
        self, act: Act, row: InboundMessage, mail: ParsedMail, verdict: screening.Screening, classified: rules.Verdict,
        new_reporter: bool,
    ) -> None:
        why_not = self._why_not_answer(act.session, row.sender, verdict, act.now, new_reporter, act.reporter())
        if act.quiet:
            why_not = "imported from an old mailbox: nothing is mailed"
        if not why_not and classified.acknowledge is False:
            why_not = "acknowledgement switched off by rule"
        if why_not:
            note_event(act.session, act.ticket, "ack_suppressed", "maild", row.key, act.now, {"why": why_not})
            return
        view = act.view(mail.sender.name if mail.sender else "",
                        extra={"received_at": local_time(act.now, self.settings.timezone,
                                                         self.mailer.settings.language)})
        act.mail(classified.ack_template or "ack", row.sender, view, automatic=True)

    def _why_not_answer(
        self, session: Session, sender: str, verdict: screening.Screening, now: datetime, new_reporter: bool,
        known: Party | None = None,
    ) -> str:
        if not sender:
            return "no sender address"
        if not verdict.may_answer:
            return verdict.reason
        if new_reporter:
            return ""  # an address we have never seen has had no mail from us: no count needed
        if known is None or known.address != sender:
            known = get_or_create_party(session, sender, now)[0]
        if known.failing_since is not None and now - known.failing_since < timedelta(days=30):
            return f"mail to {sender} bounced on {known.failing_since:%Y-%m-%d}: not writing to it for 30 days"
        sent = automatic_mails_since(session, sender, now - timedelta(hours=1))
        if sent >= self.settings.auto_limit_per_hour:
            return f"rate limit: {sent} automatic mails to {sender} in the last hour"
        return ""


def _merged_target(session: Session, ticket: Ticket) -> Ticket:
    """Follow merges: mail about a merged ticket belongs to the one it was merged into."""
    for _ in range(10):
        if ticket.merged_into_id is None:
            break
        target = session.get(Ticket, ticket.merged_into_id)
        if target is None:
            break
        ticket = target
    return ticket


def _is_thanks(text: str) -> bool:
    lowered = " ".join(text.lower().split())
    return len(lowered.split()) <= 30 and "?" not in lowered and any(t in lowered for t in _THANKS)
