"""The notification log: what was sent to whom, failed deliveries, missed runs."""

from __future__ import annotations

from datetime import date

from app.extensions import db as _db
from app.models import OutboxMessage, OutboxStatus

from .helpers import at


def _message(user, status, subject, error=""):
    return OutboxMessage(
        kind="reminder",
        recipient_id=user.id,
        to_address=user.email,
        subject=subject,
        body_text="本文",
        status=status,
        last_error=error,
        attempts=3 if error else 1,
        created_at=at(date(2026, 5, 1)),
        sent_at=at(date(2026, 5, 1)) if status is OutboxStatus.SENT else None,
    )


def test_failed_deliveries_can_be_listed_alone(client, make, login_as):
    secretariat = make.user(roles=["secretariat"])
    staff = make.user(name="受信 者")
    _db.session.add_all(
        [
            _message(staff, OutboxStatus.SENT, "届いた通知"),
            _message(staff, OutboxStatus.FAILED, "届かなかった通知", "550 mailbox unavailable"),
        ]
    )
    _db.session.commit()
    login_as(secretariat)
    everything = client.get("/secretariat/notifications").get_data(as_text=True)
    assert "届いた通知" in everything and "届かなかった通知" in everything
    assert "受信 者" in everything
    failed = client.get("/secretariat/notifications?status=failed").get_data(as_text=True)
    assert "届かなかった通知" in failed and "届いた通知" not in failed
    assert "550 mailbox unavailable" in failed
    assert "スケジューラ" in failed  # the missed-run section is there
    csv = client.get("/secretariat/notifications?status=failed&format=csv").data
    text = csv.decode("utf-8-sig")
    assert text.count("\r\n") == 2 and "送信失敗" in text


def test_missed_scheduler_runs_are_shown(client, make, login_as):
    from app.models import MissedWindow, MissedWindowKind

    secretariat = make.user(roles=["secretariat"])
    _db.session.add(
        MissedWindow(
            kind=MissedWindowKind.DOWNTIME,
            fiscal_year=2026,
            starts_at=at(date(2026, 5, 2)),
            ends_at=at(date(2026, 5, 6)),
            note="停止中の通知を再送しました",
        )
    )
    _db.session.commit()
    login_as(secretariat)
    page = client.get("/secretariat/notifications").get_data(as_text=True)
    assert "スケジューラ停止" in page and "停止中の通知を再送しました" in page
