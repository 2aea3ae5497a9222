"""The application factory: configuration, extensions, blueprints, error pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, render_template, request, session
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import Config, ConfigError

from .api.problems import from_http_exception, is_api_request, problem
from .extensions import babel, csrf, db, login_manager, migrate


def N_(text: str) -> str:
    """Mark a message for the catalogue; it is translated where it is shown."""
    return text


def select_locale() -> str:
    """The API: Accept-Language. Pages: the session's choice, then the user's, then Japanese."""
    if is_api_request():
        return request.accept_languages.best_match(("ja", "en")) or "ja"
    chosen = session.get("locale")
    if chosen in ("ja", "en"):
        return chosen
    if current_user and current_user.is_authenticated:
        return current_user.locale or "ja"
    return "ja"


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route: ids and years beyond a 32-bit column are simply not found."""

    def __init__(self, map, *args, **kwargs):
        from .validation import ID_MAX

        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def client_identifier() -> str:
    """What binds a session to its browser: the client address and the user agent.

    The address is werkzeug's `remote_addr`, which comes from X-Forwarded-For only when
    TRUSTED_PROXIES says how many proxies stand in front (ProxyFix); a client cannot set it.
    """
    import hashlib

    agent = request.headers.get("User-Agent", "")
    text = f"{request.remote_addr or ''}|{agent}"
    return hashlib.sha512(text.encode("utf-8", "replace")).hexdigest()


def _error_page(code: int):
    def handler(error):
        if is_api_request():
            return from_http_exception(error)
        return render_template(f"errors/{code}.html", error=error), code

    return handler


# SQLSTATEs of a transaction PostgreSQL ended because another one crossed it: a deadlock,
# a serialization failure.
_CROSSED = frozenset({"40P01", "40001"})
_CROSSED_TITLE = N_("他の処理と重なりました")
_CROSSED_MESSAGE = N_(
    "同じ項目を同時に更新する別の処理があったため、この操作は保存されていません"
    "（何も変更されていません）。もう一度お試しください。"
)


def _crossed(error: OperationalError):
    """A request's transaction ended by the database because another crossed it (a
    deadlock, say an import moving an item while its year is opened): nothing of it was
    written, and the user is asked to try again. Any other database error stays a 500."""
    if getattr(error.orig, "sqlstate", None) not in _CROSSED:
        raise error
    db.session.rollback()
    if is_api_request():
        return problem(409, code="crossed", detail=_CROSSED_MESSAGE)
    title, message = gettext(_CROSSED_TITLE), gettext(_CROSSED_MESSAGE)
    return render_template("errors/409.html", title=title, message=message), 409


def _use_workflow(app: Flask) -> None:
    """Load the configured workflow definition (a bad file stops start-up, one line) and
    show the engine's refusals in the reader's language."""
    from app.text import translate_values
    from workflows import errors, registry

    try:
        registry.configure(app.config.get("WORKFLOW_DEFINITION"))
    except registry.DefinitionError as exc:
        raise ConfigError(str(exc)) from exc
    errors.set_translator(translate_values)


def create_app(config_class: type[Config] = Config, **overrides) -> Flask:
    app = Flask("app", instance_relative_config=False)
    app.config.from_object(config_class(app.instance_path))
    app.config.update(overrides)
    app.url_map.converters["int"] = BoundedIntConverter
    _use_workflow(app)

    if app.config.get("TRUSTED_PROXIES"):
        # Only as many X-Forwarded-* values as there are proxies in front are believed.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Tokyo")
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("ログインしてください。")
    login_manager.localize_callback = gettext
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = client_identifier

    from . import models  # noqa: F401  (register the tables)
    from .auth import bp as auth_bp
    from .cli import register_commands
    from .health import bp as health_bp
    from .main import bp as main_bp
    from .request_log import init_request_log
    from .templating import register_template_helpers

    init_request_log(app)
    # Open to monitors without a login: counts and times only (see app/health.py).
    app.register_blueprint(health_bp)

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    from .workflow_pages import bp as workflow_pages_bp

    app.register_blueprint(workflow_pages_bp)
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    from .imports import bp as imports_bp

    app.register_blueprint(imports_bp)
    from .items import bp as items_bp
    from .substitutes import bp as substitutes_bp
    from .tasks import bp as tasks_bp

    app.register_blueprint(tasks_bp)
    app.register_blueprint(items_bp)
    app.register_blueprint(substitutes_bp)
    from .admin import bp as admin_bp
    from .committee import bp as committee_bp
    from .secretariat import bp as secretariat_bp

    app.register_blueprint(secretariat_bp)
    app.register_blueprint(committee_bp)
    app.register_blueprint(admin_bp)
    from .ical import bp as ical_bp
    from .mailbox import bp as mailbox_bp

    app.register_blueprint(ical_bp)
    app.register_blueprint(mailbox_bp)
    from .tokens import bp as tokens_bp

    app.register_blueprint(tokens_bp)
    from .api import init_api

    init_api(app)
    for code in (403, 404, 409):
        app.register_error_handler(code, _error_page(code))
    app.register_error_handler(OperationalError, _crossed)

    @app.errorhandler(CSRFError)
    def csrf_refused(error):
        # Back to the page the form was on (same site only); static/js/forms.js puts the
        # typed text back into it.
        back = None
        referrer = urlsplit(request.referrer or "")
        if referrer.netloc == request.host and referrer.path.startswith("/"):
            back = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        return render_template("errors/400.html", csrf=True, error=error, back=back), 400

    @app.errorhandler(BadRequest)
    def bad_request(error):
        if is_api_request():
            return from_http_exception(error)
        return render_template("errors/400.html", error=error), 400

    @app.errorhandler(413)
    def too_large(error):
        if is_api_request():
            return from_http_exception(error)
        return render_template("errors/400.html", too_large=True, error=error), 413

    register_template_helpers(app)
    register_commands(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        if request.path.startswith("/static/"):
            response.cache_control.max_age = 3600
        elif is_api_request():
            # The API sets its own caching (ETags); a session cookie plays no part in it.
            response.headers.setdefault("Cache-Control", "no-store")
        elif current_user and current_user.is_authenticated:
            # A signed-in page or export may hold what others must not see: never kept by a
            # browser or a proxy, so "back" after logout shows nothing.
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
