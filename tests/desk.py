"""A helpdesk on SQLite driven by maild's own intake and actions at moments a test chooses
(no mailbox, no daemon): for the documents, which read what those actions recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harness import STAFF, write_config
from maild.app.factory import Services, intake_settings
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.documents.report_figures import Report, monthly_report
from maild.documents.settings import form_settings
from maild.service import actions, intake
from maild.sop.vocabulary import Channel
from maild.store.db import make_engine, transaction, upgrade
from maild.store.models import Ticket

WITA = ZoneInfo("Asia/Makassar")


def wita(month: int, day: int, hour: int = 9, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=WITA)


class Desk:
    """maild's own intake and actions on a SQLite database, at moments the test chooses."""

    def __init__(self, tmp_path: Path) -> None:
        path = write_config(tmp_path, {"database": {"url": "sqlite:///maild.db"}, "mailbox": {"url": "maildir:in"},
                                       "smtp": {"url": "maildir:out"}}, staff=True)
        self.settings = load_settings(path)
        engine = make_engine(self.settings.database.url)
        upgrade(engine)
        engine.dispose()
        self.clock = FrozenClock(wita(9, 1))
        self.services = Services(self.settings, self.clock)

    def open(self, subject: str, at: datetime, text: str = "", taken_by: str = STAFF) -> str:
        """Record a phoned-in report (taken by ``taken_by``: the staff are not told of their own)."""
        self.clock.now = at
        report = intake.report_by_hand(subject, text or f"{subject}: mohon bantuan.", Channel.PHONE, "Budi",
                                       "budi@cv-maju.co.id", f"test:{subject}", taken_by, at)
        with transaction(self.services.factory) as session:
            opened = intake.open_ticket(session, self.services.mailer, self.services.ruleset,
                                        intake_settings(self.settings), report, at)
            assert opened.ticket is not None
            return opened.ticket.number

    def act(self, number: str, at: datetime, action: Callable[[actions.Act], str]) -> None:
        self.clock.now = at
        with transaction(self.services.factory) as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
            action(actions.Act(session, self.services.mailer, self.services.roles, ticket, STAFF,
                               f"test:{number}:{at.isoformat()}", at))

    def close(self, number: str, at: datetime) -> None:
        self.act(number, at, lambda a: actions.resolve(a, "Sudah beres."))

    def reopen(self, number: str, at: datetime) -> None:
        self.act(number, at, lambda a: actions.reopen(a, "Masih gagal."))

    def report(self, month: str, now: datetime) -> Report:
        with self.services.factory() as session:
            return monthly_report(session, month, form_settings(self.settings), now)
