"""Which daemon reads which mailbox: one lease row per mailbox, taken and renewed by its holder.

Several ``maild run`` processes may share one PostgreSQL database. All of them work the
pipeline, the timers and the outbox (each claims its work so nothing is done twice); only the
reading of a mailbox is leased, so that two daemons do not fetch and move the same messages.
A holder renews its lease every few seconds; a lease that has not been renewed for
``seconds`` may be taken by another daemon, so a daemon that died or hangs gives up its
mailboxes within that time. A lease held by a process of this same host and boot that no longer
exists is taken at once (a daemon restarted after a crash does not wait out its own old lease).

Correctness never rests on the lease: two daemons reading one mailbox (clocks far apart, a
network split) would each store the same message under its one UNIQUE key, and the ticket
would still be one. The lease keeps them from doing the same work twice.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.store.db import transaction
from maild.store.models import MailboxLease
from maild.store.queries import insert_ignore


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: host, boot, process and a random token (a reused pid is another holder)."""

    host: str
    boot: str
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.boot}:{self.pid}:{self.token}"[:200]

    @staticmethod
    def parse(text: str) -> Holder | None:
        """The holder written as ``str(holder)``, or None for text that is not one."""
        parts = text.rsplit(":", 3)  # the host may hold colons (an IPv6 literal)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return Holder(parts[0], parts[1], int(parts[2]), parts[3])


def this_process(token: str) -> Holder:
    """The holder for this process; ``token`` is the caller's randomness (injected)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = "-"
    return Holder(socket.gethostname()[:100], boot, os.getpid(), token)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, as another user's process
    return False


@dataclass(frozen=True)
class LeaseView:
    """A lease as ``maild status`` and the metrics show it."""

    mailbox: str
    holder: str
    expires_at: datetime
    ours: bool


class Leases:
    """Takes and renews this daemon's mailbox leases."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, holder: Holder, seconds: float,
                 gone: Callable[[int], bool] = process_gone, exclusive: bool = False) -> None:
        """``exclusive``: no other daemon can be running (SQLite, under its lock file), so any
        lease is taken at once."""
        self.factory = factory
        self.clock = clock
        self.holder = holder
        self.seconds = seconds
        self.gone = gone
        self.exclusive = exclusive
        self.held: frozenset[str] = frozenset()

    @property
    def renew_every(self) -> float:
        """How often a holder renews: a third of the lease, so two missed renewals are survived."""
        return self.seconds / 3

    def claim(self, mailboxes: Iterable[str]) -> frozenset[str]:
        """Take or renew the lease of each of ``mailboxes`` that is free, expired, ours or
        held by a dead process of this host; return the ones this daemon holds now."""
        me, now = str(self.holder), self.clock()
        until = now + timedelta(seconds=self.seconds)
        held: set[str] = set()
        with transaction(self.factory) as session:
            for name in mailboxes:
                if self._take(session, name, me, now, until):
                    held.add(name)
        self.held = frozenset(held)
        return self.held

    def _take(self, session: Session, name: str, me: str, now: datetime, until: datetime) -> bool:
        renewed = session.execute(
            update(MailboxLease).where(MailboxLease.mailbox == name, MailboxLease.holder == me)
            .values(expires_at=until).returning(MailboxLease.mailbox)).first()
        if renewed is not None:
            return True
        if insert_ignore(session, MailboxLease, {"mailbox": name, "holder": me, "expires_at": until,
                                                 "taken_at": now}, ["mailbox"]):
            return True
        current = session.scalars(select(MailboxLease.holder).where(MailboxLease.mailbox == name)).first()
        if current is None:
            return False
        # Compare and set: only if nobody took it since we looked.
        takeable = [MailboxLease.holder == current]
        if not (self.exclusive or self._dead_here(current)):
            takeable.append(MailboxLease.expires_at < now)
        taken = session.execute(
            update(MailboxLease).where(MailboxLease.mailbox == name, *takeable)
            .values(holder=me, expires_at=until, taken_at=now).returning(MailboxLease.mailbox)).first()
        return taken is not None

    def _dead_here(self, text: str) -> bool:
        other = Holder.parse(text)
        return (other is not None and other.host == self.holder.host and other.boot == self.holder.boot
                and other.pid != self.holder.pid and self.gone(other.pid))

    def release(self) -> None:
        """Give up this daemon's leases (a clean stop): another daemon takes them at once."""
        with transaction(self.factory) as session:
            session.execute(update(MailboxLease).where(MailboxLease.holder == str(self.holder))
                            .values(expires_at=self.clock() - timedelta(seconds=1)))
        self.held = frozenset()


def leases(session: Session, me: str = "") -> list[LeaseView]:
    """Every mailbox lease, for ``maild status`` and the metrics."""
    return [LeaseView(r.mailbox, r.holder, r.expires_at, r.holder == me)
            for r in session.scalars(select(MailboxLease).order_by(MailboxLease.mailbox))]
