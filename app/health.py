"""`/healthz`: what a monitor or a load balancer asks, answered in JSON without a login.

200 when the database answers, its schema is at the migrations' head, the scheduler ticked
recently and no mail waits too long; 503 with the reasons otherwise. It tells nothing about
people or items: counts and times only.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import OutboxMessage, OutboxStatus, SchedulerState

bp = Blueprint("health", __name__)


@functools.cache
def migration_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code."""
    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def health_report(now: datetime) -> tuple[dict, list[str]]:
    """The health figures and the reasons it is unhealthy (none when healthy)."""
    config = current_app.config
    report: dict = {"time": now.isoformat(timespec="seconds")}
    problems: list[str] = []
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        report["database"] = {"ok": False}
        return report, [f"database unreachable: {reason}"]
    report["database"] = {"ok": True}

    heads = migration_heads(config["MIGRATIONS_DIR"])
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        db.session.rollback()
        current = set()
    report["migrations"] = {"current": sorted(current), "head": sorted(heads)}
    if current != heads:
        problems.append("database schema is not at the migrations' head (run: kaikaku db upgrade)")

    state = db.session.get(SchedulerState, "main")
    last_tick = state.last_tick_at if state else None
    max_age = config["HEALTH_SCHEDULER_MAX_AGE_SECONDS"]
    age = _seconds(now - last_tick) if last_tick else None
    report["scheduler"] = {
        "last_tick": last_tick.isoformat(timespec="seconds") if last_tick else None,
        "age_seconds": age,
        "max_age_seconds": max_age,
    }
    if last_tick is None:
        problems.append("the scheduler has never ticked")
    elif age > max_age:
        problems.append(f"the scheduler's last tick is {age} s old (more than {max_age} s)")

    pending, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    ).one()
    failed = db.session.scalar(
        select(func.count()).where(OutboxMessage.status == OutboxStatus.FAILED)
    )
    mail_max_age = config["HEALTH_OUTBOX_MAX_AGE_SECONDS"]
    oldest_age = _seconds(now - oldest) if oldest else None
    report["outbox"] = {
        "pending": pending,
        "failed": failed,
        "oldest_pending_age_seconds": oldest_age,
        "max_age_seconds": mail_max_age,
    }
    if oldest_age is not None and oldest_age > mail_max_age:
        problems.append(f"mail has waited {oldest_age} s to be sent (more than {mail_max_age} s)")
    return report, problems


@bp.get("/healthz")
def healthz():
    report, problems = health_report(datetime.now(UTC))
    report["status"] = "unhealthy" if problems else "ok"
    report["problems"] = problems
    response = jsonify(report)
    response.status_code = 503 if problems else 200
    response.cache_control.no_store = True
    return response
