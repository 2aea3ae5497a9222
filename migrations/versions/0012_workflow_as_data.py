"""workflow as data: post kinds, one deadline per declared stage, confirmed evaluations

Revision ID: 0012_workflow_as_data
Revises: 0011_login_failures
Create Date: 2026-11-29

- post kinds become rows (部長, 課長, 職員 carried over) that the workflow's roles name;
  a post may be city-wide (no department);
- the schedule's four deadline columns become one row per stage (plan, do, check, act);
- cycles record when their evaluation was confirmed; existing cycles are filled in from
  their state and audit history as the pdca 2026.1 definition defines them.
"""
import datetime

import sqlalchemy as sa
from alembic import op

revision = '0012_workflow_as_data'
down_revision = '0011_login_failures'
branch_labels = None
depends_on = None

POST_KINDS = [("head", "部長", "Department head", 1), ("chief", "課長", "Section chief", 2),
              ("staff", "職員", "Staff", 3)]
STAGE_COLUMNS = [("plan", "plan_due"), ("do", "midyear_due"), ("check", "check_due"),
                 ("act", "act_due")]
# pdca 2026.1: states in which the evaluation stands confirmed, and halted states.
CONFIRMED = ("act_draft", "act_submitted", "closed")
HALTED = ("suspended", "abolished")


def upgrade():
    post_kind = op.create_table(
        'post_kind',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('name_en', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_post_kind')),
        sa.UniqueConstraint('code', name=op.f('uq_post_kind_code')),
    )
    op.bulk_insert(post_kind, [
        {"code": c, "name": n, "name_en": e, "position": p} for c, n, e, p in POST_KINDS
    ])
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=20),
                              type_=sa.String(length=20), existing_nullable=False)
        batch_op.alter_column('department_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_post_kind_post_kind'), 'post_kind',
                                    ['kind'], ['code'])

    op.create_table(
        'stage_deadline',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['schedule_id'], ['fiscal_year_schedule.id'],
                                name=op.f('fk_stage_deadline_schedule_id_fiscal_year_schedule'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_deadline')),
        sa.UniqueConstraint('schedule_id', 'stage',
                            name=op.f('uq_stage_deadline_schedule_id_stage')),
    )
    with op.batch_alter_table('stage_deadline', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_deadline_schedule_id'), ['schedule_id'],
                              unique=False)
    conn = op.get_bind()
    for stage, column in STAGE_COLUMNS:
        conn.execute(sa.text(
            f"INSERT INTO stage_deadline (schedule_id, stage, due_on) "
            f"SELECT id, :stage, {column} FROM fiscal_year_schedule"
        ), {"stage": stage})
    with op.batch_alter_table('fiscal_year_schedule', schema=None) as batch_op:
        for _stage, column in STAGE_COLUMNS:
            batch_op.drop_column(column)

    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
    _fill_confirmed_at(conn)


def _fill_confirmed_at(conn):
    cycles = conn.execute(sa.text("SELECT id, state, state_since FROM cycle")).all()
    entries = conn.execute(sa.text(
        "SELECT cycle_id, action, to_state, at FROM audit_entry "
        "WHERE cycle_id IS NOT NULL AND (action = 'confirm_check' "
        "OR (action = 'reopen' AND to_state = 'check_draft')) ORDER BY cycle_id, seq"
    )).all()
    last = {}
    for cycle_id, action, _to, at in entries:
        last[cycle_id] = (action, at)
    for cycle_id, state, since in cycles:
        action, at = last.get(cycle_id, (None, None))
        if state in CONFIRMED:
            when = at if action == "confirm_check" else since
        elif state in HALTED and action == "confirm_check":
            when = at
        else:
            continue
        conn.execute(sa.text("UPDATE cycle SET confirmed_at = :at WHERE id = :id"),
                     {"at": when, "id": cycle_id})


def downgrade():
    with op.batch_alter_table('cycle', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')

    with op.batch_alter_table('fiscal_year_schedule', schema=None) as batch_op:
        for _stage, column in STAGE_COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Date(), nullable=True))
    conn = op.get_bind()
    for stage, column in STAGE_COLUMNS:
        conn.execute(sa.text(
            f"UPDATE fiscal_year_schedule SET {column} = (SELECT due_on FROM stage_deadline "
            "WHERE stage_deadline.schedule_id = fiscal_year_schedule.id "
            "AND stage_deadline.stage = :stage)"
        ), {"stage": stage})
    # A year whose schedule lacks a stage gets the default calendar's day for it.
    defaults = {"plan_due": (0, 4, 30), "midyear_due": (0, 10, 31), "check_due": (1, 5, 31),
                "act_due": (1, 6, 30)}
    rows = conn.execute(sa.text("SELECT id, fiscal_year FROM fiscal_year_schedule")).all()
    for row_id, fiscal_year in rows:
        for column, (offset, month, day) in defaults.items():
            conn.execute(sa.text(
                f"UPDATE fiscal_year_schedule SET {column} = :d WHERE id = :id AND {column} IS NULL"
            ), {"d": datetime.date(fiscal_year + offset, month, day), "id": row_id})
    with op.batch_alter_table('fiscal_year_schedule', schema=None) as batch_op:
        for _stage, column in STAGE_COLUMNS:
            batch_op.alter_column(column, existing_type=sa.Date(), nullable=False)
    with op.batch_alter_table('stage_deadline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_deadline_schedule_id'))
    op.drop_table('stage_deadline')

    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_post_kind_post_kind'), type_='foreignkey')
        batch_op.alter_column('department_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('post_kind')
