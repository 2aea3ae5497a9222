"""`make bench` cleans up after itself: no temporary folders left behind."""

from __future__ import annotations

import tempfile

from app.extensions import db


def test_a_bench_run_leaves_no_folder_behind(tmp_path, monkeypatch, capsys):
    from bench import __main__ as bench

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def section(kind: str) -> None:
        with bench.database(kind) as url:
            app = bench.app_for(url)
            with app.app_context():
                db.create_all()
                db.engine.dispose()
        assert any(tmp_path.iterdir())  # the run does use temporary folders

    monkeypatch.setattr(bench, "SECTIONS", {"tiny": section})
    monkeypatch.setattr(bench, "postgres_available", lambda: False)
    bench.main(["tiny"])
    assert list(tmp_path.iterdir()) == []


def test_the_scale_bench_builds_its_world_on_the_current_schema(app):
    """`python -m bench scale` writes rows in bulk, column by column: a new column without a
    value there would stop the benchmark, so its builder runs here on a small world."""
    from sqlalchemy import func, select

    from app.models import AuditEntry, Cycle
    from app.models.bulk import SMALL
    from bench.world import build

    items = SMALL + 5  # past the small batches: PostgreSQL's JSON bulk path
    build(db.session, items=items, departments=2)
    assert db.session.scalar(select(func.count(Cycle.id))) == items
    assert db.session.scalar(select(func.count(AuditEntry.id))) >= items
