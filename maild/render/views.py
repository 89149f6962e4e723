"""What mail templates see: small frozen dataclasses built from tickets, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from maild.sop.codes import Refused

@dataclass(frozen=True)
class HistoryItem:
    at: str
    who: str
    what: str  # the event, in the reader's words
    text: str = ""
    event: str = ""  # the event's name in the record (``report_received``)


@dataclass(frozen=True)
class EarlierTicket:
    """One of the reporter's earlier tickets, as the staff notification lists it."""

    number: str
    subject: str
    state: str
    created_at: str


@dataclass(frozen=True)
class TicketView:
    number: str
    token: str
    subject: str
    state: str
    type: str
    category: str
    priority: str
    reporter_name: str
    reporter_address: str
    created_at: str
    age: str  # how long it has been open ("2 jam 5 menit", "kurang dari 1 menit")
    assignee: str
    ago: str = ""  # when it came in, from now ("2 jam yang lalu", "baru saja")
    reporter_contact: str = ""  # a phone number or other contact the reporter gave
    # The parts that cost queries (and a parse) are filled in by the mailer only for the
    # templates that show them (``Renderer.parts_used``); rendering itself never queries.
    report: str = ""
    rules: tuple[str, ...] = ()
    history: tuple[HistoryItem, ...] = ()
    # The reporter's other tickets (how many, the newest three), so staff see a recurring problem.
    earlier: tuple[EarlierTicket, ...] = ()
    earlier_count: int = 0


@dataclass(frozen=True)
class FileLine:
    """One of the reporter's files, as a mail lists it."""

    filename: str
    size: str  # as people read it: "120 KB"
    id: int = 0  # its number for ``maild attachments save --id``


@dataclass(frozen=True)
class FilesView:
    """The reporter's files a mail is about: those attached, and those left out of it (over the
    size budget) with the command that writes them out."""

    attached: tuple[FileLine, ...] = ()
    left_out: tuple[FileLine, ...] = ()
    budget: str = ""
    save_command: str = ""


@dataclass(frozen=True)
class MailView:
    """One mail: the ticket, who it is for, and the text it carries (answer, note, result)."""

    ticket: TicketView
    helpdesk_name: str
    helpdesk_address: str
    recipient_name: str = ""
    text: str = ""
    actor: str = ""
    group: str = ""
    reopen_days: int = 14
    applied: tuple[str, ...] = ()  # codes of what was done (maild.sop.codes.Done)
    refused: tuple[Refused, ...] = ()
    # For the help block: the groups #eskalasi reaches, the categories #kategori takes and the
    # stored answers #jawab sends.
    groups: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    # Whose help the help block shows: staff, coordinator or manager (the recipient's role).
    reader_role: str = "staff"
    # [survey] mode: the closing mail's invitation to rate the service ("off": none).
    survey: str = "off"
    extra: dict[str, str] = field(default_factory=dict)
    files: FilesView = FilesView()


@dataclass(frozen=True)
class DigestLine:
    token: str
    number: str
    subject: str
    state: str
    priority: str
    age_hours: float
    overdue: bool
    last_action: str
    last_actor: str


@dataclass(frozen=True)
class DigestGroup:
    step: str
    title: str
    lines: tuple[DigestLine, ...]


@dataclass(frozen=True)
class WeekRow:
    category: str
    intake: int
    closed: int


@dataclass(frozen=True)
class DigestView:
    """The coordinator's daily digest."""

    date: str
    helpdesk_name: str
    helpdesk_address: str
    recipient_name: str
    groups: tuple[DigestGroup, ...]
    awaiting_group: tuple[DigestLine, ...]
    awaiting_coordinator: tuple[DigestLine, ...]
    failed_mail: tuple[str, ...]
    dead_messages: tuple[str, ...]
    week: tuple[WeekRow, ...]
    open_count: int
    overdue_count: int
    has_chart: bool = True

    @property
    def all_clear(self) -> bool:
        return not (self.open_count or self.failed_mail or self.dead_messages)


@dataclass(frozen=True)
class MonthlyReportView:
    """The monthly report's mail to the head of the LPSE and the coordinator: the key figures
    for the text part, and the report page itself (its style and body) for the HTML part."""

    recipient_name: str
    helpdesk_name: str
    helpdesk_address: str
    month: str  # "2026-11"
    title: str  # "November 2026"
    period: str  # "1-30 November 2026"
    intake: int
    closed: int
    open_at_start: int
    reopened: int
    open_at_end: int
    escalated: int
    to_coordinator: int  # tickets reported to the coordinator
    response_within: str  # "83,3%" of first responses within target ("-": none measured)
    resolution_within: str
    attachment: str  # the CSV's file name
    # The report page as ``report_output.report_html`` renders it, split for embedding: its
    # stylesheet and the inside of its body, both markup from maild's own autoescaped template.
    report_style: str = ""
    report_body: str = ""


@dataclass(frozen=True)
class AlertView:
    """The admin's mail about a mailbox or outbox in trouble (``alert``) or recovered
    (``alert_recovered``). ``error`` is the technical line as maild logged it, not translated."""

    helpdesk_name: str
    helpdesk_address: str
    recipient_name: str
    mailbox: str  # the mailbox's name ("default")
    what: str  # sop.vocabulary.Alarm: "mailbox" or "outbox"
    since: str  # when the trouble began, local time
    lasted: str  # how long it has lasted (alert) or lasted (recovery), in words
    error: str  # the last error, verbatim ("" when none is known)
    queued: int  # mail waiting in the outbox now
    source: str  # what the mailbox is (imap://host/user, maildir:...) or the relay (smtp://host)
