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

from maild.sop.vocabulary import Role, State

__all__ = ["Authority", "OUT_OF_SCOPE", "effective_role"]

# Told to the manager in the confirmation mail (Indonesian, as the staff mails are).
OUT_OF_SCOPE = ("tiket ini tidak sedang dieskalasi ke grup Anda; pengelola layanan hanya dapat "
                "menanggapi tiket selama tiket itu dieskalasi ke grupnya")


@dataclass(frozen=True)
class Authority:
    """The role a sender acts in on one ticket, and why they may not act (``""`` if they may)."""

    role: Role
    refused: str = ""


def effective_role(role: Role, address: str, state: str, escalated_to: Collection[str]) -> Authority:
    """``role`` on this ticket: a manager is in scope only while ``state`` is escalated and
    ``address`` is among ``escalated_to``, the managers of the group the ticket's last
    escalation names (empty when it was never escalated or that group is gone)."""
    if role != Role.MANAGER:
        return Authority(role)
    if state == State.ESCALATED and address in escalated_to:
        return Authority(role)
    return Authority(role, f"{OUT_OF_SCOPE} (status tiket: {state})")
