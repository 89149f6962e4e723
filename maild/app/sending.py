"""The outbox, sent beside the rest of the daemon's work: one thread of its own.

The outbox is already the queue between deciding and sending: a mail is a committed row before
anyone tries to send it. So the pipeline need not wait for the SMTP server, and the SMTP
server need not wait for the pipeline: this thread sends what is due while the main loop
reads and processes mail. Nothing about the crash guarantees changes: a row is marked sent in
the sender's own transaction after the server took it (at most one uncommitted batch is sent
again after a crash, with the same Message-IDs), and the pipeline's transactions are its own.

The thread wakes when the main loop says mail was queued, and otherwise about once a second
(mail the CLI or another daemon queued), or when the next deferred mail falls due.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from maild.base.clock import Clock
from maild.stages.sender import Sender

# How often the thread looks at the outbox when nobody tells it of new mail: mail someone else
# queued (the CLI's `tickets new` or `reply`, an import, a second daemon) goes out within about
# this time, by one indexed query, which works on SQLite and PostgreSQL alike and across
# machines, where a signal or a socket would not.
LOOK_EVERY = 1.0


class SendingThread:
    """Sends the due mail of every sender, in a thread, until closed."""

    def __init__(self, senders: Sequence[Sender], clock: Clock) -> None:
        self.senders = list(senders)
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.tried = 0  # mails tried so far: the main loop sees the outbox moved

    def start(self) -> SendingThread:
        """Start sending (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sender", daemon=True)
            self._thread.start()
        return self

    def nudge(self) -> None:
        """Mail was queued: look now."""
        self._idle.clear()
        self._wake.set()

    def raise_failure(self) -> None:
        """Raise here what stopped the thread (a database that went away, say), so the daemon
        fails as it did when it sent in its own loop."""
        if self._error is not None:
            raise self._error

    def drained(self, timeout: float) -> bool:
        """True when no mail is due (mail deferred to later is not: ``run --once`` does not wait
        for it), waiting up to ``timeout`` seconds for the thread to send what is. A mail being
        sent is still queued until its result commits, so it counts as due."""
        self.raise_failure()
        if not self._due():
            return True
        self.nudge()
        self._idle.wait(timeout)
        self.raise_failure()
        return not self._due()

    def _due(self) -> bool:
        now = self.clock()
        return any(due is not None and due <= now for due in (s.next_due() for s in self.senders))

    def close(self) -> None:
        """Stop after the batch in hand (its results committed) and wait for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                tried = sum(sender.run_once() for sender in self.senders)
                if tried > 0:
                    self.tried += tried
                    continue
                self._idle.set()
                self._wake.wait(self._pause())
        except BaseException as exc:  # noqa: BLE001 - handed to the main loop, which fails with it
            # Not logged here: the main loop raises it, and the boundary (the CLI, the daemon's
            # caller) says it once, in one line.
            self._error = exc
            self._idle.set()

    def _pause(self) -> float:
        """Seconds to the next look: the next deferred mail's time, at most LOOK_EVERY."""
        now = self.clock()
        pause = LOOK_EVERY
        for sender in self.senders:
            due = sender.next_due()
            if due is not None:
                pause = min(pause, max(0.0, (due - now).total_seconds()))
        return pause
