"""Staff authority cannot be borrowed (issue 10, items 6, 9 and 10).

6. Commands come only from what the sender wrote in this message: never from quoted history,
   forwarded content, attached messages or indented lines; our own help block is not runnable.
9. The sender is the one addr-spec of the RAW From header: an encoded word is never an
   address, and a From naming several addresses is none of them.
10. A group manager acts only on a ticket escalated to their group, while it is.

Each attack has its legitimate twin next to it. The stories run over the real Dovecot and SMTP
servers, on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from harness import STAFF, events, imap_sections, ledger, report, start, tickets, write_config
from maild.base.clock import FrozenClock
from maild.mail.keys import sender_of
from maild.mail.parse import parse
from maild.mail.quotes import split_reply
from maild.render.renderer import Renderer
from maild.sop.authority import effective_role
from maild.sop.commands import QUOTED_REASON, parse_commands
from maild.sop.vocabulary import Role, State
from servers import ImapAccount, SmtpSink
from test_sop_stories import Desk, Mail, by_recipient

REPORTER = "budi@cv-maju.co.id"
SITI = "siti@cvlain.co.id"
MALLORY = "mallory@evil.example"
INFRA = "infra@diskominfo.example"
FINANCE = "keu@bpkad.example"
HELPDESK_LINE = "Helpdesk LPSE Uji <helpdesk@lpse.example>"
# What a server we trust writes; FINANCE's and INFRA's own domains pass DKIM and DMARC.
TRUSTED = "mx.lpse.example; dkim=pass header.d={d}; dmarc=pass header.from={d}; spf=pass smtp.mailfrom={d}"

# Commands an attacker wants run, at column 0, inside what is quoted or forwarded.
HOSTILE = ("#tugaskan petugas@lpse.example\n#eskalasi infrastruktur tolong\n#koordinator lapor\n"
           "#status proses\n#prioritas kritis\n#selesai ditutup oleh orang luar")


# ---------------------------------------------------------------------------------------------
# How mail clients quote and forward: each wraps the mail it quotes (as text lines).
# ---------------------------------------------------------------------------------------------


def _bare(text: str) -> str:
    """A quoted mail as a client that strips indentation and bullets would show it: our help
    block and the reporter's lines become '#word' lines at column 0."""
    return "\n".join(line.strip().removeprefix("• ") for line in text.splitlines())


def outlook_en(subject: str, quoted: str) -> str:
    return (f"-----Original Message-----\nFrom: {HELPDESK_LINE}\nSent: Monday, November 23, 2026 8:12 AM\n"
            f"To: {STAFF}\nSubject: {subject}\n\n{quoted}")


def outlook_id(subject: str, quoted: str) -> str:
    return (f"-----Pesan Asli-----\nDari: {HELPDESK_LINE}\nDikirim: Senin, 23 November 2026 08.12\n"
            f"Kepada: {STAFF}\nSubjek: {subject}\n\n{quoted}")


def outlook_header_block(subject: str, quoted: str) -> str:
    return (f"________________________________\nDari: {HELPDESK_LINE}\nDikirim: Senin, 23 November 2026 08.12\n"
            f"Kepada: {STAFF}\nSubjek: {subject}\n\n{quoted}")


def gmail_en(subject: str, quoted: str) -> str:
    marked = "\n".join(f"> {line}" for line in quoted.splitlines())
    return f"On Mon, Nov 23, 2026 at 8:12 AM {HELPDESK_LINE} wrote:\n\n{marked}"


def gmail_id_unmarked(subject: str, quoted: str) -> str:
    return f"Pada Sen, 23 Nov 2026 pukul 08.12, {HELPDESK_LINE} menulis:\n\n{quoted}"


def marks_only(subject: str, quoted: str) -> str:
    return "\n".join(f">{line}" for line in quoted.splitlines())


def gmail_forward(subject: str, quoted: str) -> str:
    return ("---------- Forwarded message ---------\nFrom: Orang Luar <luar@evil.example>\n"
            f"Date: Mon, Nov 23, 2026 at 8:12 AM\nSubject: {subject}\nTo: <{STAFF}>\n\n{quoted}")


def forward_id(subject: str, quoted: str) -> str:
    return ("---------- Pesan yang diteruskan ---------\nDari: Orang Luar <luar@evil.example>\n"
            f"Tanggal: Sen, 23 Nov 2026 pukul 08.12\nSubjek: {subject}\nKepada: <{STAFF}>\n\n{quoted}")


def apple_forward(subject: str, quoted: str) -> str:
    return (f"Begin forwarded message:\n\nFrom: Orang Luar <luar@evil.example>\nSubject: {subject}\n"
            f"Date: November 23, 2026 at 08:12:00 GMT+8\nTo: {STAFF}\n\n{quoted}")


WRAPPERS = (outlook_en, outlook_id, outlook_header_block, gmail_en, gmail_id_unmarked, marks_only,
            gmail_forward, forward_id, apple_forward)


# ---------------------------------------------------------------------------------------------
# Item 6, pure: what split_reply calls the sender's own text, and what parse_commands runs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", WRAPPERS, ids=lambda w: w.__name__)
def test_nothing_quoted_or_forwarded_is_own_text(wrap) -> None:  # type: ignore[no-untyped-def]
    quoted = "Mohon dibantu.\n" + HOSTILE + "\n" + _bare(_help_block("id"))
    for above in ("", "\n", "\u200b\n"):
        reply = split_reply(above + wrap("Re: [LPSE #26-0001] x", quoted))
        assert reply.own == "", (wrap.__name__, reply)
        parsed = parse_commands(reply.own)
        assert parsed.commands == () and parsed.refused == ()


@pytest.mark.parametrize("wrap", WRAPPERS, ids=lambda w: w.__name__)
def test_own_command_above_any_quote_is_read(wrap) -> None:  # type: ignore[no-untyped-def]
    own = "#kategori akun\n#selesai Password sudah direset\nSilakan login kembali."
    reply = split_reply(own + "\n\n" + wrap("Re: [LPSE #26-0001] x", HOSTILE))
    parsed = parse_commands(reply.own)
    assert [(c.name, c.value) for c in parsed.commands] == [("category", "akun"),
                                                           ("resolve", "Password sudah direset")]
    assert parsed.body == "Silakan login kembali." and parsed.refused == ()


@pytest.mark.parametrize("indent", ["  ", "\t", "\u00a0", "\u3000", " \u200b"])
def test_indented_command_is_refused_as_quoted_and_not_answered(indent: str) -> None:
    parsed = parse_commands(f"Sudah kami cek.\n{indent}#selesai ditutup\n{indent}#CATATAN x\n  #hashtag biasa")
    assert parsed.commands == ()
    assert [r.reason for r in parsed.refused] == [QUOTED_REASON, QUOTED_REASON]
    assert all(r.line.startswith("(kutipan) #") for r in parsed.refused)
    assert "#selesai" not in parsed.body and "#hashtag biasa" in parsed.body  # not a command word


def test_invisible_characters_are_not_indentation() -> None:
    # A BOM or a zero-width space some clients put first is not a quote: the command runs.
    for lead in ("\ufeff", "\u200b", "\u2060"):
        parsed = parse_commands(f"{lead}#selesai Sudah beres")
        assert [(c.name, c.value) for c in parsed.commands] == [("resolve", "Sudah beres")], lead


def _help_block(language: str) -> str:
    # With the lines that list the groups, the categories and the stored answers: they name
    # commands too.
    return Renderer()._env.get_template(f"{language}/_commands.txt.j2").render(  # noqa: SLF001
        groups=("infrastruktur",), categories=("akun", "lainnya"), answers=("reset-password",))


@pytest.mark.parametrize("language", ["id", "en"])
def test_our_help_block_is_never_runnable(language: str) -> None:
    block = _help_block(language)
    assert "#selesai" in block or "#resolve" in block  # still lists the commands
    variants = {
        "as sent": block,
        "indentation stripped": "\n".join(line.strip() for line in block.splitlines()),
        "> stripped": "\n".join(line.removeprefix("> ").lstrip() for line in block.splitlines()),
        "quoted back unmarked": f"Baik.\n\n{block}",
    }
    for name, text in variants.items():
        parsed = parse_commands(text)
        assert parsed.commands == () and parsed.refused == (), (name, parsed)
        assert parse_commands(split_reply(text).own).commands == (), name


# ---------------------------------------------------------------------------------------------
# Item 9, pure: the sender is the addr-spec of the raw From; several addresses are none
# ---------------------------------------------------------------------------------------------


def _raw(from_: str, extra: str = "") -> bytes:
    return (f"From: {from_}\r\n{extra}To: helpdesk@lpse.example\r\nSubject: Re: [LPSE #26-0001] x\r\n"
            "Message-ID: <a@b.example>\r\nDate: Mon, 23 Nov 2026 08:12:00 +0700\r\n\r\nIsi.\r\n").encode()


@pytest.mark.parametrize("from_,expected", [
    ("=?utf-8?q?siti=40cvlain.co.id?= <mallory@evil.example>", MALLORY),
    ("=?UTF-8?B?c2l0aUBjdmxhaW4uY28uaWQ=?= <mallory@evil.example>", MALLORY),
    ('"siti@cvlain.co.id" <mallory@evil.example>', MALLORY),
    ("siti@cvlain.co.id <mallory@evil.example>", MALLORY),
    ("=?utf-8?q?Siti_Rahayu_=3Csiti=40cvlain.co.id=3E?= <mallory@evil.example>", MALLORY),
    ("=?utf-8?q?siti=40cvlain.co.id?= (siti@cvlain.co.id) <mallory@evil.example>", MALLORY),
    ("=?utf-8?q?siti=40cvlain.co.id?=", None),  # no address at all once not decoded
    ("=?utf-8?b?PHNpdGlAY3ZsYWluLmNvLmlkPg==?=", None),  # "<siti@cvlain.co.id>", encoded
])
def test_encoded_words_are_never_the_address(from_: str, expected: str | None) -> None:
    mail = parse(_raw(from_))
    assert (mail.sender.address if mail.sender else None) == expected, mail.sender
    assert sender_of(_raw(from_)) == (expected or "")


@pytest.mark.parametrize("from_,extra", [
    ("siti@cvlain.co.id, mallory@evil.example", ""),
    ("Siti <siti@cvlain.co.id>, Mallory <mallory@evil.example>", ""),
    ("<siti@cvlain.co.id> <mallory@evil.example>", ""),
    ("siti@cvlain.co.id mallory@evil.example", ""),
    ("Tim: siti@cvlain.co.id, mallory@evil.example;", ""),
    ('"siti@cvlain.co.id" mallory@evil.example', ""),
    ("siti@cvlain.co.id", "From: mallory@evil.example\r\n"),  # two From fields
    ("siti@cvlain.co.id,\r\n mallory@evil.example", "Sender: siti@cvlain.co.id\r\n"),  # no fallback
    ("petugas@lpse.example, x@evil.example", "Return-Path: <petugas@lpse.example>\r\n"),
])
def test_several_from_addresses_are_nobody(from_: str, extra: str) -> None:
    mail = parse(_raw(from_, extra))
    assert mail.sender is None and "SeveralFromAddresses" in mail.defects
    assert sender_of(_raw(from_, extra)) == ""


@pytest.mark.parametrize("from_,address,name", [
    ("=?utf-8?q?Siti_Rahayu?= <siti@cvlain.co.id>", SITI, "Siti Rahayu"),
    ('"Rahayu, Siti" <siti@cvlain.co.id>', SITI, "Rahayu, Siti"),
    ("siti@cvlain.co.id (Siti Rahayu)", SITI, "Siti Rahayu"),
    ("Siti Rahayu <SITI@CVLAIN.CO.ID>,", SITI, "Siti Rahayu"),
    ("=?utf-8?q?Siti_Rahayu?=\r\n <siti@cvlain.co.id>", SITI, "Siti Rahayu"),
    ("siti@cvlain.co.id", SITI, ""),
    ('"siti@cvlain.co.id"', SITI, ""),  # a quoted bare address (as in Zammad's mail035)
])
def test_a_plain_sender_is_still_read(from_: str, address: str, name: str) -> None:
    mail = parse(_raw(from_))
    assert mail.sender is not None and (mail.sender.address, mail.sender.name) == (address, name)
    assert sender_of(_raw(from_)) == address


def test_nested_comments_in_from_do_not_recurse() -> None:
    deep = "(" * 600 + "x" + ")" * 600
    mail = parse(_raw(f"{deep} siti@cvlain.co.id"))
    assert mail.sender is not None and mail.sender.address == SITI
    assert sender_of(_raw(f"{deep} siti@cvlain.co.id")) == SITI


# ---------------------------------------------------------------------------------------------
# Item 10, pure: a manager's role holds only on a ticket escalated to their group
# ---------------------------------------------------------------------------------------------


def test_manager_scope() -> None:
    infra = frozenset({INFRA})
    assert effective_role(Role.MANAGER, INFRA, State.ESCALATED, infra).refused is None
    for state in (State.NEW, State.IN_PROGRESS, State.WITH_COORDINATOR, State.CLOSED):
        assert effective_role(Role.MANAGER, INFRA, state, infra).refused, state  # no longer escalated
    assert effective_role(Role.MANAGER, FINANCE, State.ESCALATED, infra).refused  # another group's
    assert effective_role(Role.MANAGER, INFRA, State.ESCALATED, frozenset()).refused  # never escalated
    for role in (Role.STAFF, Role.COORDINATOR):
        assert effective_role(role, STAFF, State.CLOSED, frozenset()).refused is None


# ---------------------------------------------------------------------------------------------
# Stories over the real servers, on both databases
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["coordinator"] = {"name": "Koordinator Helpdesk", "address": "koordinator@lpse.example"}
    sections["security"] = {"trusted_authserv_ids": ["mx.lpse.example"]}
    sections["digest"] = {"enabled": False}
    config = write_config(tmp_path, sections, staff=True)
    config.write_text(config.read_text()
                      + f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur"\nmanagers = ["{INFRA}"]\n'
                      + f'[[groups]]\nname = "keuangan"\ntitle = "Tim Keuangan"\nmanagers = ["{FINANCE}"]\n')
    clock = FrozenClock()
    daemon, _ = start(config, clock)
    yield Desk(daemon, imap_account, smtp_sink, clock)
    daemon.close()


def _ticket(desk: Desk, number: str):  # type: ignore[no-untyped-def]
    return next(t for t in tickets(desk.daemon) if t.number == number)


def _story(desk: Desk, number: str) -> list[str]:
    return [e.event for e in events(desk.daemon, _ticket(desk, number).id)]


def _new_ticket(desk: Desk, body: str = "Tidak bisa login.\n  #selesai dari pelapor\n#koordinator dari pelapor",
                sender: str = REPORTER) -> Mail:
    """A report (its text holds the reporter's own '#' lines); the staff notification."""
    desk.send(report(sender=sender, body=body).raw)
    return by_recipient(desk.new_mail())[STAFF]


def _number(mail: Mail) -> str:
    found = re.search(r"#(\d\d-\d{4})\]", mail.subject)
    assert found, mail.subject
    return found.group(1)


def test_quoted_and_forwarded_commands_never_run(desk: Desk) -> None:
    for wrap in WRAPPERS:
        notice = _new_ticket(desk)
        number = _number(notice)
        # The staff member's client quotes (or forwards) our notification, stripped of its
        # indentation, and an outsider's commands; above it the staff member wrote nothing.
        quoted = _bare(notice.text) + "\n" + HOSTILE
        desk.reply(notice, STAFF, "\n" + wrap(notice.subject, quoted))
        assert desk.new_mail() == [], wrap.__name__
        assert _story(desk, number) == ["report_received"], wrap.__name__
        assert _ticket(desk, number).state == "new" and _ticket(desk, number).assignee_id is None


def test_attached_message_commands_never_run(desk: Desk) -> None:
    notice = _new_ticket(desk)
    inner = EmailMessage()
    inner["From"] = "Orang Luar <luar@evil.example>"
    inner["Subject"] = notice.subject
    inner.set_content(HOSTILE + "\n")
    outer = email.message_from_bytes(report(sender=STAFF, name="Petugas", subject=f"Re: {notice.subject}",
                                            in_reply_to=notice.message_id, body="\n").raw,
                                     policy=policy.default)
    outer.add_attachment(inner)
    desk.send(outer.as_bytes())
    assert desk.new_mail() == []
    assert _story(desk, _number(notice)) == ["report_received"]


def test_indented_command_is_refused_and_the_staff_member_told(desk: Desk) -> None:
    notice = _new_ticket(desk)
    desk.reply(notice, STAFF, "  #selesai Password sudah direset\n\n" + outlook_en(notice.subject, HOSTILE))
    [confirm] = desk.new_mail()
    assert confirm.to == STAFF and "Ditolak" in confirm.text
    assert "(kutipan) #selesai Password sudah direset: perintah di dalam kutipan tidak dijalankan" in confirm.text
    assert "#koordinator" not in confirm.text  # the quote itself is not read, not even refused
    assert _story(desk, _number(notice)) == ["report_received"]


def test_proven_command_above_a_quote_still_runs(desk: Desk) -> None:
    for wrap in (outlook_en, outlook_id, gmail_en, gmail_id_unmarked, gmail_forward):
        notice = _new_ticket(desk)
        number = _number(notice)
        desk.reply(notice, STAFF, "#selesai Password sudah direset\n\n" + wrap(notice.subject, _bare(notice.text)
                                                                              + "\n" + HOSTILE))
        mails = by_recipient(desk.new_mail())
        assert set(mails) == {REPORTER, STAFF}, wrap.__name__
        assert "Password sudah direset" in mails[REPORTER].text and "Ditolak" not in mails[STAFF].text
        assert _story(desk, number) == ["report_received", "resolved"], wrap.__name__

    notice = _new_ticket(desk)
    desk.reply(notice, STAFF, "#kategori akun\nSilakan login ulang dengan password sementara.\n\n"
               + gmail_en(notice.subject, _bare(notice.text) + "\n" + HOSTILE))
    mails = by_recipient(desk.new_mail())
    assert "login ulang" in mails[REPORTER].text and "wrote:" not in mails[REPORTER].text
    assert "orang luar" not in mails[REPORTER].text
    t = _ticket(desk, _number(notice))
    assert t.category == "akun" and t.state == "in_progress" and t.priority != "critical"
    assert _story(desk, t.number) == ["report_received", "staff_answered", "assigned", "classified"]


def _with_from(raw: bytes, from_: str) -> bytes:
    return re.sub(rb"(?m)^From: .*\r?\n", b"From: " + from_.encode() + b"\r\n", raw, count=1)


def test_encoded_word_from_is_not_the_reporter(desk: Desk) -> None:
    notice = _new_ticket(desk, "Akun saya terkunci.", sender=SITI)
    number = _number(notice)
    for forged in ("=?utf-8?q?siti=40cvlain.co.id?= <mallory@evil.example>",
                   '"siti@cvlain.co.id" <mallory@evil.example>',
                   "=?utf-8?b?c2l0aUBjdmxhaW4uY28uaWQ=?= <mallory@evil.example>"):
        desk.send(_with_from(report(sender=MALLORY, subject=f"Re: {notice.subject}",
                                    body="Tolong tutup saja tiketnya.").raw, forged))
        assert ledger(desk.daemon)[-1].sender == MALLORY, forged
        assert "not a party" in (ledger(desk.daemon)[-1].reason or ""), forged
        assert SITI not in [m.to for m in desk.new_mail()], forged
    assert _story(desk, number) == ["report_received"]  # nothing threaded onto Siti's ticket

    # Legitimate twin: Siti's own mail with an encoded display name follows up on her ticket.
    desk.send(_with_from(report(sender=SITI, subject=f"Re: {notice.subject}", body="Masih terkunci.").raw,
                         "=?utf-8?q?Siti_Rahayu?= <siti@cvlain.co.id>"))
    assert _story(desk, number) == ["report_received", "reporter_replied"]
    assert ledger(desk.daemon)[-1].sender == SITI


def test_encoded_word_from_cannot_borrow_staff_authority(desk: Desk) -> None:
    notice = _new_ticket(desk)
    trusted = {"Authentication-Results": TRUSTED.format(d="lpse.example")}
    raw = report(sender=MALLORY, subject=f"Re: {notice.subject}", in_reply_to=notice.message_id,
                 body="#selesai ditutup", headers=trusted).raw
    desk.send(_with_from(raw, "=?utf-8?q?petugas=40lpse.example?= <mallory@evil.example>"))
    assert _ticket(desk, _number(notice)).state == "new"
    assert "resolved" not in _story(desk, _number(notice))


def test_several_from_addresses_make_an_anonymous_ticket(desk: Desk) -> None:
    notice = _new_ticket(desk, "Akun saya terkunci.", sender=SITI)
    number = _number(notice)
    trusted = {"Authentication-Results": TRUSTED.format(d="lpse.example")}
    for several in (f"{SITI}, {MALLORY}", f"Siti <{SITI}>, <{MALLORY}>", f"{STAFF}, {MALLORY}"):
        before = len(tickets(desk.daemon))
        desk.send(_with_from(report(sender=SITI, subject=f"Re: {notice.subject}", in_reply_to=notice.message_id,
                                    body="#selesai tutup\nTolong tutup.", headers=trusted).raw, several))
        row = ledger(desk.daemon)[-1]
        assert row.sender == "" and row.ticket_id is not None, several  # recorded, became a ticket
        assert len(tickets(desk.daemon)) == before + 1, several  # a new one, not Siti's
        anonymous = tickets(desk.daemon)[-1]
        assert anonymous.reporter_id is None and anonymous.state == "new"
        assert "ack_suppressed" in _story(desk, anonymous.number)
        assert [m.to for m in desk.new_mail()] == [STAFF], several  # no acknowledgement to anyone
    assert _story(desk, number) == ["report_received"] and _ticket(desk, number).state == "new"


def _manager_says(desk: Desk, manager: str, number: str, body: str) -> None:
    """A manager's mail proven by a trusted DKIM/DMARC pass for their own domain."""
    trusted = {"Authentication-Results": TRUSTED.format(d=manager.partition("@")[2])}
    desk.send(report(sender=manager, name="", subject=f"Re: [LPSE #{number}] x", body=body, headers=trusted).raw)


def test_manager_acts_only_on_tickets_escalated_to_their_group(desk: Desk) -> None:
    escalated = _new_ticket(desk, "SPSE lambat.")
    desk.reply(escalated, STAFF, "#eskalasi infrastruktur Mohon cek server")
    to_infra = by_recipient(desk.new_mail())[INFRA]
    other = _new_ticket(desk, "Pembayaran belum masuk.")
    a, b = _number(escalated), _number(other)

    # Another group's manager, genuinely proven, on a ticket escalated to infrastruktur.
    _manager_says(desk, FINANCE, a, "#selesai ditutup oleh keuangan\nSudah beres.")
    [confirm] = desk.new_mail()
    assert confirm.to == FINANCE and "Ditolak" in confirm.text
    assert "tidak sedang dieskalasi ke grup Anda" in confirm.text and "#selesai" in confirm.text
    # The right group's manager on a ticket never escalated; then a note on it.
    _manager_says(desk, INFRA, b, "#selesai ditutup oleh infra")
    [confirm] = desk.new_mail()
    assert confirm.to == INFRA and "tidak sedang dieskalasi ke grup Anda" in confirm.text
    _manager_says(desk, INFRA, b, "#catatan dicek juga")
    assert [m.to for m in desk.new_mail()] == [INFRA]
    assert _ticket(desk, a).state == "escalated" and _ticket(desk, b).state == "new"
    assert _story(desk, a) == ["report_received", "escalated", "out_of_scope"]
    assert _story(desk, b) == ["report_received", "out_of_scope", "out_of_scope"]

    # Legitimate twin: the manager of the group it is escalated to closes it, by replying.
    desk.reply(to_infra, INFRA, "#selesai Kapasitas server ditambah.")
    mails = by_recipient(desk.new_mail())
    assert "Kapasitas server ditambah" in mails[REPORTER].text and _ticket(desk, a).state == "closed"
    # ... and only while it is: once closed, the same manager may not reopen the talk.
    desk.reply(to_infra, INFRA, "#catatan satu hal lagi")
    assert "tidak sedang dieskalasi" in by_recipient(desk.new_mail())[INFRA].text
    assert _story(desk, a)[-2:] == ["resolved", "out_of_scope"]


def test_manager_loses_the_ticket_when_it_moves_on(desk: Desk) -> None:
    notice = _new_ticket(desk, "Server SPSE mati.")
    number = _number(notice)
    desk.reply(notice, STAFF, "#eskalasi infrastruktur cek server")
    desk.new_mail()
    desk.reply(notice, STAFF, "#eskalasi keuangan ternyata soal pembayaran")
    desk.new_mail()
    _manager_says(desk, INFRA, number, "#selesai dari infra")  # no longer theirs
    assert [m.to for m in desk.new_mail()] == [INFRA] and _ticket(desk, number).state == "escalated"
    _manager_says(desk, FINANCE, number, "Pembayaran sudah kami proses.")  # theirs now
    [forward] = desk.new_mail()
    assert forward.to == STAFF and "sudah kami proses" in forward.text
    desk.reply(notice, STAFF, "#koordinator mohon arahan")
    desk.new_mail()
    _manager_says(desk, FINANCE, number, "#selesai dari keuangan")  # with the coordinator now
    assert [m.to for m in desk.new_mail()] == [FINANCE]
    assert _ticket(desk, number).state == "with_coordinator"
    assert _story(desk, number) == ["report_received", "escalated", "escalated", "out_of_scope",
                                    "group_replied", "reported_to_coordinator", "out_of_scope"]
