"""The secretariat's console: dashboard, stuck items, actions, schedule, notification log."""

from flask import Blueprint

bp = Blueprint("secretariat", __name__, url_prefix="/secretariat")

from . import views  # noqa: E402,F401
