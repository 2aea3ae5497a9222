"""Outbox delivery against a real SMTP server: Japanese mail, retries, downtime, failures."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from app.models import MissedWindowKind, OutboxMessage, OutboxStatus
from notifications.delivery import deliver_outbox, message_id, retry_failed
from notifications.jobs import tick
from notifications.settings import Settings
from notifications.state import missed_windows, scheduler_status

from .helpers import at, days, queue_nudge


def _nudge(session, user, now, n: int = 1) -> OutboxMessage:
    return queue_nudge(session, user, now, f"nudge-test:{user.id}:{n}")


def test_japanese_mail_arrives_intact_with_a_stable_message_id(db, make, smtp):
    user = make.user("tanaka", name="田中 花子")
    row = _nudge(db.session, user, at("2026-06-01"))
    db.session.commit()

    report = deliver_outbox(db.session, at("2026-06-01", 10), smtp.settings())

    assert report.sent == 1
    [message] = smtp.messages
    assert str(message["Subject"]) == "【事務局からのお願い】2-3 公共施設の再配置（計画）"
    assert message["To"].addresses[0].display_name == "田中 花子"
    assert message["From"].addresses[0].display_name == "Kaikaku 行政改革事務局"
    text = message.get_body(("plain",)).get_content()
    assert "田中 花子 様" in text and "至急ご確認ください。" in text
    assert "https://kaikaku.example.jp/items/7" in text
    html = message.get_body(("html",)).get_content()
    assert '<a href="https://kaikaku.example.jp/items/7">' in html
    db.session.refresh(row)
    assert row.status is OutboxStatus.SENT
    assert message["Message-ID"] == row.message_id == message_id(row, smtp.settings())
    assert row.message_id.endswith("@city.iruma.example.jp>")


def test_one_connection_serves_a_batch(db, make, smtp, monkeypatch):
    import notifications.delivery as delivery

    user = make.user()
    for n in range(5):
        _nudge(db.session, user, at("2026-06-01"), n)
    db.session.commit()
    opened = []
    real = delivery.smtp_connect
    monkeypatch.setattr(delivery, "smtp_connect", lambda s: opened.append(1) or real(s))

    report = deliver_outbox(db.session, at("2026-06-01", 10), smtp.settings())

    assert report.sent == 5 and len(smtp.messages) == 5 and len(opened) == 1


def test_a_temporary_refusal_is_retried_with_backoff_then_marked_failed(db, make, smtp):
    user = make.user("busy")
    row = _nudge(db.session, user, at("2026-06-01"))
    db.session.commit()
    smtp.recorder.refuse[user.email] = "451 4.3.0 Mailbox busy, try later"
    settings = smtp.settings(max_attempts=3, retry_base=timedelta(minutes=5))

    now = at("2026-06-01", 10)
    deliver_outbox(db.session, now, settings)
    db.session.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at == now + timedelta(minutes=5)
    assert "Mailbox busy" in row.last_error

    deliver_outbox(db.session, now + timedelta(minutes=1), settings)  # not due yet
    db.session.refresh(row)
    assert row.attempts == 1

    deliver_outbox(db.session, now + timedelta(minutes=5), settings)
    db.session.refresh(row)
    assert row.attempts == 2 and row.next_attempt_at == now + timedelta(minutes=15)

    deliver_outbox(db.session, now + timedelta(minutes=15), settings)
    db.session.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert "Mailbox busy" in row.last_error
    assert smtp.messages == []

    # Visible, never deleted, and requeued on demand once the mailbox is fixed.
    smtp.recorder.refuse.clear()
    assert retry_failed(db.session, now + timedelta(hours=1)) == 1
    db.session.commit()
    deliver_outbox(db.session, now + timedelta(hours=1), settings)
    db.session.refresh(row)
    assert row.status is OutboxStatus.SENT and len(smtp.messages) == 1


def test_a_permanent_refusal_fails_at_once_and_the_others_still_go(db, make, smtp):
    gone, ok = make.user("gone"), make.user("ok")
    bad = _nudge(db.session, gone, at("2026-06-01"))
    _nudge(db.session, ok, at("2026-06-01"))
    db.session.commit()
    smtp.recorder.refuse[gone.email] = "550 5.1.1 No such user"

    report = deliver_outbox(db.session, at("2026-06-01", 10), smtp.settings())

    assert (report.sent, report.failed) == (1, 1)
    db.session.refresh(bad)
    assert bad.status is OutboxStatus.FAILED and "No such user" in bad.last_error
    assert [m["To"].addresses[0].addr_spec for m in smtp.messages] == [ok.email]


def test_smtp_down_for_a_week_then_back_delivers_everything_once(db, make, smtp):
    org = make.org()
    make.item(org, number="1-1")
    db.session.commit()
    settings = smtp.settings(downtime_threshold=timedelta(days=2))
    for day in days("2026-04-01", "2026-04-13"):
        assert not tick(db.session, at(day), settings).errors
    smtp.stop()
    for day in days("2026-04-14", "2026-04-21"):
        report = tick(db.session, at(day), settings)
        assert report.sent == 0
    state = scheduler_status(db.session)
    assert state.smtp_error and state.smtp_failures == 6  # one try a day since 16 April
    queued = db.session.scalars(select(OutboxMessage)).all()
    assert [r.status for r in queued] == [OutboxStatus.PENDING]  # the 16 April reminder
    assert queued[0].attempts == 0 and "接続できません" in queued[0].last_error
    smtp.start()
    for day in days("2026-04-22", "2026-04-30"):
        assert not tick(db.session, at(day), settings).errors

    received = Counter((m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in smtp.messages)
    staff = org.staff.email
    assert received == {
        (staff, "【期限まで14日】1-1 行政手続のオンライン化（計画）"): 1,  # delivered 22 April
        (staff, "【期限まで7日】1-1 行政手続のオンライン化（計画）"): 1,
        (staff, "【期限まで2日】1-1 行政手続のオンライン化（計画）"): 1,  # 28 April (29th: holiday)
        (staff, "【期限当日】1-1 行政手続のオンライン化（計画）"): 1,
    }
    assert all(n == 1 for n in smtp.message_ids().values())
    statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT}
    assert scheduler_status(db.session).smtp_error == ""


def test_after_downtime_only_what_still_matters_is_sent_and_the_gap_is_recorded(db, make, smtp):
    org = make.org()
    make.item(org, number="1-1")
    secretariat = make.user("sec", roles=["secretariat"])
    db.session.commit()
    settings = smtp.settings(downtime_threshold=timedelta(days=2))
    sent_on = {}

    def run(first, last):
        for day in days(first, last):
            before = len(smtp.messages)
            assert not tick(db.session, at(day), settings).errors
            for m in smtp.messages[before:]:
                sent_on.setdefault(day.isoformat(), []).append(
                    (m["To"].addresses[0].addr_spec, m["X-Kaikaku-Kind"])
                )

    run("2026-04-01", "2026-04-14")
    # Down from 15 to 27 April: the 14- and 7-day reminders are past, the 1-day one is due.
    run("2026-04-28", "2026-05-06")
    # Down from 7 to 19 May: the head's escalations of 8 and 15 May and the secretariat's of
    # 19 May fell in the gap; only the current repeat of each goes out.
    run("2026-05-20", "2026-05-20")

    assert sent_on == {
        "2026-04-28": [(org.staff.email, "reminder")],
        "2026-04-30": [(org.staff.email, "reminder")],
        "2026-05-20": [
            (org.head.email, "escalation_head"),
            (secretariat.email, "escalation_secretariat"),
        ],
    }
    windows = missed_windows(db.session, 2026)
    downtime = [(w.starts_at, w.ends_at) for w in windows if w.kind is MissedWindowKind.DOWNTIME]
    assert sorted(downtime) == [
        (at("2026-04-14"), at("2026-04-28")),
        (at("2026-05-06"), at("2026-05-20")),
    ]
    skipped = sorted(
        (w.rule, w.step, w.target_on.isoformat(), w.recipient_id)
        for w in windows
        if w.kind is not MissedWindowKind.DOWNTIME
    )
    assert skipped == [
        ("escalation_head", 0, "2026-05-08", org.head.id),
        ("reminder", 7, "2026-04-23", org.staff.id),
        ("reminder", 14, "2026-04-16", org.staff.id),
    ]


def test_a_secretariat_nudge_names_the_item_its_deadline_and_the_sender(db, make, smtp):
    from notifications.nudges import nudge

    org = make.org()
    cycle = make.cycle(make.item(org, number="3-2", title="指定管理の拡大"), state="doing")
    sender = make.user("sec", roles=["secretariat"], name="事務局 一郎")
    nudge(
        db.session,
        cycle,
        org.staff,
        sender=sender,
        message="中間報告の提出をお願いします。",
        now=at("2026-10-26"),
    )
    db.session.commit()

    deliver_outbox(db.session, at("2026-10-26", 10), smtp.settings())

    [message] = smtp.messages
    assert str(message["Subject"]) == "【事務局からのお願い】3-2 指定管理の拡大（実施）"
    text = message.get_body(("plain",)).get_content()
    assert "中間報告の提出をお願いします。" in text
    assert "期限：令和8年10月30日（金）" in text  # 31 October is a Saturday
    assert "送信者：事務局 一郎" in text
    assert f"https://kaikaku.example.jp/items/{cycle.item_id}" in text


class _Authenticator:
    def __init__(self):
        self.logins: list[tuple[bytes, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"kaikaku" and auth_data.password == b"s3cret"
        self.logins.append((auth_data.login, ok))
        return AuthResult(success=ok)


def test_smtp_login_is_used_when_configured_and_a_refused_login_spends_nothing(db, make):
    from aiosmtpd.controller import Controller

    from .conftest import Recorder, free_port

    recorder, port, authenticator = Recorder(), free_port(), _Authenticator()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        row = _nudge(db.session, make.user(), at("2026-06-01"))
        db.session.commit()
        base = dict(smtp_port=port, smtp_username="kaikaku", smtp_timeout=5)
        wrong = deliver_outbox(
            db.session, at("2026-06-01", 10), Settings(**base, smtp_password="nope")
        )
        db.session.refresh(row)
        assert wrong.sent == 0 and row.status is OutboxStatus.PENDING and row.attempts == 0
        assert "接続できません" in row.last_error

        later = at("2026-06-01", 11)
        right = deliver_outbox(db.session, later, Settings(**base, smtp_password="s3cret"))
        assert right.sent == 1 and len(recorder.messages) == 1
        assert authenticator.logins == [(b"kaikaku", False), (b"kaikaku", True)]
    finally:
        controller.stop()


def test_an_escalation_waiting_for_the_mail_server_is_dropped_once_the_item_moves_on(
    db, make, smtp
):
    from workflows import operations as ops

    org = make.org()
    cycle = make.cycle(
        make.item(org, number="1-1"), state="plan_draft", state_since=at("2026-04-01")
    )
    db.session.commit()
    settings = smtp.settings()
    smtp.stop()
    report = tick(db.session, at("2026-05-08"), settings)  # 3 business days overdue
    assert report.escalations == 1 and report.sent == 0
    cycle.goal = "目標"
    ops.submit(cycle, by=org.staff, now=at("2026-05-08", 10))
    db.session.commit()
    smtp.start()

    report = tick(db.session, at("2026-05-08", 11), settings)

    assert report.cancelled == 1
    assert [m["X-Kaikaku-Kind"] for m in smtp.messages] == ["transition_submitted"]
    escalation = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.kind == "escalation_head")
    )
    assert escalation.status is OutboxStatus.CANCELLED and escalation.sent_at is None


def test_starttls_with_the_citys_own_ca_and_a_server_that_insists_on_it(db, make, tmp_path):
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller

    from .conftest import Recorder, free_port

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    recorder, port = Recorder(), free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True
    )
    controller.start()
    try:
        row = _nudge(db.session, make.user(), at("2026-06-01"))
        db.session.commit()
        plain = deliver_outbox(db.session, at("2026-06-01", 10), Settings(smtp_port=port))
        db.session.refresh(row)
        assert plain.sent == 0 and row.status is OutboxStatus.PENDING and row.attempts == 0
        assert "STARTTLS" in scheduler_status(db.session).smtp_error

        secure = Settings(smtp_port=port, smtp_starttls=True, smtp_ca_file=str(cert))
        report = deliver_outbox(db.session, at("2026-06-01", 11), secure)
        assert report.sent == 1 and len(recorder.messages) == 1
    finally:
        controller.stop()
