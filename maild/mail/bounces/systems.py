"""Which mail system wrote a delivery report, told by its wording: Postfix, qmail, Exim, Gmail,
Exchange / Office 365, Sendmail, Zimbra, Yahoo, Lotus Domino, Courier, OpenSMTPD, Oracle Messaging
Server, IMail/SMTP32, MDaemon, Amazon SES. Pure.

The answer is ``Bounce.how`` for reports that are not RFC 3464 DSNs; the first matching
detector wins, so the more specific wordings come first.
"""

from __future__ import annotations

import re

from maild.mail.parse import ParsedMail

_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

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


def mail_system(mail: ParsedMail, body: str) -> str:
    """The name of the first detector that knows the report's wording, X-Mailer or sender;
    "generic" when none does."""
    head = f"{body[:6000]}\n{mail.header('x-mailer') or ''}\n{mail.sender.address if mail.sender else ''}"
    for name, pattern in _DETECTORS:
        if pattern.search(head):
            return name
    return "generic"
