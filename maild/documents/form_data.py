"""The SOP's "Formulir Pencatatan Gangguan dan Permintaan Layanan": one ticket's values, loaded.

SOP 05 names the form in its table of contents but does not give it, so its content follows
the procedure's steps, one numbered section each: the report (step 1), the reporter, the
report text with the list of its attachments ("Lampiran"), the classification (step 2), the
follow-up (steps 3 and 5), the escalation to another service group (step 4), the coordinator
(steps 6-7) and the result and closing (step 8), with the working time used and the signatures of the helpdesk officer and the
coordinator ("Tideng Pale, <date>").

Read side only: everything comes from the ticket row and its append-only events, so the
form can be printed again at any time and says the same thing. ``form_data`` is the one
place that queries: it gathers the values into frozen dataclasses, as text ready to show;
``maild.documents.form_html`` and ``maild.documents.form_pdf`` draw them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from maild.documents.labels import (
    CHANNELS,
    OTHER_CHANNEL,
    category_label,
    channel_key,
    channel_label,
    format_duration,
    format_number,
    hours_of,
    local_clock,
    local_date,
    organisation_of,
    phone_in,
    priority_label,
    time_sentence,
    type_label,
)
from maild.documents.settings import FormSettings, read_logo
from maild.documents.templating import data_uri
from maild.documents.worktime import EventRow, durations
from maild.render.renderer import human_size, local_time
from maild.service.attachments import StoredFile, files_of
from maild.service.forwarding import is_signature_image
from maild.sop.vocabulary import Role, Status, label
from maild.store.models import Event, Party, Ticket
from maild.store.queries import ticket_by_number

_FOLLOW_UP = {"staff_answered", "note_added", "status_updated", "assigned", "classified", "reporter_replied",
              "reopened", "thanks_received", "sla_response_missed", "sla_resolution_missed", "sla_head_missed"}
SYSTEM_ACTOR = "maild"


@dataclass(frozen=True)
class FormEntry:
    """One dated line of the record: when, who, what, and the text written."""

    at: str
    who: str
    what: str
    text: str = ""


@dataclass(frozen=True)
class FormAttachment:
    """A file the ticket's messages brought (section 3, "Lampiran")."""

    filename: str
    size: str  # as people read it: "120 KB"


@dataclass(frozen=True)
class FormEscalation:
    """SOP step 4: the ticket passed to another service group, and what the group answered."""

    group: str
    at: str
    by: str
    note: str
    answers: tuple[FormEntry, ...]


@dataclass(frozen=True)
class FormTimes:
    """Working time used, against the SLA targets (hours; None: not reached yet)."""

    response_hours: float | None
    response_text: str
    response_target_hours: float
    response_met: bool | None
    resolution_hours: float | None
    resolution_text: str
    resolution_target_hours: float
    resolution_met: bool | None

    @property
    def response_sentence(self) -> str:
        return time_sentence(self.response_text, self.response_hours, self.response_target_hours,
                             self.response_met)

    @property
    def resolution_sentence(self) -> str:
        return time_sentence(self.resolution_text, self.resolution_hours, self.resolution_target_hours,
                             self.resolution_met)


@dataclass(frozen=True)
class FormData:
    """Everything the form prints, as text ready to show (dates in local time)."""

    lpse_name: str
    logo: bytes | None
    place: str
    number: str
    subject: str
    received_date: str
    received_time: str
    channel: str  # key: email, telepon, datang_langsung, whatsapp, surat, ...
    channel_label: str
    received_by: str
    reporter_name: str
    organisation: str
    email: str
    phone: str
    type: str | None
    type_label: str
    category: str
    category_label: str
    priority: str | None
    priority_label: str
    classified_by: str
    description: str
    state_label: str
    follow_up: tuple[FormEntry, ...]
    escalations: tuple[FormEscalation, ...]
    coordinator_reports: tuple[FormEntry, ...]
    recommendations: tuple[FormEntry, ...]
    result: str
    result_at: str
    closed_date: str
    closed_time: str
    times: FormTimes
    officer: str
    coordinator: str
    signed_date: str
    printed_at: str = ""
    linked_to: str = ""
    attachments: tuple[FormAttachment, ...] = ()
    # The same moments as instants in local time, for tables that sort by them (the XLSX register).
    received_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def closed(self) -> bool:
        return self.closed_date != "-"

    @property
    def channel_checked(self) -> str:
        """The checkbox to cross: the channel, or ``lainnya`` for one the form does not list."""
        return self.channel if self.channel in dict(CHANNELS) else OTHER_CHANNEL

    @property
    def channel_options(self) -> tuple[tuple[str, str], ...]:
        """The channel checkboxes; the last one names the channel when it is not listed."""
        other = "Lainnya" + (f": {self.channel_label}" if self.channel_checked == OTHER_CHANNEL else "")
        return (*CHANNELS, (OTHER_CHANNEL, other))

    @property
    def logo_uri(self) -> str:
        return data_uri(self.logo)


@dataclass(frozen=True)
class _Rows:
    """A ticket's events with the names of the people who appear in them."""

    events: tuple[Event, ...]
    names: Mapping[str, str]
    roles: Mapping[str, str]

    def as_sla(self) -> list[EventRow]:
        return [(e.created_at, e.event, e.old_state, e.new_state, e.detail or {}) for e in self.events]

    def of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.event in kinds]


@dataclass(frozen=True)
class _Around:
    """What the forms of a chunk of tickets read besides the tickets: read together, a fixed
    number of queries for the chunk (a month's register asked seven per ticket before)."""

    events: Mapping[int, tuple[Event, ...]]
    names: Mapping[str, str]  # every address in the chunk's events -> its party's name
    roles: Mapping[str, str]
    parties: Mapping[int, Party]  # reporters and assignees by id
    numbers: Mapping[int, str]  # linked tickets' numbers by id
    files: Mapping[int, tuple[StoredFile, ...]]
    coordinator: str

    def rows(self, ticket: Ticket) -> _Rows:
        return _Rows(self.events.get(ticket.id, ()), self.names, self.roles)


_CHUNK = 500  # tickets per chunk: bounded IN lists on either database


def form_data(session: Session, number: str, settings: FormSettings,
              now: datetime | None = None) -> FormData | None:
    """The form of ticket ``number`` of ``settings.mailbox`` (None when there is no such ticket).

    ``now`` is printed as the time of printing and dates the signatures of an open ticket.
    """
    ticket = ticket_by_number(session, number, settings.mailbox)
    if ticket is None:
        return None
    return forms(session, [ticket], settings, now)[0]


def forms(session: Session, tickets: Sequence[Ticket], settings: FormSettings,
          now: datetime | None = None) -> list[FormData]:
    """The forms of ``tickets``, in their order, with a fixed number of queries per chunk of
    ``_CHUNK`` tickets, however many there are."""
    out: list[FormData] = []
    for start in range(0, len(tickets), _CHUNK):
        chunk = tickets[start:start + _CHUNK]
        around = _around(session, chunk, settings)
        out += [_form(ticket, around, settings, now) for ticket in chunk]
    return out


def _form(ticket: Ticket, around: _Around, settings: FormSettings, now: datetime | None) -> FormData:
    rows = around.rows(ticket)
    reporter = around.parties.get(ticket.reporter_id) if ticket.reporter_id else None
    received = next(iter(rows.of("report_received")), None)
    text = str((received.detail or {}).get("text", "")) if received else ""
    s = settings
    escalations = _escalations(rows, s)
    return FormData(
        lpse_name=s.lpse_name, logo=read_logo(s.logo), place=s.place, number=ticket.number,
        subject=ticket.subject or "-",
        received_date=local_date(ticket.created_at, s.timezone, s.language),
        received_time=local_clock(ticket.created_at, s.timezone, s.language),
        received_at=ticket.created_at.astimezone(ZoneInfo(s.timezone)),
        channel=channel_key(ticket.channel), channel_label=channel_label(ticket.channel),
        received_by=_received_by(received, rows, s),
        **_reporter_fields(reporter, ticket, received),
        **_classification_fields(ticket, received, bool(rows.of("classified")), s.language),
        description=text.strip() or "-", state_label=label(ticket.state),
        attachments=_attachments(around.files.get(ticket.id, ()), s.language),
        follow_up=_follow_up(ticket, rows, s),
        escalations=escalations,
        coordinator_reports=tuple(_entry(e, rows, s) for e in rows.of("reported_to_coordinator")),
        recommendations=tuple(_entry(e, rows, s) for e in rows.of("recommended")),
        **_closing_fields(ticket, around, rows, s, now),
    )


def _attachments(files: Sequence[StoredFile], language: str) -> tuple[FormAttachment, ...]:
    """Every file kept with the ticket but the logos of mail signatures (as the mails to the team)."""
    return tuple(FormAttachment(f.filename, human_size(f.size, language))
                 for f in files if not is_signature_image(f))


def _around(session: Session, tickets: Sequence[Ticket], s: FormSettings) -> _Around:
    ids = [t.id for t in tickets]
    events: dict[int, list[Event]] = defaultdict(list)
    for e in session.scalars(select(Event).where(Event.ticket_id.in_(ids)).order_by(Event.id)):
        events[e.ticket_id].append(e)
    every = [e for chunk in events.values() for e in chunk]
    addresses = {e.actor for e in every} | {str((e.detail or {}).get("assignee", "")) for e in every}
    named = session.execute(select(Party.address, Party.name, Party.role)
                            .where(Party.address.in_(sorted(a for a in addresses if a)))).all()
    people = {t.reporter_id for t in tickets} | {t.assignee_id for t in tickets}
    parties = {p.id: p for p in session.scalars(select(Party).where(Party.id.in_(sorted(i for i in people if i))))}
    linked = sorted({t.linked_ticket_id for t in tickets if t.linked_ticket_id})
    numbers = {tid: number for tid, number in session.execute(
        select(Ticket.id, Ticket.number).where(Ticket.id.in_(linked)))} if linked else {}
    return _Around({tid: tuple(chunk) for tid, chunk in events.items()}, {a: n for a, n, _ in named if n},
                   {a: r for a, _, r in named}, parties, numbers, files_of(session, ids), _coordinator(s, session))


def _received_by(received: Event | None, rows: _Rows, s: FormSettings) -> str:
    """Who recorded the report: the staff member who took it (phone, in person), or the system (mail)."""
    if received is None or rows.roles.get(received.actor) not in (Role.STAFF, Role.COORDINATOR):
        return "Sistem (otomatis dari email)"
    return _who(received.actor, rows, s.group_titles)


def _reporter_fields(reporter: Party | None, ticket: Ticket, received: Event | None) -> dict[str, Any]:
    """Name, organisation, address and phone: as recorded (a report taken by phone or in person
    names them), else from the address and the report's signature."""
    d = (received.detail or {}) if received else {}
    address = reporter.address if reporter else ""
    name = (reporter.name if reporter else "") or str(d.get("reporter") or "") or address.partition("@")[0]
    organisation = str(d.get("organisation") or "") or (organisation_of(address) if address else "")
    phone = ticket.contact or str(d.get("contact") or "") or phone_in(str(d.get("text", "")))
    return {"reporter_name": name or "-", "organisation": organisation or "-", "email": address or "-",
            "phone": phone or "-"}


def _classification_fields(ticket: Ticket, received: Event | None, changed: bool, language: str) -> dict[str, Any]:
    hits = (received.detail or {}).get("rules", ()) if received else ()
    rules = [str(h).split(":", 1)[0] for h in hits]
    basis = f"Otomatis menurut aturan: {', '.join(rules)}" if rules else "Petugas Helpdesk"
    if rules and changed:
        basis += "; diubah oleh Petugas Helpdesk (lihat tindak lanjut)"
    return {
        "type": ticket.type, "type_label": type_label(ticket.type, language),
        "category": ticket.category or "-", "category_label": category_label(ticket.category),
        "priority": ticket.priority, "priority_label": priority_label(ticket.priority, language),
        "classified_by": basis,
    }


def _who(address: str, rows: _Rows, group_titles: Mapping[str, str], group: str = "") -> str:
    """A person's name as the form prints it (staff addresses are internal, names are not)."""
    if address == SYSTEM_ACTOR:
        return "Sistem (otomatis)"
    if group:
        return group_titles.get(group, group)
    return rows.names.get(address) or address or "-"


def _describe(e: Event, rows: _Rows, language: str) -> tuple[str, str]:
    """(what happened, the text written) for one follow-up event, in Indonesian."""
    d = e.detail or {}
    text = str(d.get("text", "") or "")
    if e.event == "status_updated":
        waiting = d.get("status") == Status.WAITING
        return ("Pemutakhiran status: " + ("menunggu tanggapan pelapor" if waiting else "sedang diproses")), ""
    if e.event == "assigned":
        who = str(d.get("assignee", ""))
        return f"Ditugaskan kepada {rows.names.get(who) or who}", ""
    if e.event == "classified":
        return "Klasifikasi: " + "; ".join(_classification_change(k, str(v), language) for k, v in d.items()), ""
    if e.event.startswith("sla_"):
        level = {"sla_response_missed": "tanggapan", "sla_resolution_missed": "penyelesaian"}.get(e.event)
        what = f"Target waktu {level} terlewati" if level else "Dilaporkan kepada Kepala LPSE"
        return f"{what} ({format_number(d.get('working_hours'))} jam kerja)", ""
    labels = {"staff_answered": "Jawaban kepada pelapor", "note_added": "Catatan internal",
              "reporter_replied": "Tanggapan pelapor", "reopened": "Tiket dibuka kembali",
              "thanks_received": "Ucapan terima kasih pelapor", "resolved": "Ditutup, hasil disampaikan"}
    if e.event == "merged_in":
        return f"Tiket {d.get('from', '-')} (laporan yang sama) digabungkan ke tiket ini", ""
    if d.get("not_mailed") and e.event in ("staff_answered", "resolved"):
        # No address to write to: the record must not claim the reporter was mailed.
        what = "Jawaban dicatat" if e.event == "staff_answered" else "Ditutup"
        return f"{what} (pelapor tanpa alamat email: disampaikan langsung oleh petugas)", text
    return labels.get(e.event, e.event), text


def _classification_change(key: str, value: str, language: str) -> str:
    if key == "type":
        return f"jenis {type_label(value, language)}"
    if key == "priority":
        return f"prioritas {priority_label(value, language)}"
    return f"kategori {category_label(value)}" if key == "category" else f"{key} {value}"


def _entry(e: Event, rows: _Rows, s: FormSettings) -> FormEntry:
    what, text = _describe(e, rows, s.language)
    return FormEntry(local_time(e.created_at, s.timezone, s.language), _who(e.actor, rows, s.group_titles),
                     what, text)


def _follow_up(ticket: Ticket, rows: _Rows, s: FormSettings) -> tuple[FormEntry, ...]:
    """Sections 3 and 5 of the SOP: every follow-up, and the closings before a reopening (the
    last closing is the result in section 8)."""
    closings = rows.of("resolved", "merged")
    final = closings[-1].id if closings and ticket.closed_at else None
    kinds = {*_FOLLOW_UP, "resolved", "merged_in"}
    return tuple(_entry(e, rows, s) for e in rows.events if e.event in kinds and e.id != final)


def _escalations(rows: _Rows, s: FormSettings) -> tuple[FormEscalation, ...]:
    """Each escalation with the group answers that came after it (and before the next one)."""
    out: list[FormEscalation] = []
    escalated = rows.of("escalated")
    replies = rows.of("group_replied")
    for i, e in enumerate(escalated):
        until = escalated[i + 1].id if i + 1 < len(escalated) else None
        group = str((e.detail or {}).get("group", ""))
        title = s.group_titles.get(group, group) or "-"
        answers = tuple(
            FormEntry(local_time(r.created_at, s.timezone, s.language), _who(r.actor, rows, s.group_titles, group),
                      "Jawaban pengelola layanan", str((r.detail or {}).get("text", "")))
            for r in replies if r.id > e.id and (until is None or r.id < until))
        out.append(FormEscalation(title, local_time(e.created_at, s.timezone, s.language),
                                  _who(e.actor, rows, s.group_titles), str((e.detail or {}).get("text", "")),
                                  answers))
    return tuple(out)


def _officer(ticket: Ticket, rows: _Rows, around: _Around) -> str:
    """The helpdesk officer: the assignee, else the staff member who closed it, else the most active one."""
    if ticket.assignee_id:
        p = around.parties.get(ticket.assignee_id)
        if p is not None:
            return p.name or p.address
    staff = [e.actor for e in rows.events if rows.roles.get(e.actor) == Role.STAFF]
    closer = [e.actor for e in rows.of("resolved") if rows.roles.get(e.actor) == Role.STAFF]
    pick = closer[-1] if closer else max(staff, key=staff.count) if staff else ""
    return rows.names.get(pick) or pick or ""


def _coordinator(s: FormSettings, session: Session) -> str:
    if s.coordinator_name:
        return s.coordinator_name
    found = session.execute(coordinator_party()).first()
    return (found[0] or found[1]) if found else ""


def coordinator_party() -> Select[tuple[str, str]]:
    """The coordinator's name and address: asked once per form, so a register of a month asks it
    a thousand times; the index on the role finds it among every reporter ever seen."""
    return select(Party.name, Party.address).where(Party.role == Role.COORDINATOR).limit(1)


def _times(ticket: Ticket, rows: _Rows, s: FormSettings) -> FormTimes:
    d = durations(s.calendar, s.policy.pause_states, rows.as_sla(), ticket.created_at, ticket.first_response_at,
                  ticket.closed_at)
    target = s.policy.target(ticket.type, ticket.priority)
    return FormTimes(
        response_hours=hours_of(d.response), response_text=format_duration(d.response),
        response_target_hours=hours_of(target.response) or 0.0,
        response_met=None if d.response is None else d.response <= target.response,
        resolution_hours=hours_of(d.resolution), resolution_text=format_duration(d.resolution),
        resolution_target_hours=hours_of(target.resolution) or 0.0,
        resolution_met=None if d.resolution is None else d.resolution <= target.resolution,
    )


def _result(last: Event | None) -> str:
    """What section 8 says was done: the closing text, or the ticket it was merged into."""
    if last is None:
        return ""
    d = last.detail or {}
    if last.event == "merged":
        return f"Digabungkan ke tiket {d.get('into', '-')} (laporan yang sama)."
    return str(d.get("text", ""))


def _closing_fields(ticket: Ticket, around: _Around, rows: _Rows, s: FormSettings,
                    now: datetime | None) -> dict[str, Any]:
    closings = rows.of("resolved", "merged")
    last = closings[-1] if closings and ticket.closed_at else None
    linked = around.numbers.get(ticket.linked_ticket_id) if ticket.linked_ticket_id else None
    signed = ticket.closed_at or now
    return {
        "result": _result(last),
        "result_at": local_time(last.created_at, s.timezone, s.language) if last else "",
        "closed_date": local_date(ticket.closed_at, s.timezone, s.language),
        "closed_time": local_clock(ticket.closed_at, s.timezone, s.language),
        "closed_at": ticket.closed_at.astimezone(ZoneInfo(s.timezone)) if ticket.closed_at else None,
        "times": _times(ticket, rows, s),
        "officer": _officer(ticket, rows, around),
        "coordinator": around.coordinator,
        "signed_date": local_date(signed, s.timezone, s.language) if signed else "",
        "printed_at": local_time(now, s.timezone, s.language) if now else "",
        "linked_to": linked or "",
    }
