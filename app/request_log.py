"""One JSON line per request on standard output, and the request id that ties them together.

The line holds the method, the path without its query string (search words and names stay
out of the log), the status, the time taken, the signed-in user's id and the request id.
A request id coming from the reverse proxy (`X-Request-ID`) is kept when it looks like one;
otherwise one is made. Either way it is sent back in the response's `X-Request-ID`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

import sqlalchemy as sa
from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
# What proxies send: UUIDs, nginx's 32 hex digits, and similar plain tokens.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# URL parts that are secrets (calendar feeds, e-mail links) are replaced in the log.
SECRET_ARGS = ("token",)

log = logging.getLogger("kaikaku.request")


class _StdoutHandler(logging.StreamHandler):
    """Write to whatever sys.stdout is at the time of the request."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def request_id() -> str:
    """The current request's id (made on first use)."""
    if "request_id" not in g:
        given = request.headers.get(HEADER, "")
        g.request_id = given if SANE_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def logged_path() -> str:
    """The request's path with secret parts (tokens) masked; never the query string."""
    path = request.path
    for name in SECRET_ARGS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), f"<{name}>")
    return path


def _user_id() -> int | None:
    # Flask-Login keeps the user it loaded in g. Its id is read from the session's identity
    # map, never from the database: after a commit (attributes expired) in a request whose
    # transaction then failed, a load would fail too and the line would be lost.
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = sa.inspect(user, raiseerr=False)
    if state is None:
        return getattr(user, "id", None)
    return state.identity[0] if state.identity else None


def init_request_log(app: Flask) -> None:
    """Time every request, answer with its id, and log it when REQUEST_LOG is on."""
    enabled = app.config.get("REQUEST_LOG", False)
    if enabled and not any(isinstance(h, _StdoutHandler) for h in log.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()
        request_id()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[HEADER] = request_id()
        if enabled:
            started = g.get("request_started", time.perf_counter())
            line = {
                "method": request.method,
                "path": logged_path(),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "user": _user_id(),
                "request_id": request_id(),
            }
            log.info(json.dumps(line, ensure_ascii=False))
        return response
