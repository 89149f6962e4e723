"""Stage 3c: the monthly report mails itself to the head of the LPSE and the coordinator.

On the first working day of a month (``WorkCalendar.first_working_day``: weekends, public
holidays and ``[calendar] days_off`` skipped), at or after ``[report] time``, last month's
report goes to the head of the LPSE (``[sla] head_address``), the coordinator and ``also_to``:
the report page as the HTML part (its charts as related images), its figures as a CSV
attachment, the key figures in the text part. A daemon that was down then sends it at its
first tick later in the month.

Once per month, whatever restarts, clock jumps or daemons: the first daemon to see it due
writes the TimerFiring ``report:YYYY-MM`` (``report:{mailbox}:YYYY-MM`` for a mailbox other
than the top level's) in the transaction that queues the mails, and every mail's outbox key
is that cause's ``.../monthly_report/{recipient}``, the same whether the
daemon or ``maild report --send`` queued it, so sending it by hand also stands for the
automatic one (and the other way round).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.base.settings import DEFAULT_MAILBOX
from maild.documents.report_figures import Report, last_full_month, month_bounds, monthly_report
from maild.documents.report_output import csv_name, page_parts, report_charts, report_csv_bytes, report_html
from maild.documents.settings import FormSettings
from maild.render.views import MonthlyReportView
from maild.service.mailer import Mailer
from maild.store.db import transaction
from maild.store.models import OutgoingMail, Ticket, TimerFiring
from maild.store.outbox import Identity, OutgoingFile, outgoing_key
from maild.store.queries import insert_ignore

log = logging.getLogger(__name__)

KIND = "monthly_report"
TOPIC = "report"  # the "ticket number" the report's Message-ID carries: a reply to it proves nothing


@dataclass(frozen=True)
class ReportMailSettings:
    identity: Identity
    enabled: bool  # mailed by itself ([report] enabled); by hand it can be sent either way
    at: time  # local time on the first working day
    recipients: tuple[tuple[str, str], ...]  # (address, name): the head, the coordinator, also_to
    documents: FormSettings  # what the report itself is built from (time zone, calendar, SLA)


@dataclass(frozen=True)
class Sent:
    """What queueing a month's report did: to whom it was queued now, and to whom it had been
    queued before (when it was sent, or queued if not sent yet)."""

    month: str
    queued: tuple[str, ...]
    earlier: tuple[tuple[str, datetime, bool], ...]  # (address, sent or queued at, sent)


def cause(month: str, mailbox: str = DEFAULT_MAILBOX) -> str:
    """The cause of a month's report mails of ``mailbox``, and the key of its TimerFiring: the
    default mailbox's as it always was (a database from before several mailboxes keeps its
    months sent), the other mailboxes' with their name, so each has its own once-a-month."""
    return f"report:{month}" if mailbox == DEFAULT_MAILBOX else f"report:{mailbox}:{month}"


def due_month(now: datetime, at: time, documents: FormSettings) -> str | None:
    """The month whose report is due at ``now``: last month, from the first working day of
    this month at ``at`` (local) on; None before that (or in a month without working days)."""
    local = now.astimezone(ZoneInfo(documents.timezone))
    first = documents.calendar.first_working_day(local.year, local.month)
    if first is None or (local.date(), local.time()) < (first, at):
        return None
    return last_full_month(now, documents.timezone)


class ReportMail:
    """Queues last month's report when it is due, once; ``send`` does it by hand."""

    def __init__(self, factory: sessionmaker[Session], mailer: Mailer, settings: ReportMailSettings,
                 clock: Clock) -> None:
        self.factory = factory
        self.mailer = mailer
        self.settings = settings
        self.clock = clock

    @property
    def mailbox(self) -> str:
        """The mailbox whose report this is (its tickets, its recipients)."""
        return self.settings.identity.mailbox

    def cause(self, month: str) -> str:
        """The cause and TimerFiring key of this mailbox's report of ``month``."""
        return cause(month, self.mailbox)

    def run_once(self) -> int:
        """Queue last month's report if it is due and was not sent yet; return how many mails."""
        s = self.settings
        now = self.clock()
        month = due_month(now, s.at, s.documents)
        if month is None or not s.enabled or not s.recipients:
            return 0
        _, end = month_bounds(month, s.documents.timezone)
        with transaction(self.factory) as session:
            if session.scalar(select(Ticket.id).where(Ticket.created_at < end, Ticket.mailbox == self.mailbox)
                              .limit(1)) is None:
                return 0  # a helpdesk installed this month has no last month to report on
            if not insert_ignore(session, TimerFiring, {"key": self.cause(month), "ticket_id": None, "kind": "report",
                                                        "fired_at": now}, ["key"]):
                return 0
            sent = self.queue(session, month, now)
        log.info("monthly report %s queued for %s", month, ", ".join(sent.queued) or "nobody new")
        return len(sent.queued)

    def send(self, month: str, now: datetime) -> Sent:
        """Queue ``month``'s report now (``maild report --send``), to those who do not have it
        yet, and mark the month done so the daemon does not send it again."""
        with transaction(self.factory) as session:
            insert_ignore(session, TimerFiring, {"key": self.cause(month), "ticket_id": None, "kind": "report",
                                                 "fired_at": now}, ["key"])
            return self.queue(session, month, now)

    def queue(self, session: Session, month: str, now: datetime) -> Sent:
        """Put ``month``'s report in the outbox for every recipient who has not had it."""
        s = self.settings
        keys = {outgoing_key(self.cause(month), KIND, address): address for address, _ in s.recipients}
        found = {keys[k]: (keys[k], sent_at or created_at, sent_at is not None) for k, created_at, sent_at in
                 session.execute(select(OutgoingMail.key, OutgoingMail.created_at, OutgoingMail.sent_at)
                                 .where(OutgoingMail.key.in_(keys)))}
        earlier = [found[a] for a, _ in s.recipients if a in found]
        todo = [(a, n) for a, n in s.recipients if a not in found]
        queued = []
        if todo:
            report = monthly_report(session, month, s.documents, now)
            view, images, attachment = self.compose(report)
            for address, name in todo:
                if self.mailer.queue_notice(session, KIND, address, name, replace(view, recipient_name=name),
                                            self.cause(month), TOPIC, now, automatic=False, images=images,
                                            attachments=(attachment,)):
                    queued.append(address)
        return Sent(month, tuple(queued), tuple(earlier))

    def compose(self, report: Report) -> tuple[MonthlyReportView, tuple[tuple[str, bytes], ...], OutgoingFile]:
        """The mail's view (for no one yet), the images its HTML shows, and the CSV."""
        s = self.settings
        charts = report_charts(report)
        style, body = page_parts(report_html(report, charts=charts, cid=True))
        images = tuple(charts.items()) + ((("logo", report.logo),) if report.logo else ())
        view = MonthlyReportView(
            recipient_name="", helpdesk_name=s.identity.name, helpdesk_address=s.identity.address,
            month=report.month, title=report.title, period=report.period, intake=report.intake,
            closed=report.closed, open_at_start=report.open_at_start, reopened=report.reopened,
            open_at_end=report.open_at_end, escalated=report.escalated, to_coordinator=report.coordinator.tickets,
            response_within=report.response.percent_within, resolution_within=report.resolution.percent_within,
            attachment=csv_name(report.month),
            # Markup: the page is the output of maild's own autoescaped report template.
            report_style=Markup(style), report_body=Markup(body),
        )
        return view, images, OutgoingFile(csv_name(report.month), "text/csv", report_csv_bytes(report))


def recipients(head: tuple[str, str], coordinator: tuple[str, str], also_to: tuple[str, ...],
               names: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The head of the LPSE, the coordinator, then the extra addresses, without repeats."""
    out: list[tuple[str, str]] = []
    for address, name in [head, coordinator, *[(a.lower(), names.get(a.lower(), "")) for a in also_to]]:
        if address and address not in [a for a, _ in out]:
            out.append((address, name))
    return tuple(out)
