from flask import Blueprint

bp = Blueprint("tasks", __name__)

from . import views  # noqa: E402,F401
