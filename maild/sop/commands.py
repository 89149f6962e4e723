"""The staff commands: one registry, and the parser that reads them from a reply. Pure.

A command is a line that starts with ``#`` and a command word, in Indonesian or English;
everything else is the answer to the reporter. Words are matched without regard to case, so a
phone's automatic capital does not matter.

The ``#`` must be in column 0. An indented ``#selesai`` is what a quote looks like (our own
mails indent what they cite, clients indent quoted text), so it never runs: it is refused with
the reason ``QUOTED_REASON`` and left out of the answer. The caller hands in only what the
sender wrote in this message (``quotes.Reply.own``), never the quoted or forwarded part. The
help block of our mails shows each usage after a bullet (``  • #status proses``), so even a
client that strips the indentation or the ``> `` does not make it a command.

``REGISTRY`` is the only list of commands. The mail parser, the CLI's choices, the help block
in staff mails (``help_lines``) and the README's table (``markdown_table``, checked by a test)
are all derived from it; the service layer maps each ``CommandName`` to its action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from maild.base.suggest import closest
from maild.sop.codes import Phrase, Why
from maild.sop.vocabulary import PRIORITY_WORDS, STATUS_WORDS, TYPE_WORDS, Role


class CommandName(StrEnum):
    STATUS = "status"
    TYPE = "type"
    CATEGORY = "category"
    PRIORITY = "priority"
    ASSIGN = "assign"
    ESCALATE = "escalate"
    COORDINATOR = "coordinator"
    NOTE = "note"
    INTERNAL = "internal"
    ANSWER_TEMPLATE = "answer"
    RESOLVE = "resolve"
    REOPEN = "reopen"


_TEAM = frozenset({Role.STAFF, Role.COORDINATOR})
_EVERYONE_IN_TEAM = frozenset({Role.STAFF, Role.COORDINATOR, Role.MANAGER})


@dataclass(frozen=True)
class CommandSpec:
    """One command: its words in each language, its argument, who may use it, and its help."""

    name: CommandName
    words_id: tuple[str, ...]  # the first is what the help shows
    words_en: tuple[str, ...]
    argument_id: str  # how the help shows the argument ("" for none)
    argument_en: str
    help_id: str
    help_en: str
    step: int  # the SOP step it records
    roles: frozenset[Role] = _TEAM
    values: Mapping[str, str] | None = None  # a fixed set of words and what each means
    needs_argument: bool = False
    # The words of ``values`` shown in each language when a value is refused.
    choices_id: tuple[str, ...] = ()
    choices_en: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        return (*self.words_id, *self.words_en)

    def usage(self, language: str) -> str:
        word, argument = ((self.words_id[0], self.argument_id) if language == "id"
                          else ((self.words_en or self.words_id)[0], self.argument_en))
        return f"#{word} {argument}".rstrip()

    def help(self, language: str) -> str:
        return self.help_id if language == "id" else self.help_en

    def choices(self, language: str) -> tuple[str, ...]:
        return self.choices_id if language == "id" else self.choices_en


REGISTRY: tuple[CommandSpec, ...] = (
    CommandSpec(CommandName.STATUS, ("status",), (), "proses", "progress",
                "status: proses (sedang ditangani) | tunggu (menunggu pelapor)",
                "status: progress (being worked on) | waiting (for the reporter)",
                5, values=STATUS_WORDS, needs_argument=True, choices_id=("proses", "tunggu"),
                choices_en=("progress", "waiting")),
    CommandSpec(CommandName.TYPE, ("jenis", "tipe"), ("type",), "gangguan", "incident",
                "jenis: gangguan | permasalahan | permintaan", "type: incident | problem | request",
                2, values=TYPE_WORDS, needs_argument=True, choices_id=("gangguan", "permasalahan", "permintaan"),
                choices_en=("incident", "problem", "request")),
    CommandSpec(CommandName.CATEGORY, ("kategori",), ("category",), "akun", "akun",
                "kategori laporan", "category of the report", 2, needs_argument=True),
    CommandSpec(CommandName.PRIORITY, ("prioritas",), ("priority",), "tinggi", "high",
                "prioritas: rendah | sedang | tinggi | kritis", "priority: low | medium | high | critical",
                2, values=PRIORITY_WORDS, needs_argument=True, choices_id=("rendah", "sedang", "tinggi", "kritis"),
                choices_en=("low", "medium", "high", "critical")),
    CommandSpec(CommandName.ASSIGN, ("tugaskan",), ("assign",), "nama|saya", "name|me",
                "tugaskan ke petugas", "assign to a staff member", 2, needs_argument=True),
    CommandSpec(CommandName.ESCALATE, ("eskalasi",), ("escalate",), "GRUP catatan", "GROUP note",
                "teruskan ke pengelola layanan lain", "pass to another service group", 4, needs_argument=True),
    CommandSpec(CommandName.COORDINATOR, ("koordinator",), ("coordinator",), "catatan", "note",
                "laporkan ke koordinator helpdesk", "report to the helpdesk coordinator", 6),
    CommandSpec(CommandName.NOTE, ("catatan",), ("note",), "teks", "text",
                "catatan internal (tidak dikirim ke pelapor)", "internal note (never sent to the reporter)",
                5, roles=_EVERYONE_IN_TEAM),
    CommandSpec(CommandName.INTERNAL, ("internal", "intern"), (), "", "",
                "seluruh balasan ini internal", "this whole reply is internal", 5),
    CommandSpec(CommandName.ANSWER_TEMPLATE, ("jawab",), ("answer",), "NAMA", "NAME",
                "kirim jawaban tersimpan ke pelapor, diikuti teks Anda",
                "send a stored answer to the reporter, followed by your text", 5, needs_argument=True),
    CommandSpec(CommandName.RESOLVE, ("selesai", "tutup"), ("resolve", "close"), "hasil", "result",
                "kirim hasil ke pelapor dan tutup tiket", "send the result to the reporter and close",
                8, roles=_EVERYONE_IN_TEAM),
    CommandSpec(CommandName.REOPEN, ("buka",), ("reopen",), "", "",
                "buka kembali tiket yang sudah selesai", "reopen a closed ticket", 5),
)

BY_NAME: Mapping[CommandName, CommandSpec] = {spec.name: spec for spec in REGISTRY}
ALIASES: Mapping[str, CommandName] = {word: spec.name for spec in REGISTRY for word in spec.words()}

_LINE = re.compile(r"^#([A-Za-z_]+)\b[ \t:]*(.*)$")
# Characters some clients put at the start of a body (a BOM, zero-width spaces): not indentation
# on their own, but part of it after a space.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_INDENTED = re.compile(rf"^\s[\s{_INVISIBLE}]*#([A-Za-z_]+)\b")
QUOTED_LABEL = "(kutipan)"
QUOTED_REASON = Phrase(Why.QUOTED)


@dataclass(frozen=True)
class Command:
    """One command: its canonical name, its value (normalised where it has a fixed set), the line."""

    name: CommandName
    value: str
    line: str


@dataclass(frozen=True)
class Refusal:
    line: str
    reason: Phrase


@dataclass(frozen=True)
class Parsed:
    commands: tuple[Command, ...]
    refused: tuple[Refusal, ...]
    body: str
    internal: bool


def parse_commands(text: str) -> Parsed:
    """Split a reply's own text into commands (``#word`` in column 0) and the answer for the
    reporter; an indented command word is refused as quoted (see the module docstring)."""
    commands: list[Command] = []
    refused: list[Refusal] = []
    body: list[str] = []
    for line in text.splitlines():
        bare = line.lstrip(_INVISIBLE)
        match = _LINE.match(bare)
        if not match:
            quoted = _INDENTED.match(bare)
            if quoted and quoted.group(1).lower() in ALIASES:
                # Indented: a quote of some mail, never the sender's own command.
                refused.append(Refusal(f"{QUOTED_LABEL} {bare.strip().strip(_INVISIBLE)}", QUOTED_REASON))
            else:
                body.append(line)
            continue
        word, rest = match.group(1).lower(), match.group(2).strip()
        name = ALIASES.get(word)
        if name is None:
            refused.append(Refusal(bare.strip(), Phrase(Why.UNKNOWN_COMMAND, (word, closest(word, ALIASES)))))
            continue
        command, problem = _check(BY_NAME[name], rest, bare.strip())
        if problem:
            refused.append(Refusal(bare.strip(), problem))
        elif command is not None:
            commands.append(command)
    internal = any(c.name == CommandName.INTERNAL for c in commands)
    return Parsed(tuple(c for c in commands if c.name != CommandName.INTERNAL), tuple(refused),
                  "\n".join(body).strip(), internal)


def _check(spec: CommandSpec, rest: str, line: str) -> tuple[Command | None, Phrase | None]:
    if spec.needs_argument and not rest:
        return None, Phrase(Why.NEEDS_VALUE, (spec.name,))
    first = rest.split()[0].lower() if rest else ""
    if spec.values is not None:
        if first not in spec.values:
            return None, Phrase(Why.BAD_VALUE, (spec.name, first, closest(first, spec.values)))
        return Command(spec.name, str(spec.values[first]), line), None
    if spec.name in (CommandName.ASSIGN, CommandName.CATEGORY):
        return Command(spec.name, first, line), None
    return Command(spec.name, rest, line), None


class CommandRefused(ValueError):
    """A command given outside a mail whose argument is wrong; ``why`` says how."""

    def __init__(self, why: Phrase) -> None:
        super().__init__(why.why)
        self.why = why


def command_from(name: CommandName, argument: str) -> Command:
    """One command given outside a mail (the CLI), checked exactly as a ``#`` line is;
    CommandRefused (a ValueError) with the reason when its argument is wrong."""
    spec = BY_NAME[name]
    line = f"#{spec.name} {argument}".strip()
    command, problem = _check(spec, argument.strip(), line)
    if problem is not None or command is None:
        raise CommandRefused(problem or Phrase(Why.NOT_HERE, (spec.name,)))
    return command


def may_use(name: CommandName, role: Role | str) -> bool:
    """Whether someone in ``role`` may give this command."""
    return role in BY_NAME[name].roles


def help_lines(language: str, role: Role | str = Role.STAFF) -> tuple[tuple[str, str], ...]:
    """(usage, what it does) for each command ``role`` may use, for the help block in mails.

    The templates print each after a bullet (``  • #status proses``): quoted back with its
    indentation or ``> `` stripped, the line still does not start with ``#``."""
    return tuple((spec.usage(language), spec.help(language)) for spec in REGISTRY if role in spec.roles)


def markdown_table() -> str:
    """The README's table of commands, generated from the registry."""
    rows = ["| Indonesian | English | what it does | SOP step | who |", "|---|---|---|---|---|"]
    for spec in REGISTRY:
        # A pipe splits a table cell even inside a code span (GFM), so it is escaped there too.
        english = spec.usage("en").replace("|", "\\|")
        indonesian = spec.usage("id").replace("|", "\\|")
        who = ", ".join(sorted(str(r) for r in spec.roles))
        what = spec.help_en.replace("|", "\\|")
        rows.append(f"| `{indonesian}` | `{english}` | {what} | {spec.step} | {who} |")
    return "\n".join(rows)


def split_first_word(value: str) -> tuple[str, str]:
    """``"infrastruktur mohon dicek"`` -> ``("infrastruktur", "mohon dicek")``."""
    head, _, tail = value.strip().partition(" ")
    return head, tail.strip()
