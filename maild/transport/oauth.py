"""OAuth2 access tokens for IMAP and SMTP sign-in (SASL XOAUTH2 / OAUTHBEARER), through Authlib.

Microsoft 365 and Google Workspace switch password sign-in off; the mail servers then take an
access token from the identity provider instead. ``TokenSource`` gets one from the token
endpoint (client credentials, or a refresh token from a one-time consent: ``maild oauth login``),
keeps it in memory and in a cache file readable by its owner only, and gets a new one when the
old one is near its end, or when the mail server refused it although it looked valid.

A refresh token the server rotates is kept in the cache file, tied to the configured one by a
hash: after a new ``maild oauth login`` the configured token wins again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from maild.base.clock import Clock
from maild.base.errors import TransientError
from maild.base.settings import Secret

log = logging.getLogger(__name__)

# A token is renewed when less than this much of its life is left: the larger of a minute
# and a tenth of its lifetime, so a one-hour token is renewed at 54 minutes.
_MARGIN = timedelta(seconds=60)
_MARGIN_SHARE = 0.1
# Grants whose refusal only a person can mend (RFC 6749 5.2): the consent was revoked or expired,
# or the client's own credentials are wrong. Anything else may pass (a busy endpoint).
_REFUSALS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "unsupported_grant_type",
                       "invalid_scope"})


class Flow(StrEnum):
    """How maild gets a token."""

    CLIENT_CREDENTIALS = "client_credentials"  # the application's own identity (Microsoft 365 app access)
    REFRESH_TOKEN = "refresh_token"  # a person's consent once (`maild oauth login`), refreshed since


class Mechanism(StrEnum):
    """The SASL mechanism that carries the token to the mail server."""

    XOAUTH2 = "XOAUTH2"  # Google's and Microsoft's, the widest supported
    OAUTHBEARER = "OAUTHBEARER"  # RFC 7628


class TokenRefused(TransientError):
    """The token endpoint refused the grant (``invalid_grant`` and the like): a person must act.

    A TransientError, so ``maild run`` and ``maild doctor`` exit 75 with its one line; the
    transports pass it on as it is (not as a MailboxError or DeliveryDeferred), so the daemon
    does not retry it every few seconds."""


class TokenUnavailable(TransientError):
    """The token endpoint could not be asked (network, 5xx, an answer that is not a token)."""


@dataclass(frozen=True)
class OAuthClient:
    """What the token endpoint needs, secrets resolved."""

    account: str  # "mailbox" or "smtp": names the settings in error lines
    token_url: str
    client_id: str
    client_secret: Secret = Secret("")
    refresh_token: Secret = Secret("")
    scope: str = ""
    flow: Flow = Flow.REFRESH_TOKEN
    timeout: float = 30.0


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it stops working."""

    value: str = field(repr=False)
    expires_at: datetime

    def fresh(self, now: datetime, lifetime: timedelta) -> bool:
        """True while more than the renewal margin of ``lifetime`` is left."""
        margin = max(_MARGIN, lifetime * _MARGIN_SHARE)
        return now < self.expires_at - margin


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TokenSource:
    """Access tokens for one OAuth2 client, cached in memory and in ``cache_file``.

    ``token()`` returns one that is good for a while yet; ``renew()`` gets a new one whatever
    the cache thinks (the mail server refused the cached one). Raises TokenRefused when the
    endpoint refuses the grant, TokenUnavailable when it cannot be asked.
    """

    def __init__(self, client: OAuthClient, cache_file: Path | None, clock: Clock) -> None:
        self.client = client
        self.cache_file = cache_file
        self._clock = clock
        self._token: AccessToken | None = None
        self._lifetime = timedelta(0)
        self._rotated = ""  # a refresh token the server handed back instead of the configured one
        self._load_cache()

    # -- the cache ---------------------------------------------------------------------------
    def _load_cache(self) -> None:
        if self.cache_file is None:
            return
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
            if data.get("client") != self._identity():
                return  # another client, endpoint or scope: not ours to use
            if data.get("refresh_of") == _digest(self.client.refresh_token.value) and data.get("refresh_token"):
                self._rotated = str(data["refresh_token"])
            self._token = AccessToken(str(data["access_token"]), datetime.fromisoformat(data["expires_at"]))
            self._lifetime = timedelta(seconds=float(data["lifetime"]))
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: ignoring the OAuth2 token cache %s: %s", self.client.account, self.cache_file, exc)

    def _save_cache(self) -> None:
        if self.cache_file is None or self._token is None:
            return
        data = {
            "client": self._identity(),
            "access_token": self._token.value,
            "expires_at": self._token.expires_at.isoformat(),
            "lifetime": self._lifetime.total_seconds(),
            "refresh_of": _digest(self.client.refresh_token.value),
            "refresh_token": self._rotated,
        }
        try:
            self.cache_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.cache_file.with_name(f".{self.cache_file.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.chmod(tmp, 0o600)  # an older file of that name may have had other bits
            os.replace(tmp, self.cache_file)
        except OSError as exc:
            # The token still works from memory; a restart asks the endpoint again.
            log.warning("%s: cannot write the OAuth2 token cache %s: %s", self.client.account, self.cache_file,
                        exc.strerror)

    def _identity(self) -> str:
        c = self.client
        return _digest(f"{c.token_url}\n{c.client_id}\n{c.scope}\n{c.flow}")

    # -- tokens ------------------------------------------------------------------------------
    def token(self) -> str:
        """An access token with more than the renewal margin left (fetched now if needed)."""
        if self._token is None or not self._token.fresh(self._clock(), self._lifetime):
            self._fetch()
        assert self._token is not None
        return self._token.value

    def renew(self) -> str:
        """A new access token, whatever the cache says (the mail server refused the cached one)."""
        self._fetch()
        assert self._token is not None
        return self._token.value

    def _fetch(self) -> None:
        # Imported here: Authlib and requests cost every maild process about 70 ms to load,
        # and only a mailbox signing in with OAuth2 needs them.
        import requests
        from authlib.integrations.requests_client import OAuth2Session, OAuthError

        c = self.client
        session = OAuth2Session(c.client_id, c.client_secret.value or None, scope=c.scope or None,
                                token_endpoint_auth_method="client_secret_post" if c.client_secret else "none")
        try:
            with session:
                if c.flow is Flow.CLIENT_CREDENTIALS:
                    answer = session.fetch_token(c.token_url, grant_type="client_credentials", timeout=c.timeout)
                else:
                    refresh = self._rotated or c.refresh_token.value
                    if not refresh:
                        raise TokenRefused(f"{c.account}: no OAuth2 refresh token configured; "
                                           f"run `maild oauth login --for {c.account}`")
                    answer = session.refresh_token(c.token_url, refresh_token=refresh, timeout=c.timeout)
        except OAuthError as exc:
            if exc.error in _REFUSALS:
                raise TokenRefused(self._refusal(exc.error, exc.description)) from exc
            raise TokenUnavailable(f"{c.account}: OAuth2 token endpoint {c.token_url}: {exc.error}"
                                   f"{': ' + exc.description if exc.description else ''}") from exc
        except (requests.RequestException, ValueError) as exc:
            raise TokenUnavailable(f"{c.account}: OAuth2 token endpoint {c.token_url} unreachable: {exc}") from exc
        self._keep(answer)

    def _refusal(self, error: str, description: str | None) -> str:
        c = self.client
        remedy = (f"run `maild oauth login --for {c.account}`" if c.flow is Flow.REFRESH_TOKEN and error == "invalid_grant"
                  else f"check {c.account}.oauth client_id, client_secret and scope")
        said = f" ({' '.join(description.split())})" if description else ""
        return f"{c.account}: OAuth2 token refused by {c.token_url}: {error}{said}; {remedy}"

    def _keep(self, answer: dict[str, Any]) -> None:
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise TokenUnavailable(f"{self.client.account}: {self.client.token_url} answered without an access_token")
        try:
            lifetime = timedelta(seconds=float(answer.get("expires_in", 3600)))
        except (TypeError, ValueError):
            lifetime = timedelta(hours=1)  # RFC 6749 makes expires_in optional; an hour is the common life
        rotated = answer.get("refresh_token")
        if self.client.flow is Flow.REFRESH_TOKEN and isinstance(rotated, str) and rotated \
                and rotated != self.client.refresh_token.value:
            self._rotated = rotated
        self._token = AccessToken(value, self._clock() + lifetime)
        self._lifetime = lifetime
        self._save_cache()
        log.info("%s: OAuth2 access token from %s, valid %.0f s", self.client.account, self.client.token_url,
                 lifetime.total_seconds())


@dataclass(frozen=True)
class OAuthSignIn:
    """How one account signs in with a token: where tokens come from, the mechanism, and who."""

    source: TokenSource
    mechanism: Mechanism
    user: str


class SaslResponder:
    """The client side of XOAUTH2 / OAUTHBEARER for a library that calls back per challenge.

    The first call answers with the token. A second call means the server refused it and sent
    an error challenge (RFC 7628 3.2.3, Google's XOAUTH2 document): the client must answer with
    a dummy response (``%x01`` for OAUTHBEARER, an empty one for XOAUTH2) to get the final NO / 535.
    """

    def __init__(self, initial: str, mechanism: Mechanism) -> None:
        self._initial = initial
        self._mechanism = mechanism
        self.error = ""  # what the server's error challenge said, once it sent one
        self._calls = 0

    def __call__(self, challenge: bytes) -> str:
        self._calls += 1
        if self._calls == 1:  # the server's empty "+ " (imaplib sends no initial response)
            return self._initial
        self.error = sasl_error(challenge)
        return "\x01" if self._mechanism is Mechanism.OAUTHBEARER else ""


# -- SASL ---------------------------------------------------------------------------------------
def xoauth2(user: str, token: str) -> str:
    """The XOAUTH2 initial response (before base64), as Google and Microsoft define it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, host: str, port: int) -> str:
    """The OAUTHBEARER initial client response of RFC 7628 (before base64)."""
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


def sasl_error(raw: bytes) -> str:
    """What a failing server says in its error challenge (RFC 7628 3.2.2: JSON with a
    ``status``, base64 already taken off), as text; the raw text when it is not that."""
    try:
        data = json.loads(raw)
        return str(data.get("status", raw.decode(errors="replace"))) if isinstance(data, dict) else raw.decode()
    except ValueError:
        return raw.decode(errors="replace")

