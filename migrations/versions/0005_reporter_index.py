"""index on a ticket's reporter

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:40:00

The staff notification lists the reporter's earlier tickets; without an index that lookup
reads every ticket, which grows with the database (a million tickets at a provincial desk).
"""

from __future__ import annotations

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_tickets_reporter_id', 'tickets', ['reporter_id'])


def downgrade() -> None:
    op.drop_index('ix_tickets_reporter_id', table_name='tickets')
