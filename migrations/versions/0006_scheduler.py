"""scheduler: notification dispatch keys, missed windows, scheduler state, calendar feeds

Revision ID: 0006_scheduler
Revises: 0005_used_decision_link
Create Date: 2026-11-25 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_scheduler'
down_revision = '0005_used_decision_link'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_dispatch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('queued', 'held', 'digested', 'missed', name='dispatchstatus', native_enum=False, length=20), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('digest_outbox_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], name=op.f('fk_notification_dispatch_cycle_id_cycle')),
    sa.ForeignKeyConstraint(['digest_outbox_id'], ['outbox_message.id'], name=op.f('fk_notification_dispatch_digest_outbox_id_outbox_message')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_message.id'], name=op.f('fk_notification_dispatch_outbox_id_outbox_message')),
    sa.ForeignKeyConstraint(['recipient_id'], ['user.id'], name=op.f('fk_notification_dispatch_recipient_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_dispatch')),
    sa.UniqueConstraint('cycle_id', 'rule', 'step', 'due_on', 'recipient_id', name=op.f('uq_notification_dispatch_cycle_id_rule_step_due_on_recipient_id'))
    )
    with op.batch_alter_table('notification_dispatch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_dispatch_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_dispatch_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_dispatch_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('missed_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('downtime', 'reminder', 'escalation', name='missedwindowkind', native_enum=False, length=20), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('target_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], name=op.f('fk_missed_window_cycle_id_cycle')),
    sa.ForeignKeyConstraint(['recipient_id'], ['user.id'], name=op.f('fk_missed_window_recipient_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missed_window'))
    )
    with op.batch_alter_table('missed_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_missed_window_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_missed_window_fiscal_year'), ['fiscal_year'], unique=False)

    op.create_table('scheduler_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_tick_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_report', sa.JSON(), nullable=False),
    sa.Column('smtp_failures', sa.Integer(), nullable=False),
    sa.Column('smtp_retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('smtp_error', sa.Text(), nullable=False),
    sa.Column('leader', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_state'))
    )

    op.create_table('calendar_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_calendar_feed_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feed')),
    sa.UniqueConstraint('token', name=op.f('uq_calendar_feed_token')),
    sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feed_user_id'))
    )


def downgrade():
    op.drop_table('calendar_feed')
    op.drop_table('scheduler_state')
    with op.batch_alter_table('missed_window', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missed_window_fiscal_year'))
        batch_op.drop_index(batch_op.f('ix_missed_window_cycle_id'))
    op.drop_table('missed_window')
    with op.batch_alter_table('notification_dispatch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_dispatch_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_notification_dispatch_decided_at'))
        batch_op.drop_index(batch_op.f('ix_notification_dispatch_cycle_id'))
    op.drop_table('notification_dispatch')
