"""Run the scheduler's tick once a day at 09:00 Tokyo over a date range, as its own process.

    python -m tests.notifications.tick_loop 2026-04-01 2026-05-20

Used by the concurrency tests to run several scheduler processes against one database; the
database and the mail server come from the environment (DATABASE_URL, SMTP_PORT, ...).
"""

from __future__ import annotations

import sys

from app import create_app
from app.extensions import db
from notifications.jobs import tick
from notifications.settings import Settings

from .helpers import at, days


def main(first: str, last: str) -> None:
    app = create_app()
    with app.app_context():
        settings = Settings.from_config(app.config)
        for day in days(first, last):
            report = tick(db.session, at(day), settings)
            if report.errors:
                print(day, report.errors, file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
