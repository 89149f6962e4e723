"""Handing mail to the SMTP server (aiosmtplib), or to a Maildir for the embedded default.

Failures are classified here, once: 4xx answers and network trouble are ``DeliveryDeferred``
(try later), 5xx answers are ``DeliveryRefused`` (never retry).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Protocol

import aiosmtplib

from maild.base.config import Endpoint
from maild.base.settings import Secret
from maild.base.errors import DeliveryDeferred, DeliveryRefused
from maild.transport.maildir import deliver


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
        ca_file: str = "", timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.username = username
        self._password = password or Secret("")
        self.ca_file = ca_file
        self.timeout = timeout
        self.description = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}"
        self._client: aiosmtplib.SMTP | None = None
        self._tls: ssl.SSLContext | None = None

    async def open(self) -> None:
        ep = self.endpoint
        if self._tls is None:  # loading the CA store costs ~20 ms: once per process
            self._tls = ssl.create_default_context(cafile=self.ca_file or None)
        ctx = self._tls
        client = aiosmtplib.SMTP(
            hostname=ep.host,
            port=ep.port,
            use_tls=ep.scheme == "smtps",
            start_tls=True if ep.scheme == "smtp+starttls" else (False if ep.scheme == "smtps" else None),
            tls_context=ctx,
            timeout=self.timeout,
            username=self.username or None,
            password=self._password.value if self.username else None,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryDeferred(f"SMTP AUTH as {self.username} refused: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryDeferred(f"SMTP {ep.host}:{ep.port} unreachable: {exc}") from exc
        self._client = client

    async def send(self, sender: str, recipient: str, raw: bytes) -> str:
        if self._client is None or not self._client.is_connected:
            await self.open()
        assert self._client is not None
        try:
            errors, answer = await self._client.sendmail(sender, [recipient], raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise _classify(first) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._client = None
            raise DeliveryDeferred(f"SMTP connection lost: {exc}") from exc
        return answer

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def _classify(exc: aiosmtplib.SMTPResponseException) -> DeliveryDeferred | DeliveryRefused:
    text = f"{exc.code} {exc.message}"
    if 500 <= exc.code < 600:
        return DeliveryRefused(text)
    return DeliveryDeferred(text)


class MaildirTransport:
    """Writes each outgoing mail into a Maildir instead of sending it (demo, trials, tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"maildir:{root}"

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def send(self, sender: str, recipient: str, raw: bytes) -> str:
        envelope = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        try:
            path = deliver(self.root, envelope + raw)
        except OSError as exc:
            raise DeliveryDeferred(f"cannot write to {self.root}: {exc.strerror}") from exc
        return f"250 written to {path.name}"

    async def close(self) -> None:
        return None
