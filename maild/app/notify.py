"""systemd's notify protocol (``Type=notify``, ``WatchdogSec=``), spoken directly: one
datagram to ``$NOTIFY_SOCKET`` per state (sd_notify(3)); nothing is sent outside systemd.

``READY=1`` once the daemon runs, ``WATCHDOG=1`` from the main loop at most every half
``$WATCHDOG_USEC`` (so a loop that hangs stops the pings and systemd restarts the daemon),
``STOPPING=1`` on shutdown.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Notifier:
    """Where to tell systemd how the daemon is doing; a no-op when ``address`` is empty."""

    address: str = ""
    watchdog_seconds: float = 0.0
    monotonic: Callable[[], float] = time.monotonic
    last_ping: float = float("-inf")

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for: ``$NOTIFY_SOCKET``, and ``$WATCHDOG_USEC`` when the
        watchdog is meant for this process (``$WATCHDOG_PID`` unset or ours)."""
        env = os.environ if env is None else env
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        seconds = int(usec) / 1_000_000 if usec.isdigit() and ours else 0.0
        return cls(env.get("NOTIFY_SOCKET", ""), seconds)

    def send(self, state: str) -> bool:
        """Send one state line (``READY=1`` ...); False when there is no one to tell or it failed."""
        if not self.address:
            return False
        # An abstract socket's name starts with '@' in the variable and with a NUL byte on the wire.
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), target)
        except OSError as exc:
            log.warning("systemd notify %s: %s", self.address, exc)
            return False
        return True

    def ready(self) -> None:
        """The daemon is up and working."""
        self.send("READY=1")
        self.last_ping = self.monotonic()

    def stopping(self) -> None:
        """The daemon is shutting down (after the message in hand)."""
        self.send("STOPPING=1")

    def alive(self) -> None:
        """Feed the watchdog; called on every turn of the main loop, sends at most every half period."""
        if self.watchdog_seconds <= 0:
            return
        now = self.monotonic()
        if now - self.last_ping >= self.watchdog_seconds / 2:
            self.last_ping = now
            self.send("WATCHDOG=1")
