"""Who may act on a ticket now, given who they are. Pure.

Staff and the coordinator may act on any ticket (the commands say which). A service group's
manager is asked for help on one ticket at a time: they may answer, ``#catatan`` and
``#selesai`` only on a ticket that is escalated (state ``escalated``) and whose last
``escalated`` event names their group, and only while it is. Before this rule, the manager of
any group could close any ticket.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from maild.sop.codes import Phrase, Why
from maild.sop.vocabulary import Role, State

__all__ = ["Authority", "effective_role"]


@dataclass(frozen=True)
class Authority:
    """The role a sender acts in on one ticket, and why they may not act (None if they may;
    told to the manager in the confirmation mail)."""

    role: Role
    refused: Phrase | None = None


def effective_role(role: Role, address: str, state: str, escalated_to: Collection[str]) -> Authority:
    """``role`` on this ticket: a manager is in scope only while ``state`` is escalated and
    ``address`` is among ``escalated_to``, the managers of the group the ticket's last
    escalation names (empty when it was never escalated or that group is gone)."""
    if role != Role.MANAGER:
        return Authority(role)
    if state == State.ESCALATED and address in escalated_to:
        return Authority(role)
    return Authority(role, Phrase(Why.OUT_OF_SCOPE, (state,)))
