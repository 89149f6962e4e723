"""survey responses

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00

The reporter's answers to the satisfaction survey (Survei Kepuasan Masyarakat, Permenpan RB
14/2017) the closing mail asks for: one row per ticket, read by the monthly report.
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import maild.store.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('survey_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('reporter', sa.String(length=320), nullable=False),
    sa.Column('overall', sa.Integer(), nullable=True),
    *[sa.Column(f'u{i}', sa.Integer(), nullable=True) for i in range(1, 10)],
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=900), nullable=True),
    sa.Column('created_at', maild.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_survey_responses_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_survey_responses_ticket_id'))
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_responses_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_responses_created_at'))

    op.drop_table('survey_responses')
