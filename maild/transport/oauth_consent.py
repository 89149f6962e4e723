"""The one-time consent of the refresh-token flow: the authorization code flow with PKCE and a
loopback redirect (RFC 8252), as ``maild oauth login`` runs it.

A listener on ``http://127.0.0.1:PORT/`` receives the browser's redirect; the code is
exchanged (with the PKCE verifier) for tokens at the token endpoint, through Authlib.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from maild.base.errors import MaildError, TransientError
from maild.transport.oauth import OAuthClient


class ConsentFailed(MaildError):
    """The consent did not give a refresh token (refused, timed out, or the endpoint said no)."""


@dataclass
class _Answer:
    query: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)


class _Redirect(BaseHTTPRequestHandler):
    answer: _Answer  # set on the per-consent subclass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if not ("code" in query or "error" in query):
            self.send_error(404)  # a browser asking for /favicon.ico
            return
        body = (b"maild: the consent is received; you may close this window." if "code" in query
                else b"maild: the consent was not given; see the terminal.")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answer.query = query
        self.answer.arrived.set()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return  # the query holds the code: not for stderr


class LoopbackConsent:
    """One consent: ``url`` to open in a browser, then ``wait()`` for the refresh token.

    Use as a context manager: the listener is closed at the end.
    """

    def __init__(self, client: OAuthClient, authorize_url: str, port: int = 0) -> None:
        self.client = client
        self._answer = _Answer()
        handler = type("Redirect", (_Redirect,), {"answer": self._answer})
        self._server = HTTPServer(("127.0.0.1", port), handler)
        self.redirect_uri = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._verifier = generate_token(64)  # PKCE (RFC 7636), S256
        self._session = OAuth2Session(
            client.client_id, client.client_secret.value or None, scope=client.scope or None,
            redirect_uri=self.redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if client.client_secret else "none")
        # access_type and prompt: Google hands out a refresh token only when asked this way;
        # Microsoft does for the offline_access scope and ignores access_type.
        self.url, self._state = self._session.create_authorization_url(
            authorize_url, code_verifier=self._verifier, access_type="offline", prompt="consent")
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-redirect", daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> str:
        """The refresh token, once the browser came back with a code and it was exchanged.

        Raises ConsentFailed when the provider sent an error, the state does not match, no
        redirect came within ``timeout`` seconds, or the answer holds no refresh token;
        TransientError when the token endpoint cannot be reached.
        """
        if not self._answer.arrived.wait(timeout):
            raise ConsentFailed(f"no answer at {self.redirect_uri} within {timeout:.0f} s")
        query = self._answer.query
        if "error" in query:
            said = f" ({query['error_description']})" if query.get("error_description") else ""
            raise ConsentFailed(f"the provider refused the consent: {query['error']}{said}")
        if query.get("state") != self._state:
            raise ConsentFailed("the redirect's state does not match this consent (a stale or forged redirect)")
        c = self.client
        try:
            token = self._session.fetch_token(c.token_url, grant_type="authorization_code", code=query["code"],
                                              code_verifier=self._verifier, timeout=c.timeout)
        except OAuthError as exc:
            raise ConsentFailed(f"{c.token_url} refused the code: {exc.error}"
                                f"{': ' + exc.description if exc.description else ''}") from exc
        except (requests.RequestException, ValueError) as exc:
            raise TransientError(f"OAuth2 token endpoint {c.token_url} unreachable: {exc}") from exc
        refresh = token.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise ConsentFailed(f"{c.token_url} gave no refresh token (Microsoft: add offline_access to the scope)")
        return refresh

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackConsent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
