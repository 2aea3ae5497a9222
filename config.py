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


# Directory attributes Kaikaku reads, and the Kaikaku field each one fills.
LDAP_FIELDS = ("name", "email", "section")
DEFAULT_LDAP_ATTRIBUTES = "name=displayName,email=mail,section=departmentNumber"


def _ldap_attributes(raw: str) -> dict[str, str]:
    """Parse `name=displayName,email=mail,section=departmentNumber` into a mapping."""
    mapping: dict[str, str] = {}
    for part in raw.split(","):
        field, sep, attribute = part.strip().partition("=")
        if not sep or field.strip() not in LDAP_FIELDS or not attribute.strip():
            raise ConfigError(
                f"LDAP_ATTRIBUTES must look like {DEFAULT_LDAP_ATTRIBUTES!r}, not {raw!r}"
            )
        mapping[field.strip()] = attribute.strip()
    missing = [field for field in LDAP_FIELDS if field not in mapping]
    if missing:
        raise ConfigError(f"LDAP_ATTRIBUTES lacks {', '.join(missing)}: {raw!r}")
    return mapping


def _group_dns(raw: str | None) -> tuple[str, ...]:
    """Group DNs separated by `;` (a DN itself holds commas)."""
    return tuple(dn.strip() for dn in (raw or "").split(";") if dn.strip())


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
        self.OUTBOX_SENDERS = _number(env, "OUTBOX_SENDERS", "2")
        self.SCHEDULER_INTERVAL_SECONDS = _number(env, "SCHEDULER_INTERVAL_SECONDS", "60")
        # Development only: mail is caught locally and listed at /dev/mailbox.
        self.MAIL_CATCHER = _bool(env.get("MAIL_CATCHER"))
        self.MAILBOX_DIR = env.get("MAILBOX_DIR") or str(instance / "mailbox")
        # The workflow definition file (default: workflows/definitions/pdca.yaml).
        self.WORKFLOW_DEFINITION = env.get("WORKFLOW_DEFINITION") or None
        # How many reverse proxies stand in front; their X-Forwarded-* headers are trusted.
        self.TRUSTED_PROXIES = _number(env, "TRUSTED_PROXIES", "0")
        if not 0 <= self.TRUSTED_PROXIES <= 10:
            raise ConfigError(f"TRUSTED_PROXIES must be 0 to 10, not {self.TRUSTED_PROXIES}")
        # One JSON line per request on standard output.
        self.REQUEST_LOG = _bool(env.get("REQUEST_LOG"), default=True)
        self.MIGRATIONS_DIR = env.get("MIGRATIONS_DIR") or str(Path(__file__).parent / "migrations")
        # /healthz answers 503 when the scheduler's last tick, or the oldest unsent mail, is
        # older than these.
        self.HEALTH_SCHEDULER_MAX_AGE_SECONDS = _number(
            env, "HEALTH_SCHEDULER_MAX_AGE_SECONDS", "300"
        )
        self.HEALTH_OUTBOX_MAX_AGE_SECONDS = _number(env, "HEALTH_OUTBOX_MAX_AGE_SECONDS", "3600")
        self._directory(env)

    def _directory(self, env: Mapping[str, str]) -> None:
        """Sign-in with the city's directory (LDAP / Active Directory), off without LDAP_URL."""
        self.LDAP_URL = env.get("LDAP_URL") or None
        self.LDAP_BIND_DN = env.get("LDAP_BIND_DN") or None
        self.LDAP_BIND_PASSWORD = env.get("LDAP_BIND_PASSWORD") or None
        self.LDAP_USER_BASE = env.get("LDAP_USER_BASE") or ""
        self.LDAP_USER_FILTER = env.get("LDAP_USER_FILTER") or (
            "(&(objectClass=inetOrgPerson)(uid={login}))"
        )
        self.LDAP_ATTRIBUTES = _ldap_attributes(
            env.get("LDAP_ATTRIBUTES") or DEFAULT_LDAP_ATTRIBUTES
        )
        self.LDAP_GROUP_SECRETARIAT = _group_dns(env.get("LDAP_GROUP_SECRETARIAT"))
        self.LDAP_GROUP_COMMITTEE = _group_dns(env.get("LDAP_GROUP_COMMITTEE"))
        self.LDAP_GROUP_ADMIN = _group_dns(env.get("LDAP_GROUP_ADMIN"))
        self.LDAP_GROUP_MEMBER_ATTRIBUTE = env.get("LDAP_GROUP_MEMBER_ATTRIBUTE") or "member"
        self.LDAP_STARTTLS = _bool(env.get("LDAP_STARTTLS"))
        self.LDAP_CA_FILE = env.get("LDAP_CA_FILE") or None
        self.LDAP_TIMEOUT = _number(env, "LDAP_TIMEOUT", "5", float)
        if self.LDAP_URL:
            if not self.LDAP_URL.startswith(("ldap://", "ldaps://")):
                raise ConfigError(
                    f"LDAP_URL must start with ldap:// or ldaps://, not {self.LDAP_URL!r}"
                )
            if not self.LDAP_USER_BASE:
                raise ConfigError("LDAP_USER_BASE is needed with LDAP_URL (where the users are)")
            if "{login}" not in self.LDAP_USER_FILTER:
                raise ConfigError("LDAP_USER_FILTER must contain {login}")

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
        self.REQUEST_LOG = False
