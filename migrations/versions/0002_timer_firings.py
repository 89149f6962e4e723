"""timer firings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:08:30.028502
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import maild.store.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('timer_firings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('fired_at', maild.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_timer_firings_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timer_firings')),
    sa.UniqueConstraint('key', name=op.f('uq_timer_firings_key'))
    )
    with op.batch_alter_table('timer_firings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timer_firings_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timer_firings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timer_firings_ticket_id'))

    op.drop_table('timer_firings')
