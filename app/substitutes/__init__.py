from flask import Blueprint

bp = Blueprint("substitutes", __name__, url_prefix="/substitutes")

from . import views  # noqa: E402,F401
