"""Whether maild may write to an address on its own now (acknowledgements, notices).

Two brakes, the same for every automatic mail whatever caused it: an address whose mail
bounced is left alone for 30 days, and no address gets more than the hourly limit of
automatic mails (a mail loop with another robot stops there).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from maild.store.models import Party
from maild.store.outbox import usable_address
from maild.store.queries import automatic_mails_since, get_or_create_party

BOUNCE_HOLDOFF = timedelta(days=30)


def why_not_write(
    session: Session, address: str, now: datetime, limit_per_hour: int, new_party: bool = False,
    known: Party | None = None,
) -> str:
    """Why no automatic mail may go to ``address`` now, or "" when it may.

    ``new_party`` says the address was seen for the first time in this transaction: it has had
    no mail from us, so nothing needs counting."""
    if not address:
        return "no sender address"
    if not usable_address(address):
        # e.g. a full-width dot in the domain, or non-ASCII: no server of ours can deliver it
        return f"{address} is not an address we can write to"
    if new_party:
        return ""
    if known is None or known.address != address:
        known = get_or_create_party(session, address, now)[0]
    if known.failing_since is not None and now - known.failing_since < BOUNCE_HOLDOFF:
        return f"mail to {address} bounced on {known.failing_since:%Y-%m-%d}: not writing to it for 30 days"
    sent = automatic_mails_since(session, address, now - timedelta(hours=1))
    if sent >= limit_per_hour:
        return f"rate limit: {sent} automatic mails to {address} in the last hour"
    return ""
