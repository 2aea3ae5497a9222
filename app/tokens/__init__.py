from flask import Blueprint

bp = Blueprint("tokens", __name__)

from . import views  # noqa: E402,F401
