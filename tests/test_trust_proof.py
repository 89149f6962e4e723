"""Staff proof that cannot be borrowed, and bounces that cannot be forged (issue 10, items 7, 8, 11).

* A minted Message-ID proves its recipient only for its ticket (or the tickets a digest
  listed), and only for ``security.proof_max_age_days``.
* Authentication-Results is read by the RFC 8601 grammar: text the sender controls (comments,
  quoted envelope senders, HELO) is never a verdict; only the topmost field of a trusted
  server counts, and only a pass for the From domain.
* A delivery report marks an address failing only when it returns a mail we sent to it.

Pure tables for the parser and the minted ids; whole conversations over the real Dovecot and
SMTP servers, on SQLite and PostgreSQL, for the stories.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select, update

from harness import STAFF, events, imap_sections, ledger, outbox, report, start, tickets, write_config
from maild.app.daemon import Daemon
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from maild.base.settings import SecuritySettings
from maild.mail.authresults import parse_authentication_results, raw_fields
from maild.mail.charsets import header_text
from maild.mail.parse import ParsedMail, parse
from maild.mail.tokens import key_hash, mint_message_id, read_minted_id, verify_minted_id
from maild.sop.proof import Scope, Trust, prove
from maild.store.models import OutgoingMail, Party
from servers import ImapAccount, SmtpSink

REPORTER = "budi@cv-maju.co.id"
OTHER_REPORTER = "siti@cvlain.co.id"
COORDINATOR = "koordinator@lpse.example"
KEY = b"k" * 32
DOMAIN = "lpse.example"
TODAY = 20_000


# -- Authentication-Results: pure tables ---------------------------------------------------------

TRUST = Trust(KEY, DOMAIN, ("mx.lpse.example", "mx.google.com", "microsoft365"))
NO_REFS = parse(report(sender=STAFF).raw)
SCOPE = Scope(frozenset({"26-0001"}), TODAY)

OPENDKIM = ("mx.lpse.example; dkim=pass (2048-bit key; unprotected) header.d=lpse.example "
            "header.i=@lpse.example header.b=abc")
RSPAMD = ('mx.lpse.example;\r\n\tdkim=pass header.d=lpse.example header.s=dkim header.b=EEr5Y5Bn;\r\n\t'
          'spf=pass (mx.lpse.example: domain of "petugas@lpse.example" designates 1.2.3.4 as permitted sender) '
          'smtp.mailfrom="petugas@lpse.example";\r\n\tdmarc=pass (policy=reject) header.from=lpse.example')
GMAIL = ("mx.google.com; dkim=pass header.i=@lpse.example header.s=20230601 header.b=Ab/Cd+E=; "
         "spf=pass (google.com: domain of petugas@lpse.example designates 2a00:1450::1 as permitted sender) "
         "smtp.mailfrom=petugas@lpse.example; dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=lpse.example")
MS365 = ("spf=pass (sender IP is 40.107.1.2) smtp.mailfrom=lpse.example; dkim=pass (signature was verified) "
         "header.d=lpse.example;dmarc=pass action=none header.from=lpse.example;compauth=pass reason=100")

LEGIT = {
    "opendkim": [OPENDKIM],
    "rspamd": [RSPAMD],
    "gmail": [GMAIL],
    "microsoft 365 (no authserv-id)": [MS365],
    "opendmarc": ["mx.lpse.example; dmarc=pass (p=none dis=none) header.from=lpse.example"],
    "exim, with a version": ["mx.lpse.example 1; iprev=pass (mail.lpse.example) smtp.remote-ip=1.2.3.4; "
                             "spf=pass smtp.mailfrom=lpse.example; dkim=pass header.d=lpse.example header.s=s1"],
    "trailing semicolon, upper case": ["MX.LPSE.EXAMPLE; DKIM=PASS HEADER.D=LPSE.EXAMPLE;"],
    "dkim of the parent domain": ["mx.lpse.example; dkim=pass header.d=example"],
    "a lower forged field does not spoil the top one": [OPENDKIM, "mx.lpse.example; dmarc=fail header.from=x"],
}

ATTACKS = {
    "dmarc=pass only in a comment": [
        "mx.lpse.example; dmarc=fail (dmarc=pass header.from=lpse.example) header.from=lpse.example"],
    "dmarc=pass in a nested comment": [
        "mx.lpse.example; dmarc=fail (a (b) ; dmarc=pass header.from=lpse.example) header.from=lpse.example"],
    "escaped parenthesis in a comment": [
        r"mx.lpse.example; dmarc=fail (x \) ; dmarc=pass header.from=lpse.example) header.from=lpse.example"],
    "dmarc=pass in a quoted envelope sender": [
        'mx.lpse.example; dmarc=fail header.from=lpse.example; spf=pass '
        'smtp.mailfrom="dmarc=pass header.from=lpse.example@x"'],
    "escaped quote in a quoted envelope sender": [
        'mx.lpse.example; dmarc=fail header.from=lpse.example; spf=pass '
        r'smtp.mailfrom="x\"; dmarc=pass header.from=lpse.example"@x'],
    "dmarc=pass in a quoted HELO": [
        'mx.lpse.example; spf=none smtp.helo="x; dmarc=pass header.from=lpse.example"; '
        'dmarc=fail header.from=lpse.example'],
    "dmarc=pass after a semicolon in a quoted HELO": [
        'mx.lpse.example; spf=none smtp.helo="h;dmarc=pass header.from=lpse.example x"; dmarc=fail header.from=x'],
    "dmarc=pass after a semicolon in a comment": [
        "mx.lpse.example; spf=pass (domain of x;dmarc=pass header.from=lpse.example designates 1.2.3.4) "
        "smtp.mailfrom=x@evil.example; dmarc=fail header.from=lpse.example"],
    "rspamd's comment quoting the envelope sender": [
        'mx.lpse.example; spf=pass (mx.lpse.example: domain of "dmarc=pass header.from=lpse.example"@x '
        'designates 1.2.3.4 as permitted sender) smtp.mailfrom="dmarc=pass@x"; dmarc=fail header.from=lpse.example'],
    "an encoded word in the envelope sender": [
        "mx.lpse.example; dmarc=fail header.from=lpse.example; spf=pass "
        "smtp.mailfrom= =?us-ascii?q?x=3B_dmarc=3Dpass_header.from=3Dlpse.example?="],
    "a second (lower) forged field with pass": [
        "mx.lpse.example; dmarc=fail header.from=lpse.example",
        "mx.lpse.example; dmarc=pass header.from=lpse.example"],
    "pass for another domain": ["mx.lpse.example; dmarc=pass header.from=evil.example"],
    "an untrusted authserv-id": ["mx.evil.example; dmarc=pass header.from=lpse.example"],
    "a trusted id lower down": ["mx.evil.example; none", "mx.lpse.example; dkim=pass header.d=lpse.example"],
    "dkim signed by another domain": ["mx.lpse.example; dkim=pass header.d=evil.example"],
    "dkim signed by a look-alike suffix": ["mx.lpse.example; dkim=pass header.d=lpse.example.evil.example"],
    "dkim signed by a domain ending like ours": ["mx.lpse.example; dkim=pass header.d=xlpse.example"],
    "dkim signed by a subdomain of ours": ["mx.lpse.example; dkim=pass header.d=mail.lpse.example"],
    "dmarc=pass without header.from": ["mx.lpse.example; dmarc=pass (header.from=lpse.example)"],
    "unclosed comment swallowing the rest": ["mx.lpse.example; dmarc=fail (x; dmarc=pass header.from=lpse.example"],
    "neutral result": ["mx.lpse.example; dkim=neutral header.d=lpse.example"],
    "the authserv-id only in a comment": ["(mx.lpse.example) evil; dmarc=pass header.from=lpse.example"],
    "no result at all": ["mx.lpse.example; none"],
    "500 nested comments": ["mx.lpse.example; dmarc=fail " + "(" * 500 + "dmarc=pass" + ")" * 500
                            + " header.from=lpse.example"],
}


@pytest.mark.parametrize("fields", LEGIT.values(), ids=LEGIT.keys())
def test_a_trusted_pass_for_the_from_domain_proves(fields: list[str]) -> None:
    proof = prove(NO_REFS, STAFF, TRUST, SCOPE, fields)
    assert proof.ok, proof.how


@pytest.mark.parametrize("fields", ATTACKS.values(), ids=ATTACKS.keys())
def test_text_the_sender_controls_proves_nothing(fields: list[str]) -> None:
    proof = prove(NO_REFS, STAFF, TRUST, SCOPE, fields)
    assert not proof.ok, proof.how


def test_microsoft_365_field_needs_its_own_trust_entry() -> None:
    assert not prove(NO_REFS, STAFF, Trust(KEY, DOMAIN, ("mx.lpse.example",)), SCOPE, [MS365]).ok
    assert prove(NO_REFS, STAFF, Trust(KEY, DOMAIN, ("microsoft365",)), SCOPE, [MS365]).ok


def test_the_parser_reads_the_grammar() -> None:
    parsed = parse_authentication_results(RSPAMD.replace("\r\n", " "))
    assert parsed is not None and parsed.authserv_id == "mx.lpse.example"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    assert parsed.results[1].prop("smtp.mailfrom") == "petugas@lpse.example"
    quoted = parse_authentication_results('a.example; spf=pass smtp.mailfrom="dmarc=pass@x"; dmarc=fail header.from=b')
    assert quoted is not None and [(r.method, r.result) for r in quoted.results] == [("spf", "pass"), ("dmarc", "fail")]
    assert quoted.results[0].prop("smtp.mailfrom") == "dmarc=pass@x"
    ms = parse_authentication_results(MS365)
    assert ms is not None and ms.authserv_id == "" and ms.results[2].prop("header.from") == "lpse.example"
    assert parse_authentication_results("a.example; none") == parse_authentication_results("a.example;none")
    for broken in ("", "a.example; dkim", "a.example; dkim=", "a.example dkim=pass", 'a.example; dkim=pass x="y',
                   "a.example; dkim=pass header.d="):
        assert parse_authentication_results(broken) is None, broken


def test_fields_are_read_raw_top_first_and_unfolded() -> None:
    raw = (b"Authentication-Results: mx.lpse.example;\r\n\tdkim=pass header.d=lpse.example\r\n"
           b"Received: from x\r\nauthentication-results: mx.lpse.example; spf=pass smtp.mailfrom=\r\n"
           b" =?us-ascii?q?=3B_dmarc=3Dpass?=\r\nSubject: hi\r\n\r\nAuthentication-Results: body; dkim=pass\r\n")
    assert raw_fields(raw, "Authentication-Results") == [
        "mx.lpse.example;\tdkim=pass header.d=lpse.example",
        "mx.lpse.example; spf=pass smtp.mailfrom= =?us-ascii?q?=3B_dmarc=3Dpass?="]
    # Why raw: decoding first would turn the envelope sender into a verdict.
    assert "; dmarc=pass" in header_text(raw_fields(raw, "authentication-results")[1])


# -- minted Message-IDs: pure tables --------------------------------------------------------------

def minted(number: str = "26-0001", day: int = TODAY, recipient: str = STAFF, cause: str = "c/new/x") -> str:
    return mint_message_id(KEY, DOMAIN, number, cause, recipient, day)


def reply_to(*mids: str) -> ParsedMail:
    return parse(report(sender=STAFF, in_reply_to=mids[0], references=list(mids)).raw)


def check(mid: str, scope: Scope = SCOPE, sender: str = STAFF, max_age: int = 30) -> bool:
    return prove(reply_to(mid), sender, Trust(KEY, DOMAIN, (), max_age), scope).ok


def test_a_minted_id_proves_only_its_own_ticket() -> None:
    assert check(minted("26-0001"))
    assert not check(minted("26-0002"))  # the notification of ticket B does not close ticket A
    assert check(minted("26-0002"), Scope(frozenset({"26-0001", "26-0002"}), TODAY))  # B was merged into A
    assert not check(minted("26-0001", recipient="other@lpse.example"))
    assert not check(minted("26-0001"), sender="other@lpse.example")
    why = prove(reply_to(minted("26-0002")), STAFF, TRUST, SCOPE).how
    assert "about ticket 26-0002, not 26-0001" in why


def test_a_minted_id_has_a_lifetime() -> None:
    assert check(minted(day=TODAY - 30))
    assert not check(minted(day=TODAY - 31))
    assert check(minted(day=TODAY - 5), max_age=5) and not check(minted(day=TODAY - 6), max_age=5)
    assert check(minted(day=TODAY + 1))  # our clock stepped back a little
    assert not check(minted(day=TODAY + 2))


def test_a_digest_proves_only_the_tickets_it_listed() -> None:
    digest = minted("digest", cause="digest:k@x:2026-11-03/digest/" + STAFF)
    hashed = key_hash("digest:k@x:2026-11-03/digest/" + STAFF)
    assert check(digest, Scope(frozenset({"26-0001"}), TODAY, {hashed: frozenset({"26-0001"})}))
    assert not check(digest, Scope(frozenset({"26-0001"}), TODAY, {}))
    assert not check(digest, Scope(frozenset({"26-0001"}), TODAY, {"0" * 16: frozenset({"26-0001"})}))


def test_the_lifetime_is_configured_and_checked(tmp_path: Path) -> None:
    assert SecuritySettings().proof_max_age_days == 30
    settings = load_settings(write_config(tmp_path, {"security": {"proof_max_age_days": 7}}))
    assert settings.security.proof_max_age_days == 7
    with pytest.raises(ConfigError, match="security.proof_max_age_days: must be at least 1"):
        load_settings(write_config(tmp_path, {"security": {"proof_max_age_days": 0}}))


def test_tampered_and_old_ids() -> None:
    mid = minted("26-0002", day=TODAY - 40)
    parts = mid.split(".")
    restamped = ".".join([*parts[:2], format(TODAY, "x"), *parts[3:]])  # a newer day, same signature
    renumbered = mid.replace("26-0002", "26-0001")
    for forged in (restamped, renumbered):
        found = read_minted_id(forged, DOMAIN)
        assert found is None or not verify_minted_id(KEY, found, STAFF)
        assert not check(forged)
    # An id minted before ids carried their date is still ours (a bounce of it is ours), proves nothing.
    old = "maild.26-0001.0123456789abcdef." + __import__("hmac").new(
        KEY, f"26-0001.0123456789abcdef.{STAFF}".encode(), "sha256").hexdigest()[:20] + "@" + DOMAIN
    found = read_minted_id(old, DOMAIN)
    assert found is not None and found.day is None and verify_minted_id(KEY, found, STAFF)
    assert not check(old)
    assert "before our Message-IDs carried their date" in prove(reply_to(old), STAFF, TRUST, SCOPE).how


# -- stories over the real servers ---------------------------------------------------------------

@dataclass
class Mail:
    to: str
    subject: str
    message_id: str
    text: str
    msg: Message


class Desk:
    """The helpdesk as its users see it: a mailbox to write to, mail that comes back."""

    def __init__(self, daemon: Daemon, account: ImapAccount, sink: SmtpSink, clock: FrozenClock) -> None:
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
        got = self.sink.messages[self.seen:]
        self.seen += len(got)
        out = []
        for m in got:
            msg = email.message_from_bytes(m.data)
            text = next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/plain")
            subject = " ".join(str(make_header(decode_header(msg["Subject"]))).split())
            out.append(Mail(m.rcpt_tos[0], subject, msg["Message-ID"].strip("<>"), text, msg))
        return out

    def to(self, address: str) -> Mail:
        """The one new mail to ``address``."""
        [found] = [m for m in self.new_mail() if m.to == address]
        return found

    def command(self, sender: str, subject: str, body: str, in_reply_to: str | None = None,
                references: list[str] | None = None, top: tuple[str, ...] = ()) -> None:
        """A team member's mail; ``top``: header fields the receiving server put on top."""
        raw = report(sender=sender, name="", subject=subject, in_reply_to=in_reply_to, references=references,
                     body=body).raw
        self.send(b"".join(f"Authentication-Results: {f}\n".encode() for f in top) + raw)

    def ticket(self, number: str):  # type: ignore[no-untyped-def]
        return next(t for t in tickets(self.daemon) if t.number == number)

    def story(self, number: str) -> list[str]:
        return [e.event for e in events(self.daemon, self.ticket(number).id)]


def make_desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink,
              **security: object) -> Desk:
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["coordinator"] = {"name": "Koordinator Helpdesk", "address": COORDINATOR}
    sections["security"] = {"trusted_authserv_ids": ["mx.lpse.example"], **security}
    sections["digest"] = {"enabled": False}
    clock = FrozenClock()
    daemon, _ = start(write_config(tmp_path, sections, staff=True), clock)
    return Desk(daemon, imap_account, smtp_sink, clock)


@pytest.fixture
def desk(tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink):  # type: ignore[no-untyped-def]
    d = make_desk(tmp_path, db_url, imap_account, smtp_sink)
    yield d
    d.daemon.close()


def two_tickets(desk: Desk) -> tuple[Mail, Mail, Mail, str]:
    """Ticket 26-0001 from Budi and 26-0002 from Siti: (notice A, notice B, Budi's ack, Budi's Message-ID)."""
    budi = report(subject="Tidak bisa login")
    desk.send(budi.raw)
    mails = {m.to: m for m in desk.new_mail()}
    desk.send(report(sender=OTHER_REPORTER, subject="Dokumen penawaran gagal diunggah").raw)
    notice_b = desk.to(STAFF)
    return mails[STAFF], notice_b, mails[REPORTER], budi.message_id


def test_the_notification_of_one_ticket_does_not_prove_staff_for_another(desk: Desk) -> None:
    notice_a, notice_b, ack_a, report_a = two_tickets(desk)
    assert "26-0001" in notice_a.subject and "26-0002" in notice_b.subject
    # Budi (reporter of A) holds a leaked notification of B and writes as the staff member, threading
    # onto A by his own ack, his own report's Message-ID, or the subject token.
    for n, (irt, refs) in enumerate([(ack_a.message_id, [notice_b.message_id]),
                                     (report_a, [notice_b.message_id, report_a]),
                                     (None, [notice_b.message_id, ack_a.message_id])]):
        desk.command(STAFF, "Re: [LPSE #26-0001] Tidak bisa login", f"#selesai ditutup {n}\n#prioritas kritis",
                     in_reply_to=irt, references=refs)
        warning = desk.to(STAFF)
        assert "Peringatan" in warning.subject
        assert "about ticket 26-0002, not 26-0001" in (ledger(desk.daemon)[-1].reason or "")
    a = desk.ticket("26-0001")
    assert a.state == "new" and a.priority != "critical"
    assert desk.story("26-0001") == ["report_received"] + ["unverified_mail"] * 3
    # The legitimate twins: each notification still proves its own ticket.
    desk.command(STAFF, f"Re: {notice_b.subject}", "#prioritas kritis", in_reply_to=notice_b.message_id)
    assert desk.ticket("26-0002").priority == "critical"
    desk.command(STAFF, f"Re: {notice_a.subject}", "#selesai Password sudah direset.", in_reply_to=notice_a.message_id)
    assert desk.ticket("26-0001").state == "closed"


def test_a_forwarded_digest_proves_the_coordinator_only_for_the_tickets_it_listed(
        tmp_path: Path, db_url: str, imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    sections = imap_sections(imap_account, db_url, smtp_sink.port)
    sections["coordinator"] = {"name": "Koordinator Helpdesk", "address": COORDINATOR}
    sections["digest"] = {"all_clear": False}
    clock = FrozenClock()  # Monday 09:00 WITA: today's digest is due
    daemon, _ = start(write_config(tmp_path, sections, staff=True), clock)
    desk = Desk(daemon, imap_account, smtp_sink, clock)
    try:
        desk.send(report(subject="Tidak bisa login").raw)  # 26-0001, then today's digest lists it
        digest = desk.to(COORDINATOR)
        assert "[LPSE #26-0001]" in digest.text
        clock.advance(hours=1)
        desk.send(report(sender=OTHER_REPORTER, subject="Sertifikat tidak terbaca").raw)  # 26-0002, after it
        desk.send(report(sender="dewi@cv3.co.id", subject="Akun terkunci").raw)  # 26-0003, after it
        assert COORDINATOR not in {m.to for m in desk.new_mail()}
        # Whoever holds the digest writes as the coordinator about tickets it never listed.
        for number in ("26-0002", "26-0003"):
            desk.command(COORDINATOR, f"Re: {digest.subject} [LPSE #{number}]", "#prioritas kritis\n#selesai x",
                         in_reply_to=digest.message_id)
            assert desk.ticket(number).state == "new" and desk.ticket(number).priority != "critical"
            assert desk.story(number)[-1] == "unverified_mail"
            assert "a digest that did not list" in (ledger(daemon)[-1].reason or "")
        # The legitimate twin: the coordinator acts on a ticket the digest listed.
        desk.command(COORDINATOR, f"Re: {digest.subject} [LPSE #26-0001]", "#prioritas kritis",
                     in_reply_to=digest.message_id)
        assert desk.ticket("26-0001").priority == "critical"
        assert "coordinator proven" in (ledger(daemon)[-1].reason or "")
    finally:
        daemon.close()


def test_a_notification_proves_for_the_configured_days_only(tmp_path: Path, db_url: str,
                                                             imap_account: ImapAccount, smtp_sink: SmtpSink) -> None:
    desk = make_desk(tmp_path, db_url, imap_account, smtp_sink, proof_max_age_days=5)
    try:
        notice_a, notice_b, _, _ = two_tickets(desk)
        # A resend of the row (as after a crash between SMTP and commit) keeps its Message-ID.
        with desk.daemon.factory() as s, s.begin():
            s.execute(update(OutgoingMail).where(OutgoingMail.message_id == notice_a.message_id)
                      .values(state="queued", next_attempt_at=desk.clock()))
        desk.clock.advance(days=5)
        assert desk.daemon.run_once()
        resent = [m for m in desk.new_mail() if m.subject == notice_a.subject]
        assert [m.message_id for m in resent] == [notice_a.message_id]
        desk.command(STAFF, f"Re: {notice_a.subject}", "#prioritas kritis", in_reply_to=resent[0].message_id)
        assert desk.ticket("26-0001").priority == "critical"  # the legitimate twin: 5 days old
        desk.new_mail()
        desk.clock.advance(days=1)
        desk.command(STAFF, f"Re: {notice_b.subject}", "#selesai ditutup", in_reply_to=notice_b.message_id)
        assert desk.ticket("26-0002").state != "closed"
        assert desk.story("26-0002")[-1] == "unverified_mail"
        assert "6 days ago (a mail proves its recipient for 5 days)" in (ledger(desk.daemon)[-1].reason or "")
    finally:
        desk.daemon.close()


def test_authentication_results_over_the_servers(desk: Desk) -> None:
    desk.send(report().raw)
    desk.new_mail()
    subject = "Re: [LPSE #26-0001] x"
    attacks = [
        ('mx.lpse.example; dmarc=fail header.from=lpse.example; spf=pass smtp.mailfrom="dmarc=pass@x"',),
        ("mx.lpse.example; dmarc=fail (dmarc=pass header.from=lpse.example) header.from=lpse.example",),
        ('mx.lpse.example; spf=none smtp.helo="h;dmarc=pass header.from=lpse.example x"; dmarc=fail header.from=x',),
        ("mx.lpse.example; spf=pass (domain of x;dmarc=pass header.from=lpse.example designates 1.2.3.4) "
         "smtp.mailfrom=x@evil.example; dmarc=fail header.from=lpse.example",),
        ("mx.lpse.example; dmarc=fail header.from=lpse.example",
         "mx.lpse.example; dmarc=pass header.from=lpse.example"),
        ("mx.lpse.example; dmarc=pass header.from=evil.example",),
        ("mx.evil.example; dmarc=pass header.from=lpse.example",),
        ("mx.lpse.example; dkim=pass header.d=evil.example",),
        ("mx.lpse.example; spf=pass smtp.mailfrom= =?us-ascii?q?x=3B_dmarc=3Dpass_header.from=3Dlpse.example?=",),
    ]
    for top in attacks:
        desk.command(STAFF, subject, "#selesai ditutup oleh penipu", top=top)
        assert desk.ticket("26-0001").state == "new", top
        assert "proved nothing" in (ledger(desk.daemon)[-1].reason or "")
    assert desk.story("26-0001") == ["report_received"] + ["unverified_mail"] * len(attacks)
    desk.new_mail()
    # The legitimate twin: OpenDKIM's own line from the trusted server proves the staff member.
    desk.command(STAFF, subject, "#status proses", top=(OPENDKIM,))
    assert desk.ticket("26-0001").state == "in_progress"
    assert "mx.lpse.example: dkim=pass, signed by lpse.example" in (ledger(desk.daemon)[-1].reason or "")


# -- bounces --------------------------------------------------------------------------------------

DSN = """From: {sender}
To: helpdesk@lpse.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{n}@mx.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.
I'm sorry to have to inform you that your message could not be delivered.

{lines}
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
{records}
--B
Content-Type: text/rfc822-headers

From: helpdesk@lpse.example
To: {first}
Subject: [LPSE #26-0001] Laporan diterima
{mid}
--B--
"""


def dsn(n: int, recipients: list[str], mid: str | None, sender: str = "MAILER-DAEMON@evil.example") -> bytes:
    lines = "".join(f"<{r}>: host mx.example said: 550 5.1.1 User unknown\n" for r in recipients)
    records = "".join(f"\nFinal-Recipient: rfc822; {r}\nAction: failed\nStatus: 5.1.1\n" for r in recipients)
    text = DSN.format(sender=sender, n=n, lines=lines, records=records, first=recipients[0],
                      mid=f"Message-ID: <{mid}>" if mid else "")
    return text.replace("\n", "\r\n").encode()


def failing(desk: Desk) -> set[str]:
    with desk.daemon.factory() as s:
        return set(s.scalars(select(Party.address).where(Party.failing_since.is_not(None))))


def test_a_forged_bounce_marks_no_one_and_a_real_one_does(desk: Desk) -> None:
    _, notice_b, ack_a, _ = two_tickets(desk)
    ack_b = next(m for m in outbox(desk.daemon) if m.recipient == OTHER_REPORTER and m.template == "ack")
    # Our shape and today's date, the signature made up (the attacker lacks the secret).
    local = ack_a.message_id.split("@")[0]
    fake_minted = local.rsplit(".", 1)[0] + ".0123456789abcdef0123@" + DOMAIN
    assert read_minted_id(fake_minted, DOMAIN) is not None and fake_minted != ack_a.message_id
    forged = [
        ([REPORTER, OTHER_REPORTER], None),  # no returned Message-ID at all
        ([REPORTER, OTHER_REPORTER], "laporan-1@cv-maju.co.id"),  # not ours
        ([REPORTER, OTHER_REPORTER], fake_minted),  # our shape, a made-up signature
        ([REPORTER], notice_b.message_id),  # ours, but sent to the staff member, not to Budi
        ([OTHER_REPORTER], ack_a.message_id),  # Budi's ack named as bounced for Siti
    ]
    for n, (recipients, mid) in enumerate(forged):
        desk.send(dsn(n, recipients, mid))
        assert failing(desk) == set(), (recipients, mid)
        assert "not a mail we sent them, not marked" in (ledger(desk.daemon)[-1].reason or "")
    assert desk.new_mail() == []  # the team is not told of forged failures
    assert "bounce_unverified" in desk.story("26-0001") and "bounce_received" not in desk.story("26-0001")
    unverified = [e for e in events(desk.daemon, desk.ticket("26-0001").id) if e.event == "bounce_unverified"]
    assert unverified[0].detail["recipients"] == [OTHER_REPORTER]  # recorded, not marked
    # Both reporters are still acknowledged.
    desk.send(report(subject="Laporan lain").raw)
    desk.send(report(sender=OTHER_REPORTER, subject="Laporan lain lagi").raw)
    assert {m.to for m in desk.new_mail()} >= {REPORTER, OTHER_REPORTER}

    # The legitimate twin: a real bounce of Siti's acknowledgement (its returned headers carry
    # our Message-ID) marks her address, and the next automatic mail to her is suppressed.
    desk.send(dsn(99, [OTHER_REPORTER, REPORTER], ack_b.message_id, sender="MAILER-DAEMON@mx.cvlain.co.id"))
    assert failing(desk) == {OTHER_REPORTER}
    assert "bounce_received" in desk.story("26-0002")
    [notice] = desk.new_mail()
    assert notice.to == STAFF and OTHER_REPORTER in notice.subject and REPORTER not in notice.subject
    desk.send(report(sender=OTHER_REPORTER, subject="Satu lagi").raw)
    assert OTHER_REPORTER not in {m.to for m in desk.new_mail()}
