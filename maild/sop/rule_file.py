"""The rule file: an ordered TOML file of [[rule]] tables, read and checked into rule values. Pure.

Each rule has a ``name``, a condition under ``when`` (compiled into ``maild.sop.rule_match``
conditions) and actions (``type``, ``category``, ``priority``, ``assignee``, ``group``,
``escalate``, ``ack_template``, ``acknowledge``, ``quarantine``, ``stop``). The syntax is
documented at the top of templates/config/rules.toml; what the rules decide together is
``maild.sop.rules``. ``type`` and ``priority`` take the words of ``maild.sop.vocabulary``
(English or Indonesian). A file that cannot be used is one ConfigError line: the file, the
rule and the reason, with a "did you mean" for a misspelt key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from maild.base.errors import ConfigError
from maild.base.suggest import closest
from maild.sop.rule_match import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    Globs,
    Header,
    Keywords,
    Not,
    Regex,
    WorkingHours,
    normalize,
)
from maild.sop.vocabulary import PRIORITY_WORDS, TYPE_WORDS, Priority, TicketType, label

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_GROUP = re.compile(r"[^\n]{1,64}\Z")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\Z")
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


@dataclass(frozen=True)
class Actions:
    """What a rule sets when it matches; None leaves the field to later rules."""

    type: TicketType | None = None
    category: str | None = None
    priority: Priority | None = None
    assignee: str | None = None
    group: str | None = None
    escalate: bool | None = None
    ack_template: str | None = None
    acknowledge: bool | None = None
    quarantine: bool | None = None


ACTION_FIELDS = tuple(f.name for f in fields(Actions))


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


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


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
            return Regex(kind, parts, _compile_check(value["regex"], f"{where}.regex"))
        keywords = _strings(value["keywords"], f"{where}.keywords")
        for keyword in keywords:
            if not normalize(keyword):
                raise ConfigError(f"{where}.keywords: {keyword!r} has no letters or digits")
        return Keywords(kind, parts, keywords)

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
    return Header(name.strip(), op, arg.strip() if isinstance(arg, str) and op != "regex" else arg)


def _domain(value: Any, where: str) -> Condition:
    domains = _globs(value, where)
    for d in domains:
        if "@" in d:
            raise ConfigError(f"{where}: {d!r} is an address, not a domain (use sender = ... for addresses)")
    patterns = tuple(p for d in domains for p in (d.lstrip("@"), "*." + d.lstrip("@")))
    return Globs("sender domain", patterns, lambda m: [m.sender.address.rpartition("@")[2]] if m.sender else [])


def _bool_matcher(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _list_of(kind: type[AllOf] | type[AnyOf]) -> Callable[[Any, str], Condition]:
    def build(value: Any, where: str) -> Condition:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: expected a non-empty list of conditions, e.g. [ {{ ... }}, {{ ... }} ]")
        return kind(tuple(_condition(v, f"{where} #{i}") for i, v in enumerate(value, 1)))

    return build


def _always(value: Any, where: str) -> Condition:
    if value is not True:
        raise ConfigError(f"{where}: must be true (a catch-all), got {value!r}")
    return Always()


_BUILDERS: dict[str, Callable[[Any, str], Condition]] = {
    "all": _list_of(AllOf),
    "any": _list_of(AnyOf),
    "not": lambda v, w: Not(_condition(v, w)),
    "always": _always,
    "sender": lambda v, w: Globs("sender", _globs(v, w), lambda m: [m.sender.address] if m.sender else []),
    "sender_domain": _domain,
    "recipient": lambda v, w: Globs("recipient", _globs(v, w), lambda m: [a.address for a in (*m.to, *m.cc)]),
    "subject": _text_matcher("subject", ("subject",)),
    "body": _text_matcher("body", ("body",)),
    "text": _text_matcher("text", ("subject", "body")),
    "header": _header,
    "attachment_name": lambda v, w: Globs(
        "attachment", _globs(v, w), lambda m: [a.filename.lower() for a in m.attachments]),
    "attachment_type": lambda v, w: Globs(
        "attachment type", _globs(v, w), lambda m: [a.content_type.lower() for a in m.attachments]),
    "working_hours": lambda v, w: WorkingHours(_bool_matcher(v, w)),
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
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


_Word = TypeVar("_Word", bound=StrEnum)


def _choice(key: str, value: Any, kind: type[_Word], words: Mapping[str, _Word]) -> _Word:
    """The member of ``kind`` that ``value`` names, in either language (case-insensitive)."""
    word = value.strip().lower() if isinstance(value, str) else None
    if word is not None and word in words:
        return words[word]
    canon = ", ".join(kind)
    # The hint names each value by its Indonesian label made into one word (the words admins
    # most often mean); the tables accept a few synonyms besides.
    indonesian = ", ".join(label(m, "id").lower().replace(" ", "_") for m in kind)
    raise ConfigError(f"{key} {value!r} is not one of {canon} (or {indonesian})")


# Actions whose value is free text of a given shape: (pattern, what to say when it does not fit).
_TEXT_ACTIONS = {
    "category": (_ID, "must be a short id: a-z, 0-9, _ or -"),
    "assignee": (_ADDRESS, "is not an email address"),
    "group": (_GROUP, "must be a name of 1-64 characters"),
    "ack_template": (_TEMPLATE, "must be a template name: letters, digits, _ or -"),
}


def _actions(raw: dict[str, Any]) -> Actions:
    values: dict[str, Any] = {}
    for key in (k for k in ACTION_FIELDS if k in raw):
        value = raw[key]
        if key == "type":
            values[key] = _choice(key, value, TicketType, TYPE_WORDS)
        elif key == "priority":
            values[key] = _choice(key, value, Priority, PRIORITY_WORDS)
        elif key in _TEXT_ACTIONS:
            pattern, hint = _TEXT_ACTIONS[key]
            if not isinstance(value, str) or not pattern.match(value.strip()):
                raise ConfigError(f"{key} {value!r} {hint}")
            values[key] = value.strip().lower() if key == "assignee" else value.strip()
        else:
            values[key] = _bool_matcher(value, key)
    return Actions(**values)


_RULE_KEYS = ["name", "description", "when", *ACTION_FIELDS, "stop"]


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
        raise ConfigError(f"does nothing: set one of {', '.join(ACTION_FIELDS)}, or stop = true")
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


def assigned_categories(ruleset: RuleSet) -> tuple[str, ...]:
    """The categories the rules assign, in file order, each once."""
    found = (r.actions.category for r in ruleset.rules if r.actions.category)
    return tuple(dict.fromkeys(found))


def check_categories(ruleset: RuleSet, categories: tuple[str, ...]) -> None:
    """ConfigError naming the first rule whose category is not one of ``categories``."""
    for rule in ruleset.rules:
        category = rule.actions.category
        if category and category not in categories:
            raise ConfigError(f"{ruleset.source}: rule {rule.name!r}: category {category!r} is not in "
                              f"rules.categories{_did_you_mean(category, list(categories))}")


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
