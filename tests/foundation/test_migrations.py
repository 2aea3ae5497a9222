"""Migrations: one head; up, down and up again; no drift from the models; on both databases."""

import uuid

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db
from tests.conftest import _pg_connect, make_app

MIGRATIONS = "migrations"


def test_there_is_exactly_one_head(app):
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
    assert len(script.get_heads()) == 1, script.get_heads()


def _round_trip(app):
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        tables = set(inspect(db.engine).get_table_names())
        assert {"cycle", "audit_entry", "outbox_message", "post_assignment"} <= tables
        check(directory=MIGRATIONS)  # raises when the models and migrations differ
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        assert set(inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade_without_drift(tmp_path):
    _round_trip(make_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))


def _on_an_empty_postgres_database(tmp_path, pg_url, check) -> None:
    """Run `check(app)` on a PostgreSQL database made (and dropped) for it."""
    name = f"kaikaku_migrations_{uuid.uuid4().hex[:8]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        check(make_app(tmp_path, pg_url.rsplit("/", 1)[0] + f"/{name}"))
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade_without_drift(tmp_path, pg_url):
    _on_an_empty_postgres_database(tmp_path, pg_url, _round_trip)


# --- 0012: the workflow as data carries the old rows over ------------------------------

ROWS_AT_0011 = [
    "INSERT INTO department (id, code, name, name_en, position, active) "
    "VALUES (1, 'D', '企画部', '', 1, TRUE)",
    "INSERT INTO section (id, department_id, code, name, name_en, position, active) "
    "VALUES (1, 1, 'S', '企画課', '', 1, TRUE)",
    "INSERT INTO post (id, code, name, kind, department_id, section_id, active) "
    "VALUES (1, 'P1', '企画部長', 'head', 1, NULL, TRUE)",
    "INSERT INTO outline (id, city, title, basic_idea, basic_idea_points, preface, "
    "review_every_years) VALUES (1, '入間市', '大綱', '最適化', '[]', '', 5)",
    "INSERT INTO viewpoint (id, outline_id, number, name, subtitle, name_en) "
    "VALUES (1, 1, 1, 'サービス', '', '')",
    "INSERT INTO execution_plan (id, outline_id, name, start_fy, end_fy) "
    "VALUES (1, 1, '計画', 2022, 2026)",
    "INSERT INTO fiscal_year_schedule (id, fiscal_year, plan_due, midyear_due, check_due, "
    "act_due, reminder_days, escalate_head_after, escalate_secretariat_after, "
    "escalation_repeat_days) VALUES (1, 2026, '2026-05-08', '2026-11-13', '2027-06-04', "
    "'2027-07-09', '[14, 7]', 3, 10, 7)",
]
# (id, state) of cycles at 0011, and their audit actions (action, to_state) in order.
CYCLES_AT_0011 = [
    (1, "act_draft", [("confirm_check", "act_draft")]),
    (2, "closed", [("confirm_check", "act_draft"), ("approve_act", "closed")]),
    (3, "suspended", [("confirm_check", "act_draft"), ("suspend", "suspended")]),
    (4, "suspended", [("confirm_check", "act_draft"), ("reopen", "check_draft")]),
    (5, "check_confirming", []),
]


def _seed_0011(conn) -> None:
    from sqlalchemy import text

    for statement in ROWS_AT_0011:
        conn.execute(text(statement))
    for cycle_id, state, entries in CYCLES_AT_0011:
        conn.execute(
            text(
                "INSERT INTO reform_item (id, plan_id, viewpoint_id, number, title, purpose, "
                "content, owning_section_id, status) VALUES (:id, 1, 1, :n, 't', '', '', 1, "
                "'active')"
            ),
            {"id": cycle_id, "n": f"1-{cycle_id}"},
        )
        conn.execute(
            text(
                "INSERT INTO cycle (id, item_id, fiscal_year, state, definition_version, "
                "version, state_since, opened_at, goal, schedule_q1, schedule_q2, schedule_q3, "
                "schedule_q4, carried_over, analysis, issues, improvement) VALUES (:id, :id, "
                "2026, :state, '2026.1', 1, '2027-05-01 01:00:00', '2026-04-01 01:00:00', '', "
                "'', '', '', '', '', '', '', '')"
            ),
            {"id": cycle_id, "state": state},
        )
        for seq, (action, to_state) in enumerate(entries, start=1):
            conn.execute(
                text(
                    "INSERT INTO audit_entry (scope, seq, cycle_id, at, action, to_state, "
                    "comment, data, prev_hash, hash) VALUES (:scope, :seq, :id, :at, :action, "
                    ":to, '', '{}', '', 'x')"
                ),
                {
                    "scope": f"cycle:{cycle_id}",
                    "seq": seq,
                    "id": cycle_id,
                    "at": f"2027-05-2{seq} 01:00:00",
                    "action": action,
                    "to": to_state,
                },
            )


def _check_0012_carries_rows_over(app) -> None:
    from sqlalchemy import text

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0011_login_failures")
        with db.engine.begin() as conn:
            _seed_0011(conn)
        upgrade(directory=MIGRATIONS, revision="0012_workflow_as_data")
        with db.engine.connect() as conn:
            deadlines = dict(conn.execute(text("SELECT stage, due_on FROM stage_deadline")).all())
            assert {k: str(v) for k, v in deadlines.items()} == {
                "plan": "2026-05-08",
                "do": "2026-11-13",
                "check": "2027-06-04",
                "act": "2027-07-09",
            }
            confirmed = dict(conn.execute(text("SELECT id, confirmed_at FROM cycle")).all())
            assert [cid for cid, at in sorted(confirmed.items()) if at is not None] == [1, 2, 3]
            kinds = set(conn.execute(text("SELECT code FROM post_kind")).scalars())
            assert kinds == {"head", "chief", "staff"}
        downgrade(directory=MIGRATIONS, revision="0011_login_failures")
        with db.engine.connect() as conn:
            row = conn.execute(
                text("SELECT plan_due, midyear_due, check_due, act_due FROM fiscal_year_schedule")
            ).one()
            assert [str(v) for v in row] == ["2026-05-08", "2026-11-13", "2027-06-04", "2027-07-09"]
        db.engine.dispose()


def test_0012_carries_the_deadlines_and_confirmations_over_on_sqlite(tmp_path):
    _check_0012_carries_rows_over(make_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_0012_carries_the_deadlines_and_confirmations_over_on_postgres(tmp_path, pg_url):
    _on_an_empty_postgres_database(tmp_path, pg_url, _check_0012_carries_rows_over)


def _seed_department_and_plan(conn) -> None:
    """The rows of `ROWS_AT_0011` an item needs: a department, its section, the outline, a
    viewpoint and the execution plan."""
    from sqlalchemy import text

    for statement in ROWS_AT_0011[:2] + ROWS_AT_0011[3:6]:
        conn.execute(text(statement))


def _insert_items(conn, *items: tuple[int, int]) -> None:
    """Active items of plan 1, viewpoint 1, each (id, owning section id)."""
    from sqlalchemy import text

    for item_id, section_id in items:
        conn.execute(
            text(
                "INSERT INTO reform_item (id, plan_id, viewpoint_id, number, title, purpose, "
                "content, owning_section_id, status) VALUES (:id, 1, 1, :n, 't', '', '', :s, "
                "'active')"
            ),
            {"id": item_id, "n": f"1-{item_id}", "s": section_id},
        )


# --- 0018: the progress sheet's fields; the existing 効果額 stay, without a kind ---------


def _check_0018_carries_rows_over(app) -> None:
    from sqlalchemy import text

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0017_api_tokens")
        with db.engine.begin() as conn:
            _seed_department_and_plan(conn)
            _insert_items(conn, (1, 1))
            conn.execute(
                text(
                    "INSERT INTO cycle (id, item_id, fiscal_year, state, definition_version, "
                    "version, state_since, opened_at, goal, schedule_q1, schedule_q2, "
                    "schedule_q3, schedule_q4, carried_over, analysis, issues, improvement, "
                    "effect_amount) VALUES (1, 1, 2025, 'closed', '2026.1', 1, "
                    "'2026-05-01 01:00:00', '2025-04-01 01:00:00', '', '', '', '', '', '', "
                    "'計画どおり', '', '', 1234500)"
                )
            )
        upgrade(directory=MIGRATIONS, revision="0018_progress_sheet")
        with db.engine.begin() as conn:
            row = conn.execute(
                text(
                    "SELECT effect_amount, effect_kind, effect_basis, achievements, analysis "
                    "FROM cycle"
                )
            ).one()
            # The amount stays; its kind is unknown (shown as 未分類); texts are empty.
            assert tuple(row) == (1234500, None, "", "", "計画どおり")
            conn.execute(
                text("INSERT INTO item_step (item_id, fiscal_year, text) VALUES (1, 2025, '着手')")
            )
            conn.execute(
                text(
                    "UPDATE cycle SET effect_kind = 'saving', achievements = '実施した' "
                    "WHERE id = 1"
                )
            )
        downgrade(directory=MIGRATIONS, revision="0017_api_tokens")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT effect_amount, analysis FROM cycle")).one() == (
                1234500,
                "計画どおり",
            )
            assert "item_step" not in inspect(db.engine).get_table_names()
            columns = {c["name"] for c in inspect(db.engine).get_columns("cycle")}
            assert not columns & {"effect_kind", "effect_basis", "achievements"}
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT effect_kind FROM cycle")).scalar() is None
        db.engine.dispose()


def test_0018_keeps_the_effect_amounts_on_sqlite(tmp_path):
    _check_0018_carries_rows_over(make_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_0018_keeps_the_effect_amounts_on_postgres(tmp_path, pg_url):
    _on_an_empty_postgres_database(tmp_path, pg_url, _check_0018_carries_rows_over)


# --- 0019: each cycle carries its item's owning section --------------------------------


def _check_0019_gives_each_cycle_its_item_s_section(app) -> None:
    from sqlalchemy import text

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0018_progress_sheet")
        with db.engine.begin() as conn:
            _seed_department_and_plan(conn)
            conn.execute(
                text(
                    "INSERT INTO section (id, department_id, code, name, name_en, position, "
                    "active) VALUES (2, 1, 'S2', '財政課', '', 2, TRUE)"
                )
            )
            _insert_items(conn, (1, 1), (2, 2))
            for cycle_id, item_id, year in ((1, 1, 2025), (2, 2, 2025), (3, 2, 2026)):
                conn.execute(
                    text(
                        "INSERT INTO cycle (id, item_id, fiscal_year, state, definition_version, "
                        "version, state_since, opened_at, goal, schedule_q1, schedule_q2, "
                        "schedule_q3, schedule_q4, carried_over, achievements, analysis, "
                        "issues, effect_basis, improvement) VALUES (:id, :item, :fy, "
                        "'plan_draft', '2026.1', 1, '2026-05-01 01:00:00', "
                        "'2025-04-01 01:00:00', '', '', '', '', '', '', '', '', '', '', '')"
                    ),
                    {"id": cycle_id, "item": item_id, "fy": year},
                )
        upgrade(directory=MIGRATIONS, revision="0019_cycle_section")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, owning_section_id FROM cycle ORDER BY id"))
            assert rows.all() == [(1, 1), (2, 2), (3, 2)]
            columns = {c["name"]: c for c in inspect(db.engine).get_columns("cycle")}
            assert columns["owning_section_id"]["nullable"] is False
        downgrade(directory=MIGRATIONS, revision="0018_progress_sheet")
        columns = {c["name"] for c in inspect(db.engine).get_columns("cycle")}
        assert "owning_section_id" not in columns
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()


def test_0019_gives_each_cycle_its_item_s_section_on_sqlite(tmp_path):
    _check_0019_gives_each_cycle_its_item_s_section(
        make_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    )


@pytest.mark.postgres
def test_0019_gives_each_cycle_its_item_s_section_on_postgres(tmp_path, pg_url):
    _on_an_empty_postgres_database(
        tmp_path, pg_url, _check_0019_gives_each_cycle_its_item_s_section
    )
