"""Commands: `flask scheduler run|tick|status`, `flask outbox list|retry`, `flask mail catcher`.

The scheduler process is the only place that reads the real time; the jobs take `now`.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus

from .settings import Settings

scheduler_cli = AppGroup("scheduler", help="The scheduler: reminders, escalations, mail.")
outbox_cli = AppGroup("outbox", help="The outbox of e-mail.")
mail_cli = AppGroup("mail", help="Mail tools for development.")

log = logging.getLogger("kaikaku.scheduler")


def _settings(app: Flask) -> Settings:
    settings = Settings.from_config(app.config)
    hook = os.environ.get("KAIKAKU_TEST_SEND_PAUSE", "")
    if hook:
        # Test hook "before|after:<n>:<seconds>": pause around the n-th SMTP transaction so a
        # test can kill the process at a known point. Never set in production.
        where, nth, seconds = hook.split(":")
        seen = {"n": 0}

        def pause(row) -> None:
            seen["n"] += 1
            if seen["n"] == int(nth):
                click.echo(f"paused {where} sending outbox row {row.id}", err=True)
                time.sleep(float(seconds))

        settings = replace(settings, **{f"{where}_send": pause})
    return settings


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        from app.calendar import TOKYO

        moment = moment.replace(tzinfo=TOKYO)
    return moment.astimezone(UTC)


def _echo_report(report) -> None:
    data = report.as_dict()
    errors = data.pop("errors")
    click.echo(" ".join(f"{k}={v}" for k, v in data.items()))
    for error in errors:
        click.echo(f"error: {error}", err=True)


@scheduler_cli.command("tick")
@click.option("--now", "now_text", help="ISO date-time to run as (Tokyo when no offset).")
@click.option("--no-deliver", is_flag=True, help="Queue mail but do not send it.")
def tick_command(now_text: str | None, no_deliver: bool) -> None:
    """Run every job once (idempotent: a second run sends nothing more)."""
    from .jobs import tick

    app = current_app._get_current_object()
    report = tick(
        db.session,
        _parse_now(now_text),
        _settings(app),
        deliver=not no_deliver,
    )
    _echo_report(report)
    if report.errors:
        # A failing job must not look like a quiet day to cron, systemd or an operator.
        raise SystemExit(1)


@scheduler_cli.command("run")
@click.option("--interval", type=int, default=None, help="Seconds between ticks (default 60).")
def run_command(interval: int | None) -> None:
    """Run the scheduler: become the leader (or wait as standby), then tick every minute."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from .jobs import tick
    from .leader import Leadership

    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    interval = interval or int(app.config.get("SCHEDULER_INTERVAL_SECONDS", 60))
    me = f"{socket.gethostname()}:{os.getpid()}"
    settings = replace(_settings(app), instance=me)
    leadership = Leadership(db.engine, app.config.get("INSTANCE_PATH", app.instance_path))
    # Ctrl-C and SIGTERM only set a flag: the main thread watches it and stops the scheduler
    # itself (calling into APScheduler from a signal handler can deadlock on its locks).
    state = {"stopping": False}

    def stop(signum, frame) -> None:
        state["stopping"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def wait(seconds: float, until: threading.Event | None = None) -> None:
        deadline = time.monotonic() + seconds
        while not state["stopping"] and time.monotonic() < deadline:
            if until is not None and until.is_set():
                return
            time.sleep(0.2)

    said_standby = False
    while not state["stopping"]:
        if not leadership.try_acquire():
            if not said_standby:
                click.echo(f"scheduler {me}: standby, another scheduler is active", err=True)
                said_standby = True
            wait(interval)
            continue
        click.echo(f"scheduler {me}: leader, ticking every {interval}s (Asia/Tokyo)", err=True)
        said_standby = False
        lost = threading.Event()

        def job(lost=lost) -> None:
            with app.app_context():
                if not leadership.still_held():
                    log.warning("leadership lost; back to standby")
                    lost.set()
                    return
                try:
                    report = tick(db.session, datetime.now(UTC), settings)
                    if any(
                        (
                            report.reminders,
                            report.escalations,
                            report.digests,
                            report.sent,
                            report.failed,
                            report.errors,
                            report.cycles_opened,
                        )
                    ):
                        log.info("tick %s", report.as_dict())
                finally:
                    db.session.remove()

        scheduler = BackgroundScheduler(timezone="Asia/Tokyo")
        scheduler.add_job(
            job,
            "interval",
            seconds=interval,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=interval,
            next_run_time=datetime.now(UTC),
            id="tick",
        )
        scheduler.start()
        wait(float("inf"), until=lost)
        scheduler.shutdown(wait=True)  # lets a running tick finish its commit
    leadership.release()


def tokyo(moment: datetime | None) -> str:
    """A stored (UTC) time as people here read it: in Tokyo, to the minute."""
    if moment is None:
        return "-"
    from app.calendar import TOKYO

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"


@scheduler_cli.command("status")
def status_command() -> None:
    """Show the last tick, the mail server's state and the missed windows."""
    from .state import missed_windows, scheduler_status

    state = scheduler_status(db.session)
    if state is None:
        click.echo("the scheduler has never run")
        return
    click.echo(
        f"last tick: {tokyo(state.last_tick_at)}  last success: {tokyo(state.last_success_at)}"
    )
    if state.leader:
        click.echo(f"run by: {state.leader}")
    if state.smtp_error:
        click.echo(f"mail server: {state.smtp_error} (next try {tokyo(state.smtp_retry_at)})")
    for window in missed_windows(db.session)[:20]:
        click.echo(
            f"missed {window.kind}: {tokyo(window.starts_at)}..{tokyo(window.ends_at)} "
            f"{window.note}"
        )
    if state.last_error:
        click.echo(
            f"FAILING: the last tick ({tokyo(state.last_tick_at)}) had errors: {state.last_error}"
        )
        raise SystemExit(1)


@outbox_cli.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), default=None)
@click.option("--limit", type=int, default=50)
def outbox_list(status: str | None, limit: int) -> None:
    """List the newest outbox messages."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == OutboxStatus(status))
    for row in db.session.scalars(query):
        line = (
            f"{row.id:>6} {row.status.value:<8} {row.attempts} {tokyo(row.created_at)}"
            f" {row.kind:<24} {row.to_address:<30} {row.subject}"
        )
        click.echo(line)
        if row.last_error:
            click.echo(f"       last error: {row.last_error}")


@outbox_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Queue failed messages again (all failed ones, or the ids given)."""
    from .delivery import retry_failed

    count = retry_failed(db.session, datetime.now(UTC), list(ids) or None)
    db.session.commit()
    click.echo(f"{count} message(s) queued again")


@mail_cli.command("catcher")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=1025)
@click.option("--dir", "folder", default=None, help="Folder for .eml files (instance/mailbox).")
def catcher_command(host: str, port: int, folder: str | None) -> None:
    """Receive mail locally and keep it in instance/mailbox (see /dev/mailbox)."""
    from .catcher import start_catcher

    app = current_app._get_current_object()
    default = Path(app.config.get("INSTANCE_PATH", app.instance_path)) / "mailbox"
    folder = folder or app.config.get("MAILBOX_DIR") or str(default)
    try:
        controller = start_catcher(folder, host, port)
    except OSError as exc:
        reason = "in use" if exc.errno == errno.EADDRINUSE else str(exc)
        raise click.ClickException(
            f"the mail catcher cannot listen on {host}:{port} ({reason}): "
            f"choose another port, e.g. make run SMTP_PORT={port + 1}"
        ) from None
    click.echo(f"mail catcher on {host}:{port}, writing to {folder}")
    signal.signal(signal.SIGTERM, _exit)
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        controller.stop()


def _exit(signum, frame) -> None:
    raise SystemExit(0)


def register(app: Flask) -> None:
    """Add the notification commands to the app's CLI."""
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(mail_cli)
