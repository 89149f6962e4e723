"""The helpdesk's words: states, types, priorities, channels, and what people call them. Pure.

Every value a ticket, a message or an outgoing mail can take is named here once, as a
``StrEnum`` (so it is stored and compared as the plain string it always was), with its label
in each language maild writes, and the words staff type for it in commands and rules. Code
names a value by its member (``State.CLOSED``), never by a string literal; templates and
documents show ``label(value, language)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

DEFAULT_LANGUAGE = "id"


class State(StrEnum):
    """A ticket's place in SOP 05 (the SOP step each stands for is in ``workflow.STATE_STEP``)."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    WITH_COORDINATOR = "with_coordinator"
    CLOSED = "closed"


OPEN_STATES: tuple[State, ...] = (State.NEW, State.IN_PROGRESS, State.ESCALATED, State.WITH_COORDINATOR)


class Status(StrEnum):
    """What ``#status`` sets. ``waiting`` is not a state of its own: the ticket stays in
    progress while the SLA clock stops until the reporter replies (a pause, recorded as the
    event ``status_updated`` with this status)."""

    IN_PROGRESS = "in_progress"
    WAITING = "waiting"


class TicketType(StrEnum):
    """The SOP's three kinds of report."""

    INCIDENT = "incident"
    PROBLEM = "problem"
    SERVICE_REQUEST = "service_request"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Channel(StrEnum):
    """How a report reached the helpdesk. ``import`` is mail brought in from an old mailbox:
    recorded, never answered, never measured against the SLA."""

    EMAIL = "email"
    PHONE = "telepon"
    WALK_IN = "datang"
    LETTER = "surat"
    WHATSAPP = "whatsapp"
    IMPORT = "import"


class MessageState(StrEnum):
    """An inbound message in the ledger: waiting for the pipeline, done, or given up (dead)."""

    NEW = "new"
    DONE = "done"
    DEAD = "dead"


class MailState(StrEnum):
    """An outgoing mail in the outbox."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Alarm(StrEnum):
    """What the admin is mailed about (``[alerts]``): a mailbox that cannot be read, or an
    outbox whose oldest mail waits unsent too long."""

    MAILBOX = "mailbox"
    OUTBOX = "outbox"


class Role(StrEnum):
    """Who someone is to the helpdesk, from the configuration."""

    REPORTER = "reporter"
    STAFF = "staff"
    COORDINATOR = "coordinator"
    MANAGER = "manager"


_LABELS: dict[str, dict[StrEnum, str]] = {
    "id": {
        State.NEW: "Baru", State.IN_PROGRESS: "Diproses", State.ESCALATED: "Dieskalasi",
        State.WITH_COORDINATOR: "Di Koordinator", State.CLOSED: "Selesai",
        Status.WAITING: "Menunggu pelapor",
        TicketType.INCIDENT: "Gangguan", TicketType.PROBLEM: "Permasalahan",
        TicketType.SERVICE_REQUEST: "Permintaan Layanan",
        Priority.LOW: "Rendah", Priority.MEDIUM: "Sedang", Priority.HIGH: "Tinggi", Priority.CRITICAL: "Kritis",
        Channel.EMAIL: "Email", Channel.PHONE: "Telepon", Channel.WALK_IN: "Datang langsung",
        Channel.LETTER: "Surat", Channel.WHATSAPP: "WhatsApp", Channel.IMPORT: "Email (impor)",
        Role.REPORTER: "Pelapor", Role.STAFF: "Petugas Helpdesk", Role.COORDINATOR: "Koordinator Helpdesk",
        Role.MANAGER: "Pengelola layanan",
    },
    "en": {
        State.NEW: "New", State.IN_PROGRESS: "In progress", State.ESCALATED: "Escalated",
        State.WITH_COORDINATOR: "With the coordinator", State.CLOSED: "Closed",
        Status.WAITING: "Waiting for the reporter",
        TicketType.INCIDENT: "Incident", TicketType.PROBLEM: "Problem", TicketType.SERVICE_REQUEST: "Service request",
        Priority.LOW: "Low", Priority.MEDIUM: "Medium", Priority.HIGH: "High", Priority.CRITICAL: "Critical",
        Channel.EMAIL: "Email", Channel.PHONE: "Telephone", Channel.WALK_IN: "In person",
        Channel.LETTER: "Letter", Channel.WHATSAPP: "WhatsApp", Channel.IMPORT: "Email (imported)",
        Role.REPORTER: "Reporter", Role.STAFF: "Helpdesk staff", Role.COORDINATOR: "Helpdesk coordinator",
        Role.MANAGER: "Service manager",
    },
}


def label(value: StrEnum | str | None, language: str = DEFAULT_LANGUAGE, default: str = "-") -> str:
    """The name people read for ``value`` in ``language`` (Indonesian when unknown)."""
    if value is None or value == "":
        return default
    labels = _LABELS.get(language, _LABELS[DEFAULT_LANGUAGE])
    for kind in (State, TicketType, Priority, Channel, Status, Role):
        try:
            return labels[kind(value)]
        except (ValueError, KeyError):
            continue
    return default if value is None else str(value)


def labels(kind: type[StrEnum], language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every value of ``kind`` with its label, in declaration order (for forms and reports)."""
    table = _LABELS.get(language, _LABELS[DEFAULT_LANGUAGE])
    return {str(member): table[member] for member in kind}  # type: ignore[attr-defined]


# The words staff and rule files use for each value, in both languages (case-insensitive).
TYPE_WORDS: Mapping[str, TicketType] = {
    "gangguan": TicketType.INCIDENT, "incident": TicketType.INCIDENT,
    "permasalahan": TicketType.PROBLEM, "masalah": TicketType.PROBLEM, "problem": TicketType.PROBLEM,
    "permintaan": TicketType.SERVICE_REQUEST, "permintaan_layanan": TicketType.SERVICE_REQUEST,
    "layanan": TicketType.SERVICE_REQUEST, "request": TicketType.SERVICE_REQUEST,
    "service_request": TicketType.SERVICE_REQUEST,
}
PRIORITY_WORDS: Mapping[str, Priority] = {
    "rendah": Priority.LOW, "low": Priority.LOW,
    "sedang": Priority.MEDIUM, "normal": Priority.MEDIUM, "medium": Priority.MEDIUM,
    "tinggi": Priority.HIGH, "high": Priority.HIGH,
    "kritis": Priority.CRITICAL, "mendesak": Priority.CRITICAL, "critical": Priority.CRITICAL,
    "urgent": Priority.CRITICAL,
}
STATUS_WORDS: Mapping[str, Status] = {
    "proses": Status.IN_PROGRESS, "diproses": Status.IN_PROGRESS, "progress": Status.IN_PROGRESS,
    "in_progress": Status.IN_PROGRESS,
    "tunggu": Status.WAITING, "menunggu": Status.WAITING, "waiting": Status.WAITING,
}
STATE_WORDS: Mapping[str, State] = {
    **{str(s): s for s in State},
    "baru": State.NEW, "diproses": State.IN_PROGRESS, "proses": State.IN_PROGRESS,
    "dieskalasi": State.ESCALATED, "eskalasi": State.ESCALATED,
    "di_koordinator": State.WITH_COORDINATOR, "koordinator": State.WITH_COORDINATOR,
    "selesai": State.CLOSED, "ditutup": State.CLOSED,
}
CHANNEL_WORDS: Mapping[str, Channel] = {
    **{str(c): c for c in Channel},
    "phone": Channel.PHONE, "telephone": Channel.PHONE, "walk_in": Channel.WALK_IN, "walkin": Channel.WALK_IN,
    "datang_langsung": Channel.WALK_IN, "mail": Channel.EMAIL, "wa": Channel.WHATSAPP, "letter": Channel.LETTER,
}


def word_key(text: str) -> str:
    """How a typed word is looked up in the ``*_WORDS`` tables: lower case, spaces and
    hyphens as ``_`` ("Di Koordinator" -> "di_koordinator")."""
    return "_".join(text.strip().lower().replace("-", " ").split())
