"""Configuration, read once from the environment when the app is created."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path


class ConfigError(Exception):
    """A setting that cannot work; the message is one line for the operator."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: str, kind=int):
    """A numeric setting; a value that is not a number is a ConfigError naming it."""
    raw = env.get(name) or default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _mail_from(env: Mapping[str, str]) -> str:
    """The sender of every mail; an address that no mail server would take is a ConfigError."""
    from email_validator import EmailNotValidError, validate_email

    value = env.get("MAIL_FROM", "Kaikaku 行政改革事務局 <kaikaku@localhost>")
    name, address = parseaddr(value)
    if "\n" in value or "\r" in value or not address:
        raise ConfigError(f"MAIL_FROM is not a mail address: {value!r}")
    if address.rpartition("@")[2] != "localhost":  # the development default
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ConfigError(f"MAIL_FROM is not a mail address: {value!r} ({exc})") from None
    return value


def _secret_key(instance_path: Path) -> str:
    """Return the secret key kept in instance/, creating it on first use."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        key_file.write_text(key)
        key_file.chmod(0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the secret key to {key_file} ({exc.strerror}); "
            "set SECRET_KEY or make the instance folder writable"
        ) from exc
    return key


class Config:
    """Settings of a running Kaikaku, taken from the environment."""

    TESTING = False
    WTF_CSRF_ENABLED = True
    # The largest request accepted (uploads included); larger ones get a 413 page.
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # "Keep me signed in" lasts two weeks; logging out ends it at once, on the server.
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    LANGUAGES = ("ja", "en")

    def __init__(self, instance_path: str | Path, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        instance = Path(instance_path)
        self.INSTANCE_PATH = str(instance)
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or self.default_database(instance)
        self.SECRET_KEY = env.get("SECRET_KEY") or _secret_key(instance)
        self.TIMEZONE = env.get("TIMEZONE", "Asia/Tokyo")
        self.BASE_URL = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        secure = _bool(env.get("SESSION_COOKIE_SECURE"), default=self.BASE_URL.startswith("https"))
        self.SESSION_COOKIE_SECURE = secure
        self.REMEMBER_COOKIE_SECURE = secure
        self.MAIL_FROM = _mail_from(env)
        self.SMTP_HOST = env.get("SMTP_HOST", "127.0.0.1")
        self.SMTP_PORT = _number(env, "SMTP_PORT", "1025")
        self.SMTP_USERNAME = env.get("SMTP_USERNAME") or None
        self.SMTP_PASSWORD = env.get("SMTP_PASSWORD") or None
        self.SMTP_STARTTLS = _bool(env.get("SMTP_STARTTLS"))
        self.SMTP_TIMEOUT = _number(env, "SMTP_TIMEOUT", "10", float)
        self.SMTP_MAX_ATTEMPTS = _number(env, "SMTP_MAX_ATTEMPTS", "8")
        self.SMTP_CA_FILE = env.get("SMTP_CA_FILE") or None
        self.SCHEDULER_INTERVAL_SECONDS = _number(env, "SCHEDULER_INTERVAL_SECONDS", "60")
        # How many reverse proxies stand in front; only then is X-Forwarded-For believed.
        self.TRUSTED_PROXIES = _number(env, "TRUSTED_PROXIES", "0")
        if not 0 <= self.TRUSTED_PROXIES <= 10:
            raise ConfigError(f"TRUSTED_PROXIES must be 0 to 10, not {self.TRUSTED_PROXIES}")
        # Development only: mail is caught locally and listed at /dev/mailbox.
        self.MAIL_CATCHER = _bool(env.get("MAIL_CATCHER"))
        self.MAILBOX_DIR = env.get("MAILBOX_DIR") or str(instance / "mailbox")
        # The workflow definition file (default: workflows/definitions/pdca.yaml).
        self.WORKFLOW_DEFINITION = env.get("WORKFLOW_DEFINITION") or None

    @staticmethod
    def default_database(instance: Path) -> str:
        return f"sqlite:///{instance / 'kaikaku.db'}"


class TestConfig(Config):
    """Settings for the test suite: a throwaway database, no CSRF unless a test asks."""

    TESTING = True
    WTF_CSRF_ENABLED = False

    def __init__(self, instance_path: str | Path, environ: Mapping[str, str] | None = None):
        env = dict(os.environ if environ is None else environ)
        env.setdefault("SECRET_KEY", "test-secret-key")
        env["DATABASE_URL"] = env.get("TEST_DATABASE_URL") or "sqlite://"
        super().__init__(instance_path, env)
