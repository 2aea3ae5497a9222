"""The scheduler's own records: what a tick did, its state row, missed windows, idempotent
inserts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from app.models import MissedWindow, SchedulerState


@dataclass
class TickReport:
    """What one tick did; every count is of new rows or messages."""

    now: str = ""
    cycles_opened: int = 0
    reminders: int = 0
    held_for_digest: int = 0
    escalations: int = 0
    missed: int = 0
    digests: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    downtime: bool = False
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def insert_ignore(session: Session, model, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when this call inserted the row."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table = model.__table__
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    # RETURNING yields no row when the key was taken (rowcount is not reliable here).
    return session.execute(statement).first() is not None


def scheduler_state(session: Session, name: str, now: datetime) -> SchedulerState:
    """The scheduler's state row, locked until the next commit (made on first use)."""
    query = select(SchedulerState).where(SchedulerState.name == name).with_for_update()
    state = session.scalars(query).first()
    if state is None:
        insert_ignore(
            session,
            SchedulerState,
            {
                "name": name,
                "last_error": "",
                "last_report": {},
                "smtp_failures": 0,
                "smtp_error": "",
                "leader": "",
                "updated_at": now,
            },
        )
        state = session.scalars(query).one()
    return state


def scheduler_status(session: Session, name: str = "main") -> SchedulerState | None:
    """The scheduler's last tick, last success and mail-server health."""
    return session.get(SchedulerState, name)


def missed_windows(session: Session, fiscal_year: int | None = None) -> list[MissedWindow]:
    """What the scheduler missed (downtime, steps not sent late), newest first."""
    query = select(MissedWindow).options(selectinload(MissedWindow.recipient))
    if fiscal_year is not None:
        query = query.where(MissedWindow.fiscal_year == fiscal_year)
    return list(session.scalars(query.order_by(MissedWindow.starts_at.desc(), MissedWindow.id)))
