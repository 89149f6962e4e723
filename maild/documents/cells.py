"""Cells of the tables maild exports (CSV, XLSX): text from mail never becomes a formula.

A reporter writes the subject, the name and the text; a spreadsheet program opening the
register or the report runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some, after a leading tab or carriage return) as a formula: ``=HYPERLINK(...)`` sends data
away, ``=cmd|' /C calc'!A0`` starts a program (DDE). The OWASP advice for CSV: prefix such a
cell with ``'`` (shown as text, not run) and quote every text cell. In XLSX a cell is a
formula only when its type says so: text cells are written with the string type.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 (and so XLSX) cannot hold; openpyxl refuses them with an exception,
# which would let one mail's subject stop the export of a whole register.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def csv_text(value: str) -> str:
    """``value`` as a CSV cell that no spreadsheet program runs as a formula.

    A lone ``-`` (the tables' "none") is left alone: it is not a formula anywhere.
    """
    if value.startswith(FORMULA_STARTS) and value != "-":
        return "'" + value
    return value


def csv_cell(value: object) -> object:
    """A CSV cell: text escaped by ``csv_text``, numbers (real number columns) unchanged."""
    return csv_text(value) if isinstance(value, str) else value


def xlsx_text(value: str) -> str:
    """``value`` as XLSX cell text: characters XML cannot carry become U+FFFD."""
    return _NOT_IN_XML.sub("\ufffd", value)
