"""systemd's notify protocol against a listener of our own: a real ``maild run`` says READY=1,
feeds the watchdog while its loop turns, stops feeding it when the loop is stopped (so systemd
would restart it), and says STOPPING=1 on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import run_cli, write_config
from maild.app.notify import Notifier

WATCHDOG_SECONDS = 2.0  # pings at most every second


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket as systemd's, and its path for $NOTIFY_SOCKET."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()


def received(sock: socket.socket, seconds: float) -> list[str]:
    """Every datagram that arrives within ``seconds``."""
    got, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return got


def wait_for(sock: socket.socket, state: str, timeout: float = 60) -> list[str]:
    got, deadline = [], time.monotonic() + timeout
    while state not in got:
        assert time.monotonic() < deadline, f"no {state} (got {got})"
        got += received(sock, 1.0)
    return got


def test_ready_watchdog_and_stopping_from_a_real_daemon(tmp_path: Path, listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    config = write_config(tmp_path, {
        "database": {"url": f"sqlite:///{tmp_path}/maild.db"},
        "mailbox": {"url": f"maildir:{tmp_path / 'Maildir'}", "poll_interval": 3600},
        "smtp": {"url": f"maildir:{tmp_path / 'sent'}"},
        "digest": {"enabled": False},
    })
    run_cli(config, "db", "upgrade")
    log = open(tmp_path / "daemon.log", "ab")  # noqa: SIM115 - the child owns it
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(int(WATCHDOG_SECONDS * 1_000_000))}
    env.pop("WATCHDOG_PID", None)
    daemon = subprocess.Popen([sys.executable, "-m", "maild", "--config", str(config), "run"],
                              stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        wait_for(sock, "READY=1")
        # The loop waits on the mailbox for an hour at a time; the watchdog is fed all the same.
        assert received(sock, 4 * WATCHDOG_SECONDS).count("WATCHDOG=1") >= 3

        daemon.send_signal(signal.SIGSTOP)  # a hung loop: no more pings, systemd would restart it
        received(sock, 0.5)  # a ping already on its way
        assert received(sock, 3 * WATCHDOG_SECONDS) == []
        daemon.send_signal(signal.SIGCONT)
        assert "WATCHDOG=1" in received(sock, 3 * WATCHDOG_SECONDS)

        daemon.send_signal(signal.SIGTERM)
        wait_for(sock, "STOPPING=1")
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGCONT)
            daemon.terminate()
            daemon.wait(timeout=30)
        log.close()


def test_an_abstract_socket_and_a_watchdog_meant_for_another_process() -> None:
    name = f"maild-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "1000000"})
        assert notifier.watchdog_seconds == 1.0
        notifier.ready()
        assert received(sock, 1.0) == ["READY=1"]
    other = Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_seconds == 0.0
    assert not Notifier.from_environment({}).send("READY=1")  # outside systemd: nothing to tell


def test_pings_come_at_most_every_half_period() -> None:
    now = [0.0]
    sent: list[float] = []
    notifier = Notifier("@unused", 10.0, monotonic=lambda: now[0])
    notifier.send = lambda state: sent.append(now[0]) or True  # type: ignore[method-assign]
    notifier.ready()
    for step in range(40):
        now[0] = step * 0.5
        notifier.alive()
    assert sent == [0.0, 5.0, 10.0, 15.0]


def test_the_unit_asks_for_notify_and_a_watchdog() -> None:
    text = (Path(__file__).resolve().parent.parent / "systemd" / "maild.service").read_text()
    lines = text.splitlines()
    for directive in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure"):
        at = next(i for i, line in enumerate(lines) if line.startswith(directive))
        assert lines[at - 1].startswith("#"), f"{directive} has no comment saying why"
    assert "Type=simple" not in text
