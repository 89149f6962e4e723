"""The SOP's "Formulir Pencatatan Gangguan dan Permintaan Layanan": one ticket as a form.

SOP 05 names the form in its table of contents but does not give it, so its content follows
the procedure's steps, one numbered section each: the report (step 1), the reporter, the
report text, the classification (step 2), the follow-up (steps 3 and 5), the escalation to
another service group (step 4), the coordinator (steps 6-7) and the result and closing
(step 8), with the working time used and the signatures of the helpdesk officer and the
coordinator ("Tideng Pale, <date>").

Read side only: everything comes from the ticket row and its append-only events, so the
form can be printed again at any time and says the same thing. ``form_data`` gathers the
values into frozen dataclasses; ``form_html`` renders ``templates/<lang>/form.html.j2``
and ``form_pdf`` draws an A4 PDF with fpdf2's core Helvetica font (latin-1 only, so text is
passed through ``pdf_text`` first).

The shared vocabulary of the read-side documents (category and channel names, working-time
durations, the template environment, the settings) lives here too; ``maild.documents.report`` uses it.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import jinja2
from fpdf import FPDF, FontFace
from fpdf.enums import MethodReturnValue, XPos, YPos
from fpdf.util import Padding
from sqlalchemy import select
from sqlalchemy.orm import Session

from maild.sop import sla
from maild.base.config import Settings, SlaSettings
from maild.store.models import Event, Party, Ticket
from maild.render.renderer import Renderer, local_time
from maild.base.resources import resource_dir
from maild.sop.vocabulary import Priority, TicketType, label, labels
from maild.sop.workcal import WorkCalendar, calendar_for

EventRow = tuple[datetime, str, str | None, str | None, dict[str, Any]]
"""One event as the SLA functions read it: (time, event, old state, new state, detail)."""

CATEGORY_NAMES = {
    "akun": "Akun dan Kata Sandi",
    "registrasi_verifikasi": "Registrasi dan Verifikasi",
    "aplikasi_spse": "Aplikasi SPSE",
    "jaringan_server": "Jaringan dan Server",
    "sertifikat_elektronik": "Sertifikat Elektronik",
    "e_katalog": "E-Katalog",
    "lainnya": "Lainnya",
}
# The channels a report can come through (``maild tickets new --channel`` and the mailbox), and the
# ones the form prints as checkboxes, in this order; any other is "Lainnya: <name>".
CHANNEL_NAMES = {"email": "Email", "telepon": "Telepon", "datang_langsung": "Datang langsung",
                 "whatsapp": "WhatsApp", "surat": "Surat"}
CHANNELS = (("email", "Email"), ("telepon", "Telepon"), ("datang_langsung", "Datang langsung"))
OTHER_CHANNEL = "lainnya"
_CHANNEL_ALIASES = {"phone": "telepon", "telephone": "telepon", "walk_in": "datang_langsung",
                    "walkin": "datang_langsung", "datang": "datang_langsung", "import": "email", "mail": "email",
                    "wa": "whatsapp", "letter": "surat"}
# Addresses of public mail providers say nothing about the reporter's organisation.
_FREE_MAIL = frozenset({"gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.id", "ymail.com", "hotmail.com",
                        "outlook.com", "live.com", "icloud.com", "aol.com", "rocketmail.com", "proton.me"})
# Indonesian mobile and landline numbers as people write them: 0812-3456-7890, +62 812 ..., (0551) 21234.
_PHONE = re.compile(r"(?<![\d.])(?:\+62[\s-]?|62|0)(?:8\d{2}|\(?\d{2,4}\)?)(?:[\s.-]?\d){5,9}(?![\d.])")
_FOLLOW_UP = {"staff_answered", "note_added", "status_updated", "assigned", "classified", "reporter_replied",
              "reopened", "thanks_received", "sla_response_missed", "sla_resolution_missed", "sla_head_missed"}
SYSTEM_ACTOR = "maild"


# -- settings -----------------------------------------------------------------------------
def default_policy() -> sla.Policy:
    """The SLA targets maild ships with."""
    return sla.policy_from(SlaSettings())


@dataclass(frozen=True)
class FormSettings:
    """What the read-side documents (form and monthly report) need from the configuration."""

    lpse_name: str = "LPSE Kabupaten Tana Tidung"
    logo: Path | bytes | None = None  # PNG or JPEG, printed at the top left
    timezone: str = "Asia/Makassar"
    language: str = "id"
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    policy: sla.Policy = field(default_factory=default_policy)
    place: str = "Tideng Pale"
    coordinator_name: str = ""
    group_titles: Mapping[str, str] = field(default_factory=dict)  # group name -> title


def form_settings(settings: Settings, logo: Path | bytes | None = None) -> FormSettings:
    """FormSettings from maild's configuration (the CLI's way in)."""
    h = settings.helpdesk
    name = re.sub(r"^\s*helpdesk\s+", "", h.name, flags=re.IGNORECASE) or h.name
    return FormSettings(
        lpse_name=name, logo=logo, timezone=h.timezone, language=h.language,
        calendar=calendar_for(settings),
        policy=sla.policy_from(settings.sla), coordinator_name=settings.coordinator.name,
        group_titles={g.name: g.title or g.name for g in settings.groups},
    )


# -- shared vocabulary ----------------------------------------------------------------------
def category_label(key: str | None) -> str:
    """``aplikasi_spse`` -> ``Aplikasi SPSE``; unknown keys are spelled out readably."""
    if not key:
        return "Belum ditentukan"
    return CATEGORY_NAMES.get(key) or key.replace("_", " ").strip().capitalize()


def channel_key(value: str | None) -> str:
    """A ticket's ``channel`` column as a channel key (``datang`` -> ``datang_langsung``, imported mail
    -> ``email``)."""
    key = (value or "email").strip().lower().replace(" ", "_").replace("-", "_")
    return _CHANNEL_ALIASES.get(key, key)


def channel_label(value: str | None) -> str:
    key = channel_key(value)
    return CHANNEL_NAMES.get(key) or key.replace("_", " ").capitalize()


def type_label(key: str | None, language: str = "id") -> str:
    return label(key, language, "Belum diklasifikasi")


def priority_label(key: str | None, language: str = "id") -> str:
    return label(key, language, "Belum ditentukan")


def organisation_of(address: str) -> str:
    """The organisation behind an address: its mail domain, or "-" for a public mail provider."""
    domain = address.rpartition("@")[2].lower()
    return "-" if not domain or domain in _FREE_MAIL else domain


def phone_in(text: str) -> str:
    """The first Indonesian phone number written in ``text`` (a signature), or ""."""
    found = _PHONE.search(text or "")
    return found.group(0).strip() if found else ""


def hours_of(amount: timedelta | None) -> float | None:
    """A duration in hours, rounded to two decimals (None stays None)."""
    return None if amount is None else round(amount.total_seconds() / 3600, 2)


def format_duration(amount: timedelta | None) -> str:
    """``2 jam 30 menit``; ``-`` for no value. Minutes are rounded down."""
    if amount is None:
        return "-"
    minutes = int(amount.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} menit"
    return f"{hours} jam {rest} menit" if rest else f"{hours} jam"


def format_number(value: float | None, digits: int = 1) -> str:
    """A number the Indonesian way: decimal comma (``3,5``); ``-`` for no value."""
    return "-" if value is None else f"{value:.{digits}f}".replace(".", ",")


def local_date(moment: datetime | None, timezone: str, language: str = "id") -> str:
    """``28 November 2026``."""
    return " ".join(local_time(moment, timezone, language).split()[:3]) if moment else "-"


def local_clock(moment: datetime | None, timezone: str, language: str = "id") -> str:
    """``15:04 WITA``."""
    return " ".join(local_time(moment, timezone, language).split()[3:]) if moment else "-"


# -- working time ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Durations:
    """Working time to the first staff action and to closing, less the time the clock stood still."""

    response: timedelta | None
    resolution: timedelta | None


def working_time(calendar: WorkCalendar, pause_states: frozenset[str], events: Sequence[EventRow],
                 start: datetime, end: datetime) -> timedelta:
    """Working time from ``start`` to ``end`` with the pauses of the SLA clock taken out.

    ``closed`` counts as a pause too: a ticket reopened after a week was not being worked on
    during that week. Only events before ``end`` are considered.
    """
    changes = sla.clock_changes([e for e in events if e[0] < end])
    paused = sla.paused_spans(changes, pause_states | {"closed"}, end)
    return sla.used(calendar, start, end, paused)


def durations(calendar: WorkCalendar, pause_states: frozenset[str], events: Sequence[EventRow],
              created_at: datetime, first_response_at: datetime | None,
              closed_at: datetime | None) -> Durations:
    """A ticket's response and resolution times in working hours (None: not yet)."""
    response = (working_time(calendar, pause_states, events, created_at, first_response_at)
                if first_response_at else None)
    resolution = working_time(calendar, pause_states, events, created_at, closed_at) if closed_at else None
    return Durations(response, resolution)


# -- the template environment ---------------------------------------------------------------
Templates = Renderer | jinja2.Environment | Path | None


@lru_cache(maxsize=8)
def _environment_at(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def environment(templates: Templates = None) -> jinja2.Environment:
    """A Jinja2 environment over maild's templates: given, a Renderer's directory, or the shipped one."""
    if isinstance(templates, jinja2.Environment):
        return templates
    if isinstance(templates, Renderer):
        return _environment_at(str(templates.directory))
    return _environment_at(str(templates or resource_dir("templates")))


def render_document(templates: Templates, name: str, language: str, context: Mapping[str, Any]) -> str:
    """Render ``<language>/<name>``, falling back to the Indonesian original (the SOP's language)."""
    env = environment(templates)
    try:
        template = env.get_template(f"{language}/{name}")
    except jinja2.TemplateNotFound:
        template = env.get_template(f"id/{name}")
    return template.render(**context)


def data_uri(image: bytes | None) -> str:
    """An image as a ``data:`` URI (PNG, JPEG, GIF or SVG, by its first bytes); "" for none."""
    if not image:
        return ""
    kind = ("image/png" if image.startswith(b"\x89PNG") else "image/jpeg" if image.startswith(b"\xff\xd8")
            else "image/gif" if image.startswith(b"GIF8") else "image/svg+xml")
    return f"data:{kind};base64,{base64.b64encode(image).decode('ascii')}"


def read_logo(logo: Path | bytes | str | None) -> bytes | None:
    """The logo's bytes from a path or bytes; None when not configured."""
    if logo is None or logo == b"" or logo == "":
        return None
    return bytes(logo) if isinstance(logo, (bytes, bytearray)) else Path(logo).read_bytes()


# -- the form's values ----------------------------------------------------------------------
@dataclass(frozen=True)
class FormEntry:
    """One dated line of the record: when, who, what, and the text written."""

    at: str
    who: str
    what: str
    text: str = ""


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


def form_data(session: Session, number: str, settings: FormSettings,
              now: datetime | None = None) -> FormData | None:
    """The form of ticket ``number`` (None when there is no such ticket).

    ``now`` is printed as the time of printing and dates the signatures of an open ticket.
    """
    ticket = session.scalars(select(Ticket).where(Ticket.number == number)).first()
    if ticket is None:
        return None
    rows = _load(session, ticket)
    reporter = session.get(Party, ticket.reporter_id) if ticket.reporter_id else None
    received = next(iter(rows.of("report_received")), None)
    text = str((received.detail or {}).get("text", "")) if received else ""
    s = settings
    escalations = _escalations(rows, s)
    return FormData(
        lpse_name=s.lpse_name, logo=read_logo(s.logo), place=s.place, number=ticket.number,
        subject=ticket.subject or "-",
        received_date=local_date(ticket.created_at, s.timezone, s.language),
        received_time=local_clock(ticket.created_at, s.timezone, s.language),
        channel=channel_key(ticket.channel), channel_label=channel_label(ticket.channel),
        received_by=_received_by(received, rows, s),
        **_reporter_fields(reporter, ticket, received),
        **_classification_fields(ticket, received, bool(rows.of("classified")), s.language),
        description=text.strip() or "-", state_label=label(ticket.state),
        follow_up=_follow_up(ticket, rows, s),
        escalations=escalations,
        coordinator_reports=tuple(_entry(e, rows, s) for e in rows.of("reported_to_coordinator")),
        recommendations=tuple(_entry(e, rows, s) for e in rows.of("recommended")),
        **_closing_fields(session, ticket, rows, s, now),
    )


def _load(session: Session, ticket: Ticket) -> _Rows:
    events = tuple(session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)))
    addresses = {e.actor for e in events} | {str((e.detail or {}).get("assignee", "")) for e in events}
    parties = session.execute(select(Party.address, Party.name, Party.role)
                              .where(Party.address.in_(sorted(a for a in addresses if a)))).all()
    return _Rows(events, {a: n for a, n, _ in parties if n}, {a: r for a, _, r in parties})


def _received_by(received: Event | None, rows: _Rows, s: FormSettings) -> str:
    """Who recorded the report: the staff member who took it (phone, in person), or the system (mail)."""
    if received is None or rows.roles.get(received.actor) not in ("staff", "coordinator"):
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
        waiting = d.get("status") == "waiting"
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


def _officer(ticket: Ticket, rows: _Rows, session: Session) -> str:
    """The helpdesk officer: the assignee, else the staff member who closed it, else the most active one."""
    if ticket.assignee_id:
        p = session.get(Party, ticket.assignee_id)
        if p is not None:
            return p.name or p.address
    staff = [e.actor for e in rows.events if rows.roles.get(e.actor) == "staff"]
    closer = [e.actor for e in rows.of("resolved") if rows.roles.get(e.actor) == "staff"]
    pick = closer[-1] if closer else max(staff, key=staff.count) if staff else ""
    return rows.names.get(pick) or pick or ""


def _coordinator(s: FormSettings, session: Session) -> str:
    if s.coordinator_name:
        return s.coordinator_name
    found = session.execute(select(Party.name, Party.address).where(Party.role == "coordinator")).first()
    return (found[0] or found[1]) if found else ""


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


def _closing_fields(session: Session, ticket: Ticket, rows: _Rows, s: FormSettings,
                    now: datetime | None) -> dict[str, Any]:
    closings = rows.of("resolved", "merged")
    last = closings[-1] if closings and ticket.closed_at else None
    linked = session.get(Ticket, ticket.linked_ticket_id) if ticket.linked_ticket_id else None
    signed = ticket.closed_at or now
    return {
        "result": _result(last),
        "result_at": local_time(last.created_at, s.timezone, s.language) if last else "",
        "closed_date": local_date(ticket.closed_at, s.timezone, s.language),
        "closed_time": local_clock(ticket.closed_at, s.timezone, s.language),
        "times": _times(ticket, rows, s),
        "officer": _officer(ticket, rows, session),
        "coordinator": _coordinator(s, session),
        "signed_date": local_date(signed, s.timezone, s.language) if signed else "",
        "printed_at": local_time(now, s.timezone, s.language) if now else "",
        "linked_to": linked.number if linked else "",
    }


# -- HTML -----------------------------------------------------------------------------------
def form_html(data: FormData, templates: Templates = None, language: str = "id") -> str:
    """The form as printable A4 HTML (``templates/<language>/form.html.j2``, Indonesian labels)."""
    return render_document(templates, "form.html.j2", language, {
        "f": data, "types": tuple(labels(TicketType).items()),
        "priorities": tuple(labels(Priority).items()),
    })


# -- PDF ------------------------------------------------------------------------------------
_PDF_REPLACEMENTS = {
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2026": "...", "\u2022": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\u2122": "(TM)", "\u20ac": "EUR", "\u2192": "->", "\u2190": "<-", "\u2713": "v", "\u2714": "v",
    "\u2705": "v", "\u274c": "x", "\ufeff": "", "\t": "    ",
}


def pdf_text(text: str) -> str:
    """``text`` in latin-1 for the PDF core fonts: typographic marks become their plain forms,
    accented letters outside latin-1 lose the accent, anything else becomes "?"."""
    out: list[str] = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        if ch in _PDF_REPLACEMENTS:
            out.append(_PDF_REPLACEMENTS[ch])
        elif ord(ch) < 256:
            out.append(ch if ch == "\n" or ch.isprintable() else " ")
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            plain = "".join(c for c in plain if not unicodedata.combining(c))
            out.append(plain or "?")
    return "".join(out)


def form_pdf(data: FormData) -> bytes:
    """The form as an A4 PDF (fpdf2, core Helvetica, text through ``pdf_text``)."""
    pdf = _FormPdf(data)
    pdf.add_page()
    pdf.title_block()
    _pdf_report_sections(pdf, data)
    _pdf_follow_up(pdf, data)
    _pdf_escalation(pdf, data)
    _pdf_coordinator(pdf, data)
    _pdf_closing(pdf, data)
    pdf.signatures()
    return bytes(pdf.output())


_MARGIN = 18.0
_WIDTH = 210.0 - 2 * _MARGIN  # usable width of an A4 page, mm
_LABEL_W = 50.0
_LINE = 4.6  # line height of 9 pt text, mm
_PAD = 1.6
_GREY = (232, 234, 237)
_DARK = (60, 60, 60)


class _FormPdf(FPDF):
    """An A4 page with the form's running header and footer, and its building blocks."""

    def __init__(self, data: FormData) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.data = data
        self.set_margins(_MARGIN, 14, _MARGIN)
        self.set_auto_page_break(True, margin=16)
        self.set_title(pdf_text(f"Formulir Pencatatan Gangguan dan Permintaan Layanan {data.number}"))
        self.set_author(pdf_text(data.lpse_name))
        self.set_creator("maild")

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*_DARK)
        self.cell(_WIDTH, 4, pdf_text(f"{self.data.lpse_name} - Formulir Pencatatan Gangguan dan Permintaan "
                                      f"Layanan - Tiket {self.data.number}"), align="L")
        self.ln(7)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7.5)
        self.set_text_color(*_DARK)
        printed = f"Dicetak {self.data.printed_at}" if self.data.printed_at else ""
        self.cell(_WIDTH / 2, 4, pdf_text(f"SOP 05 - Tiket {self.data.number}   {printed}"), align="L")
        self.cell(_WIDTH / 2, 4, f"Halaman {self.page_no()} dari {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    def title_block(self) -> None:
        """The letterhead (logo, the LPSE's name, a double rule), the title and the ticket number."""
        d, top = self.data, self.get_y()
        if d.logo:
            self.image(io.BytesIO(d.logo), x=_MARGIN, y=top, h=20)
        self.set_font("Helvetica", "B", 15)
        self.cell(_WIDTH, 7, pdf_text(d.lpse_name.upper()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9.5)
        for line in ("Layanan Pengadaan Secara Elektronik - Helpdesk",
                     "Standar 05: Pengelolaan Gangguan/Permasalahan dan Permintaan Layanan"):
            self.cell(_WIDTH, 5, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = max(self.get_y(), top + 20) + 2
        self.set_line_width(0.8)
        self.line(_MARGIN, y, _MARGIN + _WIDTH, y)
        self.set_line_width(0.2)
        self.line(_MARGIN, y + 1.2, _MARGIN + _WIDTH, y + 1.2)
        self.set_y(y + 5)
        self.set_font("Helvetica", "B", 12.5)
        self.cell(_WIDTH, 6, "FORMULIR PENCATATAN GANGGUAN DAN PERMINTAAN LAYANAN", align="C",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 10)
        self.cell(_WIDTH, 6, pdf_text(f"Nomor Tiket: {d.number}"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def section(self, number: int, title: str, step: str) -> None:
        """A shaded bar: ``3. URAIAN LAPORAN`` with the SOP step on the right."""
        if self.will_page_break(6 + 4 * _LINE):
            self.add_page()
        self.ln(2.5)
        self.set_fill_color(*_GREY)
        self.set_font("Helvetica", "B", 9.5)
        self.cell(_WIDTH - 40, 6, pdf_text(f"{number}. {title.upper()}"), border="LTB", fill=True)
        self.set_font("Helvetica", "I", 8)
        self.cell(40, 6, pdf_text(step), border="RTB", fill=True, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def field(self, label: str, value: str) -> None:
        """A row of the form: the label on the left, the value (wrapped) on the right."""
        text = pdf_text(value.strip() or "-")[:2500]
        self.set_font("Helvetica", "", 9)
        lines = self._line_count(_WIDTH - _LABEL_W - 2 * _PAD, text)
        self.set_font("Helvetica", "B", 8.5)
        height = max(lines, self._line_count(_LABEL_W - 2 * _PAD, pdf_text(label)), 1) * _LINE + 2 * _PAD
        if self.will_page_break(height):
            self.add_page()
        x, y = _MARGIN, self.get_y()
        self.set_fill_color(246, 247, 249)
        self.rect(x, y, _LABEL_W, height, style="DF")
        self.rect(x + _LABEL_W, y, _WIDTH - _LABEL_W, height, style="D")
        self.set_xy(x + _PAD, y + _PAD)
        self.multi_cell(_LABEL_W - 2 * _PAD, _LINE, pdf_text(label), align="L")
        self.set_font("Helvetica", "", 9)
        self.set_xy(x + _LABEL_W + _PAD, y + _PAD)
        self.multi_cell(_WIDTH - _LABEL_W - 2 * _PAD, _LINE, text, align="L")
        self.set_xy(x, y + height)

    def _line_count(self, width: float, text: str) -> int:
        """How many lines ``text`` takes in the current font at ``width``."""
        lines = self.multi_cell(width, _LINE, text, dry_run=True, output=MethodReturnValue.LINES)
        return len(cast(list[str], lines))

    def checks(self, label: str, options: Sequence[tuple[str, str]], selected: str | None) -> None:
        """A row of checkboxes, the selected one crossed: the way a paper form asks a choice."""
        height = _LINE + 2 * _PAD + 0.6
        if self.will_page_break(height):
            self.add_page()
        x, y = _MARGIN, self.get_y()
        self.set_fill_color(246, 247, 249)
        self.rect(x, y, _LABEL_W, height, style="DF")
        self.rect(x + _LABEL_W, y, _WIDTH - _LABEL_W, height, style="D")
        self.set_font("Helvetica", "B", 8.5)
        self.set_xy(x + _PAD, y + _PAD)
        self.cell(_LABEL_W - 2 * _PAD, _LINE, pdf_text(label))
        self.set_font("Helvetica", "", 9)
        cx, box = x + _LABEL_W + _PAD + 0.5, 3.4
        for key, name in options:
            top = y + (height - box) / 2
            self.rect(cx, top, box, box)
            if key == selected:
                self.set_line_width(0.45)
                self.line(cx + 0.6, top + 0.6, cx + box - 0.6, top + box - 0.6)
                self.line(cx + 0.6, top + box - 0.6, cx + box - 0.6, top + 0.6)
                self.set_line_width(0.2)
            self.set_xy(cx + box + 1.4, y + _PAD + 0.3)
            self.set_font("Helvetica", "B" if key == selected else "", 9)
            self.cell(self.get_string_width(pdf_text(name)) + 1, _LINE, pdf_text(name))
            cx += box + 1.4 + self.get_string_width(pdf_text(name)) + 5.5
        self.set_xy(x, y + height)

    def note(self, text: str) -> None:
        """A full-width bordered line of text (an empty section says so)."""
        self.set_font("Helvetica", "I", 9)
        self.multi_cell(_WIDTH, _LINE + 1.5, pdf_text(text), border=1, align="L", padding=Padding(0.6, _PAD, 0.6, _PAD),
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def block(self, text: str) -> None:
        """Long text (the report) over the full width; it may run onto the next page."""
        self.set_font("Helvetica", "", 9)
        self.multi_cell(_WIDTH, _LINE, pdf_text(text.strip() or "-")[:6000], border=1, align="L",
                        padding=Padding(_PAD, _PAD, _PAD, _PAD), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def signatures(self) -> None:
        """Acknowledged by the coordinator (left), made by the helpdesk officer (right), dated."""
        d = self.data
        if self.will_page_break(48):
            self.add_page()
        self.ln(7)
        y, half = self.get_y(), _WIDTH / 2
        place = f"{d.place}, {d.signed_date}" if d.signed_date else f"{d.place}, ......................"
        for x, lines, name in ((_MARGIN, ("", "Mengetahui,", "Koordinator Helpdesk"), d.coordinator),
                               (_MARGIN + half, (place, "", "Petugas Helpdesk"), d.officer)):
            self.set_xy(x, y)
            self.set_font("Helvetica", "", 9.5)
            for line in lines:
                self.cell(half, 5, pdf_text(line), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.set_xy(x, y + 38)
            self.set_font("Helvetica", "BU" if name else "", 9.5)
            self.cell(half, 5, pdf_text(name or "(..............................................)"), align="C")


def _pdf_report_sections(pdf: _FormPdf, d: FormData) -> None:
    """Sections 1-4: the report, the reporter, what was reported, the classification."""
    pdf.section(1, "Data Laporan", "SOP langkah 1")
    pdf.field("Nomor tiket", d.number + (f" (terkait tiket {d.linked_to})" if d.linked_to else ""))
    pdf.field("Tanggal diterima", d.received_date)
    pdf.field("Jam diterima", d.received_time)
    pdf.checks("Media pelaporan", d.channel_options, d.channel_checked)
    pdf.field("Dicatat oleh", d.received_by)
    pdf.section(2, "Data Pelapor", "SOP langkah 1")
    pdf.field("Nama pelapor", d.reporter_name)
    pdf.field("Instansi / perusahaan", d.organisation)
    pdf.field("Email", d.email)
    pdf.field("Telepon", d.phone)
    pdf.section(3, "Uraian Laporan", "SOP langkah 1")
    pdf.field("Perihal", d.subject)
    pdf.block(d.description)
    pdf.section(4, "Klasifikasi", "SOP langkah 2")
    pdf.checks("Jenis laporan", tuple(labels(TicketType).items()), d.type)
    pdf.field("Kategori", d.category_label)
    pdf.checks("Prioritas", tuple(labels(Priority).items()), d.priority)
    pdf.field("Dasar klasifikasi", d.classified_by)


def _pdf_follow_up(pdf: _FormPdf, d: FormData) -> None:
    """Section 5: every follow-up action, dated, with who took it."""
    pdf.section(5, "Tindak Lanjut Penanganan", "SOP langkah 3 dan 5")
    if not d.follow_up:
        pdf.note("Belum ada tindak lanjut yang dicatat.")
        return
    pdf.set_font("Helvetica", "", 8.5)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(cell_fill_mode="NONE", col_widths=(8, 33, 97, 36), line_height=4.2,
                   text_align=("CENTER", "LEFT", "LEFT", "LEFT"), padding=(1.2, 1.4), width=_WIDTH, align="LEFT",
                   headings_style=FontFace(emphasis="BOLD", fill_color=_GREY)) as table:
        table.row(("No", "Tanggal / jam", "Tindakan", "Oleh"))
        for i, e in enumerate(d.follow_up, 1):
            what = e.what + (f": {_clip(e.text, 700)}" if e.text else "")
            table.row((str(i), pdf_text(e.at), pdf_text(what), pdf_text(e.who)))


def _pdf_escalation(pdf: _FormPdf, d: FormData) -> None:
    """Section 6: escalation to other service management, and the answers."""
    pdf.section(6, "Eskalasi / Koordinasi Layanan Lain", "SOP langkah 4")
    if not d.escalations:
        pdf.note("Tidak dieskalasi: ditangani oleh Helpdesk.")
        return
    for n, esc in enumerate(d.escalations, 1):
        suffix = f" ({n})" if len(d.escalations) > 1 else ""
        pdf.field(f"Dieskalasi kepada{suffix}", esc.group)
        pdf.field("Tanggal eskalasi", f"{esc.at}, oleh {esc.by}")
        pdf.field("Catatan eskalasi", esc.note or "-")
        answers = "\n".join(f"{a.at} - {a.who}: {_clip(a.text, 900)}" for a in esc.answers)
        pdf.field("Jawaban", answers or "Belum ada jawaban.")


def _pdf_coordinator(pdf: _FormPdf, d: FormData) -> None:
    """Section 7: reported to the coordinator, and the recommendations."""
    pdf.section(7, "Koordinator Helpdesk", "SOP langkah 6 dan 7")
    if not d.coordinator_reports and not d.recommendations:
        pdf.note("Tidak dilaporkan kepada Koordinator Helpdesk.")
        return
    reports = "\n".join(f"{r.at}, oleh {r.who}" + (f": {_clip(r.text, 500)}" if r.text else "")
                         for r in d.coordinator_reports)
    pdf.field("Dilaporkan kepada Koordinator", reports or "-")
    recs = "\n".join(f"{r.at} - {r.who}: {_clip(r.text, 900)}" for r in d.recommendations)
    pdf.field("Rekomendasi Koordinator", recs or "Belum ada rekomendasi.")


def _pdf_closing(pdf: _FormPdf, d: FormData) -> None:
    """Section 8: the result given to the reporter, closing, and the working time used."""
    pdf.section(8, "Hasil Penanganan dan Penutupan", "SOP langkah 8")
    pdf.field("Hasil penanganan", d.result or "Belum selesai.")
    pdf.field("Status tiket", d.state_label)
    pdf.field("Tanggal / jam ditutup", f"{d.closed_date} {d.closed_time}" if d.closed else "-")
    pdf.field("Waktu tanggapan pertama", d.times.response_sentence)
    pdf.field("Waktu penyelesaian", d.times.resolution_sentence)
    pdf.field("Petugas Helpdesk", d.officer or "-")


def time_sentence(text: str, hours: float | None, target: float, met: bool | None) -> str:
    """``2 jam 30 menit (2,50 jam kerja; target 4 jam): memenuhi target``."""
    goal = f"target {target:g}".replace(".", ",") + " jam"
    if hours is None:
        return f"Belum ({goal})"
    verdict = "memenuhi target" if met else "melewati target"
    return f"{text} ({format_number(hours, 2)} jam kerja; {goal}): {verdict}"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
