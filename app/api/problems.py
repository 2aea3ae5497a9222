"""Errors of the API as `application/problem+json` (RFC 9457), in Japanese and English.

Every refusal has the same shape:

    {"type": "urn:kaikaku:problem:<code>", "title": ..., "status": 409, "detail": ...,
     "code": "<code>", "messages": {"ja": {"title", "detail"}, "en": {"title", "detail"}},
     "errors": [{"field": ..., "message": ..., "messages": {"ja": ..., "en": ...}}]}

`title` and `detail` are in the request's language (Accept-Language: ja, the default, or
en); `messages` carries both. `errors` lists the fields a 422 refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Response, json, request
from flask_babel import force_locale, gettext
from werkzeug.exceptions import HTTPException

from app.text import N_

MEDIA_TYPE = "application/problem+json"
LANGUAGES = ("ja", "en")

# code -> (title msgid, default detail msgid), per HTTP status when no code is given.
TITLES = {
    400: ("bad_request", N_("リクエストが正しくありません。")),
    401: ("unauthorized", N_("認証が必要です。")),
    403: ("forbidden", N_("この操作を行う権限がありません。")),
    404: ("not_found", N_("見つかりません。")),
    405: ("method_not_allowed", N_("このメソッドは使えません。")),
    406: ("not_acceptable", N_("この形式では応答できません。")),
    409: ("conflict", N_("現在の状態と衝突しています。")),
    412: ("precondition_failed", N_("前提条件（If-Match）が最新の版と一致しません。")),
    413: ("too_large", N_("送信された内容が大きすぎます。")),
    415: ("unsupported_media_type", N_("この形式の内容は受け付けません。")),
    422: ("validation_failed", N_("入力内容に誤りがあります。")),
    428: ("precondition_required", N_("If-Match ヘッダーが必要です。")),
    429: ("too_many_requests", N_("試行が多すぎます。しばらくしてからやり直してください。")),
    500: ("server_error", N_("サーバーでエラーが発生しました。")),
}


def request_language() -> str:
    """The answer's language: Accept-Language (ja or en), Japanese by default."""
    return request.accept_languages.best_match(LANGUAGES) or "ja"


def in_both(render: Callable[[], str]) -> dict[str, str]:
    """`render()` (which calls gettext) once per language."""
    out = {}
    for language in LANGUAGES:
        with force_locale(language):
            out[language] = render()
    return out


def problem(
    status: int,
    *,
    code: str | None = None,
    detail: Callable[[], str] | str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json answer; `detail` a callable (gettext inside) or a msgid."""
    default_code, title_msgid = TITLES.get(status, ("error", N_("エラーが発生しました。")))
    code = code or default_code
    if detail is None:
        detail = title_msgid
    render = detail if callable(detail) else (lambda msgid=detail: gettext(msgid))
    titles = in_both(lambda: gettext(title_msgid))
    details = in_both(render)
    language = request_language()
    body: dict[str, Any] = {
        "type": f"urn:kaikaku:problem:{code}",
        "title": titles[language],
        "status": status,
        "detail": details[language],
        "code": code,
        "messages": {lang: {"title": titles[lang], "detail": details[lang]} for lang in LANGUAGES},
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    response.headers["Content-Language"] = language
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def field_errors(messages: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """webargs/marshmallow messages flattened to [{field, message, messages}]."""
    out: list[dict[str, Any]] = []
    for key, value in messages.items():
        name = f"{prefix}{key}" if not prefix else f"{prefix}.{key}"
        if isinstance(value, dict):
            out += field_errors(value, name if key not in ("json", "query", "headers") else "")
        else:
            texts = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            english = " ".join(texts)
            japanese = "".join(in_japanese(t) for t in texts)
            both = {"ja": japanese, "en": english}
            out.append({"field": name, "message": both[request_language()], "messages": both})
    return out


# marshmallow's (and webargs') messages for a value of the wrong shape, in Japanese.
_JAPANESE = [
    (r"Missing data for required field\.", "必須の項目です。"),
    (r"Field may not be null\.", "null にはできません。"),
    (
        r"Not a valid (string|integer|number|date|boolean|list|mapping type|datetime)\.",
        "値の型が正しくありません。",
    ),
    (r"Unknown field\.", "不明な項目です。"),
    (r"Invalid input( type)?\.", "値が正しくありません。"),
    (r"Number too large\.", "数値が大きすぎます。"),
    (r"Special numeric values \(nan or infinity\) are not permitted\.", "数値が正しくありません。"),
    (
        r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.",
        r"\1以上\2以下にしてください。",
    ),
    (r"Must be greater than or equal to (\S+)\.", r"\1以上にしてください。"),
    (r"Must be less than or equal to (\S+)\.", r"\1以下にしてください。"),
    (r"Longer than maximum length (\d+)\.", r"\1文字以内にしてください。"),
    (r"Length must be between (\d+) and (\d+)\.", r"\1以上\2以下の件数・文字数にしてください。"),
    (r"Must be one of: (.*)\.", r"次のいずれかにしてください: \1。"),
    (r"String does not match expected pattern\.", "形式が正しくありません。"),
    (r"Invalid JSON body\.", "JSON の形式が正しくありません。"),
]


def in_japanese(message: str) -> str:
    """A marshmallow message in Japanese (as it is when unknown)."""
    for pattern, japanese in _JAPANESE:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, japanese, message)
    return message


def from_http_exception(error: HTTPException) -> Response:
    """An HTTPException raised under /api/ (routing, webargs' 422, abort) as a problem."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = field_errors(data["messages"]) if isinstance(data.get("messages"), dict) else None
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem(status, errors=errors, headers=headers)


def is_api_request() -> bool:
    return request.path.startswith("/api/")
