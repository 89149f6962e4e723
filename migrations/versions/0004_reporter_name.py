"""reporter name for reports without an address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:25:00

A report taken by phone or in person may have no email address, so no reporter party; its
reporter's name was kept only in the first event. The ticket now carries it.
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('reporter_name')
