"""The staff's new-ticket notice says by when to respond: the SLA response target, in working
time, as the timers measure it."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from desk import Desk, wita
from maild.store.models import OutgoingMail, Ticket


def notice(desk: Desk, number: str) -> str:
    with desk.services.factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.priority in (None, "medium")  # the shipped rules leave this report at the default
        mail = session.scalars(select(OutgoingMail).where(OutgoingMail.ticket_id == ticket.id,
                                                          OutgoingMail.template == "new_ticket")).one()
        body = message_from_bytes(mail.raw, policy=policy.default).get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@pytest.mark.parametrize(("opened", "due"), [
    (wita(12, 2, 9), "2 Desember 2026 13:00 WITA"),   # medium: 4 working hours, same day
    (wita(12, 2, 15), "3 Desember 2026 10:30 WITA"),  # 1 h on Wednesday, 3 h from 07:30 on Thursday
    (wita(12, 4, 15), "7 Desember 2026 10:00 WITA"),  # Friday to 16:30, then Monday
])
def test_new_ticket_notice_has_the_response_due_time(tmp_path: Path, opened: datetime, due: str) -> None:
    desk = Desk(tmp_path)
    try:
        number = desk.open("Pertanyaan jadwal tender", opened, taken_by="maild")
        text = notice(desk, number)
    finally:
        desk.services.close()
    lines = text.splitlines()
    assert f"  Batas tanggapan : {due}" in lines
    assert lines.index(f"  Batas tanggapan : {due}") == next(i for i, x in enumerate(lines) if "Petugas" in x
                                                             and x.startswith("  Petugas")) + 1
