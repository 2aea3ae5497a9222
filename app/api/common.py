"""What every API view shares: the token's user, cursors, ETags and If-Match."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any

from flask import Response, g, json, request

from app.calendar import local_date
from app.extensions import db
from app.models import ApiToken, User
from app.text import N_
from app.tokens import service as tokens
from app.validation import ID_MAX

from .problems import problem


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return local_date(now())


class Refused(Exception):
    """Ends a request with a problem answer (raised from helpers, turned into the answer
    by the blueprint's error handler)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def authenticate() -> None:
    """Before every private view: a bearer token, never the session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, presented = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="kaikaku"'}
    if scheme.lower() != "bearer" or not presented.strip():
        raise Refused(problem(401, headers=challenge))
    moment = now()
    found = tokens.authenticate(db.session, presented.strip(), request.remote_addr or "", moment)
    db.session.commit()  # the failure counted, or the last use noted
    if isinstance(found, tokens.Refusal):
        if found.reason == "throttled":
            raise Refused(problem(429, headers={"Retry-After": "900"}))
        raise Refused(
            problem(
                401,
                code="invalid_token",
                detail=N_("トークンが正しくないか、失効・期限切れです。"),
                headers={**challenge, "WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        )
    g.api_token = found
    g.api_user = found.user


def api_user() -> User:
    return g.api_user


def api_token() -> ApiToken:
    return g.api_token


def needs_write(view):
    """The token must carry the write scope (403 otherwise)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not api_token().allows("write"):
            raise Refused(
                problem(
                    403,
                    code="insufficient_scope",
                    detail=N_("このトークンは読み取り専用です（write の権限がありません）。"),
                )
            )
        return view(*args, **kwargs)

    return wrapped


# --- Cursors ----------------------------------------------------------------------------


def encode_cursor(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, key: str) -> int | None:
    """The position a cursor names (an id or a page), or 400 for a cursor not ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = value[key]
    except Exception:  # noqa: BLE001 - whatever a client made up
        raise Refused(
            problem(400, code="bad_cursor", detail=N_("cursor の値が正しくありません。"))
        ) from None
    if not isinstance(position, int) or not 0 <= position <= ID_MAX:
        raise Refused(problem(400, code="bad_cursor", detail=N_("cursor の値が正しくありません。")))
    return position


# --- ETags and If-Match -------------------------------------------------------------------


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def json_answer(
    data: Any, *, status: int = 200, public: bool = False, version: int | None = None
) -> Response:
    """The JSON answer with a strong ETag; 304 when If-None-Match names it. A cycle's ETag
    begins with its version (`"7.…"`), so that it can go back as If-Match."""
    body = json.dumps(data, ensure_ascii=False).encode()
    tag = etag_of(body)
    if version is not None:
        tag = f'"{version}.{tag[1:]}'

    response = Response(body, status=status, mimetype="application/json")
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "public, max-age=300" if public else "private, no-cache"
    response.headers["Vary"] = "Authorization, Accept-Language"
    if status == 200 and request.method == "GET" and request.if_none_match.contains(tag[1:-1]):
        response = Response(status=304)
        response.headers["ETag"] = tag
        response.headers["Cache-Control"] = "public, max-age=300" if public else "private, no-cache"
    return response


_VERSION = re.compile(r'\s*(?:W/)?"?v?(\d{1,9})(?:\.[0-9a-f]*)?"?\s*')


def expected_version() -> int:
    """The cycle version If-Match carries: 428 when missing, 412 when not a version."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() in ("", "*"):
        # "*" would skip the check it is there for: the version must be named.
        raise Refused(problem(428))
    found = _VERSION.fullmatch(header.split(",")[0])
    if found is None:
        raise Refused(problem(412))
    return int(found.group(1))
