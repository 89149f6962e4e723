"""Everything the team and the reporter read is Indonesian when language = "id" (issue 11,
items 7, 9 and 12).

9. Every template, every refusal, every confirmation, every event name and every reason the
   rules give is rendered in Indonesian and checked against a list of English words; unknown
   commands and values get a "maksud Anda ...?"; a ticket under a minute old is "baru saja".
7. Each role gets the help that is true for it: staff, the coordinator, a group manager.
12. Categories come from the configuration (or the rules file); an unknown one is refused with
   a suggestion and changes nothing; the help lists the groups and the categories.

The pure checks run in-process; the stories run over the real Dovecot and SMTP servers, on
SQLite and PostgreSQL (``db_url``), with the desk of test_sop_stories.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness import STAFF, imap_sections, report, start, write_config
from maild.base.clock import FrozenClock
from maild.app.factory import categories, load_ruleset
from maild.base.errors import ConfigError
from maild.base.settings import RulesSettings, Settings
from maild.render.renderer import KINDS, Renderer
from maild.render.views import (AlertView, DigestGroup, DigestLine, DigestView, HistoryItem, MailView,
                                MonthlyReportView, TicketView, WeekRow)
from maild.sop.codes import Done, Phrase, Refused, Why, done
from maild.sop.commands import parse_commands
from maild.sop.phrases import ago, duration, event_name, say, say_reason
from maild.sop.phrases import done as worded
from maild.sop.rule_match import Match, Reason
from maild.sop.vocabulary import Alarm, Priority, State, TicketType, label
from maild.sop.workflow import EVENTS
from servers import ImapAccount, SmtpSink
from test_sop_stories import COORDINATOR, INFRA, Desk, by_recipient

# English words that must not appear in what an Indonesian reader gets. Brand and loan words
# that Indonesian uses as they are (LPSE, SPSE, email, helpdesk, status, internal) are fine.
ENGLISH = re.compile(r"\b(" + "|".join((
    "is not", "unknown", "staff", "member", "catch-all", "keyword", "report_received", "staff_answered",
    "classified", "group_replied", "critical", "high", "normal", "low", "medium", "open", "closed", "ticket",
    "the", "and", "always", "cannot", "did you mean", "needs", "value", "use one of", "contains", "matches",
    "received", "reporter", "answered", "escalated", "resolved", "assigned", "waiting", "progress",
    "incident", "problem", "request", "priority", "category", "type", "hours?", "minutes?", "ago",
    "just now", "group", "quote", "only", "configured", "plain text", "reply", "command",
)) + r")\b", re.IGNORECASE)


def english_in(text: str) -> list[str]:
    return sorted({m.group(0).lower() for m in ENGLISH.finditer(text)})


# -- every phrase, pure ------------------------------------------------------------------------

# Realistic arguments for each refusal code, as the code that refuses gives them.
REFUSALS: dict[Why, tuple[str, ...]] = {
    Why.UNKNOWN_COMMAND: ("stat", "status"),
    Why.NEEDS_VALUE: ("priority",),
    Why.BAD_VALUE: ("priority", "hihg", "high"),
    Why.QUOTED: (),
    Why.ROLE_MAY_NOT: ("escalate", "manager"),
    Why.OUT_OF_SCOPE: ("closed",),
    Why.NOT_STAFF: ("saya", "siti", "petugas@lpse.example", "siti@lpse.example"),
    Why.NO_GROUP: ("keuangan", "", "infrastruktur"),
    Why.NO_COORDINATOR: (),
    Why.UNKNOWN_CATEGORY: ("jaringan", "jaringan_server", "akun", "jaringan_server", "lainnya"),
    Why.NOT_NOW: ("closed", "escalated"),
    Why.NOT_HERE: ("internal",),
    Why.CANNOT_MERGE: ("26-0002", "26-0001"),
    Why.OTHER_MAILBOX: ("26-0002", "VERIF#26-0001", "verif"),
    Why.UNKNOWN_ANSWER: ("reset-pasword", "reset-password", "gagal-unggah", "reset-password"),
    Why.ANSWER_FAILED: ("reset-password",),
}
CONFIRMATIONS = tuple(done(d, {Done.TYPE: "incident", Done.CATEGORY: "akun", Done.PRIORITY: "critical",
                               Done.ASSIGNED: "petugas@lpse.example", Done.ESCALATED: "Tim Infrastruktur",
                               Done.MERGED: "26-0001", Done.STORED_ANSWER: "reset-password"}.get(d, ""))
                      for d in Done)
AT = datetime(2026, 11, 23, 20, 5, tzinfo=timezone(timedelta(hours=8)))
REASONS: dict[Match, Reason] = {
    Match.ALWAYS: Reason(Match.ALWAYS),
    Match.KEYWORD: Reason(Match.KEYWORD, ("body", "akun terkunci")),
    Match.REGEX: Reason(Match.REGEX, ("subject", r"NIB\s*\d{13}", "NIB 9120001234567")),
    Match.GLOB: Reason(Match.GLOB, ("sender domain", "lkpp.go.id", "*.go.id")),
    Match.HEADER: Reason(Match.HEADER, ("X-Mailer", "contains", "Outlook", "Microsoft Outlook 16.0")),
    Match.HEADER_PRESENT: Reason(Match.HEADER_PRESENT, ("List-Id", "false")),
    Match.WORKING_HOURS: Reason(Match.WORKING_HOURS, ("false", AT.isoformat())),
    Match.ALL: Reason(Match.ALL, parts=(Reason(Match.KEYWORD, ("subject", "tender")), Reason(Match.ALWAYS))),
    Match.ALL_OF: Reason(Match.ALL_OF, parts=(Reason(Match.KEYWORD, ("text", "a", "b", "c", "d")),
                                               Reason(Match.WORKING_HOURS, ("true", "")))),
    Match.ANY_OF: Reason(Match.ANY_OF, parts=(Reason(Match.GLOB, ("attachment", "", "*.pdf")),
                                               Reason(Match.GLOB, ("attachment type", "", "image/*")))),
    Match.NOT: Reason(Match.NOT, parts=(Reason(Match.GLOB, ("recipient", "", "*@lpse.example")),)),
}


def test_every_refusal_is_indonesian() -> None:
    assert set(REFUSALS) == set(Why), "a refusal code without a test"
    for why, args in REFUSALS.items():
        worded = say(Phrase(why, args), "id")
        assert not english_in(worded), (why, worded, english_in(worded))
        assert worded != say(Phrase(why, args), "en"), why


def test_every_confirmation_and_event_name_is_indonesian() -> None:
    for code in CONFIRMATIONS:
        assert not english_in(worded(code, "id")), (code, worded(code, "id"))
    assert worded("priority:critical", "id") == "prioritas: Kritis"  # the label, never the stored value
    for event in (*EVENTS, "status_updated", "ack_suppressed", "out_of_scope", "unverified_mail"):
        assert event_name(event, "id") != event and not english_in(event_name(event, "id")), event


def test_every_rule_reason_is_indonesian() -> None:
    assert set(REASONS) == set(Match), "a match kind without a test"
    for match, reason in REASONS.items():
        worded = say_reason(reason, "id")
        assert not english_in(worded), (match, worded, english_in(worded))
    assert say_reason(REASONS[Match.WORKING_HOURS], "id") == "diterima di luar jam kerja (Sen 2026-11-23 20:05 +0800)"
    assert say_reason(REASONS[Match.ALWAYS], "en") == "always (catch-all)"


def test_age_reads_just_now_and_drops_zero_parts() -> None:
    assert ago(timedelta(seconds=20), "id") == "baru saja" and ago(timedelta(seconds=20), "en") == "just now"
    assert duration(timedelta(seconds=20), "id") == "kurang dari 1 menit"
    assert ago(timedelta(hours=2), "id") == "2 jam yang lalu"
    assert duration(timedelta(days=1, minutes=30), "id") == "1 hari"
    assert duration(timedelta(minutes=5), "en") == "5 minutes" and duration(timedelta(hours=1), "en") == "1 hour"


def _ticket_view(language: str) -> TicketView:
    history = tuple(HistoryItem("23 November 2026 08:12 WITA", "petugas@lpse.example", event_name(e, language),
                                "Sudah kami cek.") for e in ("report_received", "staff_answered", "classified",
                                                             "group_replied", "escalated", "recommended"))
    return TicketView(
        number="26-0001", token="[LPSE #26-0001]", subject="Tidak bisa login", state=label(State.IN_PROGRESS, language),
        type=label(TicketType.INCIDENT, language), category="akun", priority=label(Priority.CRITICAL, language),
        reporter_name="Budi", reporter_address="budi@cv-maju.co.id", created_at="23 November 2026 08:00 WITA",
        age=duration(timedelta(seconds=30), language), ago=ago(timedelta(seconds=30), language),
        assignee="Petugas Satu", reporter_contact="0812-1111-2222", report="Akun saya terkunci sejak pagi.",
        rules=tuple(f"akun: {say_reason(r, language)}" for r in REASONS.values()), history=history)


def _view(kind: str, language: str) -> object:
    if kind == "digest":
        line = DigestLine("[LPSE #26-0001]", "26-0001", "Tidak bisa login", State.IN_PROGRESS,
                          label(Priority.HIGH, language), 3.5, True, "group_replied", "infra@diskominfo.example")
        return DigestView("23 November 2026", "Helpdesk LPSE Uji", "helpdesk@lpse.example", "Koordinator",
                          (DigestGroup("5", label(State.IN_PROGRESS, language), (line,)),), (line,), (line,),
                          (), (), (WeekRow("akun", 3, 2),), 1, 1)
    if kind == "monthly_report":
        return MonthlyReportView("Kepala LPSE", "Helpdesk LPSE Uji", "helpdesk@lpse.example", "2026-11",
                                 "November 2026", "1-30 November 2026", 12, 9, 3, 1, 7, 2, 1, "83,3%", "75,0%",
                                 "laporan-helpdesk-2026-11.csv")
    if kind in ("alert", "alert_recovered"):
        return _alert_view(Alarm.MAILBOX, language)
    if kind == "too_large":
        return {"recipient_name": "Budi", "subject": "Berkas", "size_mb": "30.0", "limit_mb": "25",
                "helpdesk_name": "Helpdesk LPSE Uji", "helpdesk_address": "helpdesk@lpse.example"}
    return MailView(
        ticket=_ticket_view(language), helpdesk_name="Helpdesk LPSE Uji", helpdesk_address="helpdesk@lpse.example",
        recipient_name="Petugas Satu", text="Mohon dicek kembali.", actor="Petugas Satu", group="Tim Infrastruktur",
        applied=CONFIRMATIONS,
        refused=tuple(Refused("#perintah", Phrase(why, args)) for why, args in REFUSALS.items()),
        groups=("infrastruktur",), categories=("akun", "jaringan_server", "lainnya"),
        answers=("gagal-unggah", "reset-password"),
        extra={"received_at": "23 November 2026 08:00 WITA", "subject": "Tidak bisa login",
               "recipients": "budi@cv-maju.co.id", "status": "5.1.1", "hours": "4.0", "level": "resolution",
               "respond_by": "23 November 2026 12:00 WITA", "ratings": "3 4 4 4 3 4 4 4 4"},
        survey="full")


# The admin's alert carries the error line as maild logged it (technical, never translated).
ALERT_ERROR = "IMAP login on imap://helpdesk@127.0.0.1:143/INBOX failed: the server cannot be reached"


def _alert_view(alarm: Alarm, language: str) -> AlertView:
    return AlertView("Helpdesk LPSE Uji", "helpdesk@lpse.example", "", "default", alarm, "23 November 2026 08:00 WITA",
                     duration(timedelta(minutes=95), language), ALERT_ERROR, 12, "imap://helpdesk@127.0.0.1:143/INBOX")


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_renders_indonesian(kind: str) -> None:
    views = [_view(kind, "id")]
    if kind in ("alert", "alert_recovered"):
        views.append(_alert_view(Alarm.OUTBOX, "id"))
    for view in views:
        rendered = Renderer().render(kind, "id", view)
        if kind == "alert":
            assert ALERT_ERROR in rendered.text
        for part in (rendered.subject, rendered.text.replace(ALERT_ERROR, "")):
            assert not english_in(part), (kind, english_in(part))


def test_parsed_commands_suggest_what_was_meant() -> None:
    parsed = parse_commands("#stat proses\n#prioritas kritsi\n#jenis incidnt")
    worded = [say(r.reason, "id") for r in parsed.refused]
    assert worded[0] == "perintah #stat tidak dikenal; maksud Anda #status?"
    assert worded[1].endswith("maksud Anda kritis?")
    assert worded[2].endswith("maksud Anda gangguan?")  # the reader's word for what they meant
    [nothing_close] = parse_commands("#xyzzy").refused
    assert say(nothing_close.reason, "id").startswith("perintah #xyzzy tidak dikenal (perintah: #status, #jenis,")


# -- categories from the configuration (item 12) ------------------------------------------------


def test_categories_come_from_the_config_or_else_the_rules() -> None:
    shipped = categories(Settings())
    assert shipped[:2] == ("sertifikat_elektronik", "akun") and "lainnya" in shipped
    assert categories(replace(Settings(), rules=RulesSettings(categories=("akun", "x")))) == ("akun", "x")
    missing = replace(Settings(), rules=RulesSettings(categories=tuple(c for c in shipped if c != "akun") + ("akun_",)))
    with pytest.raises(ConfigError, match=r"category 'akun' is not in rules.categories \(did you mean 'akun_'\?\)"):
        load_ruleset(missing)
    load_ruleset(replace(Settings(), rules=RulesSettings(categories=shipped)))


# -- stories over the real servers ------------------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    """The helpdesk of test_sop_stories: one staff member, a coordinator, one service group."""
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["coordinator"] = {"name": "Koordinator Helpdesk", "address": COORDINATOR}
    sections["digest"] = {"enabled": False}
    config = write_config(tmp_path, sections, staff=True)
    config.write_text(config.read_text() + f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur"\n'
                      f'managers = ["{INFRA}"]\n')
    clock = FrozenClock()
    daemon, _ = start(config, clock)
    yield Desk(daemon, imap_account, smtp_sink, clock)
    daemon.close()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_staff_mail_is_indonesian_lists_groups_and_categories_and_is_just_now(desk: Desk) -> None:
    desk.send(report(subject="Lupa password akun penyedia").raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    assert not english_in(notice.text), english_in(notice.text)
    assert "(baru saja)" in notice.text and "jam 0 menit" not in notice.text
    assert "Grup untuk #eskalasi: infrastruktur" in notice.text
    assert ("Kategori untuk #kategori: sertifikat_elektronik, akun, registrasi_verifikasi, jaringan_server, "
            "e_katalog, aplikasi_spse, lainnya") in notice.text
    assert "memuat kata kunci" in notice.text  # why the rules chose, in Indonesian
    assert "Teks biasa dikirim ke pelapor sebagai jawaban helpdesk" in _flat(notice.text)


def test_unknown_command_and_category_are_refused_with_a_suggestion(desk: Desk) -> None:
    desk.send(report(subject="Lupa password akun penyedia").raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    before = desk.ticket().category
    desk.reply(notice, STAFF, "#stat proses\n#kategori jaringan\n#tugaskan petugass\n#prioritas kritis")
    [confirm] = desk.new_mail()
    assert desk.ticket().category == before == "akun"  # nothing split off into a new category
    assert "#stat proses: perintah #stat tidak dikenal; maksud Anda #status?" in confirm.text
    assert "#kategori jaringan: kategori 'jaringan' tidak dikenal; maksud Anda jaringan_server?" in confirm.text
    assert "'petugass' bukan petugas helpdesk; maksud Anda Petugas? (petugas: petugas@lpse.example)" in confirm.text
    assert "prioritas: Kritis" in confirm.text and desk.ticket().priority == "critical"
    assert not english_in(confirm.text), english_in(confirm.text)
    desk.reply(notice, STAFF, "#kategori jaringan_server")
    desk.new_mail()
    assert desk.ticket().category == "jaringan_server"


def test_coordinator_and_manager_each_get_their_own_help(desk: Desk) -> None:
    desk.send(report(subject="SPSE lambat sekali").raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#eskalasi infrastruktur Mohon cek server\n#koordinator Mohon arahan")
    mails = by_recipient(desk.new_mail())
    to_manager, to_coordinator = mails[INFRA], mails[COORDINATOR]
    staff_help = "Teks biasa dikirim ke pelapor sebagai jawaban helpdesk"

    coordinator = _flat(to_coordinator.text)
    assert staff_help not in coordinator
    assert "teks biasa dicatat sebagai rekomendasi dan diteruskan kepada petugas" in coordinator
    assert "#eskalasi" in coordinator and "Grup untuk #eskalasi: infrastruktur" in coordinator
    assert not english_in(to_coordinator.text), english_in(to_coordinator.text)

    manager = _flat(to_manager.text)
    assert staff_help not in manager
    assert "Teks biasa dicatat pada tiket dan diteruskan kepada petugas helpdesk, tidak langsung ke pelapor" in manager
    assert "#selesai" in manager and "#catatan" in manager
    assert "#eskalasi" not in manager and "#tugaskan" not in manager and "Kategori untuk" not in manager
    assert not english_in(to_manager.text), english_in(to_manager.text)
