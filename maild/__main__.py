"""Allow ``python -m maild``."""

from __future__ import annotations

from maild.app.cli import main

main()
