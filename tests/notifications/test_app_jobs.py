"""The scheduler command also takes the secretariat's daily overdue snapshot."""

from sqlalchemy import select

from app.models import OverdueSnapshot


def test_tick_command_records_todays_overdue_snapshot_once(app, db, make):
    org = make.org("企画")
    late = make.item(org, number="1-1")
    make.cycle(late, 2026, "plan_draft")  # the plan was due on 30 April
    on_time = make.item(org, number="1-2")
    make.cycle(on_time, 2026, "doing")  # mid-year report due 30 October
    db.session.commit()
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(
            args=["scheduler", "tick", "--now", "2026-06-01T10:00", "--no-deliver"]
        )
        assert result.exit_code == 0, result.output
    rows = db.session.scalars(select(OverdueSnapshot)).all()
    assert [(r.fiscal_year, str(r.taken_on), r.open_count, r.overdue_count) for r in rows] == [
        (2026, "2026-06-01", 2, 1)
    ]
