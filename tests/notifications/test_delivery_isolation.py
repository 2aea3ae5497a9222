"""One bad address stops nothing: a poisoned message fails alone, with its reason."""

from __future__ import annotations

from sqlalchemy import select

from app.models import OutboxMessage, OutboxStatus
from notifications.delivery import deliver_outbox

from .helpers import at, queue_nudge

NOW = at("2026-06-01", 10)


def _queue(session, user, n: int) -> OutboxMessage:
    return queue_nudge(session, user, at("2026-06-01"), f"isolation:{user.id}:{n}")


def _statuses(session) -> dict[str, OutboxStatus]:
    return {row.to_address: row.status for row in session.scalars(select(OutboxMessage))}


def test_a_poisoned_address_among_twenty_fails_alone_and_the_nineteen_go_out(db, make, smtp):
    good = [make.user(f"staff{n:02d}") for n in range(19)]
    poisoned = make.user("poisoned", email="kacho@city.example.jp\r\nBcc: all@evil.example")
    users = good[:7] + [poisoned] + good[7:]
    rows = [_queue(db.session, user, n) for n, user in enumerate(users)]
    db.session.commit()

    report = deliver_outbox(db.session, NOW, smtp.settings())

    assert (report.sent, report.failed) == (19, 1)
    delivered = sorted(m["To"].addresses[0].addr_spec for m in smtp.messages)
    assert delivered == sorted(u.email for u in good)
    assert not any("evil.example" in str(m) for m in smtp.messages)
    bad = rows[7]
    db.session.refresh(bad)
    assert bad.status is OutboxStatus.FAILED
    assert "宛先のメールアドレスが正しくありません" in bad.last_error
    # A second pass sends nothing again and does not retry the poisoned row.
    again = deliver_outbox(db.session, NOW, smtp.settings())
    assert (again.sent, again.failed) == (0, 0) and len(smtp.messages) == 19


def test_addresses_no_server_would_take_fail_with_their_reason_and_the_rest_is_sent(db, make, smtp):
    bad_addresses = ["no-at-sign.example.jp", "two@@city.example.jp", "space in@city.example.jp"]
    bad = [make.user(f"bad{n}", email=address) for n, address in enumerate(bad_addresses)]
    refused, ok = make.user("gone"), make.user("ok")
    smtp.recorder.refuse[refused.email] = "550 5.1.1 No such user"
    for n, user in enumerate([*bad, refused, ok]):
        _queue(db.session, user, n)
    db.session.commit()

    report = deliver_outbox(db.session, NOW, smtp.settings())

    assert (report.sent, report.failed) == (1, 4)
    assert [m["To"].addresses[0].addr_spec for m in smtp.messages] == [ok.email]
    statuses = _statuses(db.session)
    assert statuses[ok.email] is OutboxStatus.SENT
    assert all(statuses[a] is OutboxStatus.FAILED for a in [*bad_addresses, refused.email])


def test_the_notification_log_shows_a_poisoned_message_as_failed_with_its_reason(
    db, make, smtp, client, login_as
):
    secretariat = make.user("jimukyoku", roles=["secretariat"])
    poisoned = make.user("poisoned", name="改行 太郎", email="kacho@city.example.jp\nBcc: x@y.jp")
    _queue(db.session, poisoned, 1)
    db.session.commit()
    deliver_outbox(db.session, NOW, smtp.settings())

    login_as(secretariat)
    page = client.get("/secretariat/notifications?status=failed").get_data(as_text=True)
    assert "改行 太郎" in page and "送信失敗" in page
    assert "宛先のメールアドレスが正しくありません" in page
