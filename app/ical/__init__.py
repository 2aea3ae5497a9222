from flask import Blueprint

bp = Blueprint("ical", __name__, url_prefix="/ical")

from . import views  # noqa: E402,F401
