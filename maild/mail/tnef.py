"""Outlook's ``winmail.dat`` (TNEF, MS-OXTNEF): the files it wraps, unpacked. Pure.

An Outlook or Exchange sender with "Rich Text" formatting sends its attachments inside one
``application/ms-tnef`` part; staff without Outlook would see only ``winmail.dat``. The
maintained ``tnefparse`` reads the format; this module bounds what it may hand back and never
lets a malformed file fail the message: the original part is always kept beside what it held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tnefparse

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
MAX_FILES = 100  # a TNEF holding more is cut there (and the defect says so)


@dataclass(frozen=True)
class Inner:
    """One file found inside a TNEF part."""

    filename: str
    content: bytes = field(repr=False)


def is_tnef(content_type: str, filename: str) -> bool:
    """A part that is TNEF by its type or by Outlook's file name for it."""
    return content_type in TNEF_TYPES or filename.lower() == "winmail.dat"


def unpack(data: bytes, defects: list[str]) -> tuple[Inner, ...]:
    """The files inside ``data``; a file that cannot be read yields none and a defect."""
    try:
        parsed = tnefparse.TNEF(data)
    except Exception as exc:  # noqa: BLE001 - hostile bytes: any failure of the parser is the file's
        defects.append(f"TnefUnreadable:{type(exc).__name__}")
        return ()
    found: list[Inner] = []
    for n, attachment in enumerate(parsed.attachments):
        if n >= MAX_FILES:
            defects.append(f"TnefTooManyFiles:{len(parsed.attachments)}")
            break
        try:
            name = attachment.long_filename() or attachment.name or ""
        except Exception:  # noqa: BLE001 - a broken name property is not worth the file
            name = ""
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        content = attachment.data if isinstance(attachment.data, bytes) else b""
        found.append(Inner(str(name).strip("\x00 ") or f"attachment-{n + 1}", content))
    return tuple(found)
