"""The API's documentation page: Swagger UI from the npm package, served by the app."""

from __future__ import annotations

from flask import Blueprint, current_app, json, render_template, url_for

bp = Blueprint("api_docs", __name__)


@bp.route("/api/v1/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document (open to all: it describes the software, holds no data)."""
    from . import openapi_document

    return current_app.response_class(
        json.dumps(openapi_document(), ensure_ascii=False), mimetype="application/json"
    )


@bp.route("/api/v1/docs")
def docs():
    """Open to all, like the OpenAPI document it draws (it holds no data)."""
    return render_template("api/docs.html", spec_url=url_for("api_docs.openapi_json"))
