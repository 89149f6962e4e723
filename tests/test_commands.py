"""The command registry is the one list of staff commands: the parser, the dispatch table, the
help block in staff mails and the README's table all come from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maild.render.renderer import Renderer
from maild.service.dispatch import ACTIONS
from maild.sop.commands import ALIASES, REGISTRY, CommandName, help_lines, markdown_table, may_use, parse_commands
from maild.sop.vocabulary import Role

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_table_is_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- commands:[^>]*-->\n(.*?)\n<!-- /commands -->", text, re.S)
    assert found, "README has no generated command table"
    assert found.group(1) == markdown_table()


def test_every_command_but_internal_has_an_action() -> None:
    assert set(ACTIONS) == set(CommandName) - {CommandName.INTERNAL}


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: str(s.name))
def test_every_word_of_every_command_parses_to_it(spec) -> None:  # type: ignore[no-untyped-def]
    argument = next(iter(spec.values)) if spec.values else "x"
    for word in spec.words():
        parsed = parse_commands(f"#{word.upper()} {argument}")
        assert [c.name for c in parsed.commands] == ([] if spec.name == CommandName.INTERNAL else [spec.name])
        assert parsed.refused == ()


@pytest.mark.parametrize("language", ["id", "en"])
def test_help_block_in_staff_mail_lists_every_command(language: str) -> None:
    block = Renderer()._env.get_template(f"{language}/_commands.txt.j2").render(  # noqa: SLF001
        groups=(), categories=())
    for usage, _ in help_lines(language):
        assert usage in block
    used = {ALIASES[w.lstrip("#").lower()] for w in re.findall(r"#[a-z]+", block) if w.lstrip("#").lower() in ALIASES}
    assert used == {spec.name for spec in REGISTRY}


def test_who_may_use_what() -> None:
    assert may_use(CommandName.RESOLVE, Role.MANAGER) and may_use(CommandName.NOTE, Role.MANAGER)
    assert not may_use(CommandName.ESCALATE, Role.MANAGER) and not may_use(CommandName.ASSIGN, Role.MANAGER)
    assert all(may_use(s.name, Role.STAFF) for s in REGISTRY)
    assert not any(may_use(s.name, Role.REPORTER) for s in REGISTRY)
