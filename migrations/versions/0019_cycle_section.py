"""cycle section: each cycle carries its item's owning section

Revision ID: 0019_cycle_section
Revises: 0018_progress_sheet
Create Date: 2026-11-30

- `cycle.owning_section_id` is the owning section of the cycle's item, kept in step with
  it (every year's cycles move with the item). The secretariat's counts by department read
  the cycles alone instead of joining every cycle of the year to its item. Existing cycles
  take their item's section.
"""
import sqlalchemy as sa
from alembic import op

revision = '0019_cycle_section'
down_revision = '0018_progress_sheet'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owning_section_id', sa.Integer(), nullable=True))
    op.execute(
        'UPDATE cycle SET owning_section_id = (SELECT reform_item.owning_section_id '
        'FROM reform_item WHERE reform_item.id = cycle.item_id)'
    )
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.alter_column('owning_section_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_cycle_owning_section_id_section'), 'section', ['owning_section_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cycle_owning_section_id_section'), type_='foreignkey')
        batch_op.drop_column('owning_section_id')
