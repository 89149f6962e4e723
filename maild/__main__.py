"""Allow ``python -m maild``."""

from __future__ import annotations

from maild.cli import main

main()
