from flask import Blueprint

bp = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")

from . import views  # noqa: E402,F401
