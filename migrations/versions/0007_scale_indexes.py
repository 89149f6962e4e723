"""indexes that keep the per-cycle queries flat as the tables grow

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:10:00

At a million tickets, finding the messages still to be copied to the quarantine folder read
every message ever received (raw mail included) on every cycle; the timers and the digest
read every ticket ever closed to find the open ones; the digest's week counts read every
event; the monthly report read every ticket created before the month's end to find those
not closed before its start; each form of a month's register looked for the coordinator
among every party.
Partial indexes hold only the few messages waiting for the quarantine folder and the open
tickets; an index on (event, created_at) reads one kind of event over a span of days; an
index on the parties' role finds the few staff among the reporters; one on closed_at finds
the tickets open or closed since a day.
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# As maild.store.models writes them: a query must imply these predicates word for word.
TO_QUARANTINE = "quarantined_at IS NULL AND (state = 'dead' OR disposition IN ('oversized', 'spam'))"
OPEN_TICKET = "state != 'closed'"


def upgrade() -> None:
    op.create_index('ix_inbound_messages_to_quarantine', 'inbound_messages', ['id'],
                    sqlite_where=sa.text(TO_QUARANTINE), postgresql_where=sa.text(TO_QUARANTINE))
    op.create_index('ix_tickets_open', 'tickets', ['id'],
                    sqlite_where=sa.text(OPEN_TICKET), postgresql_where=sa.text(OPEN_TICKET))
    op.create_index('ix_events_event_created_at', 'events', ['event', 'created_at'])
    op.create_index('ix_parties_role', 'parties', ['role'])
    op.create_index('ix_tickets_closed_at', 'tickets', ['closed_at'])


def downgrade() -> None:
    op.drop_index('ix_tickets_closed_at', table_name='tickets')
    op.drop_index('ix_parties_role', table_name='parties')
    op.drop_index('ix_events_event_created_at', table_name='events')
    op.drop_index('ix_tickets_open', table_name='tickets')
    op.drop_index('ix_inbound_messages_to_quarantine', table_name='inbound_messages')
