"""progress sheet: 取組実績, the kind and basis of 効果額, the item's 工程 by fiscal year

Revision ID: 0018_progress_sheet
Revises: 0017_api_tokens
Create Date: 2026-12-02

- cycles gain 取組実績 (`achievements`, what was done, apart from 要因分析), the kind of
  their 効果額 (`effect_kind`: revenue 歳入確保, saving 歳出削減, other その他) and its basis
  (`effect_basis`, 算定根拠). Existing amounts keep a NULL kind, shown as 未分類 until the
  department states it: guessing その他 would put a number under a heading nobody chose;
- `item_step` holds what is planned for an item in each fiscal year of its plan (工程).
"""
import sqlalchemy as sa
from alembic import op

revision = '0018_progress_sheet'
down_revision = '0017_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('achievements', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('effect_kind', sa.Enum('revenue', 'saving', 'other', name='effectkind', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('effect_basis', sa.Text(), nullable=False, server_default=''))
    # The models give the defaults; the server defaults only filled the existing rows.
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.alter_column('achievements', server_default=None)
        batch_op.alter_column('effect_basis', server_default=None)
    op.create_table(
        'item_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('fiscal_year', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['reform_item.id'], name=op.f('fk_item_step_item_id_reform_item'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_step')),
        sa.UniqueConstraint('item_id', 'fiscal_year', name=op.f('uq_item_step_item_id_fiscal_year')),
    )
    with op.batch_alter_table('item_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_step_item_id'), ['item_id'], unique=False)


def downgrade():
    with op.batch_alter_table('item_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_step_item_id'))
    op.drop_table('item_step')
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.drop_column('effect_basis')
        batch_op.drop_column('effect_kind')
        batch_op.drop_column('achievements')
