"""The OpenAPI document, the docs page, published results and the open-data files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openapi_spec_validator import validate

from app.api.public import INDICATOR_COLUMNS, ITEM_COLUMNS
from app.models import EffectKind, Grade
from app.public import service as publication

from .conftest import FY


def test_the_openapi_document_is_valid_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    paths = spec["paths"]
    assert "/api/v1/cycles/{cycle_id}/send-back" in paths
    assert paths["/api/v1/me/tasks/counts"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/open-data/{fiscal_year}.csv"]["get"]["security"] == []
    problem = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert "application/problem+json" in problem


def test_the_docs_page_is_served_by_the_app_itself(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def published(world, db, make):
    """Last year's confirmed cycle, published; and a draft that must never appear."""
    last = FY - 1
    item = make.item(world.org, number="1-1", title="窓口のオンライン化")
    cycle = make.cycle(item, fiscal_year=last, state="closed", goal="公表する目標")
    cycle.grade = Grade.A
    cycle.effect_amount = 1200000
    cycle.effect_kind = EffectKind.SAVING
    cycle.effect_basis = "郵送料 100件 × 12,000円"
    cycle.achievements = "申請書の様式を電子化した"
    draft_item = make.item(world.org, number="1-2", title="下書きの項目")
    make.cycle(draft_item, fiscal_year=last, state="plan_draft", goal="非公開の下書き")
    db.session.commit()
    publication.publish(db.session, last, by=world.secretariat, now=datetime.now(UTC))
    db.session.commit()
    return last


def test_published_results_need_no_login_and_hold_only_the_snapshot(world, db, make, client):
    year = published(world, db, make)
    listed = client.get("/api/v1/published").get_json()["years"]
    assert listed[0]["fiscal_year"] == year
    assert listed[0]["csv_url"] == f"/api/v1/open-data/{year}.csv"
    body = client.get(f"/api/v1/published/{year}").get_json()
    assert [e["number"] for e in body["entries"]] == ["1-1"]
    assert "非公開の下書き" not in str(body)
    assert client.get(f"/api/v1/published/{year + 1}").status_code == 404


def test_open_data_csv_has_the_documented_columns(world, db, make, client):
    year = published(world, db, make)
    response = client.get(f"/api/v1/open-data/{year}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ITEM_COLUMNS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["number"] == "1-1" and row["goal"] == "公表する目標"
    assert row["grade"] == "A" and row["effect_amount"] == "1200000"
    assert row["effect_kind"] == "saving" and row["effect_basis"] == "郵送料 100件 × 12,000円"
    assert row["achievements"] == "申請書の様式を電子化した"
    assert len(rows) == 2 and "\r\n" in text
    indicators = list(
        csv.reader(
            io.StringIO(
                client.get(f"/api/v1/open-data/{year}-indicators.csv").data.decode("utf-8-sig")
            )
        )
    )
    assert indicators[0] == INDICATOR_COLUMNS and indicators[1][4] == "オンライン申請可能な手続数"
    as_json = client.get(f"/api/v1/open-data/{year}.json")
    entry = as_json.get_json()["entries"][0]
    assert entry["title"] == "窓口のオンライン化" and entry["effect_kind"] == "saving"
    assert entry["achievements"] == "申請書の様式を電子化した"
    # Every documented column is in the README's list.
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for column in ITEM_COLUMNS + INDICATOR_COLUMNS:
        assert f"`{column}`" in readme, column


def test_open_data_is_cacheable_with_an_etag(world, db, make, client):
    year = published(world, db, make)
    first = client.get(f"/api/v1/published/{year}")
    again = client.get(
        f"/api/v1/published/{year}", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
