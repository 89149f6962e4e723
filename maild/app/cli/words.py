"""A ``--state`` (or other) option that takes the helpdesk's words in either language.

The values are the vocabulary's (``maild.sop.vocabulary``): ``--state selesai`` and ``--state
closed`` are the same filter, as ``#status`` and the rules files read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from maild.sop.vocabulary import word_key


class Words(click.ParamType):
    """One of ``words`` (word -> value, e.g. ``STATE_WORDS``) or of ``extra`` (kept as typed);
    gives the value as its plain string."""

    name = "word"

    def __init__(self, words: Mapping[str, str], extra: Sequence[str] = ()) -> None:
        self.words = words
        self.extra = tuple(extra)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        key = word_key(str(value))
        if key in self.extra:
            return key
        if key in self.words:
            return str(self.words[key])
        self.fail(f"{value!r} is not one of {', '.join(self.choices())}", param, ctx)

    def choices(self) -> list[str]:
        """Every accepted word, each value first, then its other words."""
        return [*dict.fromkeys([*map(str, self.words.values()), *self.words]), *self.extra]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self.choices()) + "]"
