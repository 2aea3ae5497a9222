"""committee review and overdue snapshots

Revision ID: 0009_review
Revises: 0006_scheduler
Create Date: 2026-11-25 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_review'
down_revision = '0006_scheduler'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('committee_opinion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reply_body', sa.Text(), nullable=False),
    sa.Column('reply_by_id', sa.Integer(), nullable=True),
    sa.Column('reply_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], name=op.f('fk_committee_opinion_cycle_id_cycle')),
    sa.ForeignKeyConstraint(['member_id'], ['user.id'], name=op.f('fk_committee_opinion_member_id_user')),
    sa.ForeignKeyConstraint(['reply_by_id'], ['user.id'], name=op.f('fk_committee_opinion_reply_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee_opinion'))
    )
    with op.batch_alter_table('committee_opinion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_opinion_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_opinion_member_id'), ['member_id'], unique=False)

    op.create_table('committee_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user.id'], name=op.f('fk_committee_question_answered_by_id_user')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], name=op.f('fk_committee_question_cycle_id_cycle')),
    sa.ForeignKeyConstraint(['member_id'], ['user.id'], name=op.f('fk_committee_question_member_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee_question'))
    )
    with op.batch_alter_table('committee_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_question_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_committee_question_member_id'), ['member_id'], unique=False)

    op.create_table('overdue_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('open_count', sa.Integer(), nullable=False),
    sa.Column('overdue_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overdue_snapshot')),
    sa.UniqueConstraint('fiscal_year', 'taken_on', name=op.f('uq_overdue_snapshot_fiscal_year_taken_on'))
    )
    with op.batch_alter_table('overdue_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_overdue_snapshot_fiscal_year'), ['fiscal_year'], unique=False)


def downgrade():
    with op.batch_alter_table('overdue_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_overdue_snapshot_fiscal_year'))
    op.drop_table('overdue_snapshot')
    with op.batch_alter_table('committee_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_question_member_id'))
        batch_op.drop_index(batch_op.f('ix_committee_question_cycle_id'))
    op.drop_table('committee_question')
    with op.batch_alter_table('committee_opinion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_opinion_member_id'))
        batch_op.drop_index(batch_op.f('ix_committee_opinion_cycle_id'))
    op.drop_table('committee_opinion')
