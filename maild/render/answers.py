"""Stored answers: the texts staff send with ``#jawab NAMA`` (``#answer NAME``).

Each answer is one file ``NAME.txt.j2`` in the folder ``[answers] folder`` names (default:
the Indonesian or English answers shipped with maild, ``templates/answers/<language>/``). The
admin writes them, so they are rendered in Jinja2's sandbox with strict variables: a template
sees only the reporter's name, the ticket's number, subject and token, and the helpdesk's name
and address (``AnswerValues``).

The folder is read once, when the catalogue is built (at start, on a reload, by each CLI
command), and every answer is compiled and rendered with sample values then: a broken one is
a ConfigError that ``maild check-config`` reports, never a failure in the middle of a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from maild.base.errors import ConfigError, MaildError

SUFFIX = ".txt.j2"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")


@dataclass(frozen=True)
class AnswerTicket:
    """The ticket as an answer sees it."""

    number: str
    subject: str
    token: str  # "[LPSE #26-0001]"


@dataclass(frozen=True)
class AnswerValues:
    """Everything an answer template may use."""

    reporter_name: str
    ticket: AnswerTicket
    helpdesk_name: str
    helpdesk_address: str


def sample_values(helpdesk_name: str, helpdesk_address: str, tag: str) -> AnswerValues:
    """Values like a real ticket's, to check the answers and to show them (``maild answers show``)."""
    return AnswerValues("Budi Santoso", AnswerTicket("26-0001", "Tidak bisa login ke SPSE", f"[{tag} #26-0001]"),
                        helpdesk_name, helpdesk_address)


class AnswerFailed(MaildError):
    """An answer that compiled and rendered with the sample values failed on a real ticket."""


class Answers:
    """The stored answers of one folder, compiled; ``ConfigError`` when one is broken."""

    def __init__(self, folder: Path, sample: AnswerValues) -> None:
        self.folder = folder
        if not folder.is_dir():
            raise ConfigError(f"answers.folder: {folder} is not a folder")
        self._env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text mail; the HTML part escapes it (render.html_mail)
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates: dict[str, jinja2.Template] = {}
        self._sources: dict[str, str] = {}
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.name.endswith(SUFFIX) or not path.is_file():
                continue  # editor backups, notes: not answers
            name = path.name[: -len(SUFFIX)]
            where = f"answers.folder: {path}"
            if not _NAME.match(name):
                raise ConfigError(f"{where}: the name {name!r} must be a short id: a-z, 0-9, _ or - "
                                  "(it is what staff type after #jawab)")
            try:
                self._sources[name] = path.read_text(encoding="utf-8")
                self._templates[name] = self._env.get_template(path.name)
            except UnicodeDecodeError:
                raise ConfigError(f"{where}: not UTF-8 text") from None
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"{where} line {exc.lineno}: {exc.message}") from None
            try:
                text = self._templates[name].render(_context(sample))
            except Exception as exc:  # noqa: BLE001 - admin-written: any failure is a config error
                raise ConfigError(f"{where}: {_reason(exc)} (the variables: reporter_name, ticket.number, "
                                  "ticket.subject, ticket.token, helpdesk_name, helpdesk_address)") from None
            if not text.strip():
                raise ConfigError(f"{where}: the answer is empty")

    def names(self) -> tuple[str, ...]:
        """The answers' names, sorted."""
        return tuple(self._templates)

    def source(self, name: str) -> str:
        """The template as the admin wrote it."""
        return self._sources[name]

    def first_line(self, name: str) -> str:
        """The first line with text of the template (what ``maild answers list`` shows)."""
        return next((line.strip() for line in self._sources[name].splitlines() if line.strip()), "")

    def render(self, name: str, values: AnswerValues) -> str:
        """Answer ``name`` for one ticket; AnswerFailed if it fails on these values."""
        try:
            return self._templates[name].render(_context(values)).strip()
        except Exception as exc:  # noqa: BLE001 - never let an admin's template break a message
            raise AnswerFailed(f"answer {name!r}: {_reason(exc)}") from None


def _context(values: AnswerValues) -> dict[str, object]:
    return {"reporter_name": values.reporter_name, "ticket": values.ticket,
            "helpdesk_name": values.helpdesk_name, "helpdesk_address": values.helpdesk_address}


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
