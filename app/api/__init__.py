"""The JSON API under /api/v1: OpenAPI 3.1 generated from the marshmallow schemas by
flask-smorest, bearer tokens only (no cookie, so no CSRF), errors as problem+json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api as _Api
from flask_smorest import Blueprint

PREFIX = "/api/v1"
BEARER = [{"bearerAuth": []}]

items_bp = Blueprint(
    "items_api", __name__, url_prefix=PREFIX, description="改革項目 / Reform items"
)
cycles_bp = Blueprint(
    "cycles_api", __name__, url_prefix=PREFIX, description="年度サイクル / Yearly cycles"
)
tasks_bp = Blueprint(
    "tasks_api", __name__, url_prefix=PREFIX, description="自分のタスク / My tasks"
)
secretariat_bp = Blueprint(
    "secretariat_api", __name__, url_prefix=PREFIX, description="事務局 / Secretariat"
)
public_bp = Blueprint(
    "public_api",
    __name__,
    url_prefix=PREFIX,
    description="公表された結果・オープンデータ（ログイン不要） / Published results, open data",
)


def _private(blueprint: Blueprint) -> Blueprint:
    from .common import authenticate

    blueprint.before_request(authenticate)
    return blueprint


class Api(_Api):
    """flask-smorest's Api without its app-wide HTTPException handler: the HTML pages keep
    their own error pages; the API's problems are handled in `errors.register`."""

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        """Every error answer is documented as application/problem+json (schema Problem)."""
        import http

        from .problems import MEDIA_TYPE
        from .schemas import Problem

        def register(name: str, description: str, with_body: bool) -> None:
            response: dict = {"description": description}
            if with_body:
                response["content"] = {MEDIA_TYPE: {"schema": Problem}}
            self.spec.components.response(name, response, lazy=True)

        for status in http.HTTPStatus:
            register(status.name, status.phrase, status >= 400)
        register("DEFAULT_ERROR", "application/problem+json", True)


API_CONFIG = {
    "API_TITLE": "Kaikaku API",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "行政改革の進行管理 Kaikaku の API。個人用アクセストークン（設定 > APIトークン）を "
                "`Authorization: Bearer <token>` で送ります。エラーは application/problem+json"
                "（title/detail は Accept-Language の言語、messages に日本語と英語）。\n\n"
                "Kaikaku's API. Send a personal access token (settings > API tokens) as "
                "`Authorization: Bearer <token>`. Errors are application/problem+json "
                "(title/detail in the Accept-Language language, both in `messages`). Writes "
                "take the cycle's version in `If-Match`: 428 without it, 412 when stale, 409 "
                "when someone decided first or the state does not allow it."
            )
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "kkp_…"}
            }
        },
    },
}


PRIVATE = tuple(_private(b) for b in (items_bp, cycles_bp, tasks_bp, secretariat_bp))


def init_api(app: Flask) -> Api:
    """Bind the API to the app: its blueprints, their errors, the spec and the docs page."""
    for key, value in API_CONFIG.items():
        app.config.setdefault(key, value)
    from . import docs, errors, public, reads, writes  # noqa: F401  (register the views)

    api = Api(app)
    for blueprint in (*PRIVATE, public_bp):
        api.register_blueprint(blueprint)
    errors.register(app)
    app.register_blueprint(docs.bp)
    from app.extensions import csrf

    # Bearer tokens only: no cookie authenticates a call, so there is no CSRF to fear.
    for blueprint in (*PRIVATE, public_bp):
        csrf.exempt(blueprint)
    return api
