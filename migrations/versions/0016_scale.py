"""scale: the cycle's last activity, indexes for the scheduler and the outbox

Revision ID: 0016_scale
Revises: 0013_submission_keys
Create Date: 2026-12-01

- cycles keep the time of their latest audit record (filled in from the audit log), so
  the secretariat's lists need not read the whole log;
- the scheduler finds held reminders, the senders pending mail and the secretariat's list
  a year's longest-waiting cycles, by index.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_scale'
down_revision = '0013_submission_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_cycle_year_since', ['fiscal_year', 'state_since', 'id'], unique=False)
        batch_op.create_index('ix_cycle_year_state', ['fiscal_year', 'definition_version', 'state', 'state_since', 'item_id', 'id'], unique=False)
    op.execute(
        "UPDATE cycle SET last_activity_at = "
        "(SELECT max(audit_entry.at) FROM audit_entry WHERE audit_entry.cycle_id = cycle.id)"
    )
    with op.batch_alter_table('notification_dispatch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_dispatch_status'), ['status'], unique=False)
        # The unique key leads with cycle_id: a second index on it only slows the inserts.
        batch_op.drop_index('ix_notification_dispatch_cycle_id')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_due', ['status', 'next_attempt_at', 'id'], unique=False)
        batch_op.drop_index('ix_outbox_message_status')


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_status', ['status'], unique=False)
        batch_op.drop_index('ix_outbox_message_due')
    with op.batch_alter_table('notification_dispatch', schema=None) as batch_op:
        batch_op.create_index('ix_notification_dispatch_cycle_id', ['cycle_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_notification_dispatch_status'))
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.drop_index('ix_cycle_year_state')
        batch_op.drop_index('ix_cycle_year_since')
        batch_op.drop_column('last_activity_at')
