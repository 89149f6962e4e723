"""A local Maildir as the mailbox: the embedded default, no mail server needed.

The inbox is the Maildir itself (``new/`` and ``cur/``); processed messages are renamed into
the Maildir++ subfolder ``.Processed/cur/`` (a rename is atomic on one filesystem, so a
message is always in exactly one place).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from maild.base.errors import MailboxError
from maild.transport.sources import Fetched


class MaildirMailbox:
    """The ``maildir:PATH`` source."""

    def __init__(self, root: Path, processed_folder: str = "Processed", poll_interval: float = 2.0) -> None:
        self.root = root
        self.processed = processed_folder
        self.poll_interval = poll_interval
        self.description = f"maildir:{root}"
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def _folder(self, name: str) -> Path:
        path = self.root / f".{name}"
        for sub in ("new", "cur", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def _waiting(self) -> list[Path]:
        files: list[tuple[float, str, Path]] = []
        for sub in ("new", "cur"):
            with os.scandir(self.root / sub) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        files.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
        files.sort()
        return [p for _, _, p in files]

    def fetch_new(self, limit: int) -> list[Fetched]:
        out: list[Fetched] = []
        try:
            for path in self._waiting()[:limit]:
                try:
                    out.append(Fetched(ref=str(path), raw=path.read_bytes()))
                except FileNotFoundError:
                    continue  # moved away by another process meanwhile
        except OSError as exc:
            raise MailboxError(f"cannot read {self.root}: {exc.strerror}") from exc
        return out

    def release(self, messages: Sequence[Fetched]) -> None:
        target = self._folder(self.processed) / "cur"
        for m in messages:
            src = Path(m.ref)
            name = src.name if ":2," in src.name else src.name + ":2,"
            try:
                os.replace(src, target / name)
            except FileNotFoundError:
                continue  # already moved (a second daemon, or a restart after the move)
            except OSError as exc:
                raise MailboxError(f"cannot move {src.name} to {self.processed}: {exc.strerror}") from exc

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
