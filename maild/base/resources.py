"""Where the shipped templates, migrations and fonts live.

They sit at the top level of the source tree (``templates/``, ``migrations/``, ``fonts/``) and
are copied into the package as ``maild/templates``, ``maild/migrations`` and ``maild/fonts``
when a wheel is built (pyproject's force-include), so the
same code finds them in a checkout (editable install) and in an installed package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # maild/, above base/


def resource_dir(name: str) -> Path:
    """Return the directory of a shipped resource (``templates``, ``migrations`` or ``fonts``)."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"maild resource directory {name!r} not found next to {_PACKAGE}")
