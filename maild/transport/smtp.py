"""Handing mail to the SMTP server (aiosmtplib), or to a Maildir for the embedded default.

Failures are classified here, once: 4xx answers and network trouble are ``DeliveryDeferred``
(try later), 5xx answers are ``DeliveryRefused`` (never retry).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import aiosmtplib

from maild.base.config import Endpoint
from maild.base.settings import Secret
from maild.base.errors import ConfigError, DeliveryDeferred, DeliveryRefused, TransientError
from maild.transport.maildir import deliver
from maild.transport.loopback import is_loopback
from maild.transport.oauth import Mechanism, OAuthSignIn, TokenRefused, oauthbearer

log = logging.getLogger(__name__)


class SmtpStep(StrEnum):
    """The steps of an SMTP session, in order; an SmtpDeferred or SmtpRefused names the one
    that failed."""

    CONNECT = "connect"  # TCP, greeting, EHLO, TLS or STARTTLS
    AUTH = "auth"
    MAIL_FROM = "mail from"  # the probe's MAIL FROM and RSET
    SEND = "send"
    SESSION = "session"  # anything else once connected


@dataclass(frozen=True)
class Hello:
    """What the server said when the session opened."""

    greeting: str  # the first line of its EHLO answer
    tls: bool


class SmtpDeferred(DeliveryDeferred):
    """DeliveryDeferred, with the step of the session that failed and, past the connection,
    what the server said at EHLO (the cause is the library's exception, as ``__cause__``)."""

    def __init__(self, message: str, step: SmtpStep, hello: Hello | None = None) -> None:
        super().__init__(message)
        self.step, self.hello = step, hello


class SmtpRefused(DeliveryRefused):
    """DeliveryRefused (a 5xx answer), with the step and the EHLO as in SmtpDeferred."""

    def __init__(self, message: str, step: SmtpStep, hello: Hello | None = None) -> None:
        super().__init__(message)
        self.step, self.hello = step, hello


class ClearTextRefused(ConfigError):
    """The session would send the SMTP password unencrypted to a server off this machine."""


def check_auth_secured(host: str, tls: bool, loopback: Callable[[str], bool] = is_loopback) -> None:
    """Raise ClearTextRefused unless the password may be sent: over TLS, or to loopback.

    A plain ``smtp://`` session uses STARTTLS when the server offers it; when it does not (or
    something between us strips the offer), AUTH PLAIN/LOGIN would put the password on the
    wire in clear text. The IMAP side refuses the same (``transport/imap.py``).
    """
    if not tls and not loopback(host):
        raise ClearTextRefused(
            f"smtp.url: {host} offers no STARTTLS; refusing to send the SMTP password in clear text "
            "(use smtp+starttls:// or smtps://)")


class Transport(Protocol):
    """One delivery session: open, send many, close."""

    description: str

    async def open(self) -> None: ...

    async def send(self, sender: str, recipient: str, raw: bytes) -> str:
        """Deliver one message; return the server's answer. Raises DeliveryDeferred/Refused."""

    async def close(self) -> None: ...


class SmtpTransport:
    """``smtp://`` (plain, STARTTLS if offered), ``smtp+starttls://`` (required), ``smtps://``."""

    def __init__(
        self, endpoint: Endpoint, username: str = "", password: Secret | None = None,
        ca_file: str = "", timeout: float = 30.0, loopback: Callable[[str], bool] = is_loopback,
        oauth: OAuthSignIn | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._oauth = oauth  # sign in with an OAuth2 token instead of the password
        self.username = oauth.user if oauth is not None else username
        self._password = password or Secret("")
        self.ca_file = ca_file
        self.timeout = timeout
        self._loopback = loopback  # which hosts may get the password without TLS (a seam for tests)
        self.description = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}"
        self._client: aiosmtplib.SMTP | None = None
        self._tls: ssl.SSLContext | None = None

    async def open(self) -> None:
        """Open the session mail is sent in (see ``_session``)."""
        self._client, _hello = await self._session()

    async def _session(self) -> tuple[aiosmtplib.SMTP, Hello]:
        """Connect (greeting, EHLO, TLS or STARTTLS) and log in when a username is set.

        Raises SmtpDeferred or SmtpRefused naming the step that failed, ConfigError for a CA
        file that cannot be read, ClearTextRefused (a ConfigError) when AUTH would go out
        without TLS to a server that is not on this machine.
        """
        ep = self.endpoint
        client = aiosmtplib.SMTP(
            hostname=ep.host,
            port=ep.port,
            use_tls=ep.scheme == "smtps",
            start_tls=True if ep.scheme == "smtp+starttls" else (False if ep.scheme == "smtps" else None),
            tls_context=self._tls_context(),
            timeout=self.timeout,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc, SmtpStep.CONNECT) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpDeferred(f"SMTP {ep.host}:{ep.port} unreachable: {exc}", SmtpStep.CONNECT) from exc
        hello = Hello(
            (client.last_ehlo_response.message.splitlines() or [""])[0] if client.last_ehlo_response else "",
            client.get_transport_info("sslcontext") is not None,
        )
        if self.username:
            try:
                check_auth_secured(ep.host, hello.tls, self._loopback)
            except ClearTextRefused:
                client.close()
                raise
            try:
                if self._oauth is None:
                    await client.login(self.username, self._password.value)
                else:
                    await self._token_login(client, self._oauth, hello)
            except TokenRefused:
                client.close()
                raise
            except aiosmtplib.SMTPAuthenticationError as exc:
                client.close()
                raise SmtpDeferred(f"SMTP AUTH as {self.username} refused: {exc.code} {exc.message}",
                                   SmtpStep.AUTH, hello) from exc
            except aiosmtplib.SMTPResponseException as exc:
                client.close()
                raise _classify(exc, SmtpStep.AUTH, hello) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                client.close()
                raise SmtpDeferred(f"SMTP AUTH as {self.username} at {ep.host}:{ep.port} not possible: {exc}",
                                   SmtpStep.AUTH, hello) from exc
        return client, hello

    async def _token_login(self, client: aiosmtplib.SMTP, oauth: OAuthSignIn, hello: Hello) -> None:
        """AUTH with the token; when the server refuses one the cache thought valid, renew it
        once and try once more (a second refusal is SMTPAuthenticationError). TokenRefused as
        it is when the provider refused the grant (not a DeliveryDeferred: no mail is retried
        for what only a person can mend); SmtpDeferred (step AUTH) when the token endpoint
        cannot be asked."""
        try:
            # The token endpoint is HTTP through requests: off the event loop.
            token = await asyncio.to_thread(oauth.source.token)
        except TokenRefused:
            raise
        except TransientError as exc:
            raise SmtpDeferred(str(exc), SmtpStep.AUTH, hello) from exc
        try:
            await self._authenticate(client, oauth, token)
            return
        except aiosmtplib.SMTPAuthenticationError as exc:
            log.info("SMTP %s refused the OAuth2 token of %s (%s %s); asking for a new one",
                     self.endpoint.host, oauth.user, exc.code, exc.message)
        try:
            token = await asyncio.to_thread(oauth.source.renew)
        except TokenRefused:
            raise
        except TransientError as exc:
            raise SmtpDeferred(str(exc), SmtpStep.AUTH, hello) from exc
        await self._authenticate(client, oauth, token)

    async def _authenticate(self, client: aiosmtplib.SMTP, oauth: OAuthSignIn, token: str) -> None:
        if oauth.mechanism is Mechanism.XOAUTH2:
            await client.auth_xoauth2(oauth.user, token)  # answers a 334 error challenge with an empty line
            return
        ep = self.endpoint
        initial = base64.b64encode(oauthbearer(oauth.user, token, ep.host, ep.port).encode()).decode()
        answer = await client.execute_command(b"AUTH", b"OAUTHBEARER", initial.encode())
        if answer.code == 334:
            # RFC 7628 3.2.3: the server refused and sent its reason; a single %x01 ends the exchange.
            answer = await client.execute_command(base64.b64encode(b"\x01"))
        if answer.code != 235:
            raise aiosmtplib.SMTPAuthenticationError(answer.code, answer.message)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the CA store costs ~20 ms: once per process
            try:
                self._tls = ssl.create_default_context(cafile=self.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"smtp.ca_file: cannot load {self.ca_file}: {exc}") from exc
        return self._tls

    async def probe(self, sender: str) -> Hello:
        """Open a session exactly as sending does (connect, TLS, AUTH), then MAIL FROM and RSET
        (the server takes mail from ``sender``; nothing is sent), and QUIT.

        Returns what the server said at EHLO. Raises what sending raises: SmtpDeferred or
        SmtpRefused naming the step that failed, ConfigError for an unreadable CA file.
        """
        client, hello = await self._session()
        try:
            await client.mail(sender)
            await client.rset()
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc, SmtpStep.MAIL_FROM, hello) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpDeferred(f"SMTP {self.description}: {exc}", SmtpStep.SESSION, hello) from exc
        finally:
            await _quit(client)
        return hello

    async def send(self, sender: str, recipient: str, raw: bytes) -> str:
        if self._client is None or not self._client.is_connected:
            await self.open()
        assert self._client is not None
        try:
            errors, answer = await self._client.sendmail(sender, [recipient], raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise _classify(first, SmtpStep.SEND) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc, SmtpStep.SEND) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._client = None
            raise DeliveryDeferred(f"SMTP connection lost: {exc}") from exc
        return answer

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def _classify(exc: aiosmtplib.SMTPResponseException, step: SmtpStep,
              hello: Hello | None = None) -> SmtpDeferred | SmtpRefused:
    text = f"{exc.code} {exc.message}"
    if 500 <= exc.code < 600:
        return SmtpRefused(text, step, hello)
    return SmtpDeferred(text, step, hello)


class MaildirTransport:
    """Writes each outgoing mail into a Maildir instead of sending it (demo, trials, tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"maildir:{root}"

    async def open(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # outgoing mail: personal data

    async def send(self, sender: str, recipient: str, raw: bytes) -> str:
        envelope = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        try:
            path = deliver(self.root, envelope + raw)
        except OSError as exc:
            raise DeliveryDeferred(f"cannot write to {self.root}: {exc.strerror}") from exc
        return f"250 written to {path.name}"

    async def close(self) -> None:
        return None
