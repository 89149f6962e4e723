"""Delivery failure reports (bounces): recognise them and say which addresses failed. Pure.

A bounce must never become a ticket and must never be answered; it is recorded on the ticket
whose mail bounced (found through ``Bounce.original_message_id``). ``parse_bounce`` returns a
``Bounce`` for

* RFC 3464 delivery status notifications (``multipart/report; report-type=delivery-status``):
  the per-recipient fields of the ``message/delivery-status`` part, when the parser hands that
  part over as an attachment, else the same fields or the human-readable part's text;
* the common non-standard reports, recognised by their text: Postfix, Exim, qmail, Sendmail,
  Exchange / Office 365, Gmail, Yahoo, Lotus Domino, Courier, OpenSMTPD, IMail/SMTP32, MDaemon,
  Oracle Messaging Server, Zimbra and a few dozen more that share their wording.

Deliberately *not* bounces (``None``): ARF abuse reports (``report-type=feedback-report``), read
receipts (``disposition-notification``), DSNs that only report success (``delivered``,
``relayed``, ``expanded``), out-of-office and other RFC 3834 auto-replies, and a person
forwarding or quoting a bounce. The screening module decides separately whether such mail may
be answered.

A *delayed* report ("still trying", ``Action: delayed``, status 4.x.x on a warning) is returned
as a ``Bounce`` with ``permanent=False``: it is a machine's delivery report, so it must not open
a ticket or be answered either, but the address is not dead yet; the caller should note it on
the ticket and not count it as a hard failure.

How a report that is not an RFC 3464 DSN is told from other mail: it needs a machine signal
(an ``X-Failed-Recipients`` header, a mailer-daemon/postmaster/"Mail Delivery System" sender,
or mail-system boilerplate at the very top of the body together with a bounce subject or a
null sender / ``Auto-Submitted`` / no-reply sender) *and* failure wording in the part of the body
before the returned message. Wording that only follows a forwarding or quoting marker does not
count; a "Fwd:"/"Re:" or out-of-office subject, or a report with no trace of a returned mail
(no failed address, no returned Message-ID, no bounce subject), is not a bounce.
A null Return-Path alone proves nothing: RFC 3834 auto-replies use it too.

Recipients come, in order of trust, from the DSN fields, an ``X-Failed-Recipients`` header, the
report's text (address lists under headings such as "The following addresses failed:", and
lines such as Postfix's ``<addr>: reason``), a report wrapped inside the report, and last the
newest ``Received: ... for <addr>`` (or single To) of the returned message.

This module holds the value and the entry; the work is done by ``dsn`` (RFC 3464 fields),
``recognise`` (is it a report, does it say failed or delayed), ``recipients`` (who failed, the
status and diagnostic from the text), ``systems`` (which mail system wrote it) and ``text``
(the report's own words and the returned message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.mail.bounces.dsn import Record, dsn_records, record_failed, report_type, status_of
from maild.mail.bounces.recipients import returned_recipients, text_diagnostic, text_recipients, text_status
from maild.mail.bounces.recognise import BOUNCE_SUBJECT, is_delay, is_permanent, looks_like_bounce, reports_success
from maild.mail.bounces.systems import mail_system
from maild.mail.bounces.text import one_line, original_message_id, report_region, report_text, returned_head, unique
from maild.mail.parse import ParsedMail, normalize_message_id, parse

__all__ = ["Bounce", "parse_bounce"]

_I = re.IGNORECASE


@dataclass(frozen=True)
class Bounce:
    """One delivery failure report.

    ``permanent`` is False for a delay warning (delivery is still being retried) and for a
    report whose only failures are temporary (4.x.x). ``recipients`` are the addresses that
    failed, lowercased, as the sender addressed them where the report says so (RFC 3464
    ``Original-Recipient``, Postfix "expanded from"). ``status`` is the enhanced status code
    (RFC 3463, e.g. "5.1.1") or "". ``diagnostic`` is one trimmed line, normally the remote
    server's answer. ``original_message_id`` is the normalised Message-ID of the mail that
    bounced, when the report returns its headers (or names it in In-Reply-To). ``how`` names the
    detector whose format supplied the answer: "rfc3464", "postfix", "exim", "qmail",
    "sendmail", "exchange", "gmail", "yahoo", "domino", "courier", "opensmtpd", "zimbra", ...,
    or "generic".
    """

    permanent: bool
    recipients: tuple[str, ...]
    status: str
    diagnostic: str
    original_message_id: str | None
    how: str


def parse_bounce(mail: ParsedMail) -> Bounce | None:
    """The delivery failure ``mail`` reports, or None when it is not a bounce (see module doc)."""
    return _parse_bounce(mail, 0)


def _parse_bounce(mail: ParsedMail, depth: int) -> Bounce | None:
    kind = report_type(mail)
    if kind in ("feedback-report", "disposition-notification"):
        return None
    body = report_text(mail)
    region = report_region(body)
    records = dsn_records(mail, region)
    is_dsn = kind == "delivery-status" or any(
        a.content_type == "message/delivery-status" for a in mail.attachments
    )
    failing = [r for r in records if record_failed(r)]
    if records and not failing and any(r.action or r.status for r in records):
        return None  # a DSN that only reports success (delivered, relayed, expanded)
    ses = _amazon_ses(mail, body)
    if ses is not None:
        return ses
    if not is_dsn and not failing and not looks_like_bounce(mail, region):
        return None
    if not failing and reports_success(mail, region):
        return None  # a report that the mail was delivered or relayed
    mid = original_message_id(mail, body)
    if failing:
        return _from_records(mail, region, failing, mid)
    recipients = text_recipients(mail, region)
    if not recipients:
        inner = _nested_report(mail, depth)
        if inner is not None:
            return inner
        recipients = returned_recipients(mail)
    if not (is_dsn or recipients or mid or BOUNCE_SUBJECT.search(mail.subject or "")):
        return None  # failure words from a mail system, but no trace of a returned mail
    status = text_status(region)
    permanent = is_permanent(mail, region, status)
    return Bounce(permanent, recipients, status, text_diagnostic(region, recipients), mid, mail_system(mail, body))


def _from_records(mail: ParsedMail, region: str, failing: list[Record], mid: str | None) -> Bounce:
    """The answer of an RFC 3464 report from its failed (or delayed) recipients' fields."""
    recipients = unique(r.recipient for r in failing)
    # "failed" means the mail system gave up, whatever the status class: not delivered.
    permanent = any(r.action and not r.action.startswith("delay") or not r.action and r.status.startswith("5")
                    for r in failing)
    if not any(r.action for r in failing) and permanent:
        permanent = not is_delay(mail, region)
    first = next((r for r in failing if r.status), failing[0])
    diagnostic = next((r.diagnostic for r in failing if r.diagnostic), "") or text_diagnostic(region, recipients)
    return Bounce(permanent, recipients, first.status, diagnostic, mid, "rfc3464")


def _nested_report(mail: ParsedMail, depth: int) -> Bounce | None:
    """A report that wraps the real report as its attachment (some gateways forward DSNs)."""
    if depth > 0:
        return None
    for att in mail.attachments:
        if att.content_type == "message/rfc822":
            head = returned_head(att.content).lower()
            if "multipart/report" in head or "mailer-daemon" in head:
                inner = _parse_bounce(parse(att.content), depth + 1)
                if inner is not None and inner.recipients:
                    return inner
    return None


def _amazon_ses(mail: ParsedMail, body: str) -> Bounce | None:
    """An Amazon SES bounce notification (JSON, usually delivered through SNS by e-mail).

    Read with patterns rather than a JSON parser: SNS mails wrap long lines, and some copies
    in the wild are cut short.
    """
    text = body.lstrip()
    if not text.startswith("{") or not re.search(r'\\?"(?:notificationType|eventType)\\?"\s*:\s*\\?"Bounce', text):
        return None
    text = re.sub(r"\n ?", "", text).replace('\\"', '"')  # SNS wraps the SES JSON in a string
    rcpts = re.search(r'"bouncedRecipients"\s*:\s*\[(.*?)\]', text)
    recipients = unique(re.findall(r'"emailAddress"\s*:\s*"([^"]+)"', rcpts.group(1))) if rcpts else ()
    kind = re.search(r'"bounceType"\s*:\s*"(\w+)"', text)
    status = re.search(r'"status"\s*:\s*"([^"]*)"', rcpts.group(1)) if rcpts else None
    diag = re.search(r'"diagnosticCode"\s*:\s*"((?:[^"\\]|\\.)*)"', rcpts.group(1)) if rcpts else None
    mid = re.search(r'"commonHeaders"\s*:\s*\{[^{}]*?"messageId"\s*:\s*"([^"]+)"', text)
    return Bounce(
        permanent=not (kind and kind.group(1) == "Transient"),
        recipients=recipients,
        status=status_of(status.group(1)) if status else "",
        diagnostic=one_line(re.sub(r"^\s*smtp\s*;\s*", "", diag.group(1), flags=_I)) if diag else "",
        original_message_id=normalize_message_id(mid.group(1)) if mid else None,
        how="amazonses",
    )
