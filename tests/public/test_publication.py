"""Publication to citizens: only confirmed results, frozen when published, no login needed."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask_babel import refresh

from app.models import Direction, Grade, ProgressStatus, Publication, Role
from app.public.service import PublicationError, publish, withdraw

NOW = datetime(2027, 9, 15, 1, 0, tzinfo=UTC)


@pytest.fixture
def year(make, db):
    org = make.org("企画")
    confirmed = make.item(org, number="1-1", title="行政手続のオンライン化の推進")
    draft = make.item(org, number="1-2", title="書かない窓口の導入")
    c1 = make.cycle(
        confirmed,
        2026,
        "closed",
        goal="オンライン手続を250件にする",
        grade=Grade.A,
        progress_status=ProgressStatus.DONE,
        analysis="計画どおり",
        issues="周知不足",
        effect_amount=1200000,
        improvement="対象手続を拡大する",
        direction=Direction.EXPAND,
    )
    confirmed.indicators[0].value_for(2026).actual = Decimal("260")
    make.cycle(
        draft,
        2026,
        "check_submitted",
        goal="非公開の下書き",
        grade=Grade.D,
        analysis="まだ公表してはならない分析",
    )
    secretariat = make.user("jimukyoku", roles=[Role.SECRETARIAT])
    db.session.commit()
    return {"org": org, "secretariat": secretariat, "cycle": c1}


def test_only_confirmed_results_are_published_and_shown_without_login(client, db, year):
    publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    page = client.get("/public/2026").get_data(as_text=True)
    assert "行政手続のオンライン化の推進" in page
    assert "A 達成" in page and "拡充" in page and "1,200千円" in page
    assert "260" in page
    assert "書かない窓口の導入" not in page
    assert "まだ公表してはならない分析" not in page
    assert "令和8年度" in client.get("/public/").get_data(as_text=True)


def test_later_changes_stay_private_until_published_again(client, db, year):
    publish(db.session, 2026, by=year["secretariat"], now=NOW)
    year["cycle"].analysis = "公表後に書き換えた分析"
    db.session.commit()
    assert "公表後に書き換えた分析" not in client.get("/public/2026").get_data(as_text=True)
    publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    page = client.get("/public/2026").get_data(as_text=True)
    assert "公表後に書き換えた分析" in page and "第2版" in page


def test_unpublished_year_is_not_found(client, year):
    assert client.get("/public/2026").status_code == 404


def test_only_the_secretariat_publishes(db, year, client, login_as):
    with pytest.raises(PublicationError, match="事務局だけ"):
        publish(db.session, 2026, by=year["org"].head, now=NOW)
    login_as(year["org"].head)
    assert client.get("/public/manage").status_code == 403
    assert client.post("/public/manage/2026").status_code == 403
    assert db.session.query(Publication).count() == 0


def test_a_running_year_cannot_be_published(db, year):
    with pytest.raises(PublicationError, match="終了した年度"):
        publish(db.session, 2026, by=year["secretariat"], now=datetime(2026, 11, 1, tzinfo=UTC))


def test_withdrawal_needs_a_reason_and_removes_the_page(client, db, year):
    publication = publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    with pytest.raises(PublicationError, match="理由"):
        withdraw(db.session, publication, by=year["secretariat"], now=NOW, reason=" ")
    withdraw(db.session, publication, by=year["secretariat"], now=NOW, reason="誤りがあったため")
    db.session.commit()
    assert client.get("/public/2026").status_code == 404


def test_secretariat_previews_and_publishes_a_finished_year_through_the_page(
    client, db, make, year, login_as
):
    older = make.item(year["org"], number="1-3", title="コンビニ交付の利用促進")
    make.cycle(older, 2025, "closed", goal="コンビニ交付を40%に", grade=Grade.B)
    make.cycle(year["cycle"].item, 2025, "check_confirming", goal="確認前の内容")
    db.session.commit()
    login_as(year["secretariat"])
    preview = client.get("/public/manage/2025").get_data(as_text=True)
    assert "コンビニ交付の利用促進" in preview
    assert "行政手続のオンライン化の推進（事務局確認待ち）" in preview  # left out, and why
    response = client.post("/public/manage/2025", data={"note": "令和7年度の結果です"})
    assert response.status_code == 302
    page = client.get("/public/2025").get_data(as_text=True)
    assert "コンビニ交付の利用促進" in page and "令和7年度の結果です" in page
    assert "確認前の内容" not in page


def test_published_year_exports_to_excel_and_csv(client, db, year):
    publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    csv = client.get("/public/2026.csv")
    assert csv.status_code == 200
    assert csv.data.startswith(b"\xef\xbb\xbf")
    assert "行政手続のオンライン化の推進" in csv.data.decode("utf-8-sig")
    xlsx = client.get("/public/2026.xlsx")
    assert xlsx.data[:2] == b"PK"


def test_the_public_page_separates_thousands(client, db, year):
    indicator = year["cycle"].item.indicators[0]
    indicator.unit = "人"
    indicator.value_for(2026).actual = Decimal("12000")
    db.session.commit()
    publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    page = client.get("/public/2026").get_data(as_text=True)
    assert "12,000 人" in page and "12000" not in page


def test_the_page_follows_withdrawals_renamed_viewpoints_and_the_language(client, db, year):
    """The rendered year is reused between citizens, never past what it was made from."""
    first = publish(db.session, 2026, by=year["secretariat"], now=NOW)
    year["cycle"].analysis = "第2版の分析"
    db.session.commit()
    second = publish(db.session, 2026, by=year["secretariat"], now=NOW)
    db.session.commit()
    assert "第2版の分析" in client.get("/public/2026").get_data(as_text=True)
    withdraw(db.session, second, by=year["secretariat"], now=NOW, reason="誤りがあったため")
    db.session.commit()
    page = client.get("/public/2026").get_data(as_text=True)
    assert "第2版の分析" not in page and "計画どおり" in page and first.revision == 1

    viewpoint = year["cycle"].item.viewpoint
    viewpoint.name = "改めた視点の名前"
    db.session.commit()
    assert "改めた視点の名前" in client.get("/public/2026").get_data(as_text=True)

    assert client.post("/locale/en", data={"next": "/public/2026"}).status_code == 302
    refresh()  # the tests' application context outlives requests; Flask-Babel keeps its locale
    english = client.get("/public/2026").get_data(as_text=True)
    assert '<html lang="en">' in english, english[:200]
    assert "公表日" not in english
