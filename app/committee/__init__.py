"""The reform promotion committee: opinions (意見), replies (対応), questions (事前質問)."""

from flask import Blueprint

bp = Blueprint("committee", __name__, url_prefix="/committee")

from . import views  # noqa: E402,F401
