"""What every handler of the pipeline is given: the settings, the services, one message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maild.mail.bounces.report import Bounce, parse_bounce
from maild.mail.bounds import bounded
from maild.mail.parse import ParsedMail, parse
from maild.mail.screen import Screening, screen
from maild.service.intake import IntakeSettings
from maild.service.mailer import Mailer
from maild.sop.rules import RuleSet
from maild.store.models import InboundMessage


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline needs from the configuration."""

    tag: str
    reopen_window: timedelta
    max_attempts: int
    hmac_key: bytes
    mid_domain: str
    intake: IntakeSettings
    trusted_authserv_ids: tuple[str, ...] = ()
    proof_max_age_days: int = 30
    max_message_bytes: int = 25 * 1024 * 1024
    batch_bytes: int = 64 * 1024 * 1024  # raw bytes claimed in one batch (at least one message)
    survey_mode: str = "off"  # [survey] mode: whether a reporter's reply to a closed ticket may be a rating
    mailbox: str = "default"  # the mailbox whose messages this pipeline takes
    # Every mailbox this maild serves, by its ticket tag (this one's first): a reply naming
    # another one's ticket is handed to that mailbox.
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def served(self) -> frozenset[str]:
        return frozenset({self.mailbox, *(m for _, m in self.tags)})

    @property
    def tokens(self) -> tuple[tuple[str, str], ...]:
        """(tag, mailbox) to look for in a subject, this mailbox's first."""
        return ((self.tag, self.mailbox), *((t, m) for t, m in self.tags if m != self.mailbox))

    @property
    def team(self) -> frozenset[str]:
        r = self.intake.roles
        managers = {m for g in r.groups for m in g.managers}
        return frozenset({*r.staff, *([r.coordinator[0]] if r.coordinator[0] else []), *managers})


@dataclass(frozen=True)
class Outcome:
    """What became of one message: the ledger's disposition, the ticket and why."""

    disposition: str
    ticket_id: int | None
    reason: str
    # Set when the message is about another mailbox's ticket: it goes to that mailbox's
    # pipeline, which decides everything (its people, its rules, its tag).
    hand_to: str | None = None
    # The sender and subject as read (bounded), for the ledger; None: not read.
    sender: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Services:
    """The services the handlers use, built once by the daemon."""

    mailer: Mailer
    ruleset: RuleSet
    settings: PipelineSettings


@dataclass(frozen=True)
class Facts:
    """Everything the bytes of one message say, read once: the parsed mail, who sent it, whether
    a person or a machine wrote it, and the delivery report if it is a bounce."""

    mail: ParsedMail
    sender: str
    screening: Screening
    bounce: Bounce | None


def read_facts(raw: bytes, settings: PipelineSettings) -> Facts:
    """Bytes to facts: the only place the pipeline parses a message. What it stores or quotes
    from the mail (subject, names, addresses) is bounded here (``mail.bounds``)."""
    mail = bounded(parse(raw))
    sender = mail.sender.address if mail.sender else ""
    return Facts(mail, sender, screen(mail, settings.intake.own_addresses, settings.mid_domain), parse_bounce(mail))


@dataclass
class Message:
    """One inbound message on its way through the pipeline."""

    session: Session
    row: InboundMessage
    facts: Facts
    now: datetime  # when it counts as received (its own Date when importing)
    quiet: bool  # importing an old mailbox: record everything, mail nothing
