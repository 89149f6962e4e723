"""An IMAP mailbox through imapclient.

Reading uses ``BODY.PEEK[]`` so nothing is marked; every message in the inbox folder counts
as unprocessed, whatever its flags (a person reading the helpdesk box with a mail client
cannot hide a report from us). Processed messages are MOVEd out (COPY + \\Deleted +
UID EXPUNGE where MOVE is missing). A UIDVALIDITY change between fetch and move skips the
move; the next fetch finds the messages again and the database's UNIQUE key says "have it".
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from maild.base.config import Endpoint
from maild.base.settings import Secret
from maild.base.errors import ConfigError, MailboxError, TransientError
from maild.transport.oauth import Mechanism, OAuthSignIn, SaslResponder, TokenRefused, oauthbearer, xoauth2
from maild.transport.sources import HEAD_BYTES, Fetched
from maild.transport.loopback import is_loopback

log = logging.getLogger(__name__)

_NETWORK_ERRORS = (OSError, IMAPClientError, imaplib.IMAP4.error, imaplib.IMAP4.abort, EOFError)


class ImapStep(StrEnum):
    """The steps of opening an IMAP session, in order; an ImapError names the one that failed."""

    TLS_SETUP = "tls setup"  # loading the CA file
    CONNECT = "connect"  # TCP, and TLS for imaps://
    STARTTLS = "starttls"
    LOGIN = "login"
    FOLDER = "folder"  # SELECT (or EXAMINE) of the inbox folder
    SESSION = "session"  # anything after the folder is open


class ImapError(MailboxError):
    """A MailboxError from opening the IMAP session, with the step that failed (the cause is
    the library's exception, as ``__cause__``)."""

    def __init__(self, message: str, step: ImapStep) -> None:
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class ImapProbe:
    """What ``ImapMailbox.probe`` found: the session worked; this is what it saw."""

    description: str
    secured: bool  # TLS (imaps:// or STARTTLS); False only on loopback
    waiting: int  # messages in the inbox folder
    folders: Mapping[str, bool]  # folder name -> exists


@dataclass(frozen=True)
class _Session:
    client: IMAPClient
    selected: Mapping[bytes, Any]
    secured: bool


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may be dead already
        _shutdown(client)


def _shutdown(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001 - nothing more to do for a dead connection
        pass


class ImapMailbox:
    """The ``imap://`` and ``imaps://`` source."""

    def __init__(
        self,
        endpoint: Endpoint,
        password: Secret,
        processed_folder: str = "Processed",
        use_idle: bool = True,
        ca_file: str = "",
        timeout: float = 30.0,
        oauth: OAuthSignIn | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._password = password
        self._oauth = oauth  # sign in with an OAuth2 token instead of the password
        self.processed = processed_folder
        self.use_idle = use_idle
        self.ca_file = ca_file
        self.timeout = timeout
        self.folder = endpoint.path
        self.description = f"{endpoint.scheme}://{endpoint.user}@{endpoint.host}:{endpoint.port}/{self.folder}"
        self._client: IMAPClient | None = None
        self._uidvalidity: int | None = None
        self._known_folders: set[str] = set()

    # -- connection -----------------------------------------------------------------
    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file or None)
        return ctx

    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        session = self._open(readonly=False)
        self._uidvalidity = int(session.selected[b"UIDVALIDITY"])
        self._client = session.client
        log.info("connected to %s (UIDVALIDITY %s)", self.description, self._uidvalidity)
        return session.client

    def _open(self, readonly: bool) -> _Session:
        """Connect, secure, log in and open the folder; ``readonly`` EXAMINEs it (no flag changes).

        Raises ImapError naming the step that failed, or ConfigError when the password
        would go out in clear text.
        """
        ep = self.endpoint
        step, client, secured = ImapStep.TLS_SETUP, None, ep.scheme == "imaps"
        try:
            tls = self._tls_context()  # loads mailbox.ca_file
            step = ImapStep.CONNECT
            client = IMAPClient(ep.host, port=ep.port, ssl=secured, ssl_context=tls if secured else None,
                                timeout=self.timeout)
            # imapclient turns on imaplib's debug logging of every response; it costs several
            # times the fetch itself and would put message bodies into debug logs.
            client._imap.debug = 0  # noqa: SLF001
            if ep.scheme == "imap":
                if b"STARTTLS" in client.capabilities():
                    step = ImapStep.STARTTLS
                    client.starttls(tls)
                    secured = True
                elif not is_loopback(ep.host):
                    raise ConfigError(
                        f"mailbox.url: {ep.host} offers no STARTTLS; refusing to send the "
                        f"{'token' if self._oauth else 'password'} in clear text (use imaps://)"
                    )
            step = ImapStep.LOGIN
            if self._oauth is None:
                client.login(ep.user, self._password.value)
            else:
                self._token_login(client, self._oauth)
            step = ImapStep.FOLDER
            selected = client.select_folder(self.folder, readonly=readonly)
        except ssl.SSLError as exc:
            _shutdown(client)
            raise ImapError(f"TLS with {ep.host}:{ep.port} failed: {exc.reason or exc}", step) from exc
        except IMAPClientError as exc:
            _shutdown(client)
            if step is ImapStep.LOGIN:
                raise ImapError(f"IMAP login as {ep.user} at {ep.host} failed: {exc}", step) from exc
            raise ImapError(f"IMAP {ep.host}: {exc}", step) from exc
        except _NETWORK_ERRORS as exc:
            _shutdown(client)
            raise ImapError(f"IMAP {ep.host}:{ep.port} unreachable: {exc}", step) from exc
        except (ConfigError, ImapError, TokenRefused):
            _shutdown(client)
            raise
        return _Session(client, selected, secured)

    def _token_login(self, client: IMAPClient, oauth: OAuthSignIn) -> None:
        """AUTHENTICATE with the token; when the server refuses one the cache thought valid
        (revoked, or expired early), renew it once and try once more.

        Raises TokenRefused as it is when the provider refused the grant: not a MailboxError,
        so the daemon does not retry what only a person can mend (``run --once`` exits 75 with
        its one line); ImapError (step LOGIN) when the token endpoint cannot be asked;
        IMAPClientError when the server refuses the new token too.
        """
        ep = self.endpoint
        try:
            token = oauth.source.token()
        except TokenRefused:
            raise
        except TransientError as exc:
            raise ImapError(str(exc), ImapStep.LOGIN) from exc
        try:
            self._authenticate(client, oauth, token)
            return
        except IMAPClientError as exc:
            log.info("IMAP %s refused the OAuth2 token of %s (%s); asking for a new one", ep.host, oauth.user, exc)
        try:
            token = oauth.source.renew()
        except TokenRefused:
            raise
        except TransientError as exc:
            raise ImapError(str(exc), ImapStep.LOGIN) from exc
        self._authenticate(client, oauth, token)

    def _authenticate(self, client: IMAPClient, oauth: OAuthSignIn, token: str) -> None:
        ep = self.endpoint
        initial = (oauthbearer(oauth.user, token, ep.host, ep.port) if oauth.mechanism is Mechanism.OAUTHBEARER
                   else xoauth2(oauth.user, token))
        responder = SaslResponder(initial, oauth.mechanism)
        try:
            client.sasl_login(str(oauth.mechanism), responder)
        except IMAPClientError as exc:
            if responder.error:  # the server's own reason (RFC 7628 JSON status)
                raise type(exc)(f"{exc} (server said: {responder.error})") from exc
            raise

    def probe(self, folders: Sequence[str] = ()) -> ImapProbe:
        """Open a session exactly as fetching does, but EXAMINE the folder so nothing changes;
        say which of the processed folder and ``folders`` exist, and log out.

        Raises what fetching raises: ImapError (with the step that failed) or ConfigError.
        """
        session = self._open(readonly=True)
        try:
            exists = {name: bool(session.client.folder_exists(name)) for name in (self.processed, *folders)}
        except _NETWORK_ERRORS as exc:
            raise ImapError(f"IMAP {self.endpoint.host}:{self.endpoint.port}: {exc}", ImapStep.SESSION) from exc
        finally:
            _logout(session.client)
        return ImapProbe(self.description, session.secured, int(session.selected.get(b"EXISTS", 0)), exists)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _logout(client)

    def _fail(self, exc: BaseException, doing: str) -> MailboxError:
        self.close()
        return MailboxError(f"IMAP {doing} on {self.description} failed: {exc}")

    # -- the Mailbox protocol -----------------------------------------------------------
    def fetch_new(self, limit: int, max_bytes: int = 0, head_only_over: int = 0) -> list[Fetched]:
        """Sizes first (RFC822.SIZE), then the bodies of as many messages as ``max_bytes``
        allows, and only the header block of a message over ``head_only_over``: what arrives
        never decides how much memory the daemon takes."""
        client = self._connect()
        try:
            client.noop()
            uids = sorted(client.search("ALL"))[:limit]
            if not uids:
                return []
            sizes = client.fetch(uids, ["RFC822.SIZE"])
            whole, heads = _plan(uids, sizes, max_bytes, head_only_over)
            data = dict(client.fetch(whole, ["BODY.PEEK[]"])) if whole else {}
            if heads:
                data.update(client.fetch(heads, [f"BODY.PEEK[HEADER]<0.{HEAD_BYTES}>"]))
        except _NETWORK_ERRORS as exc:
            raise self._fail(exc, "fetch") from exc
        out: list[Fetched] = []
        for uid in sorted([*whole, *heads]):
            item = data.get(uid) or {}
            raw = item.get(b"BODY[]") if uid in whole else next(
                (v for k, v in item.items() if k.startswith(b"BODY[HEADER]")), None)
            if raw is None:
                continue  # expunged meanwhile by someone else
            size = int(sizes[uid].get(b"RFC822.SIZE", len(raw)))
            out.append(Fetched(ref=str(uid), raw=bytes(raw), uidvalidity=self._uidvalidity, uid=uid,
                               size=max(size, len(raw)), complete=uid in whole))
        return out

    def release(self, messages: Sequence[Fetched], folder: str | None = None) -> None:
        if not messages:
            return
        target = folder or self.processed
        client = self._connect()
        try:
            current = int(client.folder_status(self.folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
            if current != self._uidvalidity or any(m.uidvalidity != current for m in messages):
                log.warning(
                    "UIDVALIDITY of %s changed (%s -> %s): not moving; messages will be matched again",
                    self.folder, self._uidvalidity, current,
                )
                self.close()
                return
            self._ensure_folder(client, target)
            uids = [m.uid for m in messages if m.uid is not None]
            if b"MOVE" in client.capabilities():
                client.move(uids, target)
            else:
                client.copy(uids, target)
                client.add_flags(uids, [b"\\Deleted"], silent=True)
                if b"UIDPLUS" in client.capabilities():
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        except _NETWORK_ERRORS as exc:
            raise self._fail(exc, "move") from exc

    def keep_copy(self, folder: str, raw: bytes) -> None:
        client = self._connect()
        try:
            self._ensure_folder(client, folder)
            client.append(folder, raw)
        except _NETWORK_ERRORS as exc:
            raise self._fail(exc, f"append to {folder}") from exc

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        if folder in self._known_folders:
            return
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except IMAPClientError:
                if not client.folder_exists(folder):  # lost a race with another client: fine
                    raise
        self._known_folders.add(folder)

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        client = self._connect()
        try:
            if not (self.use_idle and b"IDLE" in client.capabilities()):
                while not stopping() and time.monotonic() < deadline:
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                return
            client.idle()
            try:
                # Short checks so SIGTERM is honoured within a second.
                while not stopping() and time.monotonic() < deadline:
                    responses = client.idle_check(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
                    if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                        return
            finally:
                client.idle_done()
        except (*_NETWORK_ERRORS, socket.timeout) as exc:
            raise self._fail(exc, "IDLE") from exc


def _plan(uids: Sequence[int], sizes: Mapping[int, Any], max_bytes: int,
          head_only_over: int) -> tuple[list[int], list[int]]:
    """Which messages to fetch whole and which as their header block only, oldest first,
    stopping before the batch would pass ``max_bytes`` (but always taking the first)."""
    whole: list[int] = []
    heads: list[int] = []
    total = 0
    for uid in uids:
        if uid not in sizes:
            continue  # expunged meanwhile
        size = int(sizes[uid].get(b"RFC822.SIZE", 0))
        over = bool(head_only_over) and size > head_only_over
        cost = HEAD_BYTES if over else size
        if (whole or heads) and max_bytes and total + cost > max_bytes:
            break
        (heads if over else whole).append(uid)
        total += cost
    return whole, heads
