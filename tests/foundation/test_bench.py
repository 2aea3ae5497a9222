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
