"""A local Maildir as the mailbox: the embedded default, no mail server needed.

The inbox is the Maildir itself (``new/`` and ``cur/``); processed messages are renamed into
the Maildir++ subfolder ``.Processed/cur/`` (a rename is atomic on one filesystem, so a
message is always in exactly one place).

Only regular files are messages. A symlink (say, to a secret file elsewhere), a FIFO, a
device or a directory in ``new/`` or ``cur/`` is left where it is and logged once: whoever
can write into the Maildir must not be able to make maild read, and mail to staff, a file
they point at.
"""

from __future__ import annotations

import logging
import os
import stat
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from maild.base.errors import MailboxError
from maild.transport.sources import HEAD_BYTES, Fetched, read_regular_file

log = logging.getLogger(__name__)


class MaildirMailbox:
    """The ``maildir:PATH`` source."""

    def __init__(self, root: Path, processed_folder: str = "Processed", poll_interval: float = 2.0) -> None:
        self.root = root
        self.processed = processed_folder
        self.poll_interval = poll_interval
        self.description = f"maildir:{root}"
        self._refused: set[str] = set()  # what was logged as not a message, logged once
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def _folder(self, name: str) -> Path:
        path = self.root / f".{name}"
        for sub in ("new", "cur", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def _waiting(self) -> list[tuple[Path, int]]:
        """The regular files waiting in ``new/`` and ``cur/``, oldest first, with their sizes."""
        files: list[tuple[float, str, Path, int]] = []
        for sub in ("new", "cur"):
            with os.scandir(self.root / sub) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        files.append((st.st_mtime, entry.name, Path(entry.path), st.st_size))
                    else:
                        self._refuse(entry.path, st.st_mode)
        files.sort()
        return [(p, size) for _, _, p, size in files]

    def _refuse(self, path: str, mode: int) -> None:
        if path not in self._refused:
            self._refused.add(path)
            kind = "symlink" if stat.S_ISLNK(mode) else "FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            log.warning("%s in the Maildir is a %s: not read, left where it is", path, kind)

    def fetch_new(self, limit: int, max_bytes: int = 0, head_only_over: int = 0) -> list[Fetched]:
        out: list[Fetched] = []
        total = 0
        try:
            for path, size in self._waiting()[:limit]:
                cost = HEAD_BYTES if head_only_over and size > head_only_over else size
                if out and max_bytes and total + cost > max_bytes:
                    break  # the rest waits for the next batch: memory is bounded by bytes too
                try:
                    read = read_regular_file(str(path), head_only_over)
                except FileNotFoundError:
                    continue  # moved away by another process meanwhile
                if read is None:  # swapped for a link or FIFO since it was listed
                    self._refuse(str(path), stat.S_IFLNK if path.is_symlink() else 0)
                    continue
                raw, whole_size, complete = read
                out.append(Fetched(ref=str(path), raw=raw, size=whole_size, complete=complete))
                total += len(raw)
        except OSError as exc:
            raise MailboxError(f"cannot read {self.root}: {exc.strerror}") from exc
        return out

    def release(self, messages: Sequence[Fetched], folder: str | None = None) -> None:
        # Into the processed folder's cur/ (seen); into another folder's new/, for people to see.
        target = self._folder(folder) / "new" if folder else self._folder(self.processed) / "cur"
        for m in messages:
            src = Path(m.ref)
            name = src.name if ":2," in src.name or folder else src.name + ":2,"
            try:
                os.replace(src, target / name)
            except FileNotFoundError:
                continue  # already moved (a second daemon, or a restart after the move)
            except OSError as exc:
                raise MailboxError(f"cannot move {src.name} to {folder or self.processed}: {exc.strerror}") from exc

    def keep_copy(self, folder: str, raw: bytes) -> None:
        path = self._folder(folder)
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.maild"
        tmp = path / "tmp" / name
        tmp.write_bytes(raw)
        os.replace(tmp, path / "new" / name)

    def wait(self, timeout: float, stopping: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while not stopping() and time.monotonic() < deadline:
            if self._waiting():
                return
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        return None


def deliver(root: Path, raw: bytes) -> Path:
    """Drop a message into a Maildir the way an MTA does (tmp/ then rename into new/)."""
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time():.6f}.{uuid.uuid4().hex}.maild"
    tmp = root / "tmp" / name
    tmp.write_bytes(raw)
    os.replace(tmp, root / "new" / name)
    return root / "new" / name
