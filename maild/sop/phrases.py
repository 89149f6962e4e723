"""The sentences maild writes to the team, in each language: refusals, confirmations, event
names, why the rules classified a report, and how long ago something was. Pure.

Code names what happened with a code and its values (``maild.sop.codes``, the ``Reason`` of
``maild.sop.rule_match``); this module is the one place that words them. Templates call
``say``, ``done`` and ``event_name``; the mailer calls ``duration`` and ``ago``; the intake
words the rules' reasons with ``say_reason`` in the helpdesk's language. A language other
than "en" is Indonesian.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from maild.sop.codes import Done, Phrase, Why
from maild.sop.commands import BY_NAME, REGISTRY, CommandName
from maild.sop.rule_match import Match, Reason
from maild.sop.vocabulary import label


def _id(language: str) -> bool:
    return language != "en"


def _usage_word(name: str, language: str) -> str:
    """``#prioritas`` / ``#priority``: a command by its first word in ``language``."""
    spec = BY_NAME.get(CommandName(name)) if name in set(CommandName) else None
    if spec is None:
        return f"#{name}"
    return f"#{spec.words_id[0] if _id(language) else (spec.words_en or spec.words_id)[0]}"


def _maybe(suggestion: str, language: str, prefix: str = "") -> str:
    """The "did you mean" tail: ``; maksud Anda #status?``, or nothing."""
    if not suggestion:
        return ""
    return f"; maksud Anda {prefix}{suggestion}?" if _id(language) else f"; did you mean {prefix}{suggestion}?"


def _known(items: Sequence[str], language: str, what_id: str, what_en: str) -> str:
    shown = ", ".join(items) if items else "-"
    return f" ({what_id}: {shown})" if _id(language) else f" ({what_en}: {shown})"


def _role_commands(role: str, language: str) -> str:
    words = [_usage_word(spec.name, language) for spec in REGISTRY if role in spec.roles]
    joiner = " dan " if _id(language) else " and "
    return ", ".join(words[:-1]) + joiner + words[-1] if len(words) > 1 else "".join(words)


def _not_now(state: str, event: str, language: str) -> str:
    if _id(language):
        return f"tidak dapat dilakukan ({event_name(event, language)}) pada tiket berstatus {label(state, language)}"
    return f"a ticket that is {label(state, language).lower()} cannot be {event.replace('_', ' ')}"


def _bad_value(name: str, value: str, suggestion: str, language: str) -> str:
    spec = BY_NAME[CommandName(name)]
    choices = " | ".join(spec.choices(language))
    word = _usage_word(name, language)
    if spec.values is not None and suggestion in spec.values:
        # The closest word may be of the other language: suggest the reader's word for it.
        meant = spec.values[suggestion]
        suggestion = next((w for w in spec.choices(language) if spec.values.get(w) == meant), suggestion)
    if _id(language):
        return f"{word} {value!r} tidak dikenal, pilih salah satu: {choices}{_maybe(suggestion, language)}"
    return f"{word} {value!r} is not known, use one of: {choices}{_maybe(suggestion, language)}"


def _needs_value(name: str, language: str) -> str:
    spec = BY_NAME[CommandName(name)]
    example = spec.usage(language)
    if _id(language):
        return f"{_usage_word(name, language)} perlu nilai, misalnya: {example}"
    return f"{_usage_word(name, language)} needs a value, e.g.: {example}"


_SAY: dict[Why, Callable[[tuple[str, ...], str], str]] = {
    Why.UNKNOWN_COMMAND: lambda a, lang: (
        (f"perintah #{a[0]} tidak dikenal" if _id(lang) else f"unknown command #{a[0]}")
        + (_maybe(a[1], lang, "#") or _known([_usage_word(c.name, lang) for c in REGISTRY], lang,
                                             "perintah", "commands"))),
    Why.NEEDS_VALUE: lambda a, lang: _needs_value(a[0], lang),
    Why.BAD_VALUE: lambda a, lang: _bad_value(a[0], a[1], a[2], lang),
    Why.QUOTED: lambda a, lang: ("perintah di dalam kutipan tidak dijalankan" if _id(lang)
                                 else "a command inside a quote is not run"),
    Why.ROLE_MAY_NOT: lambda a, lang: (
        f"{label(a[1], lang)} hanya dapat memakai {_role_commands(a[1], lang)}" if _id(lang)
        else f"a {label(a[1], lang).lower()} may use {_role_commands(a[1], lang)} only"),
    Why.OUT_OF_SCOPE: lambda a, lang: (
        "tiket ini tidak sedang dieskalasi ke grup Anda; pengelola layanan hanya dapat menanggapi tiket "
        f"selama tiket itu dieskalasi ke grupnya (status tiket: {label(a[0], lang)})" if _id(lang)
        else "this ticket is not escalated to your group; a service manager may act on a ticket only while "
             f"it is escalated to their group (ticket status: {label(a[0], lang)})"),
    Why.NOT_STAFF: lambda a, lang: (
        (f"{a[0]!r} bukan petugas helpdesk" if _id(lang) else f"{a[0]!r} is not a staff member")
        + _maybe(a[1], lang) + _known(a[2:], lang, "petugas", "staff")),
    Why.NO_GROUP: lambda a, lang: (
        (f"tidak ada grup layanan {a[0]!r} yang beralamat email" if _id(lang)
         else f"no service group {a[0]!r} with an address") + _maybe(a[1], lang)
        + _known(a[2:], lang, "grup", "groups")),
    Why.NO_COORDINATOR: lambda a, lang: (
        "koordinator belum diatur ([coordinator] address)" if _id(lang)
        else "no coordinator is configured ([coordinator] address)"),
    Why.UNKNOWN_CATEGORY: lambda a, lang: (
        (f"kategori {a[0]!r} tidak dikenal" if _id(lang) else f"category {a[0]!r} is not known")
        + _maybe(a[1], lang) + _known(a[2:], lang, "kategori", "categories")),
    Why.NOT_NOW: lambda a, lang: _not_now(a[0], a[1], lang),
    Why.NOT_HERE: lambda a, lang: (f"{_usage_word(a[0], lang)} tidak dapat dipakai di sini" if _id(lang)
                                   else f"{_usage_word(a[0], lang)} cannot be used here"),
    Why.CANNOT_MERGE: lambda a, lang: (f"tiket {a[0]} tidak dapat digabung ke {a[1]}" if _id(lang)
                                       else f"cannot merge {a[0]} into {a[1]}"),
    Why.OTHER_MAILBOX: lambda a, lang: (
        f"tiket {a[0]} tidak dapat digabung ke {a[1]}: tiket itu milik kotak surat {a[2]}, tiket hanya digabung "
        "dalam kotak suratnya sendiri" if _id(lang)
        else f"cannot merge {a[0]} into {a[1]}: that ticket is mailbox {a[2]}'s, and tickets merge within "
             "their own mailbox only"),
    Why.UNKNOWN_ANSWER: lambda a, lang: (
        (f"jawaban tersimpan {a[0]!r} tidak dikenal, tidak ada yang dikirim ke pelapor" if _id(lang)
         else f"no stored answer {a[0]!r}, nothing was sent to the reporter")
        + (_maybe(a[1], lang) or _known(a[2:], lang, "jawaban tersimpan", "stored answers"))),
    Why.ANSWER_FAILED: lambda a, lang: (
        f"jawaban tersimpan {a[0]!r} gagal disusun untuk tiket ini; tidak ada yang dikirim ke pelapor "
        "(mohon sampaikan kepada admin maild)" if _id(lang)
        else f"the stored answer {a[0]!r} failed on this ticket; nothing was sent to the reporter "
             "(please tell the maild admin)"),
}


def say(phrase: Phrase, language: str) -> str:
    """A refusal as the sentence its reader reads."""
    return _SAY[phrase.why](phrase.args, language)


_DONE: dict[str, tuple[str, str]] = {
    Done.ANSWERED: ("jawaban dikirim ke pelapor", "answer sent to the reporter"),
    Done.ANSWERED_BY_HAND: (
        "jawaban dicatat, tetapi pelapor tidak punya alamat email: sampaikan langsung (telepon/tatap muka)",
        "answer recorded, but the reporter has no email address: tell them directly (phone/in person)"),
    Done.STORED_ANSWER: ("jawaban tersimpan {} dikirim ke pelapor", "stored answer {} sent to the reporter"),
    Done.NO_ANSWER: ("tidak ada jawaban yang dikirim ke pelapor: balasan Anda hanya berisi salam atau nama",
                     "nothing was sent to the reporter: your reply held only a greeting or your name"),
    Done.NOTED: ("catatan internal dicatat", "internal note recorded"),
    Done.STATUS: ("status: diproses", "status: in progress"),
    Done.WAITING: ("status: menunggu pelapor (jam SLA berhenti)", "status: waiting for the reporter (SLA clock stopped)"),
    Done.COORDINATOR: ("dilaporkan ke koordinator", "reported to the coordinator"),
    Done.RECOMMENDED: ("rekomendasi diteruskan ke petugas", "recommendation passed to the staff"),
    Done.GROUP_REPLY: ("jawaban diteruskan ke petugas", "answer passed to the staff"),
    Done.RESOLVED: ("hasil dikirim ke pelapor, tiket ditutup", "result sent to the reporter, ticket closed"),
    Done.RESOLVED_BY_HAND: (
        "tiket ditutup, tetapi pelapor tidak punya alamat email: sampaikan hasilnya langsung (telepon/tatap muka)",
        "ticket closed, but the reporter has no email address: tell them the result directly (phone/in person)"),
    Done.REOPENED: ("tiket dibuka kembali", "ticket reopened"),
    # With a value after the colon:
    Done.TYPE: ("jenis: {}", "type: {}"),
    Done.CATEGORY: ("kategori: {}", "category: {}"),
    Done.PRIORITY: ("prioritas: {}", "priority: {}"),
    Done.ASSIGNED: ("ditugaskan kepada {}", "assigned to {}"),
    Done.ESCALATED: ("dieskalasi ke {}", "escalated to {}"),
    Done.MERGED: ("digabung ke tiket {}", "merged into ticket {}"),
}


def done(code: str, language: str) -> str:
    """What an action did (its code, ``priority:critical``) as its reader reads it."""
    kind, _, value = code.partition(":")
    words = _DONE.get(kind)
    if words is None:
        return code
    text = words[0] if _id(language) else words[1]
    if kind in (Done.TYPE, Done.PRIORITY):
        value = label(value, language)
    return text.format(value) if "{}" in text else text


_EVENTS: dict[str, tuple[str, str]] = {
    "report_received": ("laporan diterima", "report received"),
    "reporter_replied": ("pelapor menanggapi", "reporter replied"),
    "staff_answered": ("helpdesk menjawab", "helpdesk answered"),
    "note_added": ("catatan internal", "internal note"),
    "classified": ("klasifikasi", "classified"),
    "assigned": ("ditugaskan", "assigned"),
    "escalated": ("eskalasi", "escalated"),
    "group_replied": ("jawaban pengelola layanan", "service group answered"),
    "reported_to_coordinator": ("dilaporkan ke koordinator", "reported to the coordinator"),
    "recommended": ("rekomendasi koordinator", "coordinator's recommendation"),
    "resolved": ("selesai", "resolved"),
    "reopened": ("dibuka kembali", "reopened"),
    "merged": ("digabung", "merged"),
    "merged_in": ("tiket lain digabung ke sini", "another ticket merged in"),
    "status_updated": ("status diperbarui", "status updated"),
    "ack_suppressed": ("tanda terima tidak dikirim", "acknowledgement not sent"),
    "auto_reply_received": ("balasan otomatis", "automatic reply"),
    "unverified_mail": ("email tak terverifikasi", "unverified mail"),
    "sla_response_missed": ("target tanggapan terlewati", "response target missed"),
    "sla_resolution_missed": ("target penyelesaian terlewati", "resolution target missed"),
    "sla_head_missed": ("dilaporkan ke Kepala LPSE", "reported to the head of the LPSE"),
    "delivery_failed": ("email gagal terkirim", "mail not delivered"),
    "bounce_received": ("email ditolak server", "mail bounced"),
    "thanks_received": ("ucapan terima kasih", "thank-you received"),
    "survey_answered": ("survei kepuasan dijawab", "satisfaction survey answered"),
    "survey_repeated": ("penilaian survei diulang", "survey rating sent again"),
    "bounce_unverified": ("laporan gagal kirim tak terverifikasi", "unverified bounce"),
    "out_of_scope": ("di luar wewenang pengelola layanan", "outside the service manager's scope"),
    "attachment_too_large": ("lampiran terlalu besar", "attachment too large"),
}


def event_name(event: str, language: str) -> str:
    """An event of the ticket's history as its reader reads it (the code itself if unknown)."""
    words = _EVENTS.get(event)
    return (words[0] if _id(language) else words[1]) if words else event


def event_names(language: str) -> dict[str, str]:
    """Every known event with its name in ``language`` (for the digest's templates)."""
    return {event: event_name(event, language) for event in _EVENTS}


def duration(delta: timedelta, language: str) -> str:
    """``2 jam 5 menit`` / ``1 day 3 hours``: the two largest parts, zero parts left out."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = ((days, "hari", "day"), (hours, "jam", "hour")) if days else ((hours, "jam", "hour"),
                                                                          (minutes, "menit", "minute"))
    shown = [f"{n} {word_id}" if _id(language) else f"{n} {word_en}{'' if n == 1 else 's'}"
             for n, word_id, word_en in parts if n]
    if not shown:
        return "kurang dari 1 menit" if _id(language) else "less than a minute"
    return " ".join(shown)


def ago(delta: timedelta, language: str) -> str:
    """``2 jam yang lalu`` / ``just now`` (under a minute)."""
    if delta.total_seconds() < 60:
        return "baru saja" if _id(language) else "just now"
    return f"{duration(delta, language)} yang lalu" if _id(language) else f"{duration(delta, language)} ago"


# --- why the rules classified a report -------------------------------------------------------

_PARTS: dict[str, tuple[str, str]] = {
    "subject": ("subjek", "subject"), "body": ("isi", "body"), "text": ("subjek atau isi", "text"),
    "sender": ("pengirim", "sender"), "sender domain": ("domain pengirim", "sender domain"),
    "recipient": ("penerima", "recipient"), "attachment": ("lampiran", "attachment"),
    "attachment type": ("jenis lampiran", "attachment type"),
}
_HEADER_OPS: dict[str, tuple[str, str]] = {
    "equals": ("sama dengan", "equals"), "contains": ("memuat", "contains"), "regex": ("cocok dengan pola", "regex"),
}
_WEEKDAYS = {"id": ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"),
             "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _part(name: str, language: str) -> str:
    words = _PARTS.get(name)
    return (words[0] if _id(language) else words[1]) if words else name


def _short(items: Sequence[str], language: str) -> str:
    shown = ", ".join(repr(i) for i in items[:3])
    if len(items) <= 3:
        return shown
    return shown + (f", ... ({len(items)} seluruhnya)" if _id(language) else f", ... ({len(items)} in all)")


def _at(iso: str, language: str) -> str:
    moment = datetime.fromisoformat(iso)
    day = _WEEKDAYS["id" if _id(language) else "en"][moment.weekday()]
    return f"{day} {moment:%Y-%m-%d %H:%M %z}"


def say_reason(reason: Reason, language: str) -> str:
    """Why a rule matched (or what a condition tests), as a reader of ``language`` reads it."""
    lang_id, a = _id(language), reason.args
    sub = [say_reason(p, language) for p in reason.parts]
    match reason.match:
        case Match.ALWAYS:
            return "selalu (aturan penampung)" if lang_id else "always (catch-all)"
        case Match.KEYWORD:
            return f"{_part(a[0], language)} {'memuat kata kunci' if lang_id else 'contains keyword'} " \
                   f"{_short(a[1:], language)}"
        case Match.REGEX:
            found = f" ({a[2]!r})" if a[2] else ""
            return f"{_part(a[0], language)} {'cocok dengan pola' if lang_id else 'matches regex'} {a[1]!r}{found}"
        case Match.GLOB:
            value = f" {a[1]!r}" if a[1] else ""
            return f"{_part(a[0], language)}{value} {'cocok dengan' if lang_id else 'matches'} {_short(a[2:], language)}"
        case Match.HEADER:
            op = _HEADER_OPS.get(a[1], (a[1], a[1]))[0 if lang_id else 1]
            found = f" ({a[3]!r})" if a[3] else ""
            return f"{'header email' if lang_id else 'header'} {a[0]} {op} {a[2]!r}{found}"
        case Match.HEADER_PRESENT:
            if lang_id:
                return f"header email {a[0]} {'ada' if a[1] == 'true' else 'tidak ada'}"
            return f"header {a[0]} present={a[1] == 'true'}"
        case Match.WORKING_HOURS:
            inside = a[0] == "true"
            words = (("diterima dalam jam kerja" if inside else "diterima di luar jam kerja") if lang_id
                     else ("received within working hours" if inside else "received outside working hours"))
            return words + (f" ({_at(a[1], language)})" if a[1] else "")
        case Match.ALL:
            return (" dan " if lang_id else " and ").join(sub)
        case Match.ALL_OF:
            return f"{'semua dari' if lang_id else 'all of'} ({'; '.join(sub)})"
        case Match.ANY_OF:
            return f"{'salah satu dari' if lang_id else 'any of'} ({'; '.join(sub)})"
        case Match.NOT:
            return f"{'bukan' if lang_id else 'not'} ({sub[0]})"
    return str(reason.match)  # pragma: no cover - every Match is worded above
