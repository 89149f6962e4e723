"""Rendering outgoing mail from the Jinja2 templates in ``templates/<language>/``.

Each mail kind has ``NAME.subject.j2`` and ``NAME.txt.j2``, and may have ``NAME.html.j2``;
without one, the HTML alternative is the text part laid out for screens of any width
(``html_mail.text_to_html``: paragraphs, label blocks, cited text, lists) inside
``base.html.j2``, so every mail has both parts and the wording lives in one place. Templates
receive small view dataclasses, never ORM rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from maild.base.errors import ConfigError
from maild.base.resources import resource_dir
from maild.render.html_mail import text_to_html
from maild.sop.commands import CommandName, help_lines, may_use
from maild.sop.phrases import done, event_names, say
from maild.sop.skm import element_names

LANGUAGES = ("id", "en")
KINDS = (
    "ack", "new_ticket", "answer", "assigned", "escalation", "escalated", "coordinator", "recommendation",
    "group_reply", "reporter_reply", "reopened", "closing", "confirm", "unverified", "sla_reminder", "sla_head", "digest", "too_large", "bounce_notice",
    "taken", "closed_notice", "survey_thanks", "monthly_report", "alert", "alert_recovered",
)


_PART = re.compile(r"\bticket\.(report|rules|history|earlier)\b")
_INCLUDE = re.compile(r"""{%-?\s*include\s+["']([^"']+)["']""")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Loads the templates once; ``check()`` proves they all compile."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or resource_dir("templates")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # loaded once per daemon (a reload builds a new one): no stat per mail
        )
        # The help block in staff mails is derived from the command registry, never typed twice;
        # refusals, confirmations and event names are worded in one place (maild.sop.phrases).
        self._env.globals.update(
            command_help=help_lines,
            may_use=lambda name, role: may_use(CommandName(name), role),
            say=say,
            done=done,
            event_names=event_names,
            skm_elements=element_names,
        )
        self._names = set(self._env.list_templates())
        self._parts: dict[tuple[str, str], frozenset[str]] = {}

    def check(self) -> None:
        """Compile every template of every language; a broken one is a ConfigError."""
        for lang in LANGUAGES:
            for kind in KINDS:
                for part in ("subject", "txt"):
                    self._template(lang, kind, part)
            self._env.get_template(f"{lang}/base.html.j2")

    def render(self, kind: str, language: str, view: Any) -> Rendered:
        """Render mail ``kind`` in ``language`` from a view dataclass (or dict)."""
        # A shallow mapping: nested view objects stay objects for the templates to read.
        if is_dataclass(view) and not isinstance(view, type):
            context = {f.name: getattr(view, f.name) for f in fields(view)}
            context.update({name: getattr(view, name) for name, attr in vars(type(view)).items()
                            if isinstance(attr, property)})
        else:
            context = dict(view)
        try:
            subject = " ".join(self._template(language, kind, "subject").render(context).split())
            text = self._template(language, kind, "txt").render(context)
            html_name = f"{language}/{kind}.html.j2"
            if html_name in self._names:
                html = self._env.get_template(html_name).render(context)
            else:
                html = self._env.get_template(f"{language}/base.html.j2").render(
                    subject=subject, body=Markup(text_to_html(text)))
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template {language}/{kind}: {exc}") from None
        return Rendered(subject, text, html)

    def parts_used(self, kind: str, language: str) -> frozenset[str]:
        """Which of a ticket's costly parts (report, rules, history, earlier) mail ``kind`` shows, read
        from its templates and what they include, so the mailer loads exactly those."""
        key = (kind, language)
        if key not in self._parts:
            names = [f"{language}/{kind}.{part}.j2" for part in ("subject", "txt", "html")]
            seen: set[str] = set()
            found: set[str] = set()
            while names:
                name = names.pop()
                if name in seen or name not in self._names:
                    continue
                seen.add(name)
                source = self._env.loader.get_source(self._env, name)[0]  # type: ignore[union-attr]
                found.update(_PART.findall(source))
                names.extend(_INCLUDE.findall(source))
            self._parts[key] = frozenset(found)
        return self._parts[key]

    def _template(self, language: str, kind: str, part: str) -> jinja2.Template:
        name = f"{language}/{kind}.{part}.j2"
        try:
            return self._env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"template {name}, line {exc.lineno}: {exc.message}") from None
        except jinja2.TemplateNotFound:
            raise ConfigError(f"template {name}: not found in {self.directory}") from None


_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
           "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
_ZONE_NAMES = {"Asia/Makassar": "WITA", "Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Jayapura": "WIT"}


def local_time(moment: datetime, timezone: str, language: str) -> str:
    """``28 November 2026 15:04 WITA``: a time as the reader's wall clock shows it."""
    local = moment.astimezone(ZoneInfo(timezone))
    zone = _ZONE_NAMES.get(timezone) or local.strftime("%Z")
    month = _MONTHS.get(language, _MONTHS["en"])[local.month - 1]
    return f"{local.day} {month} {local.year} {local:%H:%M} {zone}"


def human_size(size: int, language: str) -> str:
    """``120 KB``, ``1,5 MB`` (``1.5 MB`` in English): a file's size as people read it (KB = 1024 bytes)."""
    if size < 1024:
        return f"{size} B"
    for unit, scale in (("KB", 1024), ("MB", 1024 ** 2), ("GB", 1024 ** 3)):
        value = size / scale
        if value < 1024 or unit == "GB":
            number = f"{value:.0f}" if value >= 10 else f"{value:.1f}"
            return f"{number.replace('.', ',') if language == 'id' else number} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
