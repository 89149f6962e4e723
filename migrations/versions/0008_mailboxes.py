"""several mailboxes: tickets, numbers, the ledger and the outbox filed by mailbox; leases

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:20:00

Every row from before belongs to the mailbox called 'default' (the top-level [mailbox] of the
config), so a single-mailbox database and config work on unchanged. Ticket numbers are
counted per mailbox and year, and a number is unique within its mailbox. The leases say which
daemon reads which mailbox.
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

DEFAULT = sa.text("'default'")


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('mailbox', sa.String(length=32), nullable=False, server_default=DEFAULT))
        batch.drop_constraint('uq_tickets_number', type_='unique')
        batch.create_unique_constraint('uq_tickets_mailbox_number', ['mailbox', 'number'])
    with op.batch_alter_table('ticket_counters') as batch:
        batch.add_column(sa.Column('mailbox', sa.String(length=32), nullable=False, server_default=DEFAULT))
        batch.drop_constraint('pk_ticket_counters', type_='primary')
        batch.create_primary_key('pk_ticket_counters', ['mailbox', 'year'])
    with op.batch_alter_table('inbound_messages') as batch:
        batch.add_column(sa.Column('mailbox', sa.String(length=32), nullable=False, server_default=DEFAULT))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('mailbox', sa.String(length=32), nullable=False, server_default=DEFAULT))
    op.create_table(
        'mailbox_leases',
        sa.Column('mailbox', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('taken_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('mailbox', name=op.f('pk_mailbox_leases')),
    )


def downgrade() -> None:
    op.drop_table('mailbox_leases')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('mailbox')
    with op.batch_alter_table('inbound_messages') as batch:
        batch.drop_column('mailbox')
    with op.batch_alter_table('ticket_counters') as batch:
        batch.drop_constraint('pk_ticket_counters', type_='primary')
        batch.create_primary_key('pk_ticket_counters', ['year'])
        batch.drop_column('mailbox')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_constraint('uq_tickets_mailbox_number', type_='unique')
        batch.create_unique_constraint('uq_tickets_number', ['number'])
        batch.drop_column('mailbox')
