"""Classification: the rules of a rule file applied in order to one report, and why. Pure.

``classify`` runs a ``RuleSet`` (read from the TOML rule file by ``maild.sop.rule_file``,
its conditions tested by ``maild.sop.rule_match``) over one message and returns a
``Verdict``: the type, category, priority and routing the rules chose, with each rule that
matched and why. The file syntax is documented at the top of templates/config/rules.toml.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maild.mail.parse import ParsedMail
from maild.sop.rule_file import ACTION_FIELDS, Actions, RuleSet
from maild.sop.phrases import say_reason
from maild.sop.rule_match import Facts, Reason, RuleContext
from maild.sop.vocabulary import Priority, TicketType

# Where a ticket goes belongs to its category: a rule whose category lost to an earlier rule's
# does not route the ticket either.
_ROUTING = ("assignee", "group", "escalate", "ack_template")


@dataclass(frozen=True)
class RuleHit:
    """One rule that matched: why, and the fields it set (``applied``, as "field=value")."""

    rule: str
    why: Reason
    applied: tuple[str, ...] = ()

    def worded(self, language: str) -> str:
        """``rule-name: why it matched``, in ``language``."""
        return f"{self.rule}: {say_reason(self.why, language)}"


@dataclass(frozen=True)
class Verdict:
    """The classification of one message. None: no rule set that field."""

    type: TicketType | None = None
    category: str | None = None
    priority: Priority | None = None
    assignee: str | None = None
    group: str | None = None
    escalate: bool = False
    ack_template: str | None = None
    acknowledge: bool = True
    quarantine: bool = False
    hits: tuple[RuleHit, ...] = ()
    stopped_by: str | None = None


def classify(mail: ParsedMail, rules: RuleSet, context: RuleContext) -> Verdict:
    """Run the rules in order over one message and say what they decided, and why."""
    facts = Facts(mail, context)
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
    for name in ACTION_FIELDS:
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
    lines = [f"{name + ':':<14}{_show(getattr(verdict, name))}" for name in ACTION_FIELDS]
    if not verdict.hits:
        lines.append("no rule matched")
        return "\n".join(lines)
    lines.append("rules matched, in order:")
    for number, hit in enumerate(verdict.hits, 1):
        lines.append(f"  {number}. {hit.worded('en')}")
        lines.append(f"     set: {', '.join(hit.applied) or 'nothing (earlier rules decided first)'}")
    if verdict.stopped_by:
        lines.append(f"stopped at rule {verdict.stopped_by!r} (stop = true): later rules were not looked at")
    return "\n".join(lines)
