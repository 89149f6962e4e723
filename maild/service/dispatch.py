"""Which action each staff command runs: the service side of the command registry.

``maild.sop.commands.REGISTRY`` says what a command is called, what it takes and who may use
it; this table says what it does. A test checks that every command but ``#internal`` (which
only marks the reply) has its action here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from maild.service import actions
from maild.service.actions import Act, ActionRefused
from maild.sop.codes import Phrase, Why
from maild.sop.commands import Command, CommandName, split_first_word

Handler = Callable[[Act, Command, str], str]


def _stored_answer(act: Act, command: Command, body: str) -> str:
    """``#jawab NAMA teks``: the stored answer, then the rest of its line and the reply's text."""
    name, rest = split_first_word(command.value)
    return actions.stored_answer(act, name, "\n\n".join(t for t in (rest, body) if t))


ACTIONS: Mapping[CommandName, Handler] = {
    CommandName.STATUS: lambda act, c, body: actions.set_status(act, c.value),
    CommandName.TYPE: lambda act, c, body: actions.classify(act, "type", c.value),
    CommandName.CATEGORY: lambda act, c, body: actions.classify(act, "category", c.value),
    CommandName.PRIORITY: lambda act, c, body: actions.classify(act, "priority", c.value),
    CommandName.ASSIGN: lambda act, c, body: actions.assign(act, c.value),
    CommandName.ESCALATE: lambda act, c, body: actions.escalate(act, *split_first_word(c.value)),
    CommandName.COORDINATOR: lambda act, c, body: actions.to_coordinator(act, c.value),
    CommandName.NOTE: lambda act, c, body: actions.note(act, c.value),
    CommandName.ANSWER_TEMPLATE: _stored_answer,
    # "#selesai" alone closes with the reply's text as the result the reporter reads.
    CommandName.RESOLVE: lambda act, c, body: actions.resolve(act, c.value or body),
    CommandName.REOPEN: lambda act, c, body: actions.reopen(act, c.value),
}


def run_command(act: Act, command: Command, body: str) -> str:
    """Run one parsed command as ``act.actor``; its effects land in the caller's transaction."""
    handler = ACTIONS.get(command.name)
    if handler is None:
        raise ActionRefused(Phrase(Why.NOT_HERE, (command.name,)))
    return handler(act, command, body)
