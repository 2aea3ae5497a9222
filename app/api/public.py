"""Published results, no login: only what the secretariat published (the frozen snapshot
of `app.public.service.current`), as JSON and as open-data CSV files per fiscal year."""

from __future__ import annotations

import csv
import io

from flask import Response, url_for

from app.extensions import db
from app.models import Publication
from app.public.service import current, published_years
from app.validation import require_fiscal_year

from . import public_bp
from . import schemas as s
from .common import json_answer

# The open-data CSV's columns, in order (README: API > Open data).
ITEM_COLUMNS = [
    "fiscal_year",
    "revision",
    "published_at",
    "item_id",
    "number",
    "title",
    "viewpoint",
    "viewpoint_name",
    "department",
    "section",
    "related_sections",
    "purpose",
    "content",
    "goal",
    "grade",
    "progress_status",
    "achievements",
    "analysis",
    "issues",
    "effect_amount",
    "effect_kind",
    "effect_basis",
    "improvement",
    "direction",
    "indicator_count",
    "opinions",
]
INDICATOR_COLUMNS = [
    "fiscal_year",
    "item_id",
    "number",
    "title",
    "indicator",
    "unit",
    "baseline",
    "target",
    "actual",
]
PUBLIC_DOC = {"security": []}


def public_doc(schema=None, *, content_type: str | None = None):
    def decorate(view):
        if schema is not None:
            return public_bp.doc(**PUBLIC_DOC)(public_bp.response(200, schema)(view))
        csv_file = {
            "description": "UTF-8 (BOM), CRLF",
            "content": {content_type: {"schema": {"type": "string"}}},
        }
        return public_bp.doc(**PUBLIC_DOC, responses={"200": csv_file})(view)

    return decorate


def _publication(fiscal_year: int) -> Publication:
    require_fiscal_year(fiscal_year)  # 404 for a year out of range, as the pages
    publication = current(db.session, fiscal_year)
    if publication is None:
        from flask import abort

        abort(404)
    return publication


def _summary(publication: Publication) -> dict:
    fy = publication.fiscal_year
    return {
        "fiscal_year": fy,
        "revision": publication.revision,
        "published_at": publication.published_at,
        "json_url": url_for("public_api.open_data_json", fiscal_year=fy),
        "csv_url": url_for("public_api.open_data_csv", fiscal_year=fy),
        "indicators_csv_url": url_for("public_api.open_data_indicators", fiscal_year=fy),
    }


def _year(publication: Publication) -> dict:
    return s.PublishedYear().dump(
        {
            "fiscal_year": publication.fiscal_year,
            "revision": publication.revision,
            "published_at": publication.published_at,
            "entries": publication.entries,
        }
    )


@public_bp.route("/published")
@public_doc(s.PublishedList)
def published():
    """公表済みの年度 / Published fiscal years"""
    years = [current(db.session, fy) for fy in published_years(db.session)]
    return json_answer(
        s.PublishedList().dump({"years": [_summary(p) for p in years if p]}), public=True
    )


@public_bp.route("/published/<int:fiscal_year>")
@public_doc(s.PublishedYear)
def published_year(fiscal_year: int):
    """公表された年度の結果 / One fiscal year's published results (the frozen snapshot)"""
    return json_answer(_year(_publication(fiscal_year)), public=True)


@public_bp.route("/open-data/<int:fiscal_year>.json")
@public_doc(s.PublishedYear)
def open_data_json(fiscal_year: int):
    """オープンデータ（JSON） / Open data, JSON"""
    response = json_answer(_year(_publication(fiscal_year)), public=True)
    response.headers["Content-Disposition"] = f'attachment; filename="kaikaku-{fiscal_year}.json"'
    return response


def _csv(rows: list[list], name: str) -> Response:
    """UTF-8 with a BOM and CRLF line ends, as every export (Excel opens it in Japanese).

    Values are not altered: open data keeps the published text exactly.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def item_rows(publication: Publication) -> list[list]:
    rows: list[list] = [ITEM_COLUMNS]
    for e in publication.entries:
        rows.append(
            [
                publication.fiscal_year,
                publication.revision,
                publication.published_at.isoformat(),
                e["item_id"],
                e["number"],
                e["title"],
                e["viewpoint"],
                e["viewpoint_name"],
                e["department"],
                e["section"],
                "、".join(e.get("related_sections") or []),
                e["purpose"],
                e["content"],
                e["goal"],
                e["grade"] or "",
                e["progress_status"] or "",
                e.get("achievements") or "",
                e["analysis"],
                e["issues"],
                "" if e["effect_amount"] is None else e["effect_amount"],
                e.get("effect_kind") or "",
                e.get("effect_basis") or "",
                e["improvement"],
                e["direction"] or "",
                len(e.get("indicators") or []),
                "\n".join(
                    o["opinion"] + (f"\n→ {o['reply']}" if o.get("reply") else "")
                    for o in e.get("opinions") or []
                ),
            ]
        )
    return rows


def indicator_rows(publication: Publication) -> list[list]:
    rows: list[list] = [INDICATOR_COLUMNS]
    for e in publication.entries:
        for i in e.get("indicators") or []:
            rows.append(
                [
                    publication.fiscal_year,
                    e["item_id"],
                    e["number"],
                    e["title"],
                    i.get("name") or "",
                    i.get("unit") or "",
                    i.get("baseline") or "",
                    i.get("target") or "",
                    i.get("actual") or "",
                ]
            )
    return rows


@public_bp.route("/open-data/<int:fiscal_year>.csv")
@public_doc(content_type="text/csv")
def open_data_csv(fiscal_year: int):
    """オープンデータ（CSV、1行1項目） / Open data, CSV, one row per item"""
    return _csv(item_rows(_publication(fiscal_year)), f"kaikaku-{fiscal_year}.csv")


@public_bp.route("/open-data/<int:fiscal_year>-indicators.csv")
@public_doc(content_type="text/csv")
def open_data_indicators(fiscal_year: int):
    """オープンデータ（CSV、1行1指標） / Open data, CSV, one row per indicator"""
    return _csv(indicator_rows(_publication(fiscal_year)), f"kaikaku-{fiscal_year}-indicators.csv")
