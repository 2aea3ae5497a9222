"""An iCalendar (RFC 5545) feed of a user's deadlines, reached through a secret token."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CalendarFeed, Cycle, User
from workflows.deadlines import schedule_for, stage_due
from workflows.registry import all_definitions, definition_of
from workflows.roles import reach_of

from .reminders import open_cycles

# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def feed_token(session: Session, user: User) -> str:
    """The user's feed token, made on first use (flushed)."""
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    if feed is None:
        feed = CalendarFeed(user_id=user.id, token=secrets.token_urlsafe(32))
        session.add(feed)
        session.flush()
    return feed.token


def reset_token(session: Session, user: User, now: datetime) -> str:
    """Replace the user's token: the old feed address stops working (flushed)."""
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    if feed is None:
        return feed_token(session, user)
    feed.token = secrets.token_urlsafe(32)
    feed.created_at = now
    session.flush()
    return feed.token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning `token`, or None (at once for anything not shaped like one)."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if feed is None or not feed.user.active:
        return None
    return feed.user


def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = 75 if not out else 74  # continuation lines start with one space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def cycles_for(session: Session, user: User, today: date) -> list[Cycle]:
    """Open cycles of the items the user plays a post-based role for (owning or related
    section's staff, the deciders and their substitutes), and those waiting for a role
    granted to the user (the secretariat's confirmations)."""
    reach = reach_of(session, user, today)
    clauses = []
    for definition in all_definitions():
        for role in definition.roles.values():
            if role.post_based:
                states = list(definition.waiting_states)
            elif role.granted:
                states = [
                    s for s in definition.waiting_states if definition.states[s].actor == role.name
                ]
            else:
                continue
            clauses.append(
                sa.and_(
                    Cycle.definition_version == definition.version,
                    Cycle.state.in_(states),
                    reach.clause(role),
                )
            )
    return open_cycles(session, sa.or_(*clauses)) if clauses else []


def calendar_text(session: Session, user: User, now: datetime, base_url: str, today: date) -> str:
    """The feed for `user`: one all-day event per open cycle's current deadline."""
    host = base_url.split("://")[-1].split("/")[0] or "kaikaku"
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Iruma City//Kaikaku//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape('Kaikaku 行政改革 期限（' + user.name + '）')}",
        "X-WR-TIMEZONE:Asia/Tokyo",
    ]
    schedules: dict[int, object] = {}
    for cycle in cycles_for(session, user, today):
        definition = definition_of(cycle)
        stage = definition.stage_of(cycle.state)
        if cycle.fiscal_year not in schedules:
            schedules[cycle.fiscal_year] = schedule_for(session, cycle.fiscal_year)
        due = stage_due(cycle, stage, schedules[cycle.fiscal_year])
        item = cycle.item
        url = f"{base_url}/items/{item.id}"
        summary = f"【期限】{item.number} {item.title}（{definition.stages[stage].ja}）"
        description = (
            f"{cycle.fiscal_year}年度 {item.number} {item.title}\n"
            f"状態：{definition.state_label(cycle.state)}\n所管：{item.owning_section.name}\n{url}"
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:kaikaku-cycle-{cycle.id}-{stage}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{due:%Y%m%d}",
            f"DTEND;VALUE=DATE:{due + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(description)}",
            f"URL:{url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
