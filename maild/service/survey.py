"""The reporter's answer to the satisfaction survey (SKM) the closing mail asks for.

One response per ticket: the first rating is recorded (``survey_responses``, an event on the
ticket) and thanked once; a later rating on the same ticket is kept on the ticket as an event
and answered by nothing, so the reporter is never asked, counted or thanked twice. Neither
reopens the ticket: the closing mail says that a reply with a rating does not.
"""

from __future__ import annotations

from sqlalchemy import select

from maild.service.actions import Act
from maild.sop.skm import ELEMENTS, Rating
from maild.store.models import SurveyResponse
from maild.store.queries import insert_ignore, note_event

ANSWERED = "survey_answered"
REPEATED = "survey_repeated"


def answer(act: Act, rating: Rating, message_id: str | None = None) -> str:
    """Record ``rating`` as the ticket's survey response and thank the reporter, once.

    Returns ``survey_answered``, or ``survey_repeated`` when the ticket already had a response
    (then the rating is kept only as an event on the ticket, and nobody is mailed)."""
    detail = {"ratings": rating.numbers, "comment": rating.comment}
    if _answered(act):
        note_event(act.session, act.ticket, REPEATED, act.actor, act.cause, act.now, detail)
        return REPEATED
    values = dict(zip((f"u{i}" for i in range(1, len(ELEMENTS) + 1)), rating.elements or (None,) * len(ELEMENTS)))
    # The UNIQUE ticket_id decides between two answers processed at once by two daemons.
    if not insert_ignore(act.session, SurveyResponse, {
        "ticket_id": act.ticket.id, "reporter": act.actor, "overall": rating.overall, **values,
        "comment": rating.comment, "message_id": message_id, "created_at": act.now,
    }, ["ticket_id"]):
        note_event(act.session, act.ticket, REPEATED, act.actor, act.cause, act.now, detail)
        return REPEATED
    act.event(ANSWERED, detail)
    rep = act.reporter()
    if rep is not None:
        act.mail("survey_thanks", rep.address, act.view(rep.name, rating.comment, extra={"ratings": rating.numbers}),
                 automatic=True)
    return ANSWERED


def _answered(act: Act) -> bool:
    return act.session.scalar(select(SurveyResponse.id).where(SurveyResponse.ticket_id == act.ticket.id)) is not None
