"""The read-side documents' vocabulary: how the form, the register and the monthly report name
and write the values they show.

Category names, the channel keys and checkboxes of the form, the organisation behind an
address, the phone number in a signature, and Indonesian durations, numbers and dates. Type,
priority, state and channel labels come from ``maild.sop.vocabulary``; this module only adds
what the documents print for a value the vocabulary does not name (an unclassified ticket, an
unknown channel). Pure: no database, no templates.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from maild.render.renderer import local_time
from maild.sop.vocabulary import CHANNEL_WORDS, Channel, label

CATEGORY_NAMES = {
    "akun": "Akun dan Kata Sandi",
    "registrasi_verifikasi": "Registrasi dan Verifikasi",
    "aplikasi_spse": "Aplikasi SPSE",
    "jaringan_server": "Jaringan dan Server",
    "sertifikat_elektronik": "Sertifikat Elektronik",
    "e_katalog": "E-Katalog",
    "lainnya": "Lainnya",
}
# The form has always keyed a walk-in ``datang_langsung`` (the stored value is ``datang``), and it
# counts mail brought in from an old mailbox as email: the report's media table and the
# form's checkboxes stay comparable from month to month.
_FORM_KEYS: dict[Channel, str] = {Channel.WALK_IN: "datang_langsung", Channel.IMPORT: str(Channel.EMAIL)}
# The channels the form prints as checkboxes, in this order; any other is "Lainnya: <name>".
_CHECKBOXES = (Channel.EMAIL, Channel.PHONE, Channel.WALK_IN)
OTHER_CHANNEL = "lainnya"
# Addresses of public mail providers say nothing about the reporter's organisation.
_FREE_MAIL = frozenset({"gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.id", "ymail.com", "hotmail.com",
                        "outlook.com", "live.com", "icloud.com", "aol.com", "rocketmail.com", "proton.me"})
# Indonesian mobile and landline numbers as people write them: 0812-3456-7890, +62 812 ..., (0551) 21234.
_PHONE = re.compile(r"(?<![\d.])(?:\+62[\s-]?|62|0)(?:8\d{2}|\(?\d{2,4}\)?)(?:[\s.-]?\d){5,9}(?![\d.])")


def category_label(key: str | None) -> str:
    """``aplikasi_spse`` -> ``Aplikasi SPSE``; unknown keys are spelled out readably."""
    if not key:
        return "Belum ditentukan"
    return CATEGORY_NAMES.get(key) or key.replace("_", " ").strip().capitalize()


def channel_key(value: str | None) -> str:
    """A ticket's ``channel`` column as the form's channel key (``datang`` -> ``datang_langsung``,
    imported mail -> ``email``); a channel the vocabulary does not know keeps its own name."""
    word = (value or Channel.EMAIL).strip().lower().replace(" ", "_").replace("-", "_")
    channel = CHANNEL_WORDS.get(word)
    if channel is None:
        return word
    return _FORM_KEYS.get(channel, str(channel))


def channel_label(value: str | None) -> str:
    """The channel as the documents print it (always Indonesian, as the SOP's form)."""
    key = channel_key(value)
    channel = CHANNEL_WORDS.get(key)
    return label(channel, "id") if channel is not None else key.replace("_", " ").capitalize()


CHANNELS: tuple[tuple[str, str], ...] = tuple((channel_key(c), channel_label(c)) for c in _CHECKBOXES)
"""The form's channel checkboxes as (key, label), in print order."""


def type_label(key: str | None, language: str = "id") -> str:
    """The ticket type's label, or what the documents say before it is classified."""
    return label(key, language, "Belum diklasifikasi")


def priority_label(key: str | None, language: str = "id") -> str:
    """The priority's label, or what the documents say before it is set."""
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


def time_sentence(text: str, hours: float | None, target: float, met: bool | None) -> str:
    """``2 jam 30 menit (2,50 jam kerja; target 4 jam): memenuhi target``."""
    goal = f"target {target:g}".replace(".", ",") + " jam"
    if hours is None:
        return f"Belum ({goal})"
    verdict = "memenuhi target" if met else "melewati target"
    return f"{text} ({format_number(hours, 2)} jam kerja; {goal}): {verdict}"


def local_date(moment: datetime | None, timezone: str, language: str = "id") -> str:
    """``28 November 2026``."""
    return " ".join(local_time(moment, timezone, language).split()[:3]) if moment else "-"


def local_clock(moment: datetime | None, timezone: str, language: str = "id") -> str:
    """``15:04 WITA``."""
    return " ".join(local_time(moment, timezone, language).split()[3:]) if moment else "-"
