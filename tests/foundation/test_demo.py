"""The demo: Iruma's outline, every state of the cycle, played through the real engine."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.demo import load_demo
from app.models import (
    AuditEntry,
    Cycle,
    OutboxMessage,
    OutboxStatus,
    Outline,
    OverdueSnapshot,
    Publication,
    ReformItem,
    User,
)
from workflows import audit
from workflows.deadlines import due_date

TODAY = date(2026, 11, 25)


def counts(db):
    return [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Outline, User, ReformItem, Cycle, AuditEntry)
    ]


def test_demo_loads_once_with_every_stage_and_a_valid_audit_chain(db):
    assert load_demo(db.session, today=TODAY)
    db.session.commit()
    loaded = counts(db)
    assert not load_demo(db.session, today=TODAY)  # idempotent
    assert counts(db) == loaded

    outline = db.session.scalar(select(Outline))
    assert outline.basic_idea == "行政サービスの最適化"
    assert [v.name for v in outline.viewpoints] == [
        "サービスの最適化",
        "公共施設の最適化",
        "担い手の最適化",
        "事務事業の最適化",
        "組織機構の最適化",
    ]
    items = db.session.scalars(select(ReformItem)).all()
    assert len(items) >= 30
    assert {i.viewpoint.number for i in items} == {1, 2, 3, 4, 5}

    states = {c.state for c in db.session.scalars(select(Cycle))}
    assert {
        "plan_draft",
        "plan_submitted",
        "doing",
        "midyear_submitted",
        "midyear_approved",
        "check_confirming",
        "act_draft",
        "act_submitted",
        "closed",
    } <= states

    current = db.session.scalars(select(Cycle).where(Cycle.fiscal_year == 2026)).all()
    overdue = [c for c in current if (d := due_date(db.session, c)) and d < TODAY]
    assert len(overdue) >= 3

    sent_back = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("send_back%"))
    ).all()
    assert any("目標値の根拠" in e.comment for e in sent_back)

    assert audit.verify(db.session) == []
    # Past years are published (FY2025 without its two unconfirmed items), with the
    # committee's opinions; the secretariat's chart has a weekly history.
    published = {p.fiscal_year: p for p in db.session.scalars(select(Publication))}
    assert sorted(published) == [2022, 2023, 2024, 2025]
    assert len(published[2025].entries) == len(
        [
            c
            for c in db.session.scalars(select(Cycle).where(Cycle.fiscal_year == 2025))
            if c.state in ("act_draft", "act_submitted", "closed")
        ]
    )
    assert any(e["opinions"] for e in published[2025].entries)
    snapshots = db.session.scalars(
        select(OverdueSnapshot).where(OverdueSnapshot.fiscal_year == 2026)
    ).all()
    assert len(snapshots) >= 30 and snapshots[-1].overdue_count >= 3
    # Mail of past events is not sent again when the scheduler first starts.
    pending = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    assert pending == 0


@pytest.mark.parametrize(
    ("example", "waiting"),
    [("hearing.yaml", "check_hearing"), ("deputy-mayor.yaml", "check_confirming")],
)
def test_the_demo_loads_with_an_example_definition(tmp_path, example, waiting):
    """`WORKFLOW_DEFINITION=<example> kaikaku demo load` on an empty database, audit clean."""
    from tests.conftest import make_app
    from workflows import registry
    from workflows.registry import DEFINITIONS

    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'demo.db'}",
        WORKFLOW_DEFINITION=str(DEFINITIONS / "examples" / example),
    )
    try:
        with app.app_context():
            from app.extensions import db

            db.create_all()
            runner = app.test_cli_runner()
            loaded = runner.invoke(args=["demo", "load", "--today", "2026-11-25"])
            assert loaded.exit_code == 0, loaded.output
            verified = runner.invoke(args=["audit", "verify"])
            assert verified.exit_code == 0 and "audit log OK" in verified.output
            versions = set(db.session.scalars(select(Cycle.definition_version)))
            assert versions == {registry.current().version}
            states = set(db.session.scalars(select(Cycle.state)))
            assert waiting in states and "closed" in states
            logins = runner.invoke(args=["demo", "logins"]).output
            assert ("fuku_shicho" in logins) is (example == "deputy-mayor.yaml")
            db.session.remove()
            db.engine.dispose()
    finally:
        registry.configure(None)


def test_loading_again_says_how_to_start_over_and_reset_does(app, db):
    """`demo load --today X` on a loaded database changed nothing silently; --reset reloads."""
    from app.models import Substitution

    db.session.add(Outline(city="入間市", title="大綱", basic_idea="最適化"))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--today", "2026-06-01"])
    assert result.exit_code == 0
    assert "demo already loaded" in result.output and "--reset" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0

    result = runner.invoke(args=["demo", "load", "--reset", "--today", "2026-06-01"])
    assert result.exit_code == 0, result.output
    assert "as of 2026-06-01" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Outline)) == 1
    substitution = db.session.scalar(select(Substitution))
    assert substitution.starts_on == date(2026, 5, 25)  # a week before the demo's today
