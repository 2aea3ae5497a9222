"""used decision links (single-use e-mail links)

Revision ID: 0005_used_decision_link
Revises: 0001
Create Date: 2026-11-25 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_used_decision_link'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_decision_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycle.id'], name=op.f('fk_used_decision_link_cycle_id_cycle')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_used_decision_link_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_used_decision_link')),
    sa.UniqueConstraint('digest', name=op.f('uq_used_decision_link_digest'))
    )
    with op.batch_alter_table('used_decision_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_decision_link_cycle_id'), ['cycle_id'], unique=False)


def downgrade():
    with op.batch_alter_table('used_decision_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_decision_link_cycle_id'))
    op.drop_table('used_decision_link')
