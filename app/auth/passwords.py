"""What a new password must be: long enough, and not one that attackers try first."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from app.text import _

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
_TRAILING = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def is_common(password: str) -> bool:
    """On the shipped list, as typed or without its trailing digits and symbols
    ("password2026!" is "password")."""
    lowered = password.lower()
    common = common_passwords()
    return lowered in common or _TRAILING.sub("", lowered) in common


def password_problem(password: str, *, login: str = "") -> str | None:
    """Why `password` may not be used (a Japanese message), or None when it may."""
    if len(password) < MIN_LENGTH:
        return _("パスワードは%(n)d文字以上で入力してください。", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("パスワードは%(n)d文字以内で入力してください。", n=MAX_LENGTH)
    if len(set(password)) < 4 or (login and login.lower() in password.lower()):
        return _("推測されやすいパスワードは使えません。別のパスワードにしてください。")
    if is_common(password):
        return _("よく使われていて推測されやすいパスワードです。別のパスワードにしてください。")
    return None
