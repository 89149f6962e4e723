"""The facts a team member's proof is checked against, looked up for the pure ``sop.proof``:
the tickets the message acts on, the tickets each digest it answers listed, the day, and the
raw Authentication-Results fields."""

from __future__ import annotations

from maild.mail.authresults import raw_fields
from maild.mail.tokens import read_minted_id, verify_minted_id, day_number
from maild.sop.proof import DIGEST, Proof, Scope, Trust, prove
from maild.stages.pipeline.context import Message, PipelineSettings
from maild.store.models import Ticket
from maild.store.proof_scope import digest_lists, ticket_numbers


def prove_sender(settings: PipelineSettings, msg: Message, ticket: Ticket, sender: str) -> Proof:
    """Does ``msg`` prove that ``sender`` wrote it, for ``ticket``?"""
    mail = msg.facts.mail
    trust = Trust(settings.hmac_key, settings.mid_domain, settings.trusted_authserv_ids,
                  settings.proof_max_age_days)
    numbers = ticket_numbers(msg.session, ticket)
    digests = []
    for mid in (*mail.in_reply_to, *mail.references):
        minted = read_minted_id(mid, settings.mid_domain)
        if minted is not None and minted.number == DIGEST and verify_minted_id(settings.hmac_key, minted, sender):
            digests.append(minted.key_hash)
    scope = Scope(numbers, day_number(msg.now), digest_lists(msg.session, digests, numbers) if digests else {})
    return prove(mail, sender, trust, scope, raw_fields(msg.row.raw, "authentication-results"))
