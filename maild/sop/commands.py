"""Commands staff type into a reply, e.g. ``#selesai Password sudah direset``. Pure.

A command is a line that starts with ``#`` and a command word, in Indonesian or English;
everything else is the answer to the reporter. Words are matched without regard to case,
so a phone's automatic capital does not matter.

=====================  ===================  =============================================
Indonesian             English              effect (SOP step)
=====================  ===================  =============================================
#status proses         #status progress     the helpdesk is working on it (5)
#status tunggu         #status waiting      waiting for the reporter: the SLA clock stops
                                            until the reporter replies (5)
#jenis gangguan        #type incident       incident / permasalahan=problem /
                                            permintaan=service request (2)
#kategori NAMA         #category NAME       category (2)
#prioritas tinggi      #priority high       rendah/sedang/tinggi/kritis = low/medium/high/critical (2)
#tugaskan ALAMAT       #assign ADDRESS      assign to a staff member (2)
#eskalasi GRUP catatan #escalate GROUP note pass to another service group (4)
#koordinator catatan   #coordinator note    report to the coordinator (6)
#catatan teks          #note text           internal note, never sent to the reporter (5)
#internal              #internal            the whole reply is internal
#selesai hasil         #resolve result      tell the reporter the result and close (8)
#buka                  #reopen              reopen a closed ticket (5)
=====================  ===================  =============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALIASES: dict[str, str] = {
    "status": "status",
    "jenis": "type", "type": "type", "tipe": "type",
    "kategori": "category", "category": "category",
    "prioritas": "priority", "priority": "priority",
    "tugaskan": "assign", "assign": "assign",
    "eskalasi": "escalate", "escalate": "escalate",
    "koordinator": "coordinator", "coordinator": "coordinator",
    "catatan": "note", "note": "note",
    "internal": "internal", "intern": "internal",
    "selesai": "resolve", "resolve": "resolve", "tutup": "resolve", "close": "resolve",
    "buka": "reopen", "reopen": "reopen",
}
TYPES = {"gangguan": "incident", "incident": "incident", "permasalahan": "problem", "problem": "problem",
         "permintaan": "service_request", "layanan": "service_request", "request": "service_request",
         "service_request": "service_request"}
PRIORITIES = {"rendah": "low", "low": "low", "sedang": "medium", "normal": "medium", "medium": "medium",
              "tinggi": "high", "high": "high", "kritis": "critical", "critical": "critical",
              "urgent": "critical", "mendesak": "critical"}
STATUSES = {"proses": "in_progress", "progress": "in_progress", "diproses": "in_progress",
            "in_progress": "in_progress", "tunggu": "waiting", "menunggu": "waiting", "waiting": "waiting"}
NEEDS_ARGUMENT = {"type", "category", "priority", "assign", "escalate", "status"}

_LINE = re.compile(r"^\s*#([A-Za-z_]+)\b[ \t:]*(.*)$")


@dataclass(frozen=True)
class Command:
    """One command: its canonical name, its value (normalised where it has a fixed set), the line."""

    name: str
    value: str
    line: str


@dataclass(frozen=True)
class Refusal:
    line: str
    reason: str


@dataclass(frozen=True)
class Parsed:
    commands: tuple[Command, ...]
    refused: tuple[Refusal, ...]
    body: str
    internal: bool


def parse_commands(text: str) -> Parsed:
    """Split a reply's new text into commands and the answer for the reporter."""
    commands: list[Command] = []
    refused: list[Refusal] = []
    body: list[str] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            body.append(line)
            continue
        word, rest = match.group(1).lower(), match.group(2).strip()
        name = ALIASES.get(word)
        if name is None:
            refused.append(Refusal(line.strip(), f"unknown command #{word}; known: {', '.join(sorted(set(ALIASES)))}"))
            continue
        command, problem = _check(name, rest, line.strip())
        if problem:
            refused.append(Refusal(line.strip(), problem))
        elif command is not None:
            commands.append(command)
    internal = any(c.name == "internal" for c in commands)
    return Parsed(tuple(c for c in commands if c.name != "internal"), tuple(refused),
                  "\n".join(body).strip(), internal)


def _check(name: str, rest: str, line: str) -> tuple[Command | None, str]:
    if name in NEEDS_ARGUMENT and not rest:
        return None, f"#{name} needs a value"
    first = rest.split()[0].lower() if rest else ""
    table = {"type": TYPES, "priority": PRIORITIES, "status": STATUSES}.get(name)
    if table is not None:
        if first not in table:
            return None, f"#{name} {first!r}: use one of {', '.join(sorted(table))}"
        return Command(name, table[first], line), ""
    if name == "assign":
        return Command(name, first, line), ""
    return Command(name, rest, line), ""


def split_first_word(value: str) -> tuple[str, str]:
    """``"infrastruktur mohon dicek"`` -> ``("infrastruktur", "mohon dicek")``."""
    head, _, tail = value.strip().partition(" ")
    return head, tail.strip()
