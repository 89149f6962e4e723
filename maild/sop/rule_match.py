"""Rule conditions: what a rule's ``when`` tests in one message, and why it matched. Pure.

A ``Condition`` is compiled once from the rule file (``maild.sop.rule_file``) and tested
against the ``Facts`` of each message: the parsed mail and the ``RuleContext``. Its ``test``
returns a ``Reason`` (what matched: the match kind and its values, e.g. the part "subject"
and the keyword 'akun terkunci'), or None, so the verdict can say why a ticket was classified
as it was; ``maild.sop.phrases.say_reason`` words a reason in the reader's language.

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
from enum import StrEnum
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


class Match(StrEnum):
    """What a condition tests, or what made it match (the kinds of ``Reason``)."""

    ALWAYS = "always"  # no args
    KEYWORD = "keyword"  # (part, keyword, ...): one keyword when it matched, all when described
    REGEX = "regex"  # (part, pattern, what it found or "")
    GLOB = "glob"  # (kind, the value that matched or "", pattern, ...)
    HEADER = "header"  # (name, op, value, the header's value or "")
    HEADER_PRESENT = "header_present"  # (name, "true" | "false")
    WORKING_HOURS = "working_hours"  # ("true" inside | "false" outside, received at (ISO) or "")
    ALL = "all"  # parts: each matched
    ALL_OF = "all_of"  # parts: each must match (a description)
    ANY_OF = "any_of"  # parts: one must match (a description)
    NOT = "not"  # parts: the one that must not match


@dataclass(frozen=True)
class Reason:
    """Why a condition matched (or what it tests): words for no language in particular."""

    match: Match
    args: tuple[str, ...] = ()
    parts: tuple[Reason, ...] = ()


class Condition:
    """A compiled test. ``describe`` says what it tests; ``test`` why it matched, or None."""

    def describe(self) -> Reason:  # pragma: no cover - abstract
        raise NotImplementedError

    def test(self, facts: Facts) -> Reason | None:  # pragma: no cover - abstract
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


class AllOf(Condition):
    """Every part matches (a table with several matchers, or ``all = [...]``)."""

    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts

    def describe(self) -> Reason:
        return Reason(Match.ALL_OF, parts=tuple(p.describe() for p in self.parts))

    def test(self, facts: Facts) -> Reason | None:
        whys = []
        for part in self.parts:
            why = part.test(facts)
            if why is None:
                return None
            whys.append(why)
        return Reason(Match.ALL, parts=tuple(whys))


class AnyOf(Condition):
    """At least one part matches (``any = [...]``); the first that does says why."""

    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts

    def describe(self) -> Reason:
        return Reason(Match.ANY_OF, parts=tuple(p.describe() for p in self.parts))

    def test(self, facts: Facts) -> Reason | None:
        for part in self.parts:
            why = part.test(facts)
            if why is not None:
                return why
        return None


class Not(Condition):
    """The part does not match."""

    def __init__(self, part: Condition) -> None:
        self.part = part

    def describe(self) -> Reason:
        return Reason(Match.NOT, parts=(self.part.describe(),))

    def test(self, facts: Facts) -> Reason | None:
        return None if self.part.test(facts) is not None else self.describe()


class Always(Condition):
    """Matches every message: the catch-all (``always = true``)."""

    def describe(self) -> Reason:
        return Reason(Match.ALWAYS)

    def test(self, facts: Facts) -> Reason | None:
        return Reason(Match.ALWAYS)


class Globs(Condition):
    """Addresses, domains, attachment names or types against shell-style globs."""

    def __init__(self, kind: str, patterns: tuple[str, ...], get: Callable[[ParsedMail], list[str]]) -> None:
        self.kind, self.patterns, self.get = kind, patterns, get
        self.compiled = tuple((p, re.compile(fnmatch.translate(p))) for p in patterns)

    def describe(self) -> Reason:
        return Reason(Match.GLOB, (self.kind, "", *self.patterns))

    def test(self, facts: Facts) -> Reason | None:
        for value in self.get(facts.mail):
            for pattern, regex in self.compiled:
                if regex.match(value):
                    return Reason(Match.GLOB, (self.kind, value, pattern))
        return None


class Keywords(Condition):
    """Any keyword or phrase appears as whole words in the subject and/or body (normalised)."""

    def __init__(self, kind: str, parts: tuple[str, ...], keywords: tuple[str, ...]) -> None:
        self.kind, self.parts, self.keywords = kind, parts, keywords
        self.items = tuple((k, f" {normalize(k)} ", normalize(k).split(" ")) for k in keywords)

    def describe(self) -> Reason:
        return Reason(Match.KEYWORD, (self.kind, *self.keywords))

    def test(self, facts: Facts) -> Reason | None:
        for part in self.parts:
            padded, words = facts.norm(part)
            for keyword, phrase, split in self.items:
                if split[0] in words and (len(split) == 1 or phrase in padded):
                    return Reason(Match.KEYWORD, (part, keyword))
        return None


class Regex(Condition):
    """A regex finds a match in the subject and/or body as written, ignoring case."""

    def __init__(self, kind: str, parts: tuple[str, ...], pattern: str) -> None:
        self.kind, self.parts, self.pattern = kind, parts, pattern
        self.regex = re.compile(pattern, re.IGNORECASE)

    def describe(self) -> Reason:
        return Reason(Match.REGEX, (self.kind, self.pattern, ""))

    def test(self, facts: Facts) -> Reason | None:
        for part in self.parts:
            found = self.regex.search(facts.raw(part))
            if found:
                return Reason(Match.REGEX, (part, self.pattern, found.group(0)[:60]))
        return None


class Header(Condition):
    """A header equals, contains or matches a value, or is present or absent."""

    def __init__(self, name: str, op: str, value: Any) -> None:
        self.name, self.op, self.value = name, op, value
        self.regex = re.compile(value, re.IGNORECASE) if op == "regex" else None

    def describe(self) -> Reason:
        if self.op == "present":
            return Reason(Match.HEADER_PRESENT, (self.name, "true" if self.value else "false"))
        return Reason(Match.HEADER, (self.name, self.op, self.value, ""))

    def test(self, facts: Facts) -> Reason | None:
        values = facts.mail.header_all(self.name)
        if self.op == "present":
            return self.describe() if bool(values) == self.value else None
        for value in values:
            if self._one(value):
                return Reason(Match.HEADER, (self.name, self.op, self.value, value.strip()[:60]))
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

    def describe(self) -> Reason:
        return Reason(Match.WORKING_HOURS, ("true" if self.wanted else "false", ""))

    def test(self, facts: Facts) -> Reason | None:
        ctx = facts.context
        if ctx.in_working_hours != self.wanted:
            return None
        return Reason(Match.WORKING_HOURS, ("true" if self.wanted else "false", ctx.received_at.isoformat()))
