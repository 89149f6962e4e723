"""What the read-side documents (form, register, monthly report) take from maild's configuration.

``FormSettings`` is the documents' own small view of the configuration, so that a document can
be built in a test or a script without a whole ``Settings``; ``form_settings`` is the CLI's way
from the configuration to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from maild.base.settings import DEFAULT_MAILBOX, Settings, SlaSettings
from maild.sop import sla
from maild.sop.workcal import WorkCalendar
from maild.sop.workcal_config import calendar_for


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
    survey_mode: str = "full"  # [survey] mode; "off" leaves the survey out unless someone answered
    # Whose tickets the documents are about: a mailbox's form, register and report show its
    # tickets only (numbers are counted per mailbox, so 26-0001 is one ticket in each).
    mailbox: str = DEFAULT_MAILBOX


def form_settings(settings: Settings, logo: Path | bytes | None = None) -> FormSettings:
    """FormSettings from maild's configuration (the CLI's way in): of the mailbox ``settings``
    describes (``Settings.for_mailbox``)."""
    h = settings.helpdesk
    # The letterhead names the LPSE, not its helpdesk.
    name = re.sub(r"^\s*helpdesk\s+", "", h.name, flags=re.IGNORECASE) or h.name
    return FormSettings(
        lpse_name=name, logo=logo, timezone=h.timezone, language=h.language,
        calendar=calendar_for(settings),
        policy=sla.policy_from(settings.sla), coordinator_name=settings.coordinator.name,
        group_titles={g.name: g.title or g.name for g in settings.groups},
        survey_mode=settings.survey.mode, mailbox=settings.mailbox.name,
    )


def read_logo(logo: Path | bytes | str | None) -> bytes | None:
    """The logo's bytes from a path or bytes; None when not configured."""
    if logo is None or logo == b"" or logo == "":
        return None
    return bytes(logo) if isinstance(logo, (bytes, bytearray)) else Path(logo).read_bytes()
