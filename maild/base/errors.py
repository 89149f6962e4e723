"""The exception hierarchy of maild.

Outcomes that are not failures (a verdict, a delivery result) are return values, not
exceptions. Library code raises these; only the CLI and the daemon loop catch them and turn
them into an exit code or a log line.
"""

from __future__ import annotations


class MaildError(Exception):
    """Base of every error maild raises on purpose."""


class ConfigError(MaildError):
    """Bad settings, rules or templates: the message names the file, the key and the reason."""


class TransientError(MaildError):
    """Try again later: network trouble, SMTP 4xx, a busy database."""


class MailboxError(TransientError):
    """The mailbox (IMAP server or Maildir) could not be read or updated right now."""


class DeliveryDeferred(TransientError):
    """The SMTP server could not take the mail now (4xx, connection refused, timeout)."""


class PermanentError(MaildError):
    """Never retry: a mail that cannot be processed, an SMTP 5xx answer."""


class DeliveryRefused(PermanentError):
    """The SMTP server refused the mail for good (5xx)."""


class IllegalTransition(MaildError):
    """The SOP state machine has no such move; the sender is told why.

    ``state`` and ``event`` let the confirmation word it in the team's language."""

    def __init__(self, message: str, state: str = "", event: str = "") -> None:
        super().__init__(message)
        self.state = state
        self.event = event
