"""The SOP's paths as whole email conversations over the real Dovecot and SMTP servers.

Each test reads as the story it tells: who writes what, what maild records (events with
their SOP step) and who receives which mail.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pytest

from harness import STAFF, events, imap_sections, ledger, report, start, tickets, write_config
from maild.base.clock import FrozenClock
from servers import ImapAccount, SmtpSink

REPORTER = "budi@cv-maju.co.id"
COORDINATOR = "koordinator@lpse.example"
INFRA = "infra@diskominfo.example"


@dataclass
class Mail:
    to: str
    subject: str
    message_id: str
    text: str
    msg: Message


class Desk:
    """The helpdesk as its users see it: a mailbox to write to, mail that comes back."""

    def __init__(self, daemon, account: ImapAccount, sink: SmtpSink, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
        self.daemon, self.account, self.sink, self.clock = daemon, account, sink, clock
        self.seen = 0

    def send(self, raw: bytes) -> None:
        client = self.account.client()
        try:
            client.append("INBOX", raw)
        finally:
            client.logout()
        assert self.daemon.run_once()

    def new_mail(self) -> list[Mail]:
        """Mail delivered since the last call."""
        got = self.sink.messages[self.seen:]
        self.seen += len(got)
        out = []
        for m in got:
            msg = email.message_from_bytes(m.data)
            text = next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/plain")
            subject = " ".join(str(make_header(decode_header(msg["Subject"]))).split())
            out.append(Mail(m.rcpt_tos[0], subject,
                            msg["Message-ID"].strip("<>"), text, msg))
        return out

    def reply(self, to: Mail, sender: str, body: str, **kw: object) -> None:
        self.send(report(sender=sender, name="", subject=f"Re: {to.subject}", in_reply_to=to.message_id,
                         body=body, **kw).raw)  # type: ignore[arg-type]

    def ticket(self):  # type: ignore[no-untyped-def]
        return tickets(self.daemon)[-1]

    def story(self) -> list[tuple[str, int | None, str]]:
        return [(e.event, e.step, e.actor) for e in events(self.daemon, self.ticket().id)]


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["coordinator"] = {"name": "Koordinator Helpdesk", "address": COORDINATOR}
    sections["security"] = {"trusted_authserv_ids": ["mx.lpse.example"]}
    sections["digest"] = {"enabled": False}  # the digest has its own tests
    config = write_config(tmp_path, sections, staff=True)
    config.write_text(config.read_text() + f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur '
                      f'Diskominfo"\nmanagers = ["{INFRA}"]\n')
    clock = FrozenClock()
    daemon, _ = start(config, clock)
    yield Desk(daemon, imap_account, smtp_sink, clock)
    daemon.close()


def by_recipient(mails: list[Mail]) -> dict[str, Mail]:
    return {m.to: m for m in mails}


def test_report_answer_close(desk: Desk) -> None:
    desk.send(report(subject="Lupa password akun penyedia").raw)
    mails = by_recipient(desk.new_mail())
    assert set(mails) == {REPORTER, STAFF}
    assert "Laporan Anda telah kami terima" in mails[REPORTER].text
    assert mails[REPORTER].subject == "[LPSE #26-0001] Lupa password akun penyedia"  # one subject per ticket
    notice = mails[STAFF]
    assert "[LPSE #26-0001] Tiket baru" in notice.subject and "#selesai" in notice.text
    assert "Kategori    : akun" in notice.text  # classified by the shipped rules

    desk.reply(notice, STAFF, "Silakan gunakan menu Lupa Password, lalu cek folder spam.")
    [answer] = desk.new_mail()
    assert answer.to == REPORTER and "menu Lupa Password" in answer.text
    assert STAFF not in answer.text  # staff addresses never reach the reporter
    assert desk.ticket().state == "in_progress"

    desk.reply(notice, STAFF, "#selesai Password sudah direset, silakan login kembali.")
    mails = by_recipient(desk.new_mail())
    assert "telah selesai ditangani" in mails[REPORTER].text and "sudah direset" in mails[REPORTER].text
    assert "Dilaksanakan" in mails[STAFF].text and "tiket ditutup" in mails[STAFF].text
    assert desk.ticket().state == "closed" and desk.ticket().closed_at is not None
    # The first to answer takes the ticket (helpdesk.assign_on_first_answer).
    assert desk.story() == [("report_received", 1, REPORTER), ("staff_answered", 5, STAFF),
                            ("assigned", 2, STAFF), ("resolved", 8, STAFF)]


def test_report_escalation_group_reply_close(desk: Desk) -> None:
    desk.send(report(subject="SPSE lambat sekali").raw)
    notice = by_recipient(desk.new_mail())[STAFF]

    desk.reply(notice, STAFF, "#eskalasi infrastruktur Mohon cek server SPSE\n#prioritas tinggi")
    mails = by_recipient(desk.new_mail())
    assert set(mails) == {INFRA, REPORTER, STAFF}
    assert "Eskalasi" in mails[INFRA].subject and "Mohon cek server SPSE" in mails[INFRA].text
    assert "Tim Infrastruktur Diskominfo" in mails[REPORTER].text  # "your report was passed to ..."
    assert "Mohon cek server" not in mails[REPORTER].text  # internal notes stay internal
    assert desk.ticket().state == "escalated" and desk.ticket().priority == "high"

    desk.reply(mails[INFRA], INFRA, "Server sudah dipulihkan, mohon dicoba lagi.")
    [forward] = desk.new_mail()
    assert forward.to == STAFF and "dipulihkan" in forward.text

    desk.reply(mails[INFRA], INFRA, "#selesai Kapasitas server ditambah; SPSE normal kembali.")
    mails = by_recipient(desk.new_mail())
    assert "normal kembali" in mails[REPORTER].text and desk.ticket().state == "closed"
    assert [(e, s) for e, s, _ in desk.story()] == [
        ("report_received", 1), ("escalated", 4), ("classified", 2), ("group_replied", 4), ("resolved", 8)]


def test_report_coordinator_recommendation_answer_close(desk: Desk) -> None:
    desk.send(report(subject="Sertifikat elektronik tidak terbaca").raw)
    notice = by_recipient(desk.new_mail())[STAFF]

    desk.reply(notice, STAFF, "#koordinator Belum bisa kami atasi, perlu arahan.")
    [to_coord, confirm] = sorted(desk.new_mail(), key=lambda m: m.to)
    assert to_coord.to == COORDINATOR and "terbuka selama" in to_coord.text and "perlu arahan" in to_coord.text
    assert desk.ticket().state == "with_coordinator"

    desk.reply(to_coord, COORDINATOR, "Minta pelapor menerbitkan ulang sertifikat melalui BSrE.")
    [recommendation] = desk.new_mail()
    assert recommendation.to == STAFF and "BSrE" in recommendation.text
    assert desk.ticket().state == "in_progress"

    desk.reply(recommendation, STAFF, "Silakan terbitkan ulang sertifikat Anda melalui portal BSrE.")
    assert [m.to for m in desk.new_mail()] == [REPORTER]
    desk.reply(recommendation, STAFF, "#selesai Sertifikat sudah diterbitkan ulang.")
    assert desk.ticket().state == "closed"
    assert [(e, s) for e, s, _ in desk.story()] == [
        ("report_received", 1), ("reported_to_coordinator", 6), ("recommended", 7), ("staff_answered", 5),
        ("assigned", 2), ("resolved", 8)]


def test_reopen_within_window_but_not_for_a_thank_you(desk: Desk) -> None:
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#selesai Akun sudah dibuka.")
    closing = by_recipient(desk.new_mail())[REPORTER]

    desk.clock.advance(days=1)
    desk.reply(closing, REPORTER, "Terima kasih banyak, sudah bisa login.")
    assert desk.ticket().state == "closed" and desk.new_mail() == []
    assert "thank-you" in (ledger(desk.daemon)[-1].reason or "")

    desk.clock.advance(days=2)
    desk.reply(closing, REPORTER, "Maaf, hari ini tidak bisa login lagi. Mohon dicek.")
    [reopened] = desk.new_mail()
    assert reopened.to == STAFF and "dibuka kembali" in reopened.subject
    assert desk.ticket().state == "in_progress"
    assert [e for e, _, _ in desk.story()][-2:] == ["thanks_received", "reopened"]


def test_forged_staff_command_changes_nothing_and_warns(desk: Desk) -> None:
    desk.send(report().raw)
    desk.new_mail()
    # Right From, right token, but not a reply to any mail we sent to the staff member.
    desk.send(report(sender=STAFF, name="Petugas", subject="Re: [LPSE #26-0001] x",
                     body="#selesai ditutup oleh penipu\nJawaban palsu untuk pelapor").raw)
    [warning] = desk.new_mail()
    assert warning.to == STAFF and "Peringatan" in warning.subject
    assert desk.ticket().state == "new"
    assert [e for e, _, _ in desk.story()] == ["report_received", "unverified_mail"]
    assert "proved nothing" in (ledger(desk.daemon)[-1].reason or "")


def test_staff_proven_by_trusted_dkim_result(desk: Desk) -> None:
    desk.send(report().raw)
    desk.new_mail()
    trusted = {"Authentication-Results": "mx.lpse.example; dkim=pass header.d=lpse.example; spf=pass"}
    desk.send(report(sender=STAFF, name="Petugas", subject="Re: [LPSE #26-0001] x", body="#status proses",
                     headers=trusted).raw)
    assert desk.ticket().state == "in_progress"
    untrusted = {"Authentication-Results": "mx.evil.example; dkim=pass header.d=lpse.example"}
    desk.send(report(sender=STAFF, name="Petugas", subject="Re: [LPSE #26-0001] x", body="#selesai palsu",
                     headers=untrusted).raw)
    assert desk.ticket().state == "in_progress"


def test_refused_commands_are_explained(desk: Desk) -> None:
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#eskalasi keuangan cek\n#prioritas super\n#selesia typo")
    [confirm] = desk.new_mail()
    assert confirm.to == STAFF
    assert "Ditolak" in confirm.text and "infrastruktur" in confirm.text  # the list of groups
    assert "rendah" in confirm.text and "#selesia" in confirm.text
    assert desk.ticket().state == "new"
    desk.reply(notice, STAFF, "#selesai beres")
    desk.new_mail()
    desk.reply(notice, STAFF, "#eskalasi infrastruktur terlambat")
    [confirm] = desk.new_mail()
    assert "tidak dapat dilakukan (eskalasi) pada tiket berstatus Selesai" in confirm.text
    assert desk.ticket().state == "closed"
    # An answer to a closed ticket is not silently dropped: the staff member is told.
    desk.reply(notice, STAFF, "Satu hal lagi untuk pelapor.")
    [confirm] = desk.new_mail()
    assert confirm.to == STAFF and "Ditolak" in confirm.text and "(helpdesk menjawab)" in confirm.text


def test_several_classification_commands_in_one_reply(desk: Desk) -> None:
    desk.send(report().raw)
    notice = by_recipient(desk.new_mail())[STAFF]
    desk.reply(notice, STAFF, "#jenis permasalahan\n#prioritas kritis\n#kategori aplikasi_spse\n#catatan cek log")
    t = desk.ticket()
    assert (t.type, t.priority, t.category) == ("problem", "critical", "aplikasi_spse")
    [confirm] = desk.new_mail()
    assert confirm.to == STAFF and "prioritas: Kritis" in confirm.text and "Ditolak" not in confirm.text
    assert [e for e, _, _ in desk.story()] == ["report_received", "classified", "classified", "classified",
                                               "note_added"]
