"""Signed, expiring links to a decision page, as put in e-mail.

A link never logs anyone in: it only points at a cycle's decision page, which asks for the
login as usual. It names the cycle, the cycle's version when the mail was made (so a link to
a decision already taken is recognised) and the recipient. Single use is enforced by the
web side, which records the token's digest when it is followed.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "kaikaku.decision-link"
DEFAULT_MAX_AGE = 14 * 24 * 3600


class LinkError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "expired" or "invalid"


def make_decision_token(secret_key: str, *, cycle_id: int, version: int, recipient_id: int) -> str:
    serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
    return serializer.dumps({"c": cycle_id, "v": version, "u": recipient_id})


def load_decision_token(secret_key: str, token: str, max_age: int = DEFAULT_MAX_AGE) -> dict:
    """Return {"c": cycle_id, "v": version, "u": recipient_id} or raise LinkError."""
    serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
