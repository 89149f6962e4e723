"""What every mailbox source offers the ingest stage, and how to open one from settings.

A source lists what is waiting, hands over raw bytes without marking anything, and moves a
message out of the inbox only when told to (after the commit). Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Fetched:
    """One message as it sits in the inbox."""

    ref: str  # the source's handle for it: an IMAP UID or a Maildir file name
    raw: bytes = field(repr=False)
    uidvalidity: int | None = None
    uid: int | None = None


class Mailbox(Protocol):
    """A place new mail arrives in."""

    description: str

    def fetch_new(self, limit: int) -> list[Fetched]:
        """Up to ``limit`` messages waiting in the inbox, oldest first, without marking them."""

    def release(self, messages: Sequence[Fetched]) -> None:
        """Move these messages from the inbox to the processed folder."""

    def keep_copy(self, folder: str, raw: bytes) -> None:
        """Put a copy of ``raw`` into ``folder`` (the quarantine), creating it if needed."""

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        """Return when new mail may have arrived, after ``timeout`` seconds, or when stopping."""

    def close(self) -> None:
        """Let go of connections; the source may be used again afterwards (it reconnects)."""


class FilesMailbox:
    """Messages read from files (``maild inject``): the same ingest path as a real mailbox.

    Released files are left where they are; injecting the same file twice is a no-op
    thanks to the inbound key.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.description = "inject"
        self._done: set[str] = set()

    def fetch_new(self, limit: int) -> list[Fetched]:
        out: list[Fetched] = []
        for path in self.paths:
            if path not in self._done and len(out) < limit:
                with open(path, "rb") as fh:
                    out.append(Fetched(ref=path, raw=fh.read()))
        return out

    def release(self, messages: Sequence[Fetched]) -> None:
        self._done.update(m.ref for m in messages)

    def keep_copy(self, folder: str, raw: bytes) -> None:
        return None

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        return None

    def close(self) -> None:
        return None
