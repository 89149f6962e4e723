"""Is this mail a delivery report at all, and does it say delivery failed for good? Pure.

For a report that is not an RFC 3464 DSN, ``looks_like_bounce`` needs a machine signal (an
``X-Failed-Recipients`` header, a mailer-daemon/postmaster/"Mail Delivery System" sender, or
mail-system boilerplate at the very top of the body together with a bounce subject or a null
sender / ``Auto-Submitted`` / no-reply sender) *and* failure wording before the returned message.
Wording that only follows a forwarding or quoting marker does not count; a "Fwd:"/"Re:" or
out-of-office subject is not a bounce. ``is_delay``, ``is_permanent`` and ``reports_success``
read the wording of warnings ("still trying"), hard failures and success reports.
"""

from __future__ import annotations

import re

from maild.mail.parse import ParsedMail

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

BOUNCE_SUBJECT = re.compile(
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
)  # all lower case, matched against the lowered text: with IGNORECASE this one search took
# 260 us a message, a quarter of parsing it; on lowered text 65 us (measured)

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

# A person forwarding or quoting mail.
_FORWARD_MARK = re.compile(
    r"^\s*(?:-{3,}\s*(?:forwarded message|original message|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|doorgestuurd bericht|ursprüngliche nachricht|"
    r"pesan yang diteruskan|pesan asli)\s*-{3,}|begin forwarded message:|"
    r"-{5,}\s*original message\s*-{5,}|on .{5,80} wrote:|am .{5,80} schrieb .{0,80}:|"
    r">+\s*(?:this is the mail system|hi\. this is the qmail|this message was created))",
    _IM,
)


def looks_like_bounce(mail: ParsedMail, region: str) -> bool:
    """The machine and wording tests for a report that is not an RFC 3464 DSN."""
    if mail.header("x-failed-recipients"):
        return True  # Exim and Gmail name the failed addresses in a header of their own
    subject = mail.subject or ""
    if _AUTO_REPLY_SUBJECT.match(subject):
        return False  # an out-of-office reply, whatever it answers
    human_prefix = bool(_HUMAN_PREFIX.match(subject))
    # Every position below is in the lowered text (lower() may lengthen a character, so the
    # positions of one string are never compared with those of the other).
    region = region.lower()
    failure = _FAILURE.search(region)
    if failure is None:
        if _machine_sender(mail) and not human_prefix and BOUNCE_SUBJECT.search(subject):
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
    subject_hint = BOUNCE_SUBJECT.search(subject) is not None
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


def is_delay(mail: ParsedMail, region: str) -> bool:
    """Does the report say delivery is still being tried?"""
    text = f"{mail.subject}\n{region}"
    if _STRONG_DELAY.search(text):
        return True
    delay = _DELAY.search(text)
    if delay is None:
        return False
    return _PERMANENT.search(text) is None


def is_permanent(mail: ParsedMail, region: str, status: str) -> bool:
    """For a report without DSN fields: has delivery failed for good (not a delay warning)?
    ``status`` is the enhanced status code the text gives, or ""."""
    if _STRONG_DELAY.search(f"{mail.subject}\n{region}") or (status.startswith("4") and _DELAY.search(region)):
        return False
    if status.startswith("5"):
        return True
    return not is_delay(mail, region)


def reports_success(mail: ParsedMail, region: str) -> bool:
    """A report that the mail was delivered or relayed, with no word of a failure besides."""
    success = _SUCCESS.search(region) or _SUCCESS_SUBJECT.search(mail.subject or "")
    return bool(success) and not _FAILED_WORDS.search(_SUCCESS.sub("", region))
