"""Rule conditions: what a rule's ``when`` tests in one message, and why it matched. Pure.

A ``Condition`` is compiled once from the rule file (``maild.sop.rule_file``) and tested
against the ``Facts`` of each message: the parsed mail and the ``RuleContext``. Its ``test``
returns a short account of why it matched ("subject contains keyword 'akun terkunci'"), or
None, so the verdict can say why a ticket was classified as it was.

Keywords match whole words and phrases without regard to case or diacritics: text and keyword
are both reduced to lowercase words (NFKD, combining marks dropped, anything that is not a letter
or digit is a word break), and a phrase must appear as consecutive words. Regexes see the text as
written, case-insensitively. Each message is normalised once per ``classify`` call, not per rule.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maild.mail.parse import ParsedMail

# Only the first part of a very long body is looked at (a pasted log must not cost seconds).
BODY_LIMIT = 100_000

_WORD = re.compile(r"[^\W_]+")
# Combining marks of the Basic Multilingual Plane, dropped after NFKD ("é" -> "e" + U+0301 -> "e").
_MARKS = re.compile("[%s]" % "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))))


@dataclass(frozen=True)
class RuleContext:
    """What the rules know besides the mail. The caller decides what working hours are."""

    received_at: datetime
    in_working_hours: bool

    def __post_init__(self) -> None:
        if self.received_at.utcoffset() is None:
            raise ValueError("RuleContext.received_at must be timezone-aware")


class Condition:
    """A compiled test. ``label`` describes it; ``test`` returns why it matched, or None."""

    label = ""

    def test(self, facts: Facts) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


# --- normalisation -------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return _WORD.findall(text.casefold())


def normalize(text: str) -> str:
    """Text as keywords see it: lowercase words without diacritics, one space apart."""
    return " ".join(_words(text))


class Facts:
    """One message as the matchers see it; each part is normalised at most once."""

    __slots__ = ("mail", "context", "_norm")

    def __init__(self, mail: ParsedMail, context: RuleContext) -> None:
        self.mail = mail
        self.context = context
        self._norm: dict[str, tuple[str, set[str]]] = {}

    def raw(self, part: str) -> str:
        """The subject, or the body up to BODY_LIMIT, as written."""
        return self.mail.subject if part == "subject" else self.mail.text[:BODY_LIMIT]

    def norm(self, part: str) -> tuple[str, set[str]]:
        """The part as " word word " (for phrases) and as a set of words (a fast first test)."""
        found = self._norm.get(part)
        if found is None:
            words = _words(self.raw(part))
            found = self._norm[part] = (f" {' '.join(words)} ", set(words))
        return found


# --- conditions ----------------------------------------------------------------------------


def _short(items: tuple[str, ...]) -> str:
    shown = ", ".join(repr(i) for i in items[:3])
    return shown + (f", ... ({len(items)} in all)" if len(items) > 3 else "")


class AllOf(Condition):
    """Every part matches (a table with several matchers, or ``all = [...]``)."""

    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts
        self.label = "all of (" + "; ".join(p.label for p in parts) + ")"

    def test(self, facts: Facts) -> str | None:
        whys = []
        for part in self.parts:
            why = part.test(facts)
            if why is None:
                return None
            whys.append(why)
        return " and ".join(whys)


class AnyOf(Condition):
    """At least one part matches (``any = [...]``); the first that does says why."""

    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts
        self.label = "any of (" + "; ".join(p.label for p in parts) + ")"

    def test(self, facts: Facts) -> str | None:
        for part in self.parts:
            why = part.test(facts)
            if why is not None:
                return why
        return None


class Not(Condition):
    """The part does not match."""

    def __init__(self, part: Condition) -> None:
        self.part = part
        self.label = f"not ({part.label})"

    def test(self, facts: Facts) -> str | None:
        return None if self.part.test(facts) is not None else self.label


class Always(Condition):
    """Matches every message: the catch-all (``always = true``)."""

    label = "always"

    def test(self, facts: Facts) -> str | None:
        return "always (catch-all)"


class Globs(Condition):
    """Addresses, domains, attachment names or types against shell-style globs."""

    def __init__(self, kind: str, patterns: tuple[str, ...], get: Callable[[ParsedMail], list[str]]) -> None:
        self.kind, self.patterns, self.get = kind, patterns, get
        self.compiled = tuple((p, re.compile(fnmatch.translate(p))) for p in patterns)
        self.label = f"{kind} matches {_short(patterns)}"

    def test(self, facts: Facts) -> str | None:
        for value in self.get(facts.mail):
            for pattern, regex in self.compiled:
                if regex.match(value):
                    return f"{self.kind} {value!r} matches {pattern!r}"
        return None


class Keywords(Condition):
    """Any keyword or phrase appears as whole words in the subject and/or body (normalised)."""

    def __init__(self, kind: str, parts: tuple[str, ...], keywords: tuple[str, ...]) -> None:
        self.parts = parts
        self.items = tuple((k, f" {normalize(k)} ", normalize(k).split(" ")) for k in keywords)
        self.label = f"{kind} contains keyword {_short(keywords)}"

    def test(self, facts: Facts) -> str | None:
        for part in self.parts:
            padded, words = facts.norm(part)
            for keyword, phrase, split in self.items:
                if split[0] in words and (len(split) == 1 or phrase in padded):
                    return f"{part} contains keyword {keyword!r}"
        return None


class Regex(Condition):
    """A regex finds a match in the subject and/or body as written, ignoring case."""

    def __init__(self, kind: str, parts: tuple[str, ...], pattern: str) -> None:
        self.parts, self.pattern = parts, pattern
        self.regex = re.compile(pattern, re.IGNORECASE)
        self.label = f"{kind} matches regex {pattern!r}"

    def test(self, facts: Facts) -> str | None:
        for part in self.parts:
            found = self.regex.search(facts.raw(part))
            if found:
                return f"{part} matches regex {self.pattern!r} ({found.group(0)[:60]!r})"
        return None


class Header(Condition):
    """A header equals, contains or matches a value, or is present or absent."""

    def __init__(self, name: str, op: str, value: Any) -> None:
        self.name, self.op, self.value = name, op, value
        self.regex = re.compile(value, re.IGNORECASE) if op == "regex" else None
        self.label = f"header {name} {op} {value!r}" if op != "present" else f"header {name} present={value}"

    def test(self, facts: Facts) -> str | None:
        values = facts.mail.header_all(self.name)
        if self.op == "present":
            return self.label if bool(values) == self.value else None
        for value in values:
            if self._one(value):
                return f"header {self.name} {self.op} {self.value!r} ({value.strip()[:60]!r})"
        return None

    def _one(self, value: str) -> bool:
        if self.regex is not None:
            return self.regex.search(value) is not None
        if self.op == "equals":
            return value.strip().casefold() == self.value.casefold()
        return self.value.casefold() in value.casefold()


class WorkingHours(Condition):
    """The message arrived inside (or outside) working hours, as the context says."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.label = "received within working hours" if wanted else "received outside working hours"

    def test(self, facts: Facts) -> str | None:
        ctx = facts.context
        if ctx.in_working_hours != self.wanted:
            return None
        return f"{self.label} ({ctx.received_at:%a %Y-%m-%d %H:%M %z})"
