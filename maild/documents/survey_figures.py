"""The satisfaction survey's figures for a period: responses, response rate, the NRR of each of
the regulation's elements, the IKM and its conversion and category, and the comments.

The arithmetic is the regulation's (Permenpan RB 14/2017), in ``maild.sop.skm``; this module
only reads the period's responses. A response counts in the period it was received, and the
response rate sets it against the tickets closed with a result in that period (each of them
got the closing mail that asks for a rating): a period reported again later says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from maild.base.settings import DEFAULT_MAILBOX
from maild.documents.labels import format_number
from maild.render.renderer import local_time
from maild.sop.skm import ELEMENTS, Index, Rating, compute
from maild.store.models import Event, SurveyResponse, Ticket


@dataclass(frozen=True)
class SurveyComment:
    """What a reporter wrote beside their rating (hostile text: the templates escape it)."""

    number: str
    at: str
    ratings: str
    text: str


@dataclass(frozen=True)
class SurveyFigures:
    """The survey over one period (a month, or the year the regulation asks for)."""

    start: datetime
    end: datetime
    responses: int
    closed: int  # tickets closed with a result in the period: each was asked for a rating
    index: Index
    comments: tuple[SurveyComment, ...]

    @property
    def rate(self) -> float | None:
        """Responses per ticket closed in the period, 0..1 (None: nothing was closed)."""
        return self.responses / self.closed if self.closed else None

    @property
    def percent_rate(self) -> str:
        rate = self.rate
        return "-" if rate is None else format_number(100 * rate, 1) + "%"


def year_bounds(year: int, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants of the first moment of ``year`` and of the next, in ``tz``."""
    zone = ZoneInfo(tz)
    start, end = datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def month_responses(start: datetime, end: datetime) -> Select[tuple[SurveyResponse]]:
    """Every survey response received in ``[start, end)``, in order (the index on created_at)."""
    return (select(SurveyResponse).where(SurveyResponse.created_at >= start, SurveyResponse.created_at < end)
            .order_by(SurveyResponse.created_at, SurveyResponse.id))


def survey_figures(session: Session, start: datetime, end: datetime, tz: str, language: str = "id",
                   mailbox: str = DEFAULT_MAILBOX) -> SurveyFigures:
    """The survey's figures for the responses about ``mailbox``'s tickets received in ``[start, end)``."""
    responses = session.scalars(month_responses(start, end)).all()
    # The tickets by their ids, the mailbox checked here: joined in one query with
    # ``mailbox = ?``, SQLite (no statistics) read every ticket by the (mailbox, number) index.
    ids = {r.ticket_id for r in responses}
    found = session.execute(select(Ticket.id, Ticket.number, Ticket.mailbox).where(Ticket.id.in_(ids)))
    numbers = {tid: number for tid, number, box in found if box == mailbox}
    rows = [(r, numbers[r.ticket_id]) for r in responses if r.ticket_id in numbers]
    ratings = [rating_of(r) for r, _ in rows]
    closed = session.scalar(
        select(func.count(func.distinct(Event.ticket_id))).join(Ticket, Ticket.id == Event.ticket_id)
        .where(Event.event == "resolved", Event.created_at >= start, Event.created_at < end,
               Ticket.mailbox == mailbox)
    ) or 0
    comments = tuple(SurveyComment(number, local_time(r.created_at, tz, language), rating.numbers, r.comment)
                     for (r, number), rating in zip(rows, ratings) if r.comment.strip())
    return SurveyFigures(start, end, len(rows), closed, compute(ratings), comments)


def rating_of(row: SurveyResponse) -> Rating:
    """The stored response as the rating the reporter gave."""
    elements = tuple(getattr(row, f"u{i}") for i in range(1, len(ELEMENTS) + 1))
    if all(v is not None for v in elements):
        return Rating(None, tuple(int(v) for v in elements), row.comment)
    return Rating(int(row.overall or 0), None, row.comment)


__all__ = ["SurveyComment", "SurveyFigures", "rating_of", "survey_figures", "year_bounds"]
