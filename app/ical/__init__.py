from flask import Blueprint

bp = Blueprint("ical", __name__)

from . import views  # noqa: E402,F401
