"""directory sign-in: where a user signs in, and their entry in the directory

Revision ID: 0015_directory_sign_in
Revises: 0012_workflow_as_data
Create Date: 2026-11-29 20:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_directory_sign_in'
down_revision = '0012_workflow_as_data'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('auth_source', sa.String(length=20), server_default='local', nullable=False)
        )
        batch_op.add_column(sa.Column('directory_dn', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('directory_dn')
        batch_op.drop_column('auth_source')
