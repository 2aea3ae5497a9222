"""The scheduler's tick: every job once for a given `now`, each an idempotent pass.

`tick(session, now, settings)` runs them in order, committing after each: the 1 April
rollover, reminders and escalations, digests, the secretariat's overdue snapshot, then
delivery of the outbox. Nothing here reads the clock: `now` (aware) is given. One failing
job does not stop the others; its error is kept in the scheduler's state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from app.calendar import fiscal_year_of, local_date
from app.models import MissedWindow, MissedWindowKind
from workflows.rollover import open_year

from .delivery import deliver_outbox
from .digests import build_digests
from .reminders import Pass, send_escalations, send_reminders
from .settings import Settings
from .snapshots import snapshot_overdue
from .state import TickReport, scheduler_state

log = logging.getLogger(__name__)


def rollover(session: Session, now: datetime) -> int:
    """Open the fiscal year's cycles once 1 April has come (idempotent); the count opened."""
    return len(open_year(session, fiscal_year_of(now), now=now))


def tick(
    session: Session,
    now: datetime,
    settings: Settings | None = None,
    *,
    smtp_factory=None,
    deliver: bool = True,
    extra_jobs: tuple[tuple[str, Callable[[Session, datetime], object]], ...] = (),
) -> TickReport:
    """Run every job once for `now`, committing after each; safe to run twice at once.

    `extra_jobs` are further (name, job(session, now)) pairs, run like the others and
    idempotent like them.
    """
    if now.tzinfo is None:
        raise ValueError("tick needs an aware datetime")
    settings = settings or Settings()
    report = TickReport(now=now.isoformat())

    state = scheduler_state(session, settings.scheduler_name, now)
    previous = state.last_tick_at
    if previous is not None and now - previous > settings.downtime_threshold:
        report.downtime = True
        session.add(
            MissedWindow(
                kind=MissedWindowKind.DOWNTIME,
                fiscal_year=fiscal_year_of(now),
                starts_at=previous,
                ends_at=now,
                detected_at=now,
                note=f"スケジューラが {previous.isoformat()} から {now.isoformat()} まで停止",
            )
        )
    if previous is None or now > previous:
        state.last_tick_at = now
    if settings.instance:
        state.leader = settings.instance
    session.commit()

    run = Pass(session, now, previous)
    steps = (
        ("rollover", lambda: setattr(report, "cycles_opened", rollover(session, now))),
        (
            "reminders and escalations",
            lambda: (
                send_reminders(session, now, report=report, run=run),
                send_escalations(session, now, report=report, run=run),
            ),
        ),
        ("digests", lambda: build_digests(session, now, report=report)),
        ("overdue snapshot", lambda: snapshot_overdue(session, local_date(now))),
        *((name, lambda job=job: job(session, now)) for name, job in extra_jobs),
    )
    for name, step in steps:
        try:
            step()
            session.commit()
        except Exception as exc:  # one failing job must not stop the others
            session.rollback()
            log.exception("scheduler job %s failed", name)
            report.errors.append(f"{name}: {exc}")
    if deliver:
        try:
            deliver_outbox(session, now, settings, smtp_factory=smtp_factory, report=report)
        except Exception as exc:
            session.rollback()
            log.exception("outbox delivery failed")
            report.errors.append(f"delivery: {exc}")

    state = scheduler_state(session, settings.scheduler_name, now)
    if not report.errors:
        state.last_success_at = now
    state.last_error = "; ".join(report.errors)
    state.last_report = report.as_dict()
    session.commit()
    return report
