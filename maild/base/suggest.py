"""The nearest known word to a misspelt one: the "did you mean" of config errors, refused
commands and unknown values. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str:
    """The known word closest to ``word`` (case-insensitive), or ``""`` when none is close."""
    known = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(known), n=1)
    return known[found[0]] if found else ""
