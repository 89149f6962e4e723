"""Bounce recognition (maild.mail.bounces) against real bounces and real ordinary mail.

Corpus figures are printed (run with ``-s``) and held to floors a little under what the module
achieves, so a regression fails while the numbers stay visible. The corpus lives in
../shared/corpus; its absence is a failure, not a skip.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from email import policy
from email.parser import BytesParser
from functools import lru_cache
from pathlib import Path

import pytest

from maild.mail.bounces.report import Bounce, parse_bounce
from maild.mail.mime import Attachment
from maild.mail.parse import ParsedMail, parse

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SISIMAI = "sisimai-set-of-emails"

# sisimai files that report no delivery failure (SES complaint and success notices, an address
# verification), and a bounce forwarded by a person, which we refuse on purpose. They must
# come back as None and are left out of the recognition rate.
SISIMAI_NOT_FAILURES = {
    "lhost-amazonses-11.eml": "SES complaint (feedback) notification",
    "lhost-amazonses-12.eml": "SES delivery (success) notification",
    "lhost-amazonses-13.eml": "SES delivery (success) notification",
    "rfc3464-28.eml": "address verification report (sendmail -bv): 'deliverable', nothing failed",
    "lhost-sendmail-14.eml": "a person forwarding a bounce ('Fwd:', quoted with '>')",
}


def corpus() -> Path:
    if not (CORPUS / "bounce_cases.tsv").is_file() or not (CORPUS / SISIMAI).is_dir():
        pytest.fail(f"the shared mail corpus is missing at {CORPUS}")
    return CORPUS


@lru_cache(maxsize=None)
def bounce_of(path: Path) -> Bounce | None:
    return parse_bounce(parse(path.read_bytes()))


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# ---------------------------------------------------------------------------------------------
# (1) flufl.bounce's expected results


def test_flufl_bounce_cases_recipients() -> None:
    root = corpus()
    with open(root / "bounce_cases.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) >= 50
    matched, kind_ok, misses = 0, 0, []
    for row in rows:
        bounce = bounce_of(root / row["fixture"])
        expected = set(row["expected_failed_recipients"].lower().split())
        got = set(bounce.recipients) if bounce else None
        if got == expected:
            matched += 1
        else:
            misses.append(f"{row['case_id']} {Path(row['fixture']).name}: expected {sorted(expected)}, got {got}")
        if bounce is not None and bounce.permanent == (row["failure_type"] == "permanent"):
            kind_ok += 1
    print(f"\nflufl.bounce: recipients match {matched}/{len(rows)} = {rate(matched, len(rows)):.1%}; "
          f"permanent/temporary right {kind_ok}/{len(rows)}")
    for miss in misses:
        print("  miss:", miss)
    assert rate(matched, len(rows)) >= 0.92
    assert rate(kind_ok, len(rows)) >= 0.95


# ---------------------------------------------------------------------------------------------
# (2) sisimai's set of real bounces


def sisimai_files() -> list[Path]:
    files = sorted(p for p in (corpus() / SISIMAI).rglob("*.eml") if p.is_file())
    assert len(files) > 400
    return files


def is_sisimai_bounce(path: Path) -> bool:
    """sisimai marks ARF abuse reports (arf-*) and RFC 3834 auto-replies (rfc3834-*) as such."""
    return not path.name.startswith(("arf-", "rfc3834-")) and path.name not in SISIMAI_NOT_FAILURES


def test_sisimai_bounces_are_recognised_and_their_recipient_found() -> None:
    files = [p for p in sisimai_files() if is_sisimai_bounce(p)]
    recognised, found, missed = 0, 0, []
    for path in files:
        bounce = bounce_of(path)
        if bounce is None:
            missed.append(path.name)
            continue
        recognised += 1
        raw = path.read_bytes().lower()
        if bounce.recipients and all(r.encode() in raw for r in bounce.recipients):
            found += 1
    print(f"\nsisimai: {len(files)} bounces; recognised {recognised} = {rate(recognised, len(files)):.1%}; "
          f"failed recipient found {found} = {rate(found, len(files)):.1%}")
    print("  not recognised:", " ".join(sorted(set(missed))))
    assert rate(recognised, len(files)) >= 0.98
    assert rate(found, len(files)) >= 0.94


def machine_recipients(raw: bytes) -> set[str]:
    """What a report says for machines, read independently with the standard library: the
    Original-Recipient (else Final-Recipient) of each failed or delayed DSN record, else the
    X-Failed-Recipients header."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    out: set[str] = set()
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        for block in (payload if isinstance(payload, list) else [])[1:]:
            action = str(block.get("Action") or "").lower()
            if action.startswith(("deliver", "relay", "expand")):
                continue
            original = str(block.get("Original-Recipient") or "")
            value = original if "rfc822" in original.lower() else str(block.get("Final-Recipient") or "")
            found = re.search(r"[^\s<>;\"',]+@[^\s<>;\"',]+", value.rpartition(";")[2])
            if found:
                out.add(found.group(0).lower().rstrip("."))
    if not out and msg.get("X-Failed-Recipients"):
        out = {a.lower() for a in re.findall(r"[^\s<>;\"',]+@[^\s<>;\"',]+", str(msg.get("X-Failed-Recipients")))}
    return out


def test_recipients_agree_with_the_machine_readable_part_where_there_is_one() -> None:
    root = corpus()
    files = [p for p in sisimai_files() if is_sisimai_bounce(p)]
    files += sorted((root / "flufl.bounce").rglob("*.txt"))
    checked, agree, differ = 0, 0, []
    for path in files:
        expected = machine_recipients(path.read_bytes())
        if not expected:
            continue
        checked += 1
        bounce = bounce_of(path)
        got = set(bounce.recipients) if bounce else set()
        if got == expected:
            agree += 1
        else:
            differ.append(f"{path.name}: {sorted(expected)} vs {sorted(got)}")
    print(f"\nrecipients equal to the DSN fields / X-Failed-Recipients: {agree}/{checked} = {rate(agree, checked):.1%}")
    for line in differ:
        print("  differs:", line)
    assert checked > 250
    assert rate(agree, checked) >= 0.92


def test_zammad_bounces() -> None:
    root = corpus() / "zammad" / "test" / "data" / "mail"
    names = ["mail018.box", "mail033-undelivered-mail-returned-to-sender.box", "mail055.box", "mail063.box",
             "mail078.box", "mail092.box"]
    results = {name: bounce_of(root / name) for name in names}
    assert all(b is not None for b in results.values()), results
    assert results["mail078.box"] is not None and results["mail078.box"].permanent is False  # "(Delay)"
    postfix = results["mail033-undelivered-mail-returned-to-sender.box"]
    assert postfix is not None and postfix.permanent is True
    assert postfix.recipients == ("not_existing@znuny.com",) and postfix.status == "5.1.1"
    assert postfix.original_message_id == "20150830145601.30.608881@edenhofer.zammad.com"
    assert "User unknown" in postfix.diagnostic


# ---------------------------------------------------------------------------------------------
# (3) ordinary mail is never a bounce


HUMAN_HEAD = (b"From: Budi Santoso <budi@cv-maju.co.id>\nTo: helpdesk@lpse.example\n"
              b"Subject: Re: Pertanyaan tender\nMessage-ID: <reply.1@cv-maju.co.id>\n\n")


def ordinary_mail() -> list[tuple[str, bytes]]:
    """Every corpus file INDEX.tsv does not class as a bounce (replies, auto-replies, forwards,
    HTML, attachments, broken mail...). Body-only reply-parser fixtures get a person's headers."""
    root = corpus()
    out: list[tuple[str, bytes]] = []
    with open(root / "INDEX.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["category"] == "bounce-dsn":
                continue
            raw = (root / row["path"]).read_bytes()
            if "body-only" in row["tags"].split(","):
                raw = HUMAN_HEAD + raw
            out.append((row["path"], raw))
    return out


def test_no_ordinary_mail_is_a_bounce() -> None:
    mails = ordinary_mail()
    kinds = {path.split("/")[0] for path, _ in mails}
    false_positives = [(path, b) for path, raw in mails if (b := parse_bounce(parse(raw))) is not None]
    print(f"\nordinary mail: {len(mails)} files from {len(kinds)} sources; false positives {len(false_positives)}")
    for path, bounce in false_positives:
        print("  FP:", path, bounce)
    assert len(mails) >= 300
    assert false_positives == []


def test_reports_that_are_not_delivery_failures() -> None:
    """ARF abuse reports, RFC 3834 auto-replies and SES complaint/success notices are machine
    mail but not bounces; a person forwarding a bounce is not one either."""
    root = corpus()
    paths = [p for p in sisimai_files() if not is_sisimai_bounce(p)]
    paths += sorted((root / "flanker" / "tests" / "fixtures" / "messages" / "complaints").glob("*.eml"))
    assert len(paths) >= 20
    wrong = [p.name for p in paths if bounce_of(p) is not None]
    assert wrong == []


# ---------------------------------------------------------------------------------------------
# (4) hand-written cases

MAILD_MID = "maild.26-0001.abc.def@lpse.example"

POSTFIX_DSN = f"""\
Return-Path: <>
Received: by mx.dinas.example.go.id (Postfix) id 4B9BB20C3E96; Mon,  2 Nov 2026 09:16:02 +0700 (WIB)
Date: Mon,  2 Nov 2026 09:16:02 +0700 (WIB)
From: MAILER-DAEMON@mx.dinas.example.go.id (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: helpdesk@lpse.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4B9BB20C3E96.1446216962/mx.dinas.example.go.id"
Message-Id: <20261102021602.4B9BB20C3E96@mx.dinas.example.go.id>

This is a MIME-encapsulated message.

--4B9BB20C3E96.1446216962/mx.dinas.example.go.id
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.dinas.example.go.id.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<ppk@dinas.example.go.id> (expanded from <Ppk.Pengadaan@Dinas.example.go.id>): host
    mail.dinas.example.go.id[192.0.2.7] said: 550 5.1.1 <ppk@dinas.example.go.id>:
    Recipient address rejected: User unknown in local recipient table (in reply
    to RCPT TO command)

--4B9BB20C3E96.1446216962/mx.dinas.example.go.id
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dinas.example.go.id
X-Postfix-Queue-ID: 4B9BB20C3E96
X-Postfix-Sender: rfc822; helpdesk@lpse.example
Arrival-Date: Mon,  2 Nov 2026 09:16:01 +0700 (WIB)

Final-Recipient: rfc822; ppk@dinas.example.go.id
Original-Recipient: rfc822;Ppk.Pengadaan@Dinas.example.go.id
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.dinas.example.go.id
Diagnostic-Code: smtp; 550 5.1.1 <ppk@dinas.example.go.id>: Recipient address
    rejected: User unknown in local recipient table

--4B9BB20C3E96.1446216962/mx.dinas.example.go.id
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <helpdesk@lpse.example>
Received: from helpdesk.lpse.example (helpdesk.lpse.example [198.51.100.4])
\tby mx.dinas.example.go.id (Postfix) with ESMTPS id 4B9BB20C3E96
\tfor <Ppk.Pengadaan@Dinas.example.go.id>; Mon,  2 Nov 2026 09:16:01 +0700 (WIB)
From: Helpdesk LPSE <helpdesk@lpse.example>
To: Ppk.Pengadaan@Dinas.example.go.id
Subject: [LPSE #26-0001] Dokumen penawaran gagal diunggah
Message-ID: <{MAILD_MID}>
Date: Mon,  2 Nov 2026 09:15:58 +0700

--4B9BB20C3E96.1446216962/mx.dinas.example.go.id--
"""

DELAYED_DSN = """\
Return-Path: <>
Date: Mon,  2 Nov 2026 13:20:00 +0700 (WIB)
From: MAILER-DAEMON@mx.lpse.example (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: helpdesk@lpse.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
Message-Id: <20261102062000.1A2B3C@mx.lpse.example>

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.lpse.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

                   The mail system

<siti@cv-maju.co.id>: connect to mx.cv-maju.co.id[203.0.113.9]:25: Connection
    timed out

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.lpse.example
Arrival-Date: Mon,  2 Nov 2026 09:15:58 +0700 (WIB)

Final-Recipient: rfc822; siti@cv-maju.co.id
Original-Recipient: rfc822;siti@cv-maju.co.id
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.cv-maju.co.id[203.0.113.9]:25:
    Connection timed out
Will-Retry-Until: Sat,  7 Nov 2026 09:15:58 +0700 (WIB)

--B1
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Helpdesk LPSE <helpdesk@lpse.example>
To: siti@cv-maju.co.id
Subject: [LPSE #26-0002] Akun terkunci
Message-ID: <maild.26-0002.abc.def@lpse.example>

--B1--
"""


def raw(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def test_postfix_dsn_for_a_mail_maild_sent() -> None:
    bounce = parse_bounce(parse(raw(POSTFIX_DSN)))
    assert bounce is not None
    assert bounce.original_message_id == MAILD_MID
    assert bounce.recipients == ("ppk.pengadaan@dinas.example.go.id",)  # the address maild used
    assert bounce.permanent is True
    assert bounce.status == "5.1.1"
    assert "User unknown" in bounce.diagnostic and "\n" not in bounce.diagnostic
    assert bounce.how in ("rfc3464", "postfix")


def test_returned_full_message_gives_the_message_id_too() -> None:
    text = POSTFIX_DSN.replace("Content-Type: text/rfc822-headers", "Content-Type: message/rfc822").replace(
        "Date: Mon,  2 Nov 2026 09:15:58 +0700\n", "Date: Mon,  2 Nov 2026 09:15:58 +0700\n\nDokumen terlampir.\n")
    bounce = parse_bounce(parse(raw(text)))
    assert bounce is not None and bounce.original_message_id == MAILD_MID


def test_delayed_dsn_is_a_bounce_that_is_not_permanent() -> None:
    bounce = parse_bounce(parse(raw(DELAYED_DSN)))
    assert bounce is not None
    assert bounce.permanent is False
    assert bounce.recipients == ("siti@cv-maju.co.id",)
    assert bounce.original_message_id == "maild.26-0002.abc.def@lpse.example"
    assert "timed out" in bounce.diagnostic


def with_delivery_status(mail: ParsedMail, fields: str) -> ParsedMail:
    """The mail as a parser that keeps the message/delivery-status part hands it over."""
    kept = tuple(a for a in mail.attachments if a.content_type != "message/delivery-status")
    part = Attachment("details.txt", "message/delivery-status", fields.replace("\n", "\r\n").encode())
    return dataclasses.replace(mail, attachments=(part, *kept))


def dsn_fields(text: str) -> str:
    return text.split("Content-Type: message/delivery-status\n\n", 1)[1].split("\n--", 1)[0]


def test_rfc3464_fields_when_the_delivery_status_part_is_available() -> None:
    failed = parse_bounce(with_delivery_status(parse(raw(POSTFIX_DSN)), dsn_fields(POSTFIX_DSN)))
    assert failed == Bounce(
        permanent=True,
        recipients=("ppk.pengadaan@dinas.example.go.id",),  # Original-Recipient over Final-Recipient
        status="5.1.1",
        diagnostic="550 5.1.1 <ppk@dinas.example.go.id>: Recipient address rejected: User unknown in local "
                   "recipient table",
        original_message_id=MAILD_MID,
        how="rfc3464",
    )
    delayed = parse_bounce(with_delivery_status(parse(raw(DELAYED_DSN)), dsn_fields(DELAYED_DSN)))
    assert delayed is not None and delayed.permanent is False and delayed.status == "4.4.1"
    assert delayed.how == "rfc3464" and delayed.recipients == ("siti@cv-maju.co.id",)


def test_a_dsn_reporting_only_success_is_not_a_bounce() -> None:
    text = (POSTFIX_DSN.replace("Undelivered Mail Returned to Sender", "Successful Mail Delivery Report")
            .replace("Action: failed", "Action: delivered").replace("Status: 5.1.1", "Status: 2.0.0"))
    text = re.sub(r"I'm sorry.*?\(in reply\n    to RCPT TO command\)",
                  "Your message was successfully delivered to the destination(s)\nlisted below.\n\n"
                  "<ppk@dinas.example.go.id>: delivery via mail.dinas.example.go.id: 250 2.0.0 Ok", text, flags=re.S)
    assert parse_bounce(parse(raw(text))) is None
    assert parse_bounce(with_delivery_status(parse(raw(text)), dsn_fields(text))) is None


def test_a_person_forwarding_a_bounce_is_not_a_bounce() -> None:
    inline = """\
From: Budi Santoso <budi@cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Fwd: Undelivered Mail Returned to Sender
Message-ID: <fwd.1@cv-maju.co.id>
Content-Type: text/plain; charset=utf-8

Selamat pagi, email saya ke panitia mental terus. Mohon bantuannya.

---------- Forwarded message ---------
From: Mail Delivery System <MAILER-DAEMON@mx.cv-maju.co.id>
Date: Sen, 2 Nov 2026 09.16
Subject: Undelivered Mail Returned to Sender
To: <budi@cv-maju.co.id>

This is the mail system at host mx.cv-maju.co.id.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<panitia@dinas.example.go.id>: host mail.dinas.example.go.id[192.0.2.7] said:
    550 5.1.1 User unknown (in reply to RCPT TO command)
"""
    assert parse_bounce(parse(raw(inline))) is None
    # The same report forwarded as an attachment by Outlook.
    attached = (
        "From: Budi Santoso <budi@cv-maju.co.id>\nTo: helpdesk@lpse.example\n"
        "Subject: FW: Undeliverable: Dokumen penawaran\nMessage-ID: <fwd.2@cv-maju.co.id>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"F\"\n\n--F\n"
        "Content-Type: text/plain; charset=utf-8\n\nLihat lampiran, kenapa email saya ditolak?\n\n--F\n"
        "Content-Type: message/rfc822\n\n" + POSTFIX_DSN + "\n--F--\n"
    )
    assert parse_bounce(parse(raw(attached))) is None


def test_out_of_office_replies_are_not_bounces() -> None:
    ooo = """\
From: Siti Aminah <siti@cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Automatic reply: [LPSE #26-0001] Undelivered documents
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Return-Path: <>
Message-ID: <ooo.1@cv-maju.co.id>

I am out of the office until 9 November with no access to e-mail.
Your message will not be forwarded. For urgent matters please contact rina@cv-maju.co.id.
"""
    assert parse_bounce(parse(raw(ooo))) is None
    vacation = ooo.replace("Automatic reply: [LPSE #26-0001] Undelivered documents", "Out of Office")
    vacation = vacation.replace("I am out of the office", "Saya sedang cuti; email Anda tidak dapat saya balas")
    assert parse_bounce(parse(raw(vacation))) is None


def test_ordinary_mail_mentioning_undeliverable_is_not_a_bounce() -> None:
    mail = """\
From: Rina <rina@cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Email undeliverable / delivery failure ke panitia
Message-ID: <n.1@cv-maju.co.id>

Halo Helpdesk,

email saya ke panitia selalu undeliverable. Pesan errornya kurang lebih:
"Your message could not be delivered to one or more recipients. 550 5.1.1 User unknown".
Alamatnya panitia@dinas.example.go.id, apakah masih benar?

Terima kasih,
Rina
"""
    assert parse_bounce(parse(raw(mail))) is None


def test_exchange_online_ndr() -> None:
    ndr = """\
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@lpse.example>
To: helpdesk@lpse.example
Subject: Undeliverable: [LPSE #26-0003] Jadwal pembuktian
Content-Type: text/plain; charset=utf-8
Message-ID: <ndr.1@lpse.example>
In-Reply-To: <maild.26-0003.abc.def@lpse.example>

Your message to joko@pokja.example.go.id couldn't be delivered.

joko wasn't found at pokja.example.go.id.

Action Required: Unknown To address

Diagnostic information for administrators

Generating server: SG2PR01MB1234.apcprd01.prod.exchangelabs.com

joko@pokja.example.go.id
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient joko@pokja.example.go.id not found by SMTP address lookup'

Original message headers:

Received: from helpdesk.lpse.example (198.51.100.4) by SG2PR01MB1234.mail.protection.outlook.com
Message-ID: <maild.26-0003.abc.def@lpse.example>
"""
    bounce = parse_bounce(parse(raw(ndr)))
    assert bounce is not None
    assert bounce.recipients == ("joko@pokja.example.go.id",)
    assert bounce.status == "5.1.10" and bounce.permanent is True
    assert bounce.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert bounce.original_message_id == "maild.26-0003.abc.def@lpse.example"
    assert bounce.how == "exchange"


def test_qmail_and_exim_text_bounces() -> None:
    qmail = """\
From: MAILER-DAEMON@mail.cv-maju.co.id
To: helpdesk@lpse.example
Subject: failure notice

Hi. This is the qmail-send program at mail.cv-maju.co.id.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<andi@cv-maju.co.id>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <helpdesk@lpse.example>
Message-ID: <maild.26-0004.abc.def@lpse.example>
Subject: [LPSE #26-0004] Reset password
"""
    bounce = parse_bounce(parse(raw(qmail)))
    assert bounce is not None and bounce.how == "qmail" and bounce.recipients == ("andi@cv-maju.co.id",)
    assert bounce.status == "5.1.1" and bounce.original_message_id == "maild.26-0004.abc.def@lpse.example"
    exim = """\
From: Mail Delivery System <Mailer-Daemon@mail.cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: dewi@cv-maju.co.id
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  dewi@cv-maju.co.id
    mailbox is full: retry timeout exceeded

------ This is a copy of the message, including all the headers. ------

Message-ID: <maild.26-0005.abc.def@lpse.example>
"""
    bounce = parse_bounce(parse(raw(exim)))
    assert bounce is not None and bounce.how == "exim" and bounce.recipients == ("dewi@cv-maju.co.id",)
    assert bounce.permanent is True and bounce.diagnostic == "mailbox is full: retry timeout exceeded"


def test_machine_mail_that_is_not_a_returned_mail() -> None:
    courier = """\
From: JNE Notifikasi <noreply@jne.example.co.id>
To: helpdesk@lpse.example
Subject: Delivery failure: paket JX1234 tidak dapat diantar
Auto-Submitted: auto-generated

This is an automatically generated message.
Your parcel JX1234 could not be delivered to the address given (recipient unknown).
We will try again tomorrow.
"""
    assert parse_bounce(parse(raw(courier))) is None
    quota = """\
From: postmaster@lpse.example
To: helpdesk@lpse.example
Subject: Mailbox quota warning
Auto-Submitted: auto-generated

Your mailbox is full (98% of 2 GB). New mail may be rejected; please delete old messages.
"""
    assert parse_bounce(parse(raw(quota))) is None


def test_a_person_pasting_a_bounce_under_an_edited_subject_is_not_a_bounce() -> None:
    pasted = """\
From: Budi Santoso <budi@cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <p.1@cv-maju.co.id>

Pesan saya ke panitia tidak terkirim (could not be delivered), ini yang saya terima:

Subject: Undelivered Mail Returned to Sender
From: MAILER-DAEMON@mx.cv-maju.co.id

This is the mail system at host mx.cv-maju.co.id.

<panitia@dinas.example.go.id>: host mail.dinas.example.go.id[192.0.2.7] said:
    550 5.1.1 User unknown (in reply to RCPT TO command)
"""
    assert parse_bounce(parse(raw(pasted))) is None
