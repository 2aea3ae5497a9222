"""`kaikaku serve`: the app under gunicorn, the production WSGI server.

The app is built once in the master process (so a bad configuration stops start-up with
one line) and handed to gunicorn, which forks the workers. Each worker then drops the
database connections it inherited: two processes sharing one connection corrupt each
other's conversations with the server. gunicorn runs outside the command's application
context, so each request pushes its own (its own `g`, where the signed-in user is kept).
The scheduler is not started here; it runs as its own process (`kaikaku scheduler run`).
"""

from __future__ import annotations

import contextvars
import gc

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication

from .extensions import db


class KaikakuServer(BaseApplication):
    """gunicorn serving one already built Flask app with the options given."""

    def __init__(self, app: Flask, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_fork", self.post_fork)

    def post_fork(self, server, worker) -> None:
        # close=False: leave the parent's sockets alone, only forget them in this worker.
        with self.application.app_context():
            db.engine.dispose(close=False)
        collect_less_often()

    def load(self) -> Flask:
        return self.application


# Python's cycle collector, by default, runs after every 700 new container objects; a page
# makes tens of thousands (ORM rows, template output), and each full collection walks every
# object the app holds (mappers, templates, the definitions). A worker collects after 50,000
# instead, and never walks what the master built before forking (`gc.freeze`). Measured on
# the demo: up to 7 ms of a page's CPU time went to collections, under 2 ms after.
GC_THRESHOLD = (50_000, 10, 10)


def collect_less_often() -> None:
    gc.set_threshold(*GC_THRESHOLD)


def freeze_what_is_built() -> None:
    """Leave out of every later collection what exists now (before the workers fork)."""
    gc.collect()
    gc.freeze()


def server_options(
    bind: str, workers: int, threads: int, timeout: int, control_socket: str | None
) -> dict:
    """gunicorn settings for `kaikaku serve`."""
    options = {
        "bind": [bind],
        "workers": workers,
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": timeout,
        "proc_name": "kaikaku",
        # Kaikaku writes its own request log (app/request_log.py); gunicorn logs the rest.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }
    if control_socket:
        options["control_socket"] = control_socket
    else:
        options["control_socket_disable"] = True
    return options


@click.command("serve")
@with_appcontext
@click.option(
    "--bind",
    envvar="WEB_BIND",
    default="127.0.0.1:8000",
    show_default=True,
    help="Address to listen on, HOST:PORT or unix:PATH (env WEB_BIND).",
)
@click.option(
    "--workers",
    "-w",
    envvar="WEB_WORKERS",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Worker processes (env WEB_WORKERS).",
)
@click.option(
    "--threads",
    envvar="WEB_THREADS",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Threads per worker; 1 is gunicorn's sync worker, for behind nginx (env WEB_THREADS).",
)
@click.option(
    "--timeout",
    envvar="WEB_TIMEOUT",
    type=click.IntRange(5, 3600),
    default=120,
    show_default=True,
    help="Seconds before a stuck worker is restarted (env WEB_TIMEOUT).",
)
@click.option(
    "--control-socket",
    envvar="WEB_CONTROL_SOCKET",
    default=None,
    help="Path of gunicorn's control socket (gunicornc); off unless given.",
)
def serve_command(
    bind: str, workers: int, threads: int, timeout: int, control_socket: str | None
) -> None:
    """Serve the web app with gunicorn (the scheduler runs as its own process)."""
    app = current_app._get_current_object()
    server = KaikakuServer(app, server_options(bind, workers, threads, timeout, control_socket))
    # The command runs inside an application context, which forked workers would inherit: a
    # sync worker would then share one `g` (the signed-in user, the form token) between
    # requests. Serving from an empty context gives every request its own.
    freeze_what_is_built()
    contextvars.Context().run(server.run)
