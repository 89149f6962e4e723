"""What every mailbox source offers the ingest stage, and how to open one from settings.

A source lists what is waiting, hands over raw bytes without marking anything, and moves a
message out of the inbox only when told to (after the commit). Nothing is ever deleted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

# The most of a header block read of a message over the size limit: enough for any real
# header (10,000 Received lines are 600 KB), bounded whatever arrives.
HEAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    """One message as it sits in the inbox.

    A message over the size limit is fetched as its header block only (``complete`` False):
    its body is not needed (it makes no ticket) and is never loaded; the message itself
    goes, whole, to the quarantine folder."""

    ref: str  # the source's handle for it: an IMAP UID or a Maildir file name
    raw: bytes = field(repr=False)
    uidvalidity: int | None = None
    uid: int | None = None
    size: int | None = None  # the whole message's size when ``raw`` is not all of it
    complete: bool = True

    @property
    def total_size(self) -> int:
        """The size of the whole message, read or not."""
        return len(self.raw) if self.size is None else self.size


def header_end(data: bytes) -> int:
    """Where the header block of ``data`` ends (after its blank line), or -1 if it does not."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
    return min(ends) if ends else -1


def read_bounded(fh: BinaryIO, size: int, head_only_over: int) -> tuple[bytes, bool]:
    """The file's bytes, or only its header block (at most HEAD_BYTES) when it is larger than
    ``head_only_over`` (0: no limit). Returns (bytes, complete)."""
    if not head_only_over or size <= head_only_over:
        return fh.read(), True
    head = b""
    while len(head) < HEAD_BYTES:
        chunk = fh.read(64 * 1024)
        if not chunk:
            break
        head += chunk
        end = header_end(head)
        if end >= 0:
            return head[:end], False
    return head[:HEAD_BYTES], False


def read_regular_file(path: str, head_only_over: int = 0) -> tuple[bytes, int, bool] | None:
    """(bytes, size, complete) of the regular file at ``path``, or None when it is anything
    else: a symlink is not followed (O_NOFOLLOW), a FIFO or device is not opened for reading
    (O_NONBLOCK, then fstat). Raises FileNotFoundError when it is gone."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError:  # ELOOP: a symlink (or a file we may not read): not ours to take
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        raw, complete = read_bounded(fh, st.st_size, head_only_over)
        return raw, max(st.st_size, len(raw)), complete


class Mailbox(Protocol):
    """A place new mail arrives in."""

    description: str

    def fetch_new(self, limit: int, max_bytes: int = 0, head_only_over: int = 0) -> list[Fetched]:
        """Up to ``limit`` messages waiting in the inbox, oldest first, without marking them.

        At most ``max_bytes`` of them in all (but always the first, whatever its size), and
        of a message over ``head_only_over`` bytes only its header block (0: no bound)."""

    def release(self, messages: Sequence[Fetched], folder: str | None = None) -> None:
        """Move these messages from the inbox to the processed folder (or to ``folder``)."""

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

    def fetch_new(self, limit: int, max_bytes: int = 0, head_only_over: int = 0) -> list[Fetched]:
        out: list[Fetched] = []
        total = 0
        for path in self.paths:
            if path in self._done or len(out) >= limit:
                continue
            with open(path, "rb") as fh:  # a path the operator named: followed if a link
                size = os.fstat(fh.fileno()).st_size
                if out and max_bytes and total + min(size, head_only_over or size) > max_bytes:
                    break
                raw, complete = read_bounded(fh, size, head_only_over)
            out.append(Fetched(ref=path, raw=raw, size=max(size, len(raw)), complete=complete))
            total += len(raw)
        return out

    def release(self, messages: Sequence[Fetched], folder: str | None = None) -> None:
        self._done.update(m.ref for m in messages)

    def keep_copy(self, folder: str, raw: bytes) -> None:
        return None

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        return None

    def close(self) -> None:
        return None
