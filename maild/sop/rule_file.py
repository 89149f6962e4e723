"""Classification rules: an ordered TOML file of [[rule]] tables, applied to one report. Pure.

Each rule has a ``name``, a condition under ``when`` and actions (``type``, ``category``,
``priority``, ``assignee``, ``group``, ``escalate``, ``ack_template``, ``acknowledge``,
``quarantine``, ``stop``). The syntax is documented at the top of templates/config/rules.toml.

Semantics, after osTicket filters and Znuny postmaster filters:
- Rules are looked at in file order. A matching rule fills only the fields that are still
  unset, so for each field the first matching rule that sets it wins; put specific rules first.
- Routing follows the category: when a rule sets a category and an earlier rule had already
  chosen another, its ``group``, ``assignee``, ``escalate`` and ``ack_template`` are not used
  either (a password mail that mentions an NPWP must not go to the verification group).
  ``type`` and ``priority`` stay independent, so rules without a category can set them.
- ``escalate = true`` travels with the rule's ``group``: it applies only when that group is
  the one the verdict keeps.
- ``stop = true`` ends the run after the rule matched: no later rule is looked at.
- ``classify`` adds no defaults of its own. A field no rule sets is None (the booleans are
  escalate False, acknowledge True, quarantine False); the shipped rules end with a catch-all
  "lainnya" rule that supplies the defaults in the file, where the admin can see them.
- Every matching rule is recorded as a ``RuleHit``: why it matched and what it set, so the
  event log and ``maild rules test`` can say why a ticket was classified as it was.

Keywords match whole words and phrases without regard to case or diacritics: text and keyword
are both reduced to lowercase words (NFKD, combining marks dropped, anything that is not a letter
or digit is a word break), and a phrase must appear as consecutive words. Regexes see the text as
written, case-insensitively. Each message is normalised once per ``classify`` call, not per rule.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from maild.base.errors import ConfigError
from maild.mail.parse import ParsedMail

TYPES = ("incident", "problem", "service_request")
PRIORITIES = ("low", "medium", "high", "critical")
_TYPE_ALIASES = {"gangguan": "incident", "permasalahan": "problem", "permintaan_layanan": "service_request"}
_PRIORITY_ALIASES = {"rendah": "low", "sedang": "medium", "tinggi": "high", "kritis": "critical"}
# Only the first part of a very long body is looked at (a pasted log must not cost seconds).
BODY_LIMIT = 100_000

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_GROUP = re.compile(r"[^\n]{1,64}\Z")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\Z")
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
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


@dataclass(frozen=True)
class Actions:
    """What a rule sets when it matches; None leaves the field to later rules."""

    type: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee: str | None = None
    group: str | None = None
    escalate: bool | None = None
    ack_template: str | None = None
    acknowledge: bool | None = None
    quarantine: bool | None = None


_ACTION_FIELDS = tuple(f.name for f in fields(Actions))
# Where a ticket goes belongs to its category: a rule whose category lost to an earlier rule's
# does not route the ticket either.
_ROUTING = ("assignee", "group", "escalate", "ack_template")


class Condition:
    """A compiled test. ``label`` describes it; ``test`` returns why it matched, or None."""

    label = ""

    def test(self, facts: _Facts) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Rule:
    """One compiled [[rule]] table."""

    name: str
    description: str
    when: Condition
    actions: Actions
    stop: bool = False


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file, in order."""

    rules: tuple[Rule, ...]
    source: str = "<rules>"


@dataclass(frozen=True)
class RuleHit:
    """One rule that matched: why, and the fields it set (``applied``, as "field=value")."""

    rule: str
    why: str
    applied: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The classification of one message. None: no rule set that field."""

    type: str | None = None
    category: str | None = None
    priority: str | None = None
    assignee: str | None = None
    group: str | None = None
    escalate: bool = False
    ack_template: str | None = None
    acknowledge: bool = True
    quarantine: bool = False
    hits: tuple[RuleHit, ...] = ()
    stopped_by: str | None = None


# --- normalisation -------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return _WORD.findall(text.casefold())


def normalize(text: str) -> str:
    """Text as keywords see it: lowercase words without diacritics, one space apart."""
    return " ".join(_words(text))


class _Facts:
    """One message as the matchers see it; each part is normalised at most once."""

    __slots__ = ("mail", "context", "_norm")

    def __init__(self, mail: ParsedMail, context: RuleContext) -> None:
        self.mail = mail
        self.context = context
        self._norm: dict[str, tuple[str, set[str]]] = {}

    def raw(self, part: str) -> str:
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


class _All(Condition):
    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts
        self.label = "all of (" + "; ".join(p.label for p in parts) + ")"

    def test(self, facts: _Facts) -> str | None:
        whys = []
        for part in self.parts:
            why = part.test(facts)
            if why is None:
                return None
            whys.append(why)
        return " and ".join(whys)


class _Any(Condition):
    def __init__(self, parts: tuple[Condition, ...]) -> None:
        self.parts = parts
        self.label = "any of (" + "; ".join(p.label for p in parts) + ")"

    def test(self, facts: _Facts) -> str | None:
        for part in self.parts:
            why = part.test(facts)
            if why is not None:
                return why
        return None


class _Not(Condition):
    def __init__(self, part: Condition) -> None:
        self.part = part
        self.label = f"not ({part.label})"

    def test(self, facts: _Facts) -> str | None:
        return None if self.part.test(facts) is not None else self.label


class _Always(Condition):
    label = "always"

    def test(self, facts: _Facts) -> str | None:
        return "always (catch-all)"


class _Globs(Condition):
    """Addresses, domains, attachment names or types against shell-style globs."""

    def __init__(self, kind: str, patterns: tuple[str, ...], get: Callable[[ParsedMail], list[str]]) -> None:
        self.kind, self.patterns, self.get = kind, patterns, get
        self.compiled = tuple((p, re.compile(fnmatch.translate(p))) for p in patterns)
        self.label = f"{kind} matches {_short(patterns)}"

    def test(self, facts: _Facts) -> str | None:
        for value in self.get(facts.mail):
            for pattern, regex in self.compiled:
                if regex.match(value):
                    return f"{self.kind} {value!r} matches {pattern!r}"
        return None


class _Keywords(Condition):
    def __init__(self, kind: str, parts: tuple[str, ...], keywords: tuple[str, ...]) -> None:
        self.parts = parts
        self.items = tuple((k, f" {normalize(k)} ", normalize(k).split(" ")) for k in keywords)
        self.label = f"{kind} contains keyword {_short(keywords)}"

    def test(self, facts: _Facts) -> str | None:
        for part in self.parts:
            padded, words = facts.norm(part)
            for keyword, phrase, split in self.items:
                if split[0] in words and (len(split) == 1 or phrase in padded):
                    return f"{part} contains keyword {keyword!r}"
        return None


class _Regex(Condition):
    def __init__(self, kind: str, parts: tuple[str, ...], pattern: str) -> None:
        self.parts, self.pattern = parts, pattern
        self.regex = re.compile(pattern, re.IGNORECASE)
        self.label = f"{kind} matches regex {pattern!r}"

    def test(self, facts: _Facts) -> str | None:
        for part in self.parts:
            found = self.regex.search(facts.raw(part))
            if found:
                return f"{part} matches regex {self.pattern!r} ({found.group(0)[:60]!r})"
        return None


class _Header(Condition):
    def __init__(self, name: str, op: str, value: Any) -> None:
        self.name, self.op, self.value = name, op, value
        self.regex = re.compile(value, re.IGNORECASE) if op == "regex" else None
        self.label = f"header {name} {op} {value!r}" if op != "present" else f"header {name} present={value}"

    def test(self, facts: _Facts) -> str | None:
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


class _WorkingHours(Condition):
    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.label = "received within working hours" if wanted else "received outside working hours"

    def test(self, facts: _Facts) -> str | None:
        ctx = facts.context
        if ctx.in_working_hours != self.wanted:
            return None
        return f"{self.label} ({ctx.received_at:%a %Y-%m-%d %H:%M %z})"


# --- loading -------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(table: dict[str, Any], known: list[str], where: str = "") -> None:
    for key in table:
        if key not in known:
            prefix = f"{where}: " if where else ""
            raise ConfigError(f"{prefix}unknown key {key!r}{_did_you_mean(key, known)}")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigError(f"{where}: expected a string or a non-empty list of strings, got {value!r}")
    return tuple(items)


def _globs(value: Any, where: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in _strings(value, where))


def _compile_check(pattern: Any, where: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: expected a regex string, got {pattern!r}")
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regex {pattern!r}: {exc}") from None
    return pattern


def _text_matcher(kind: str, parts: tuple[str, ...]) -> Callable[[Any, str], Condition]:
    def build(value: Any, where: str) -> Condition:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {where}.keywords = [...] or {where}.regex = \"...\", got {value!r}")
        _check_keys(value, ["keywords", "regex"], where)
        if len(value) != 1:
            raise ConfigError(f"{where}: needs exactly one of keywords or regex")
        if "regex" in value:
            return _Regex(kind, parts, _compile_check(value["regex"], f"{where}.regex"))
        keywords = _strings(value["keywords"], f"{where}.keywords")
        for keyword in keywords:
            if not normalize(keyword):
                raise ConfigError(f"{where}.keywords: {keyword!r} has no letters or digits")
        return _Keywords(kind, parts, keywords)

    return build


def _header(value: Any, where: str) -> Condition:
    ops = ["equals", "contains", "regex", "present"]
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {{ name = \"X-...\", equals|contains|regex = \"...\" }}")
    _check_keys(value, ["name", *ops], where)
    name, given = value.get("name"), [op for op in ops if op in value]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: needs name = \"Header-Name\"")
    if len(given) != 1:
        raise ConfigError(f"{where}: needs exactly one of equals, contains, regex, present")
    op, arg = given[0], value[given[0]]
    if op == "regex":
        _compile_check(arg, f"{where}.regex")
    elif op == "present" and not isinstance(arg, bool):
        raise ConfigError(f"{where}.present: expected true or false, got {arg!r}")
    elif op != "present" and not isinstance(arg, str):
        raise ConfigError(f"{where}.{op}: expected a string, got {arg!r}")
    return _Header(name.strip(), op, arg.strip() if isinstance(arg, str) and op != "regex" else arg)


def _domain(value: Any, where: str) -> Condition:
    domains = _globs(value, where)
    for d in domains:
        if "@" in d:
            raise ConfigError(f"{where}: {d!r} is an address, not a domain (use sender = ... for addresses)")
    patterns = tuple(p for d in domains for p in (d.lstrip("@"), "*." + d.lstrip("@")))
    return _Globs("sender domain", patterns, lambda m: [m.sender.address.rpartition("@")[2]] if m.sender else [])


def _bool_matcher(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _list_of(kind: type[_All] | type[_Any]) -> Callable[[Any, str], Condition]:
    def build(value: Any, where: str) -> Condition:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: expected a non-empty list of conditions, e.g. [ {{ ... }}, {{ ... }} ]")
        return kind(tuple(_condition(v, f"{where} #{i}") for i, v in enumerate(value, 1)))

    return build


def _always(value: Any, where: str) -> Condition:
    if value is not True:
        raise ConfigError(f"{where}: must be true (a catch-all), got {value!r}")
    return _Always()


_BUILDERS: dict[str, Callable[[Any, str], Condition]] = {
    "all": _list_of(_All),
    "any": _list_of(_Any),
    "not": lambda v, w: _Not(_condition(v, w)),
    "always": _always,
    "sender": lambda v, w: _Globs("sender", _globs(v, w), lambda m: [m.sender.address] if m.sender else []),
    "sender_domain": _domain,
    "recipient": lambda v, w: _Globs("recipient", _globs(v, w), lambda m: [a.address for a in (*m.to, *m.cc)]),
    "subject": _text_matcher("subject", ("subject",)),
    "body": _text_matcher("body", ("body",)),
    "text": _text_matcher("text", ("subject", "body")),
    "header": _header,
    "attachment_name": lambda v, w: _Globs(
        "attachment", _globs(v, w), lambda m: [a.filename.lower() for a in m.attachments]),
    "attachment_type": lambda v, w: _Globs(
        "attachment type", _globs(v, w), lambda m: [a.content_type.lower() for a in m.attachments]),
    "working_hours": lambda v, w: _WorkingHours(_bool_matcher(v, w)),
}


def _condition(raw: Any, where: str = "when") -> Condition:
    """Compile one condition table; several matchers in one table must all match."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of matchers, got {raw!r}")
    if not raw:
        raise ConfigError(f"{where}: empty condition (a catch-all says always = true)")
    parts = []
    for key, value in raw.items():
        if key not in _BUILDERS:
            raise ConfigError(f"{where}: unknown matcher {key!r}{_did_you_mean(key, list(_BUILDERS))}")
        parts.append(_BUILDERS[key](value, f"{where}.{key}"))
    return parts[0] if len(parts) == 1 else _All(tuple(parts))


def _choice(key: str, value: Any, canon: tuple[str, ...], aliases: dict[str, str]) -> str:
    word = value.strip().lower() if isinstance(value, str) else None
    if word in canon:
        return word
    if word in aliases:
        return aliases[word]
    raise ConfigError(f"{key} {value!r} is not one of {', '.join(canon)} (or {', '.join(aliases)})")


# Actions whose value is free text of a given shape: (pattern, what to say when it does not fit).
_TEXT_ACTIONS = {
    "category": (_ID, "must be a short id: a-z, 0-9, _ or -"),
    "assignee": (_ADDRESS, "is not an email address"),
    "group": (_GROUP, "must be a name of 1-64 characters"),
    "ack_template": (_TEMPLATE, "must be a template name: letters, digits, _ or -"),
}


def _actions(raw: dict[str, Any]) -> Actions:
    values: dict[str, Any] = {}
    for key in (k for k in _ACTION_FIELDS if k in raw):
        value = raw[key]
        if key == "type":
            values[key] = _choice(key, value, TYPES, _TYPE_ALIASES)
        elif key == "priority":
            values[key] = _choice(key, value, PRIORITIES, _PRIORITY_ALIASES)
        elif key in _TEXT_ACTIONS:
            pattern, hint = _TEXT_ACTIONS[key]
            if not isinstance(value, str) or not pattern.match(value.strip()):
                raise ConfigError(f"{key} {value!r} {hint}")
            values[key] = value.strip().lower() if key == "assignee" else value.strip()
        else:
            values[key] = _bool_matcher(value, key)
    return Actions(**values)


_RULE_KEYS = ["name", "description", "when", *_ACTION_FIELDS, "stop"]


def _rule(raw: Any, index: int, seen: dict[str, int]) -> Rule:
    ident = f"rule #{index}"
    try:
        if not isinstance(raw, dict):
            raise ConfigError("must be a [[rule]] table")
        name = raw.get("name")
        if isinstance(name, str) and name.strip() and "\n" not in name:
            ident = f"rule {name.strip()!r}"
        for key in raw:
            if key in _BUILDERS:
                raise ConfigError(f"matcher {key!r} belongs under when (write when.{key} = ...)")
        _check_keys(raw, _RULE_KEYS)
        return _rule_body(raw, index, seen)
    except ConfigError as exc:
        raise ConfigError(f"{ident}: {exc}") from None


def _rule_body(raw: dict[str, Any], index: int, seen: dict[str, int]) -> Rule:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "\n" in name:
        raise ConfigError(f"needs name = \"...\" (one line), got {name!r}")
    name = name.strip()
    if name in seen:
        raise ConfigError(f"duplicate name (rule #{seen[name]} has it too)")
    seen[name] = index
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description: expected a string, got {description!r}")
    if "when" not in raw:
        raise ConfigError("has no condition: add when.<matcher> = ... (a catch-all says when.always = true)")
    when = _condition(raw["when"])
    actions = _actions(raw)
    stop = _bool_matcher(raw.get("stop", False), "stop")
    if actions.escalate and not actions.group:
        raise ConfigError("escalate = true needs group = \"...\" (the service group to escalate to)")
    if actions == Actions() and not stop:
        raise ConfigError(f"does nothing: set one of {', '.join(_ACTION_FIELDS)}, or stop = true")
    return Rule(name, description, when, actions, stop)


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Compile a rules file's text. Raises ConfigError with one line: source, rule, reason."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}".replace("\n", " ")) from None
    try:
        for key in data:
            if key != "rule":
                hint = _did_you_mean(key, ["rule"])
                raise ConfigError(f"unknown top-level key {key!r}{hint}; rules are [[rule]] tables")
        raw = data.get("rule", [])
        if not isinstance(raw, list):
            raise ConfigError("write each rule as [[rule]] (an array of tables), not [rule]")
        seen: dict[str, int] = {}
        rules = tuple(_rule(r, i, seen) for i, r in enumerate(raw, 1))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}".replace("\n", " ")) from None
    return RuleSet(rules, source)


def load_rules(path: Path) -> RuleSet:
    """Read and compile a rules file (UTF-8 TOML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: rules file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_rules(text, str(path))


# --- classifying ---------------------------------------------------------------------------


def classify(mail: ParsedMail, rules: RuleSet, context: RuleContext) -> Verdict:
    """Run the rules in order over one message and say what they decided, and why."""
    facts = _Facts(mail, context)
    chosen: dict[str, Any] = {}
    hits: list[RuleHit] = []
    for rule in rules.rules:
        why = rule.when.test(facts)
        if why is None:
            continue
        hits.append(RuleHit(rule.name, why, _apply(rule.actions, chosen)))
        if rule.stop:
            return Verdict(**chosen, hits=tuple(hits), stopped_by=rule.name)
    return Verdict(**chosen, hits=tuple(hits))


def _apply(actions: Actions, chosen: dict[str, Any]) -> tuple[str, ...]:
    """Fill the fields still unset; return what was set, as "field=value"."""
    applied = []
    lost_category = actions.category is not None and chosen.get("category", actions.category) != actions.category
    for name in _ACTION_FIELDS:
        value = getattr(actions, name)
        if value is None or name in chosen or (lost_category and name in _ROUTING):
            continue
        if name == "escalate" and value and chosen.get("group") != actions.group:
            continue  # escalate only to this rule's own group
        chosen[name] = value
        applied.append(f"{name}={_show(value)}")
    return tuple(applied)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value is None else str(value)


def explain(verdict: Verdict) -> str:
    """A multi-line account of a verdict: the fields, then each matched rule and why."""
    lines = [f"{name + ':':<14}{_show(getattr(verdict, name))}" for name in _ACTION_FIELDS]
    if not verdict.hits:
        lines.append("no rule matched")
        return "\n".join(lines)
    lines.append("rules matched, in order:")
    for number, hit in enumerate(verdict.hits, 1):
        lines.append(f"  {number}. {hit.rule}: {hit.why}")
        lines.append(f"     set: {', '.join(hit.applied) or 'nothing (earlier rules decided first)'}")
    if verdict.stopped_by:
        lines.append(f"stopped at rule {verdict.stopped_by!r} (stop = true): later rules were not looked at")
    return "\n".join(lines)
