"""maild: the LPSE helpdesk mail daemon (SOP 05 run by email)."""

from __future__ import annotations

__version__ = "0.1.0"
