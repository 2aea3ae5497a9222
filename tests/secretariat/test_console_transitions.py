"""The console offers whatever transitions of the cycle's definition the secretariat may fire."""

from __future__ import annotations

import pytest
from flask_babel import refresh
from sqlalchemy import select

from app.models import AuditEntry, Grade
from workflows.registry import DEFINITIONS


@pytest.fixture
def app_overrides():
    return {"WORKFLOW_DEFINITION": str(DEFINITIONS / "examples" / "hearing.yaml")}


def test_a_hearing_step_added_by_definition_is_offered_and_fired_from_the_console(
    client, login_as, make, db
):
    org = make.org("企画")
    secretariat = make.user("sec", roles=["secretariat"])
    cycle = make.cycle(
        make.item(org), 2026, "check_hearing", grade=Grade.B, submitted_by_id=org.staff.id
    )
    db.session.commit()
    login_as(secretariat)
    page = client.get(f"/secretariat/cycles/{cycle.id}").get_data(as_text=True)
    assert "事務局ヒアリング待ち" in page
    assert "ヒアリングを実施した" in page and 'value="hold_hearing"' in page
    assert 'value="send_back_hearing"' in page

    done = client.post(
        f"/secretariat/cycles/{cycle.id}/fire",
        data={"trigger": "hold_hearing", "comment": "", "version": cycle.version},
    )
    assert done.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "check_confirming"
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.cycle_id == cycle.id).order_by(AuditEntry.seq)
    ).all()[-1]
    assert (entry.action, entry.actor_id) == ("hold_hearing", secretariat.id)
    # The history shows the definition's words, not the trigger.
    page = client.get(f"/secretariat/cycles/{cycle.id}").get_data(as_text=True)
    assert "事務局ヒアリング実施" in page and "事務局として確認する" in page


def test_a_refusal_by_the_engine_reads_in_english_on_the_english_ui(client, login_as, make, db):
    org = make.org("企画")
    secretariat = make.user("sec", roles=["secretariat"])
    cycle = make.cycle(make.item(org), 2026, "check_hearing", submitted_by_id=org.staff.id)
    db.session.commit()
    login_as(secretariat)
    client.post("/locale/en", data={"next": "/"})
    refresh()  # the test's application context outlives the request that chose the locale
    refused = client.post(
        f"/secretariat/cycles/{cycle.id}/fire",
        data={"trigger": "send_back_hearing", "comment": "", "version": cycle.version},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "Please enter a reason." in text and "理由を入力してください" not in text
    db.session.refresh(cycle)
    assert cycle.state == "check_hearing" and cycle.version == 1
