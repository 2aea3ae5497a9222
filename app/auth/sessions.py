"""Starting and ending sessions, and checking a password in constant time.

A session (and a "keep me signed in" cookie) carries the user's session token; every
request checks it against the database (`load_user`). Logging out, changing the password
and an administrator's deactivation issue a new token, so a copied session or remember-me
cookie stops working at once, on the server. Any way of proving who someone is (the
password form here, a directory bind elsewhere) ends in `sign_in`.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from flask import session
from flask_login import login_user, logout_user
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db, login_manager
from app.models import User


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of a session or remember-me cookie, only while its token is current."""
    ident, _sep, token = user_id.partition(":")
    if not (ident.isascii() and ident.isdigit()) or len(ident) > 10 or not token:
        return None
    # The granted roles come in the same row set: every page's menu asks for them.
    user = db.session.get(User, int(ident), options=[joinedload(User.roles)])
    if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
        return None
    return user


@lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    """A hash to check against when there is no user, so that takes as long as a real check."""
    return generate_password_hash(secrets.token_hex(16))


def verify_password(user: User | None, password: str) -> bool:
    """Whether `user` exists, is active and has this password.

    Takes the same time whether or not the login ID exists, so the answer's timing does
    not tell which IDs are real.
    """
    stored = user.password_hash if user is not None and user.password_hash else None
    matches = check_password_hash(stored or _stand_in_hash(), password)
    return matches and stored is not None and user.active


def sign_in(user: User, *, remember: bool = False) -> None:
    """Start a session for `user`, whose identity has just been proven; the caller commits."""
    if not user.session_token:
        user.end_sessions()
        db.session.flush()
    login_user(user, remember=remember)
    session["locale"] = user.locale or "ja"


def sign_out(user: User) -> None:
    """End this and every other session of `user` (cookies copied elsewhere included)."""
    user.end_sessions()
    db.session.commit()
    logout_user()
