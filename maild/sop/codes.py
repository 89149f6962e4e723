"""What maild tells the team about their reply, as codes: each refusal (``Why`` and its
arguments, a ``Phrase``) and each thing done (``Done``). Pure.

Code never builds a sentence for a person: it names a code and its values, and
``maild.sop.phrases`` words it in the reader's language (the confirmation template calls
``say`` and ``done``). The values are raw (a state, an event name, what the sender typed);
labels are applied when the phrase is worded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Why(StrEnum):
    """Why a command, an answer or an action was refused. The comment names the arguments."""

    UNKNOWN_COMMAND = "unknown_command"  # (word typed, closest command word or "")
    NEEDS_VALUE = "needs_value"  # (command name)
    BAD_VALUE = "bad_value"  # (command name, value typed, closest word or "")
    QUOTED = "quoted"  # (): an indented command is a quote, never run
    ROLE_MAY_NOT = "role_may_not"  # (command name, role)
    OUT_OF_SCOPE = "out_of_scope"  # (ticket state): a manager on a ticket not escalated to their group
    NOT_STAFF = "not_staff"  # (name typed, closest staff or "", staff address, ...)
    NO_GROUP = "no_group"  # (group typed, closest group or "", group name, ...)
    NO_COORDINATOR = "no_coordinator"  # ()
    UNKNOWN_CATEGORY = "unknown_category"  # (category typed, closest category or "", category, ...)
    NOT_NOW = "not_now"  # (ticket state, event): the SOP has no such move from this state
    NOT_HERE = "not_here"  # (command name): a command that only marks the reply
    CANNOT_MERGE = "cannot_merge"  # (ticket number, other ticket number)
    OTHER_MAILBOX = "other_mailbox"  # (ticket number, other ticket number, its mailbox): merged within a mailbox only
    UNKNOWN_ANSWER = "unknown_answer"  # (name typed, closest stored answer or "", stored answer, ...)
    ANSWER_FAILED = "answer_failed"  # (stored answer): it failed on this ticket (the log says why)


@dataclass(frozen=True)
class Phrase:
    """A refusal: its code and its values, worded by ``maild.sop.phrases.say``."""

    why: Why
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """One refused line of a reply (the command as written, or a label like "(jawaban)")."""

    line: str
    why: Phrase


class Done(StrEnum):
    """What an action did, as the code it returns (``assigned:budi@...``: code, colon, value)."""

    ANSWERED = "answered"
    ANSWERED_BY_HAND = "answered_by_hand"  # no address: the staff member tells the reporter
    STORED_ANSWER = "stored_answer"  # :name of the stored answer sent (#jawab)
    NO_ANSWER = "no_answer"  # a greeting alone: nothing sent
    NOTED = "noted"
    STATUS = "status"
    WAITING = "waiting"
    TYPE = "type"  # :value
    CATEGORY = "category"  # :value
    PRIORITY = "priority"  # :value
    ASSIGNED = "assigned"  # :address
    ESCALATED = "escalated"  # :group title
    COORDINATOR = "coordinator"
    RECOMMENDED = "recommended"
    GROUP_REPLY = "group_reply"
    RESOLVED = "resolved"
    RESOLVED_BY_HAND = "resolved_by_hand"
    REOPENED = "reopened"
    MERGED = "merged"  # :number


def done(code: Done, value: str = "") -> str:
    """The code an action returns: ``code`` or ``code:value``."""
    return f"{code}:{value}" if value else str(code)
