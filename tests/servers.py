"""Real servers for tests: a private Dovecot IMAP server, an SMTP sink, PostgreSQL schemas.

This is a plain helper module (no pytest import) used by ``tests/conftest.py``; it can
also be used from scripts and benchmarks::

    from servers import Dovecot, SmtpSink, pg_schema

Every helper talks to a *real* server. When a server is missing the helpers raise
``RuntimeError``: tests must fail, never skip, when the environment is incomplete.

See ``/work/shared/TEST-SERVERS.md`` for the Dovecot pitfalls this module works around.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import ctypes.util
import functools
import grp
import hashlib
import http.server
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import imapclient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = [
    "MAIL_GID",
    "MAIL_UID",
    "Dovecot",
    "OAuthServer",
    "ImapAccount",
    "Received",
    "SinkMode",
    "SmtpSink",
    "free_port",
    "pg_schema",
    "pg_url",
]

LOCALHOST = "127.0.0.1"
MAIL_UID = 5000
MAIL_GID = 5000
"""uid/gid every Dovecot test user's mail processes run as (need not exist in /etc/passwd)."""

_USER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_KILL_AFTER = 1.5
# AF_UNIX sun_path is 108 bytes; Dovecot's longest socket name under base_dir is ~30.
_MAX_BASE_DIR_LEN = 70


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int, host: str = LOCALHOST) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- IMAP


@dataclass(frozen=True)
class ImapAccount:
    """One mailbox user of a test :class:`Dovecot` server."""

    host: str
    port: int
    ssl_port: int
    user: str
    password: str
    ca_file: Path
    home: Path

    def url(self, ssl: bool = False) -> str:
        """``imap://USER@HOST:PORT/INBOX`` (or ``imaps://...`` on the TLS port); no password."""
        if ssl:
            return f"imaps://{self.user}@{self.host}:{self.ssl_port}/INBOX"
        return f"imap://{self.user}@{self.host}:{self.port}/INBOX"

    def client(self) -> imapclient.IMAPClient:
        """A logged-in plain-IMAP (no TLS) client with INBOX selected; the caller logs out."""
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        try:
            client.login(self.user, self.password)
            client.select_folder("INBOX")
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client


@contextlib.contextmanager
def private_dovecot(**options: Any) -> Iterator[Dovecot]:
    """A Dovecot of its own (``options`` as for :class:`Dovecot`), stopped and removed after.

    Its root is a private /tmp/maild-dovecot-* dir, deliberately not under pytest's basetemp:
    every pytest session start chmods /tmp/pytest-of-USER back to 0700, which would cut a
    running Dovecot's uid-5000 mail processes off from the homes whenever a second pytest
    session starts (SELECT then fails with "Internal error")."""
    root = Path(tempfile.mkdtemp(prefix="maild-dovecot-"))
    server = Dovecot(root, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _is_live_process(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line[stat_line.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def _signal_master(pid: int, sig: int) -> None:
    """Send ``sig`` to a Dovecot master's process group (to the master alone if it leads none)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _set_pdeathsig() -> None:
    """In the child: get SIGKILL when the parent dies, so a killed test run leaves no Dovecot.

    SIGKILL rather than SIGTERM: the master's graceful shutdown keeps the listening sockets
    open for 1-6 s; killed, its sockets close at once and its children exit on their own.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class Dovecot:
    """A private Dovecot 2.3 IMAP server living entirely under ``root``.

    The config file, runtime/state dirs, TLS certificate, passwd-file, users' homes and the
    log all live under ``root``; nothing from /etc/dovecot is read. Ports are picked at
    runtime, so neither a system Dovecot nor one left over from a killed run can collide.
    The master runs in the foreground (``-F``) as a child of this process with
    ``PR_SET_PDEATHSIG``, so it dies with the process that started it.
    """

    def __init__(self, root: Path, oauth2_introspection_url: str | None = None) -> None:
        """Prepare (but do not start) a server under ``root``; ports are chosen here.

        With ``oauth2_introspection_url`` the server also takes OAuth2 bearer tokens
        (AUTHENTICATE XOAUTH2 / OAUTHBEARER) and asks that RFC 7662 endpoint whether each one
        is active and whose it is (an :class:`OAuthServer`'s ``introspection_url``).
        """
        self.oauth2_introspection_url = oauth2_introspection_url
        self.root: Path = Path(root).resolve()
        self.host: str = LOCALHOST
        self.port: int = free_port()
        self.ssl_port: int = free_port()
        while self.ssl_port == self.port:
            self.ssl_port = free_port()
        self.config_file: Path = self.root / "dovecot.conf"
        self.passwd_dir: Path = self.root / "etc" / "passwd.d"
        self.cert_file: Path = self.root / "etc" / "cert.pem"
        self.key_file: Path = self.root / "etc" / "key.pem"
        self.state_dir: Path = self.root / "state"
        self.home_root: Path = self.root / "home"
        self.log_path: Path = self.root / "dovecot.log"
        self.base_dir: Path = self._pick_base_dir()
        self.instance_name: str = f"maild-test-{secrets.token_hex(4)}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._user_seq = itertools.count(1)
        self._lock = threading.Lock()

    def _pick_base_dir(self) -> Path:
        """``root/run``, or a short private dir in /tmp when that path is too long for sockets."""
        base_dir = self.root / "run"
        if len(str(base_dir)) <= _MAX_BASE_DIR_LEN:
            return base_dir
        return Path(tempfile.mkdtemp(prefix="dovecot-run-"))

    # -- lifecycle ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the master process started by :meth:`start` is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Write the config (the first time also the certificate), start Dovecot, wait for greetings."""
        dovecot_bin = shutil.which("dovecot") or (
            "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None
        )
        if dovecot_bin is None or not Path("/usr/lib/dovecot/imap").exists():
            raise RuntimeError("dovecot not installed: apt-get install -y dovecot-imapd")
        if self.running:
            raise RuntimeError(f"Dovecot under {self.root} is already running")
        self._prepare_dirs()
        self._clear_stale_master()
        self._write_config()
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self._proc = subprocess.Popen(
                [dovecot_bin, "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_set_pdeathsig,
                start_new_session=True,
            )
        self._wait_ready()

    def stop(self) -> None:
        """SIGTERM the master (pid from ``base_dir/master.pid``) and wait until the ports close.

        The SIGTERM goes to the master's whole process group: every IMAP session then sends
        ``* BYE Server shutting down.`` and exits at once (about 10 ms). SIGTERM to the
        master alone takes 1 s, or 10 s with a logged-in client, before the sessions are
        ended. Processes still alive after ``_KILL_AFTER`` seconds (e.g. a login process
        blocked in its set-up) are SIGKILLed.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            pid = self._read_master_pid()
            if pid != proc.pid:  # master.pid not written yet, or stale
                pid = proc.pid
            # start_new_session: the master leads its own process group (pgid == pid).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_KILL_AFTER)
            # End whatever is left, including children that outlived the master and still
            # hold the listening sockets.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_TIMEOUT)
        else:
            self._clear_stale_master()
        deadline = time.monotonic() + _STOP_TIMEOUT
        while _port_open(self.port) or _port_open(self.ssl_port):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Dovecot ports {self.port}/{self.ssl_port} still open after stop\n"
                    + self.log_tail()
                )
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop then start again on the same ports (clients may reconnect to the same URL)."""
        self.stop()
        self.start()

    def __enter__(self) -> Dovecot:
        """Start the server; stop it when the ``with`` block ends."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()

    # -- users and tools ----------------------------------------------------------

    def add_user(self, name: str | None = None, password: str = "secret") -> ImapAccount:
        """Add a mailbox user (unique generated name when ``name`` is None) and return it.

        The user can log in immediately, also while the server runs. Each user gets its own
        passwd-file ``etc/passwd.d/NAME`` (a single appended file is re-read by Dovecot at
        most once per second, so a user added right after another login would be unknown).
        The home dir is created owned by uid/gid 5000. ``name`` must be lowercase
        (``[a-z0-9][a-z0-9._-]*``): Dovecot lowercases login names.
        """
        if name is not None and not _USER_NAME_RE.fullmatch(name):
            raise ValueError(f"user name must match {_USER_NAME_RE.pattern}: {name!r}")
        if any(c in password for c in ":\n\r"):
            raise ValueError(f"password must not contain ':' or newlines: {password!r}")
        self._prepare_dirs()
        with self._lock:
            if name is None:
                name = next(
                    n for n in (f"user{i}" for i in self._user_seq) if not self._user_exists(n)
                )
            elif self._user_exists(name):
                raise ValueError(f"user {name!r} already exists")
            home = self.home_root / name
            home.mkdir(mode=0o700)
            os.chown(home, MAIL_UID, MAIL_GID)
            self._write_passwd(
                self.passwd_dir / name,
                f"{name}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{home}::\n",
            )
        return ImapAccount(
            host=self.host,
            port=self.port,
            ssl_port=self.ssl_port,
            user=name,
            password=password,
            ca_file=self.cert_file,
            home=home,
        )

    def users(self) -> list[str]:
        """Names of the users added so far (sorted)."""
        if not self.passwd_dir.exists():
            return []
        return sorted(p.name for p in self.passwd_dir.iterdir() if not p.name.startswith("."))

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm -c CONFIG ARGS...`` and return its stdout (RuntimeError on failure).

        Example: ``doveadm("mailbox", "update", "-u", user, "--uid-validity", "42", "INBOX")``.
        """
        proc = subprocess.run(
            ["doveadm", "-c", str(self.config_file), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"doveadm {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.strip()}\n{self.log_tail(20)}"
            )
        return proc.stdout

    def log_tail(self, n: int = 50) -> str:
        """The last ``n`` lines of the Dovecot log file (empty string when there is none)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    # -- internals -------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        """Create the layout, make it traversable for uid 5000, make the certificate once."""
        dirs = (self.root, self.root / "etc", self.passwd_dir, self.base_dir, self.state_dir,
                self.home_root)
        for path in dirs:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)
        # Mail processes run as uid 5000 and must reach the homes: every ancestor needs o+x.
        # (pytest's /tmp/pytest-of-USER is 0700, and each new pytest session resets it to
        # 0700: a long-lived server is better rooted elsewhere, see conftest.dovecot.)
        for parent in self.root.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
        if not self.cert_file.exists() or not self.key_file.exists():
            self._make_cert()

    def _make_cert(self) -> None:
        """Self-signed EC certificate for localhost / 127.0.0.1 made with the openssl CLI."""
        if shutil.which("openssl") is None:
            raise RuntimeError("openssl not installed: apt-get install -y openssl")
        proc = subprocess.run(
            [
                "openssl", "req", "-x509", "-nodes", "-days", "3650",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(self.key_file), "-out", str(self.cert_file),
                "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"openssl req failed: {proc.stderr}")
        self.key_file.chmod(0o600)
        self.cert_file.chmod(0o644)

    def _write_passwd(self, path: Path, content: str) -> None:
        """Atomically write a passwd-file readable by group dovecot (mode 0640)."""
        try:
            gid = grp.getgrnam("dovecot").gr_gid
        except KeyError:
            gid = -1
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_text(content)
        os.chown(tmp, -1, gid)
        tmp.chmod(0o640 if gid != -1 else 0o644)
        os.replace(tmp, path)

    def _user_exists(self, name: str) -> bool:
        """True when ``name`` already has a passwd-file or a home."""
        return (self.passwd_dir / name).exists() or (self.home_root / name).exists()

    def _write_config(self) -> None:
        """Write the self-contained dovecot.conf (see TEST-SERVERS.md for why each line)."""
        mechanisms, oauth2, passwords_only = "plain login", "", ""
        if self.oauth2_introspection_url is not None:
            # The oauth2 passdb for the token mechanisms only; passwords still go to the
            # passwd-file. Every login asks the introspection endpoint (no caching), so a
            # token expired or revoked on the OAuthServer is refused at once.
            ext = self.root / "etc" / "dovecot-oauth2.conf.ext"
            ext.write_text(
                f"introspection_url = {self.oauth2_introspection_url}\n"
                "introspection_mode = post\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
            ext.chmod(0o644)
            mechanisms = "plain login xoauth2 oauthbearer"
            passwords_only = "  mechanisms = plain login\n"  # a token is never taken as a password
            oauth2 = f"""
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {ext}
}}
"""
        config = f"""\
# Generated by tests/servers.py: a private test instance, nothing from /etc/dovecot.
protocols = imap
listen = {self.host}
base_dir = {self.base_dir}
state_dir = {self.state_dir}
instance_name = {self.instance_name}
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
auth_verbose = yes
auth_mechanisms = {mechanisms}
disable_plaintext_auth = no
first_valid_uid = 1000
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
shutdown_clients = yes
# Every test logs in from 127.0.0.1: reply to a failed login after ~0.5 s instead of 2 s.
auth_failure_delay = 0
# No stats process clients: a login process started just before a stop would otherwise
# hang 5 s waiting for the stats-writer handshake and keep the listening port open.
stats_writer_socket_path =

{oauth2}
# One passwd-file per user: a new file is read at the first lookup, whereas a changed
# file is re-read at most once per second (stale right after another login).
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd_dir}/%u
{passwords_only}}}
userdb {{
  driver = passwd-file
  args = {self.passwd_dir}/%u
}}

service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.ssl_port}
    ssl = yes
  }}
}}

protocol imap {{
  mail_max_userip_connections = 100
}}

# No auth penalty: after a failed login Dovecot delays every later login from the same IP
# (127.0.0.1: all tests) by 2, 4, 8, 15 s. auth (user dovecot) cannot open this socket,
# so the penalty is disabled.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        self.config_file.write_text(config)

    def _read_master_pid(self) -> int | None:
        """The pid in ``base_dir/master.pid``, or None."""
        try:
            return int((self.base_dir / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def _clear_stale_master(self) -> None:
        """Deal with a ``master.pid`` left in our base_dir (e.g. by a killed test run).

        A live master started with our config file is stopped (SIGTERM to its group, SIGKILL
        after ``_KILL_AFTER``). The pid file is removed: Dovecot refuses to start while the
        pid in it exists, and a killed master can linger as a zombie until init reaps it.
        """
        pid = self._read_master_pid()
        if pid is None:
            return
        if _is_live_process(pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            if b"dovecot" in cmdline and str(self.config_file).encode() in cmdline:
                _signal_master(pid, signal.SIGTERM)
                deadline = time.monotonic() + _KILL_AFTER
                while _is_live_process(pid) and time.monotonic() < deadline:
                    time.sleep(0.01)
                _signal_master(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            (self.base_dir / "master.pid").unlink()

    def _wait_ready(self) -> None:
        """Wait (bounded) for ``* OK`` on the plain port, then on the TLS port over TLS.

        The TLS probe verifies the certificate as clients will (CA file, SAN 127.0.0.1), so
        a broken cert/key setup fails here with the log instead of in a test.
        """
        deadline = time.monotonic() + _START_TIMEOUT
        last_error = "no attempt"
        tls = ssl.create_default_context(cafile=str(self.cert_file))
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise RuntimeError(
                    f"dovecot exited with {code} at start-up "
                    f"(config {self.config_file}):\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=2.0) as sock:
                    greeting = sock.recv(1024)
                if greeting.startswith(b"* OK"):
                    with (
                        socket.create_connection((self.host, self.ssl_port), timeout=2.0) as raw,
                        tls.wrap_socket(raw, server_hostname=self.host) as tls_sock,
                    ):
                        greeting = tls_sock.recv(1024)
                    if greeting.startswith(b"* OK"):
                        return
                last_error = f"greeting {greeting!r}"
            except (OSError, ssl.SSLError) as exc:
                last_error = repr(exc)
            time.sleep(0.01)
        with contextlib.suppress(Exception):
            self.stop()
        raise RuntimeError(
            f"Dovecot did not answer on {self.host}:{self.port}/{self.ssl_port} within "
            f"{_START_TIMEOUT}s ({last_error}); log {self.log_path}:\n{self.log_tail()}"
        )


# --------------------------------------------------------------------------- SMTP


SinkMode = Literal["ok", "tempfail", "permfail"]
_SINK_MODES: tuple[str, ...] = ("ok", "tempfail", "permfail")


@dataclass(frozen=True)
class Received:
    """One message accepted by :class:`SmtpSink` (``data`` is the raw DATA bytes)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class _SinkHandler:
    """aiosmtpd handler: answers according to the sink's mode and stores accepted mail."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # AUTH is enforced here rather than with aiosmtpd's auth_required, which warns
        # (UserWarning) on every connection when TLS is not required as well.
        if (self._sink.auth is not None or self._sink.introspection_url) and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self._sink.mode == "permfail":
            return "550 5.1.1 Recipient rejected (SmtpSink permfail mode)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self._sink.mode == "tempfail":
            return "451 4.3.0 Temporary failure (SmtpSink tempfail mode)"
        while self._sink.holding.is_set():  # a slow server: the answer to DATA waits
            await asyncio.sleep(0.05)
        data = envelope.original_content
        if data is None:
            content = envelope.content
            data = content.encode() if isinstance(content, str) else (content or b"")
        self._sink._store(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=data,
            )
        )
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    ``mode`` switches the answers: ``"ok"`` accepts (250), ``"tempfail"`` answers DATA with
    ``451 4.3.0``, ``"permfail"`` answers RCPT with ``550 5.1.1``. ``stop()`` closes the
    port (connection refused); ``restart()`` listens again on the same port. With
    ``auth=(user, password)`` the server requires AUTH PLAIN/LOGIN (no TLS needed).
    """

    def __init__(self, auth: tuple[str, str] | None = None, port: int | None = None,
                 introspection_url: str | None = None) -> None:
        """Prepare (not start) a sink on ``port`` (a free one when None); with
        ``introspection_url`` it requires AUTH XOAUTH2 or OAUTHBEARER with a token that the
        RFC 7662 endpoint there says is active and the signed-in user's."""
        self.host: str = LOCALHOST
        self.port: int = port if port is not None else free_port()
        self.auth: tuple[str, str] | None = auth
        self.introspection_url = introspection_url
        # While set, the answer to DATA waits (a slow or stuck server); clear it to answer.
        self.holding = threading.Event()
        self.signed_in: list[tuple[str, str]] = []  # (mechanism, user) of each accepted token
        self.refused: list[tuple[str, str]] = []  # (mechanism, user) of each refused token
        self._mode: SinkMode = "ok"
        self._messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def mode(self) -> SinkMode:
        """How the sink answers: ``"ok"``, ``"tempfail"`` (451 at DATA), ``"permfail"`` (550 at RCPT)."""
        return self._mode

    @mode.setter
    def mode(self, value: SinkMode) -> None:
        if value not in _SINK_MODES:
            raise ValueError(f"mode must be one of {_SINK_MODES}, not {value!r}")
        self._mode = value

    @property
    def messages(self) -> list[Received]:
        """A snapshot (copy) of the messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._controller is not None

    def _store(self, message: Received) -> None:
        with self._lock:
            self._messages.append(message)

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        if self.auth is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        """Listen on ``host:port``; returns once the server answers."""
        if self._controller is not None:
            raise RuntimeError("SmtpSink already running")
        kwargs: dict[str, Any] = {}  # default: no AUTH offered without TLS
        if self.auth is not None or self.introspection_url is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        if self.introspection_url is not None:  # tokens only: no PLAIN or LOGIN offered
            kwargs["auth_exclude_mechanism"] = ["PLAIN", "LOGIN"]
        controller = Controller(
            (_OAuthSinkHandler if self.introspection_url is not None else _SinkHandler)(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=10.0,
            server_hostname="smtp-sink.test",
            **kwargs,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (new connections are refused); received messages are kept."""
        if self._controller is None:
            return
        controller, self._controller = self._controller, None
        controller.stop()

    def restart(self) -> None:
        """Stop, then listen again on the same port."""
        self.stop()
        self.start()

    def clear(self) -> None:
        """Forget the received messages."""
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Poll until at least ``count`` messages arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages
            if len(got) >= count:
                return got
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"SmtpSink: expected at least {count} message(s) within {timeout}s, "
                    f"got {len(got)}: "
                    + repr([(m.mail_from, m.rcpt_tos, m.data[:200]) for m in got])
                )
            time.sleep(0.01)

    def __enter__(self) -> SmtpSink:
        """Start the sink; stop it when the ``with`` block ends."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the sink."""
        self.stop()


# --------------------------------------------------------------------------- PostgreSQL

PG_HOST = LOCALHOST
PG_PORT = 5432
PG_DATABASE = "test"
_PG_USERS: tuple[str, ...] = ("postgres", "root")


@functools.lru_cache(maxsize=1)
def _pg_user() -> str:
    """The first of postgres/root that can connect (trust auth); RuntimeError if none."""
    import psycopg

    errors: list[str] = []
    for user in _PG_USERS:
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, dbname=PG_DATABASE, user=user, connect_timeout=5
            ) as conn:
                conn.execute("SELECT 1")
            return user
        except psycopg.Error as exc:
            errors.append(f"{user}: {str(exc).strip()}")
    raise RuntimeError(
        f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT} database {PG_DATABASE!r} "
        f"(tried users {', '.join(_PG_USERS)}): " + "; ".join(errors)
    )


def pg_url() -> str:
    """SQLAlchemy base URL of the test database, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``."""
    return f"postgresql+psycopg://{_pg_user()}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """Create a fresh randomly named schema, yield a URL whose connections use it, drop it.

    The yielded URL sets ``search_path`` to the schema only (``options=-csearch_path=...``)
    and ``application_name`` to the schema name. On exit, sessions still connected with that
    URL (e.g. a leaked pool) are terminated and the schema is dropped CASCADE.
    """
    import psycopg
    from psycopg import sql

    user = _pg_user()
    name = f"t_{secrets.token_hex(6)}"

    def admin() -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            dbname=PG_DATABASE,
            user=user,
            autocommit=True,
            connect_timeout=5,
        )

    with admin() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield f"{pg_url()}?options=-csearch_path%3D{name}&application_name={name}"
    finally:
        with admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- OAuth2


@dataclass
class _Grant:
    """An access token the :class:`OAuthServer` handed out."""

    username: str
    active: bool = True


class OAuthServer:
    """A small OAuth2 authorization server on 127.0.0.1 (http.server in a thread).

    - ``POST /token``: ``client_credentials`` (for ``app_user``), ``refresh_token`` and
      ``authorization_code`` with PKCE S256 (RFC 6749, 7636). The client authenticates with
      ``client_secret_post`` or ``client_secret_basic``. Errors are RFC 6749 5.2 JSON (400).
    - ``GET /authorize``: consents at once as ``consent_user`` and redirects to the
      ``redirect_uri`` (loopback only) with a code and the state.
    - ``POST /introspect``: RFC 7662, ``{"active": true, "username": ...}``: what Dovecot's
      oauth2 passdb and the OAuth :class:`SmtpSink` ask.

    ``expire_access_tokens()`` and ``revoke_refresh_tokens()`` act as the provider would;
    ``requests`` counts the token requests by grant type. With ``rotate`` every refresh
    hands out a new refresh token and makes the old one invalid.
    """

    def __init__(self, client_id: str = "maild-test", client_secret: str = "client-secret",
                 app_user: str = "", consent_user: str = "", lifetime: int = 3600, rotate: bool = False) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.app_user, self.consent_user = app_user, consent_user
        self.lifetime, self.rotate = lifetime, rotate
        self.requests: dict[str, int] = {}
        self.scopes: list[str] = []  # the scope of each token request that named one
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> username
        self._codes: dict[str, tuple[str, str, str]] = {}  # code -> (username, challenge, redirect_uri)
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- what a test reads and does ---------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    def issue_refresh_token(self, username: str) -> str:
        """A refresh token for ``username``, as a consent made earlier would have left."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = username
        return token

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far stops working (introspection: inactive)."""
        with self._lock:
            for grant in self._access.values():
                grant.active = False

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token stops working (the next refresh: ``invalid_grant``)."""
        with self._lock:
            self._refresh.clear()

    def active_tokens(self) -> int:
        with self._lock:
            return sum(1 for g in self._access.values() if g.active)

    def count(self, grant_type: str) -> int:
        with self._lock:
            return self.requests.get(grant_type, 0)

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 answer for ``token``."""
        with self._lock:
            grant = self._access.get(token)
            if grant is None or not grant.active:
                return {"active": False}
            return {"active": True, "username": grant.username, "client_id": self.client_id}

    # -- the endpoints ----------------------------------------------------------------
    def _token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type", "")
        with self._lock:
            self.requests[grant_type] = self.requests.get(grant_type, 0) + 1
            if "scope" in form:
                self.scopes.append(form["scope"])
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or (secret != self.client_secret and grant_type == "client_credentials"):
            return 401, {"error": "invalid_client"}
        if secret and secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        with self._lock:
            if grant_type == "client_credentials":
                return 200, self._issue(self.app_user, with_refresh=False)
            if grant_type == "refresh_token":
                username = self._refresh.get(form.get("refresh_token", ""))
                if username is None:
                    return 400, {"error": "invalid_grant", "error_description": "the refresh token was revoked"}
                answer = self._issue(username, with_refresh=self.rotate)
                if self.rotate:
                    del self._refresh[form["refresh_token"]]
                return 200, answer
            if grant_type == "authorization_code":
                username, challenge, redirect_uri = self._codes.pop(form.get("code", ""), ("", "", ""))
                verifier = form.get("code_verifier", "")
                expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if not username or form.get("redirect_uri") != redirect_uri:
                    return 400, {"error": "invalid_grant", "error_description": "unknown code"}
                if not verifier or expected != challenge:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                return 200, self._issue(username, with_refresh=True)
        return 400, {"error": "unsupported_grant_type"}

    def _issue(self, username: str, with_refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self._access[token] = _Grant(username)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}
        if with_refresh:
            refresh = secrets.token_urlsafe(24)
            self._refresh[refresh] = username
            answer["refresh_token"] = refresh
        return answer

    def _authorize(self, query: dict[str, str]) -> str:
        """The redirect location for a consent request (the error goes to the redirect too)."""
        redirect = query.get("redirect_uri", "")
        host = urllib.parse.urlsplit(redirect).hostname
        if host != LOCALHOST:
            raise ValueError(f"redirect_uri {redirect!r} is not loopback")
        state = query.get("state", "")
        if (query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256"
                or not query.get("code_challenge")):
            return f"{redirect}?{urllib.parse.urlencode({'error': 'invalid_request', 'state': state})}"
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (self.consent_user, query["code_challenge"], redirect)
        return f"{redirect}?{urllib.parse.urlencode({'code': code, 'state': state})}"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                path = urllib.parse.urlsplit(self.path).path
                if path == "/token":
                    basic = None
                    header = self.headers.get("Authorization", "")
                    if header.startswith("Basic "):
                        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                        basic = (urllib.parse.unquote(user), urllib.parse.unquote(password))
                    self._reply(*owner._token(form, basic))
                elif path == "/introspect":
                    self._reply(200, owner.introspect(form.get("token", "")))
                else:
                    self._reply(404, {"error": "not_found"})

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/authorize":
                    self._reply(404, {"error": "not_found"})
                    return
                location = owner._authorize(dict(urllib.parse.parse_qsl(parts.query)))
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = http.server.ThreadingHTTPServer((LOCALHOST, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OAuthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _OAuthSinkHandler(_SinkHandler):
    """The sink's handler with the token mechanisms: each token is asked of the introspection
    endpoint; a refused one gets the RFC 7628 error challenge (334 + base64 JSON), then 535."""

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's name
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        if len(args) > 1:
            blob: Any = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth(b"")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        fields = blob.decode(errors="replace").split("\x01")
        user = next((f[5:] for f in fields if f.startswith("user=")), "")
        if mechanism == "OAUTHBEARER":
            gs2 = fields[0].split(",")
            user = next((g[2:] for g in gs2 if g.startswith("a=")), "")
        token = next((f[12:] for f in fields if f.startswith("auth=Bearer ")), "")
        url = self._sink.introspection_url
        assert url is not None
        answer = await asyncio.to_thread(
            lambda: json.loads(urllib.request.urlopen(url, urllib.parse.urlencode({"token": token}).encode(),
                                                      timeout=10).read()))
        if answer.get("active") is True and answer.get("username") == user:
            self._sink.signed_in.append((mechanism, user))
            return AuthResult(success=True, auth_data=user)
        self._sink.refused.append((mechanism, user))
        error = json.dumps({"status": "401", "schemes": "bearer"}).encode()
        dummy = await server.challenge_auth(error)
        ok_dummy = dummy == (b"\x01" if mechanism == "OAUTHBEARER" else b"")
        return AuthResult(success=False, handled=False, message=None if ok_dummy else "501 5.5.2 bad dummy response")
