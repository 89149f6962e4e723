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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.mail.parse import ParsedMail, normalize_message_id, parse

__all__ = ["Bounce", "parse_bounce"]


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


# --------------------------------------------------------------------------------------------
# Patterns

_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
_ADDR_RE = re.compile(_ADDR)
_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

_MACHINE_LOCALS = frozenset({
    "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "maildaemon", "postmaster",
    "mdaemon", "mail.delivery.system", "mail-delivery-system", "mailadmin", "mail-admin",
    "smtp-gateway", "mailer", "poostmaster", "double-bounce",
})
_MACHINE_NAME = re.compile(
    r"mail ?delivery (?:system|subsystem|service)|mailer[- _]?daemon|\bpostmaster\b|"
    r"mail administrator|system administrator|mail system|delivery status notification|"
    r"internet mail delivery|mail delivery",
    _I,
)
# Prefixes a person's mail client puts on a subject when replying or forwarding.
_HUMAN_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:re|aw|sv|antw|antwort|vs|odp|ynt|r|ris|rif|res|fwd?|wg|tr|"
    r"enc|rv|doorst|i|vl|fs|trans|pd|转发|回复|答复)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]",
    _I,
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|out of (?:the )?office|"
    r"abwesend|abwesenheit|réponse automatique|respuesta automática|risposta automatica|"
    r"afwezig|balasan otomatis|vacation|on vacation|autosvar)\b",
    _I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non[- ]?deliver|nondeliver|delivery (?:status|failure|failed|fail|"
    r"notification|report|problem|error|has failed|delayed|incomplete)|failure notice|"
    r"returned mail|returned to sender|mail delivery (?:failed|failure|system|problem|error)|"
    r"mail (?:could not|couldn't) be delivered|could not send|delayed mail|mail error|"
    r"delivery notification|message not delivered|not delivered|failed mail|"
    r"unable to deliver|error sending|there was an error|permanent (?:delivery )?failure|"
    r"warning: message|delivery delay|delay notification|mail failure|unzustellbar|"
    r"nicht zustellbar|non remis|non recapitabile|no entregado|no se pudo entregar|"
    r"недостав|не доставлен|メールエラー|配信|送信エラー|未送達|退信|系统退信|"
    r"undeliverable|rejected|returned message|mail system error|bounce",
    _I,
)
_SUCCESS_SUBJECT = re.compile(r"\((?:success|relayed|delivered)\)|^\s*(?:relayed|delivered)\s*:", _I)

# Wording of a failure. Only searched in the report's own text (before the returned message).
_FAILURE = re.compile(
    r"could ?n[o']t be (?:delivered|sent)|could not deliver|was ?n[o']t delivered|"
    r"not (?:be )?delivered|undeliverable|undelivered|delivery (?:has )?failed|"
    r"failed permanently|permanent(?: fatal)? error|permanent delivery failure|fatal (?:delivery )?errors?|"
    r"delivery problems|unable to deliver|did not reach|delivery to the following|"
    r"not yet been delivered|has been delayed|delivery (?:is )?delayed|user unknown|unknown user|"
    r"no such user|mailbox (?:is )?(?:full|unavailable)|address not found|message not delivered|"
    r"returned mail|non-?delivery|delivery failure|failed to deliver|error (?:delivering|occurred while)|"
    r"invalid final delivery|trouble delivering|temporary problem delivering|delivery incomplete|"
    r"warning only|the mail system|qmail-send|delivery attempts|did not receive a copy|"
    r"was not relayed|could not be reached|rejected your message|recipient address rejected|"
    r"following addresses? (?:had|failed)|following recipients? (?:failed|returned)|"
    r"error (?:sending|in delivery)|errors? (?:while|during) (?:delivering|processing)|"
    r"message delivery failure|delivery status notification|delivery notification|"
    r"nicht zugestellt|konnte nicht|unzustellbar|n'a pas pu|ne peut pas|non remis|"
    r"no se (?:ha )?pud|non è stato|не может быть доставлено|не доставлен|не удалось|"
    r"送信できませんでした|送信に失敗|届きませんでした|配信できませんでした|エラー|"
    r"无法投递|退信|未能|发送失败|无法发送|无法送达|"
    r"has been returned|encountered an error|undeliverable address|failed recipients|failed mail|"
    r"no such user|does not exist|not exactly match|is delayed|temporary failure|envelope expired|"
    r"failed addresses|mail failed",
    _I,
)
# Words that say something failed (not merely that this is a delivery report).
_FAILED_WORDS = re.compile(
    r"could ?n[o']t be (?:delivered|sent)|could not deliver|was ?n[o']t delivered|not (?:be )?delivered|"
    r"undeliverable|undelivered|failed|permanent|fatal|unable to deliver|did not reach|not yet been|"
    r"delayed|user unknown|unknown user|no such user|mailbox (?:is )?(?:full|unavailable)|not found|"
    r"rejected|error|temporary|expired|does not exist|\b[45]\d\d[ -][45]\.\d",
    _I,
)
# Boilerplate that only mail systems write: enough, with a bounce subject, for a sender that
# does not look like a mailer-daemon.
_BOILERPLATE = re.compile(
    r"this is the (?:mail system|postfix program) at host|qmail-send program|"
    r"created automatically by mail delivery software|delivery has failed to these recipients|"
    r"did not reach the following recipient|delivery to the following recipients? (?:failed|has been delayed)|"
    r"following addresses had (?:permanent|transient)|your message (?:couldn't|could not) be delivered|"
    r"could not be delivered to one or more (?:of its )?recipients|original message follows|"
    r"^\s*(?:final|original)-recipient:|^\s*diagnostic-code:|remote host said:|"
    r"in reply to (?:rcpt to|end of data|mail from) command|below this line is a copy of the message|"
    r"this is a copy of the message|unable to deliver (?:your )?message to the following|"
    r"could not be delivered to the following|invalid final delivery userid|"
    r"automatically generated delivery status notification|mail delivery software|"
    r"mail agent v[\d.]+ at|error delivering your mail|"
    r"this report relates to a message you sent|returned mail follows|unsent message (?:below|follows)|"
    r"failed recipients|smtp error code|non-delivery report|undeliverable address:|"
    r"could not be delivered to:\s*<|following addresses had delivery problems|failed addresses follow|"
    r"^\s*(?:your )?message could not be delivered",
    _IM,
)
_DELAY = re.compile(
    r"this is a warning (?:message )?only|has not yet been delivered|not yet been delivered|"
    r"has been delayed|will (?:continue to |be )?(?:re)?tr(?:y|ied)|still (?:being )?(?:re)?tr(?:y|ying)|"
    r"transient non-fatal errors|delivery (?:is )?delayed|delay(?:ed)? (?:notification|mail)|"
    r"temporary problem delivering|delivery incomplete|\(delay\)|warning: message .* delayed|"
    r"no action is required on your part|still trying|message (?:is )?delayed|"
    r"delivery will be retried|retrying|will retry",
    _I,
)
# Words only a delay warning uses: they decide even when the warning also says "could not be
# delivered (yet)".
_STRONG_DELAY = re.compile(
    r"warning (?:message )?only|delayed mail|\(delay\)|has not yet been delivered|not yet been delivered|"
    r"you do not need to resend|notification about a delay|no action is required on your part|"
    r"only a temporary failure|will (?:continue to |be )retr(?:y|ied)|delivery (?:is )?delayed|"
    r"has been delayed|delivery status notification \(delay\)|delivery incomplete",
    _I,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)? (?:error|failure|fatal|failed)|failed permanently|has been removed from|"
    r"given up|i've given up|permanent delivery failure|will not (?:try to )?redeliver|"
    r"retry time(?:out)? (?:not reached|exceeded)|too many (?:delivery )?attempts|"
    r"could not be delivered|couldn't be delivered|undeliverable",
    _I,
)
_SUCCESS = re.compile(
    r"(?:was|were|has been) (?:successfully )?(?:delivered|relayed)|delivery to the following "
    r"recipients? (?:was|were|has been) (?:successful|completed)|successfully delivered|"
    r"delivery (?:was )?successful|delivery report that you requested|^\s*<[^>\s]+>: delivery via ",
    _IM,
)
# Where the returned message (or its headers) starts in a report's text.
_ORIGINAL_START = re.compile(
    r"^[ \t-]*(?:-{2,}|={2,}|\*{2,})?\s*(?:original message|returned message|unsent message|"
    r"returned mail follows|this is a copy of the message|the header of the original message|"
    r"below this line is a copy|message headers follow|original message headers|"
    r"included is a copy of the message|your message reads|original message as received|"
    r"original message follows|the original message (?:headers?|is attached|follows)|"
    r"headers of the original message|here is a copy of the (?:first part of the )?message|"
    r"below is a copy of the original message)|"
    r"^content-type:[ \t]*(?:message/rfc822|text/rfc822-headers)|"
    r"^(?:Received|Return-Path|DKIM-Signature|Delivered-To|X-Received|ARC-Seal|Received-SPF|"
    r"Authentication-Results|X-Google-Smtp-Source|Return-path|X-Originating-IP)\s*:",
    _IM,
)
# A person forwarding or quoting mail.
_FORWARD_MARK = re.compile(
    r"^\s*(?:-{3,}\s*(?:forwarded message|original message|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|doorgestuurd bericht|ursprüngliche nachricht|"
    r"pesan yang diteruskan|pesan asli)\s*-{3,}|begin forwarded message:|"
    r"-{5,}\s*original message\s*-{5,}|on .{5,80} wrote:|am .{5,80} schrieb .{0,80}:|"
    r">+\s*(?:this is the mail system|hi\. this is the qmail|this message was created))",
    _IM,
)
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
_TEXT_STATUS = re.compile(r"(?<![\d.])([45]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
_SMTP_REPLY = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)")
_MSGID_LINE = re.compile(r"^[>\s]*message-id:[ \t]*(?:\n[ \t]+)?(<[^<>\s]+>|\S+@\S+)", _IM)

# Lines that name a failed recipient, whatever the mail system.
_RCPT_INLINE = [
    # Postfix, qmail, Yahoo, Courier, amavis: "<addr>: reason" / "<addr> (expanded from <x>):"
    re.compile(rf"^[ \t]*<({_ADDR})>(?:\s*\(expanded from:?\s*<?({_ADDR})>?\))?[ \t]*:", re.MULTILINE),
    # Exim, GMX, OpenSMTPD: "  addr" / "  addr: reason" / '"addr":' alone on a line
    re.compile(rf"^[ \t]*\"?<?({_ADDR})>?\"?[ \t]*(?::[ \t]|:?$| - )", re.MULTILINE),
    # SendGrid "local:000000:<addr> : ip : mx : reply"
    re.compile(rf"^[^\s:<>]+:\d+:<({_ADDR})>", re.MULTILINE),
    # Exim "(generated from addr)"
    re.compile(rf"\(generated from <?({_ADDR})>?\)", _I),
    # DSN fields written into the text
    re.compile(rf"^[ \t]*(?:original|final)-recipient:[ \t]*(?:rfc822[ \t]*;)?[ \t]*<?({_ADDR})", _IM),
    re.compile(
        rf"(?:unknown user|invalid final delivery userid|delivery failed(?: \d+ attempts)?|mailbox is full|"
        rf"\baddress:(?=[ \t]*<)|"
        rf"undeliverable to|intended recipient|recipient address|original address|"
        rf"could not be delivered to|your message to|wasn't delivered to|was not delivered to|"
        rf"delivering your message to|addressed to|failed to deliver to|originally addressed to|"
        rf"unable to deliver (?:your message )?to|error delivering your mail to|"
        rf"error delivering to|the following message to|delivery to|recipient(?=[\s:,<\"'])|"
        rf"returned permanent errors|undeliverable recipient|rcpt to|not delivered to|"
        rf"undeliverable address|your message was addressed,)"
        rf"[ \t]*[:,]?[ \t]*(?:\n[ \t]*)?[\"']?<?(?<![\w.+-])({_ADDR})>?",
        _I,
    ),
]
_EXPANDED = re.compile(rf"<?({_ADDR})>?\s*\(expanded from:?\s*<?({_ADDR})>?\)", _I)
_EXPANDED_LINE = re.compile(rf"^\s*\(expanded from:?\s*<?({_ADDR})>?\)", _I)
# A heading after which the failed addresses are listed, one a line.
_LIST_HEADING = re.compile(
    r"(?:following (?:addresses?|recipients?|address\(es\)|recipient\(s\)|list of recipients|users?)"
    r"(?: had| failed| returned| could not| did not| was| were|\(s\))?[^\n]*|"
    r"did not reach the following recipient\(s\)|delivery has failed to these recipients[^\n]*|"
    r"was not delivered to|failed permanently|has been delayed|did not receive a copy[^\n]*|"
    r"message not delivered to the following|was not relayed to|failure reasons[^\n]*|"
    r"failed to deliver to the following[^\n]*|message could not be delivered to|"
    r"delivery to the following recipients?[^\n]*|generating server:[^\n]*|"
    r"sent to the following[^\n]*|could not be delivered to|failed recipients[ -]*|list of recipients|addressed to email address\s*|failed addresses follow[: -]*\|?)\s*:?[ \t]*$",
    _IM,
)
_LIST_ITEM = re.compile(rf"^[ \t]*(?:[*>•-]{{1,2}}[ \t]*)?[\"'(]?<?(?:mailto:)?({_ADDR})>?", _I)
_LIST_ITEM_NAMED = re.compile(rf"^[ \t]*[^<\n:]{{0,60}}<(?:mailto:)?({_ADDR})>", _I)

# Labels after which a report quotes the remote server's answer (on the line, or the next).
_DIAG_LABEL = re.compile(
    r"^\s*(?:diagnostic[- ]code\s*:|remote host said\s*:|remote server replied\s*:|"
    r"the error that the other server returned was\s*:|the response (?:from the remote server )?was\s*:|"
    r"technical details of (?:permanent|temporary) failure\s*:|diagnostic information for administrators\s*:|"
    r"\(?reason\s*:|remote server returned\s*|remote server \(?[\d.]*\)? ?issued an error\.?)",
    _I,
)
_HEADERISH = re.compile(r"^\s*(?:to|cc|from|subject|date|sent|message-id|x-[\w-]+)\s*:", _I)
# Which mail system wrote the report ("how").
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("postfix", re.compile(r"this is the (?:mail system|postfix program) at host|^x-postfix-", _IM)),
    ("qmail", re.compile(r"qmail-send program|below this line is a copy of the message", _I)),
    ("exim", re.compile(r"created automatically by mail delivery software|this is a copy of the message, including", _I)),
    ("gmail", re.compile(r"delivery to the following recipients? (?:failed permanently|has been delayed)|"
                         r"\*\* (?:address not found|message not delivered|delivery incomplete|message blocked) \*\*|"
                         r"google tried to deliver|gmail will retry|googlemail\.com|google groups", _I)),
    ("exchange", re.compile(r"delivery has failed to these recipients|did not reach the following recipient|"
                            r"your message (?:to \S+ )?couldn't be delivered|microsoft exchange|"
                            r"diagnostic information for administrators|resolver\.adr|office 365|"
                            r"msexch|protection\.outlook\.com|your message did not reach some or all", _I)),
    ("sendmail", re.compile(r"following addresses had (?:permanent|transient)|transcript of session follows|"
                            r"the original message was received at", _I)),
    ("zimbra", re.compile(r"zimbra", _I)),
    ("yahoo", re.compile(r"sorry, we were unable to deliver your message|message from yahoo|yahoo! mail", _I)),
    ("domino", re.compile(r"domino|lotus|was not delivered to:", _I)),
    ("courier", re.compile(r"courier mail server", _I)),
    ("opensmtpd", re.compile(r"this is the mailer-daemon, please do not reply|following list of recipients", _I)),
    ("messagingserver", re.compile(r"this report relates to a message you sent", _I)),
    ("smtp32", re.compile(r"original message follows\.|smtpd32", _I)),
    ("mdaemon", re.compile(r"mdaemon|did not receive a copy of your message", _I)),
    ("amazonses", re.compile(r"amazonses|amazon ses", _I)),
)


# --------------------------------------------------------------------------------------------
# Entry point

def parse_bounce(mail: ParsedMail) -> Bounce | None:
    """The delivery failure ``mail`` reports, or None when it is not a bounce (see module doc)."""
    return _parse_bounce(mail, 0)


def _parse_bounce(mail: ParsedMail, depth: int) -> Bounce | None:
    report_type = _report_type(mail)
    if report_type in ("feedback-report", "disposition-notification"):
        return None
    body = _report_text(mail)
    region = _report_region(body)
    records = _dsn_records(mail, region)
    is_dsn = report_type == "delivery-status" or any(
        a.content_type == "message/delivery-status" for a in mail.attachments
    )
    failing = [r for r in records if _record_failed(r)]
    if records and not failing and any(r.action or r.status for r in records):
        return None  # a DSN that only reports success (delivered, relayed, expanded)
    ses = _amazon_ses(mail, body)
    if ses is not None:
        return ses
    if not is_dsn and not failing and not _looks_like_bounce(mail, region):
        return None
    success = _SUCCESS.search(region) or _SUCCESS_SUBJECT.search(mail.subject or "")
    if not failing and success and not _FAILED_WORDS.search(_SUCCESS.sub("", region)):
        return None  # a report that the mail was delivered or relayed
    mid = _original_message_id(mail, body)
    if failing:
        recipients = _unique(r.recipient for r in failing)
        # "failed" means the mail system gave up, whatever the status class: not delivered.
        permanent = any(r.action and not r.action.startswith("delay") or not r.action and r.status.startswith("5")
                        for r in failing)
        if not any(r.action for r in failing) and permanent:
            permanent = not _is_delay(mail, region)
        first = next((r for r in failing if r.status), failing[0])
        diagnostic = next((r.diagnostic for r in failing if r.diagnostic), "") or _diagnostic(region, recipients)
        return Bounce(permanent, recipients, first.status, diagnostic, mid, "rfc3464")
    recipients = _text_recipients(mail, region)
    if not recipients:
        inner = _nested_report(mail, depth)
        if inner is not None:
            return inner
        recipients = _returned_recipients(mail)
    if not (is_dsn or recipients or mid or _BOUNCE_SUBJECT.search(mail.subject or "")):
        return None  # failure words from a mail system, but no trace of a returned mail
    status = _text_status(region)
    if _STRONG_DELAY.search(f"{mail.subject}\n{region}") or (status.startswith("4") and _DELAY.search(region)):
        permanent = False
    elif status.startswith("5"):
        permanent = True
    else:
        permanent = not _is_delay(mail, region)
    return Bounce(permanent, recipients, status, _diagnostic(region, recipients), mid, _how(mail, body))


# --------------------------------------------------------------------------------------------
# Is it a bounce at all?

def _looks_like_bounce(mail: ParsedMail, region: str) -> bool:
    """The machine and wording tests for a report that is not an RFC 3464 DSN."""
    if mail.header("x-failed-recipients"):
        return True  # Exim and Gmail name the failed addresses in a header of their own
    subject = mail.subject or ""
    if _AUTO_REPLY_SUBJECT.match(subject):
        return False  # an out-of-office reply, whatever it answers
    human_prefix = bool(_HUMAN_PREFIX.match(subject))
    failure = _FAILURE.search(region)
    if failure is None:
        if _machine_sender(mail) and not human_prefix and _BOUNCE_SUBJECT.search(subject):
            return _FORWARD_MARK.search(region) is None
        return False
    forward = _FORWARD_MARK.search(region)
    if forward is not None and forward.start() < failure.start():
        return False  # a person forwarding or quoting a report
    if _machine_sender(mail):
        return True
    if human_prefix:
        return False
    auto = (mail.header("auto-submitted") or "").strip().lower()
    local = mail.sender.address.partition("@")[0] if mail.sender else ""
    machine_hint = (
        mail.sender is None or mail.return_path == "" or (bool(auto) and not auto.startswith("no"))
        or local.replace("-", "").replace("_", "") in ("noreply", "donotreply", "mailer", "mailsystem")
    )
    subject_hint = _BOUNCE_SUBJECT.search(subject) is not None
    boilerplate = _BOILERPLATE.search(region)
    if boilerplate is None or not (subject_hint or machine_hint):
        return False
    # A mail system starts with its boilerplate; a person pasting one writes something first.
    return region[: boilerplate.start()].strip().count("\n") < (12 if machine_hint else 3)


def _machine_sender(mail: ParsedMail) -> bool:
    if mail.sender is None:
        return mail.return_path in ("", "mailer-daemon")
    local = mail.sender.address.partition("@")[0]
    if local in _MACHINE_LOCALS or local.startswith(("mailer-daemon", "postmaster", "microsoftexchange")):
        return True
    if mail.sender.name and _MACHINE_NAME.search(mail.sender.name):
        return True
    # A null Return-Path alone proves nothing: RFC 3834 auto-replies use it too.
    rp = mail.return_path
    return bool(rp) and rp.partition("@")[0] in _MACHINE_LOCALS


def _is_delay(mail: ParsedMail, region: str) -> bool:
    """Does the report say delivery is still being tried?"""
    text = f"{mail.subject}\n{region}"
    if _STRONG_DELAY.search(text):
        return True
    delay = _DELAY.search(text)
    if delay is None:
        return False
    return _PERMANENT.search(text) is None


def _report_type(mail: ParsedMail) -> str:
    if mail.content_type != "multipart/report":
        return ""
    found = re.search(r"report-type\s*=\s*\"?([\w-]+)", mail.header("content-type") or "", _I)
    return found.group(1).lower() if found else ""


# --------------------------------------------------------------------------------------------
# The report's text

def _report_text(mail: ParsedMail) -> str:
    """The body text, plus text-like attachments a report sometimes hides its words in."""
    parts = [mail.text]
    for att in mail.attachments:
        if att.content_type in ("text/plain", "message/delivery-status", "message/global-delivery-status") or (
            att.content_type.startswith("text/") and att.content_type not in ("text/html", "text/rfc822-headers")
        ):
            parts.append(_decode(att.content))
    text = "\n\n".join(p for p in parts if p and p.strip())
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _report_region(body: str) -> str:
    """The report's own words: the text before the returned message starts (or, when no
    start is recognised, the first 200 lines)."""
    found = _ORIGINAL_START.search(body)
    if found is not None and found.start() > 0:
        return body[: found.start()][:20000]
    return "\n".join(body.split("\n")[:200])[:20000]


def _head(data: bytes) -> str:
    """The header section of a returned message (or of returned headers), unfolded."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").lstrip(b"\n")
    return re.sub(r"\n[ \t]+", " ", _decode(data.split(b"\n\n", 1)[0]))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --------------------------------------------------------------------------------------------
# RFC 3464 fields

@dataclass(frozen=True)
class _Record:
    recipient: str
    action: str
    status: str
    diagnostic: str


_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")


def _dsn_records(mail: ParsedMail, region: str) -> list[_Record]:
    """Per-recipient fields from a delivery-status part, or written into the report's text."""
    texts = [_decode(a.content) for a in mail.attachments
             if a.content_type in ("message/delivery-status", "message/global-delivery-status")]
    records: list[_Record] = []
    for text in texts:
        records.extend(_fields_to_records(text))
    if not records and re.search(r"^[ \t]*(?:final|original)-recipient[ \t]*:", region, _IM):
        records = [r for r in _fields_to_records(region) if r.action or r.status]
    return records


def _fields_to_records(text: str) -> list[_Record]:
    """Group unfolded ``Name: value`` lines into one record per recipient."""
    fields: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and fields and line.strip():
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        found = _FIELD.match(line.strip()) if line.strip() else None
        fields.append((found.group(1).lower(), found.group(2).strip()) if found else ("", ""))
    records: list[_Record] = []
    current: dict[str, str] = {}

    def flush() -> None:
        rcpt = _field_address(current.get("original-recipient", "")) or _field_address(
            current.get("final-recipient", "")
        ) or _field_address(current.get("x-actual-recipient", ""))
        if rcpt:
            records.append(_Record(
                rcpt,
                current.get("action", "").lower().strip(),
                _status_of(current.get("status", "")),
                _one_line(re.sub(r"^\s*(?:smtp|x-[\w-]+|x-unix|mta)\s*;\s*", "", current.get("diagnostic-code", ""), flags=_I)),
            ))

    for name, value in fields:
        if not name or name in current:
            flush()
            current = {}
        if name:
            current[name] = value
    flush()
    return records


def _record_failed(record: _Record) -> bool:
    """Failed or delayed. RFC 3464 actions are failed, delayed, delivered, relayed and expanded;
    mail systems also write "failure", "expired" or "deliverable" (address verification)."""
    if record.action:
        return not record.action.startswith(("deliver", "relay", "expand"))
    return record.status[:1] in ("4", "5")


def _field_address(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    kind, semi, addr = value.partition(";")
    if semi and kind.strip().lower() not in ("rfc822", "rfc-822", "smtp", "x-unknown", "unknown"):
        return ""
    found = _ADDR_RE.search(addr if semi else value)
    return found.group(0).lower().strip(".") if found else ""


def _status_of(value: str) -> str:
    found = _STATUS.search(value)
    return found.group(1) if found else ""


# --------------------------------------------------------------------------------------------
# Recipients, status and diagnostic from text

def _text_recipients(mail: ParsedMail, region: str) -> tuple[str, ...]:
    """Failed addresses named in the report's text, best evidence first."""
    not_them = _not_recipients(mail)
    found: list[str] = []
    aliases = {a.lower(): b.lower() for a, b in _EXPANDED.findall(region)}
    # Addresses listed under a heading such as "The following addresses failed:".
    for heading in _LIST_HEADING.finditer(region):
        found.extend(_list_after(region, heading.end(), aliases))
    for pattern in _RCPT_INLINE:
        for match in pattern.finditer(region):
            groups = [g for g in match.groups() if g]
            if groups:
                found.append(groups[-1])  # "expanded from <alias>": the address the sender used
    out = [aliases.get(a.lower(), a) for a in found]
    out = [a for a in _unique(out) if a not in not_them]
    header = _unique(_ADDR_RE.findall(mail.header("x-failed-recipients") or ""))
    if header:
        return header  # written by the mail system for machines: better than its prose
    return tuple(out)


def _nested_report(mail: ParsedMail, depth: int) -> Bounce | None:
    """A report that wraps the real report as its attachment (some gateways forward DSNs)."""
    if depth > 0:
        return None
    for att in mail.attachments:
        if att.content_type == "message/rfc822":
            head = _head(att.content).lower()
            if "multipart/report" in head or "mailer-daemon" in head:
                inner = _parse_bounce(parse(att.content), depth + 1)
                if inner is not None and inner.recipients:
                    return inner
    return None


def _returned_recipients(mail: ParsedMail) -> tuple[str, ...]:
    """Last resort: the envelope recipient in the returned message's newest Received header,
    or its only To address."""
    for att in mail.attachments:
        if att.content_type not in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            continue
        head = _head(att.content)
        received = [ln for ln in head.split("\n") if ln.lower().startswith("received:")]
        if received:  # only the newest hop: the one the reporting system added
            found = re.search(rf"\bfor\s+<?({_ADDR})>?", received[0], _I)
            if found:
                return (found.group(1).lower(),)
        to = [ln for ln in head.split("\n") if ln.lower().startswith("to:")]
        if to:
            addrs = _unique(_ADDR_RE.findall(to[0]))
            if len(addrs) == 1:
                return addrs
    return ()


def _list_after(region: str, pos: int, aliases: dict[str, str]) -> list[str]:
    """Addresses at the start of the lines after a heading, until the list ends.

    One line of prose may sit between the heading and the list; lines indented deeper than an
    address are its explanation; a blank line may separate two entries.
    """
    out: list[str] = []
    prose = 0
    blanks = 0
    indent = 0
    for line in region[pos:].split("\n")[1:60]:
        if not line.strip():
            blanks += 1
            if blanks > (1 if out else 2):
                break
            continue
        blanks = 0
        if out and len(line) - len(line.lstrip()) > indent:
            alias = _EXPANDED_LINE.match(line)
            if alias:
                aliases[out[-1].lower()] = alias.group(1).lower()  # Sendmail: what the sender used
            continue  # the reason for the entry above
        item = _LIST_ITEM.match(line) or _LIST_ITEM_NAMED.match(line)
        if item:
            out.append(item.group(1))
            indent = len(line) - len(line.lstrip())
            continue
        if out:
            break
        prose += 1
        if prose > 1:
            break
    return out


def _not_recipients(mail: ParsedMail) -> set[str]:
    """Addresses in a report that are never the failed recipient: the report's own sender and
    the mail system's postmaster contacts."""
    out: set[str] = set()
    if mail.sender:
        out.add(mail.sender.address)
    return out


def _text_status(region: str) -> str:
    found = _TEXT_STATUS.search(region)
    return found.group(1) if found else ""


def _diagnostic(region: str, recipients: tuple[str, ...]) -> str:
    """One line: the remote server's answer if the report quotes one, else the reason the
    report gives next to the first failed address."""
    lines = region.split("\n")
    for i, line in enumerate(lines):
        label = _DIAG_LABEL.match(line)
        if label is None:
            continue
        value = line[label.end():].strip()
        if not value:
            following = [ln.strip() for ln in lines[i + 1 : i + 8] if ln.strip()]
            following = [ln for ln in following if not re.match(r"^(?:generating server|original message)", ln, _I)]
            value = " ".join(following[:2]) if following else ""
        value = re.sub(r"^(?:smtp|x-[\w-]+)\s*;\s*", "", value, flags=_I).strip("'\"` ")
        if value:
            return _one_line(value)
    entry = _entry_text(lines, recipients[0]) if recipients else ""
    if _SMTP_REPLY.search(entry):
        return _one_line(entry)
    for i, line in enumerate(lines):
        text = re.sub(r"^\s*(?:<<<|remote host said:|remote server replied:|diagnostic-code:\s*smtp;)\s*", "", line, flags=_I)
        if text.lstrip().startswith((">>>", "-", "=", "*")) or not _SMTP_REPLY.match(text.strip()):
            continue
        parts = [text.strip()]
        for extra in lines[i + 1 : i + 6]:  # a multi-line reply: "550-5.1.1 ...", "550 5.1.1 ..."
            more = re.sub(r"^\s*<<<\s*", "", extra)
            if re.match(r"^\s*[45]\d\d[ -]", more) or (extra[:1] in (" ", "\t") and extra.strip()
                                                     and not _ADDR_RE.match(extra.strip())):
                parts.append(re.sub(r"^\s*[45]\d\d[ -](?:[45]\.\d+\.\d+\s+)?", "", more).strip()
                             if len(parts) > 0 and re.match(r"^\s*[45]\d\d-", text) else more.strip())
            else:
                break
        return _one_line(" ".join(parts))
    return _one_line(entry)


def _entry_text(lines: list[str], recipient: str) -> str:
    """The words next to (and indented under) the first line naming ``recipient``."""
    for i, line in enumerate(lines):
        pos = line.lower().find(recipient)
        if pos < 0 or _HEADERISH.match(line):
            continue
        rest = line[pos + len(recipient):].lstrip(">\"' )")
        rest = re.sub(r"^\(expanded from[^)]*\)", "", rest).lstrip(" :;,-").strip()
        parts = [rest] if rest else []
        if not rest:
            nxt = next((ln for ln in lines[i + 1 : i + 3] if ln.strip()), "")
            if nxt and not nxt[:1].isspace() and not _ADDR_RE.search(nxt) and not _ORIGINAL_START.match(nxt) \
                    and not nxt.strip().startswith(("-", "=", "*", "#")):
                return nxt.strip()
        for extra in lines[i + 1 : i + 6]:
            if extra[:1] in (" ", "\t") and extra.strip() and not _ORIGINAL_START.match(extra) \
                    and not _EXPANDED_LINE.match(extra) and not extra.strip().startswith("-----"):
                parts.append(extra.strip())
            else:
                break
        text = " ".join(parts).strip()
        if text:
            return re.sub(r"^\((?:reason: )?(.*)\)$", r"\1", text)
    return ""


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    if text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _how(mail: ParsedMail, body: str) -> str:
    head = f"{body[:6000]}\n{mail.header('x-mailer') or ''}\n{mail.sender.address if mail.sender else ''}"
    for name, pattern in _DETECTORS:
        if pattern.search(head):
            return name
    return "generic"


# --------------------------------------------------------------------------------------------
# Amazon SES / SNS JSON notifications

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
    recipients = _unique(re.findall(r'"emailAddress"\s*:\s*"([^"]+)"', rcpts.group(1))) if rcpts else ()
    kind = re.search(r'"bounceType"\s*:\s*"(\w+)"', text)
    status = re.search(r'"status"\s*:\s*"([^"]*)"', rcpts.group(1)) if rcpts else None
    diag = re.search(r'"diagnosticCode"\s*:\s*"((?:[^"\\]|\\.)*)"', rcpts.group(1)) if rcpts else None
    mid = re.search(r'"commonHeaders"\s*:\s*\{[^{}]*?"messageId"\s*:\s*"([^"]+)"', text)
    return Bounce(
        permanent=not (kind and kind.group(1) == "Transient"),
        recipients=recipients,
        status=_status_of(status.group(1)) if status else "",
        diagnostic=_one_line(re.sub(r"^\s*smtp\s*;\s*", "", diag.group(1), flags=_I)) if diag else "",
        original_message_id=normalize_message_id(mid.group(1)) if mid else None,
        how="amazonses",
    )


# --------------------------------------------------------------------------------------------
# The Message-ID of the mail that bounced

def _original_message_id(mail: ParsedMail, body: str) -> str | None:
    for att in mail.attachments:
        if att.content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                                "message/global", "message/global-headers"):
            mid = _msgid_in(_head(att.content))
            if mid:
                return mid
    mid = _msgid_in(body)
    if mid:
        return mid
    for value in (*mail.in_reply_to, *mail.references[-1:]):
        if value:
            return value
    return None


def _msgid_in(text: str) -> str | None:
    found = _MSGID_LINE.search(text)
    return normalize_message_id(found.group(1)) if found else None


def _unique(items) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    for item in items:
        item = (item or "").strip().strip(".").lower()
        if item and item not in out:
            out.append(item)
    return tuple(out)
