"""The API's documentation page: Swagger UI from the npm package, served by the app."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

bp = Blueprint("api_docs", __name__)


@bp.route("/api/v1/docs")
def docs():
    """Open to all, like the OpenAPI document it draws (it holds no data)."""
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))
