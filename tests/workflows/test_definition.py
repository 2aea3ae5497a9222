"""The definition file: checked at load, versions, diagram, diff and the page."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from config import ConfigError
from workflows import operations as ops
from workflows import registry
from workflows.definition import DefinitionError
from workflows.loader import load_definition
from workflows.registry import DEFAULT, get_definition
from workflows.versions import affected_cycles, compare

from .conftest import NOW, drive_to

ROOT = Path(__file__).resolve().parents[2]
CURRENT = DEFAULT


def variant(folder: Path, change, name: str = "pdca.yaml") -> Path:
    raw = yaml.safe_load(CURRENT.read_text(encoding="utf-8"))
    change(raw)
    path = folder / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _set(index, key, value):
    def change(raw):
        raw["transitions"][index][key] = value

    return change


def _state(name, **values):
    def change(raw):
        raw["states"][name].update(values)

    return change


BAD = [
    (_set(0, "to", "nowhere"), r"transitions\[0\]\.to \(line \d+\): unknown state 'nowhere'"),
    (_set(1, "by", ["boss"]), r"transitions\[1\]\.by \(line \d+\): unknown role 'boss'"),
    (
        _set(0, "guards", ["has_money"]),
        r"transitions\[0\]\.guards \(line \d+\): unknown guard 'has_money'",
    ),
    (_set(0, "notify", {"next": "no_such_mail"}), r"no mail template no_such_mail\.txt"),
    (_set(0, "notify", {"mayor": "transition_submitted"}), r"unknown recipients 'mayor'"),
    (_set(2, "from", "closed"), r"'closed' is final; only a reopen may leave it"),
    (_set(2, "trigger", "approve_plan"), r"'approve_plan' from 'plan_submitted' is already"),
    (_set(0, "kind", "rubber_stamp"), r"transitions\[0\]\.kind.*kind must be one of"),
    (_set(0, "stage", "plan"), r"transitions\[0\].*stage is an attribute of states"),
    (_set(1, "confirms", True), r"it must lead to a state marked confirmed"),
    (_state("doing", stage="later"), r"states\.doing.*unknown stage 'later'"),
    (_state("doing", actor="mayor"), r"states\.doing.*unknown role 'mayor'"),
    (_state("doing", decides=True), r"states\.doing.*decides is an attribute of transitions"),
    (_state("plan_draft", stage=None), r"states\.plan_draft.*a state waiting for someone names"),
    (lambda raw: raw["stages"]["do"].pop("due"), r"stages\.do.*the stage has no deadline"),
    (
        lambda raw: raw["stages"]["act"].update(due={"month": 2, "day": 30}),
        r"stages\.act.*month and day must form a date",
    ),
    (
        lambda raw: raw["roles"]["head"].update(of="galaxy"),
        r"roles\.head.*of: must be one of",
    ),
    (lambda raw: raw["escalation"].update(first="mayor"), r"escalation\.first: unknown role"),
    (lambda raw: raw["committee"].update(answer=["mayor"]), r"committee\.answer: unknown role"),
    (
        lambda raw: raw["committee"].update(answer=["secretariat"]),
        r"committee\.answer: role 'secretariat' must be held through posts",
    ),
    (lambda raw: raw.pop("initial"), r": initial: missing"),
    (
        lambda raw: raw["states"].update(orphan={"ja": "孤立", "en": "Orphan", "final": True}),
        r"states\.orphan \(line \d+\): no transition leads to this state",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_a_bad_definition_names_the_file_the_place_and_the_reason(tmp_path, change, message):
    path = variant(tmp_path, change)
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    assert str(info.value).startswith(f"{path}: ")
    assert re.search(message, str(info.value)), str(info.value)


def test_the_place_includes_the_line_number(tmp_path):
    path = variant(tmp_path, _set(3, "to", "nowhere"))
    text = path.read_text(encoding="utf-8").splitlines()
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    line = int(re.search(r"line (\d+)", info.value.place).group(1))
    assert "trigger: withdraw_plan" in text[line - 1]


def test_broken_yaml_is_reported_with_its_line(tmp_path):
    path = tmp_path / "pdca.yaml"
    path.write_text("name: pdca\nstates: {a: [\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"line \d+: not valid YAML"):
        load_definition(path)


def test_a_bad_configured_definition_stops_start_up_with_one_line(tmp_path):
    from tests.conftest import make_app

    bad = variant(tmp_path, _set(0, "to", "nowhere"))
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, "sqlite://", WORKFLOW_DEFINITION=str(bad))
    assert str(info.value).startswith(f"{bad}: transitions[0].to")
    with pytest.raises(ConfigError, match="not found"):
        make_app(tmp_path, "sqlite://", WORKFLOW_DEFINITION=str(tmp_path / "missing.yaml"))
    registry.configure(None)


def test_one_machine_per_definition_and_states_as_given():
    definition = get_definition()
    assert get_definition("2026.1") is definition
    assert definition.machine is get_definition().machine
    assert set(definition.states) == {
        "plan_draft",
        "plan_submitted",
        "doing",
        "midyear_submitted",
        "midyear_approved",
        "check_draft",
        "check_submitted",
        "check_confirming",
        "act_draft",
        "act_submitted",
        "closed",
        "suspended",
        "abolished",
    }
    assert definition.states["check_confirming"].actor == "secretariat"
    assert [t.trigger for t in definition.leaving("plan_submitted")] == [
        "approve_plan",
        "send_back_plan",
        "withdraw_plan",
        "suspend",
        "abolish",
    ]
    # A few models are reused; the machine is never given a model per cycle or thread.
    before = len(definition.machine.models)
    for _ in range(20):
        definition.fire("plan_draft", "submit_plan")
        definition.fire("plan_submitted", "approve_plan")
    assert len(definition.machine.models) == max(before, 1)


def test_every_submitted_state_can_be_sent_back_with_a_reason_and_withdrawn():
    definition = get_definition()
    for state in definition.deciding_states - {"check_confirming"}:
        back = definition.of_kind(state, "send_back")
        assert back and back.needs_reason and back.decides
        assert definition.of_kind(state, "withdraw") is not None


def test_meanings_are_attributes_of_the_definition():
    definition = get_definition()
    assert [t.trigger for t in definition.confirming_transitions] == ["confirm_check"]
    assert {n for n, s in definition.states.items() if s.confirmed} == {
        "act_draft",
        "act_submitted",
        "closed",
    }
    assert definition.state_with_status("suspended") == "suspended"
    assert [n for n, s in definition.states.items() if s.closes_year] == ["closed"]
    assert definition.transition("doing", "submit_midyear").report == "midyear"
    assert definition.states["check_draft"].form == "check"
    assert definition.states["check_confirming"].escalate == ("second",)
    assert definition.stages["check"].default_due(2026) == date(2027, 5, 31)


def test_readme_diagram_equals_the_rendered_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## ワークフロー / Workflow", 1)[1]
    block = re.search(r"```mermaid\n(.*?)```", section, re.S).group(1)
    assert block == get_definition().mermaid()


def test_the_diagram_is_mermaid_from_the_definition():
    text = get_definition().mermaid()
    assert "stateDiagram-v2" in text
    assert 'state "計画承認待ち" as plan_submitted' in text
    assert "plan_submitted --> plan_draft: send_back_plan | withdraw_plan" in text
    assert "suspend" not in text and "休止中" not in text
    full = get_definition().mermaid(full=True)
    assert "act_submitted --> suspended: suspend" in full
    assert "suspended --> check_draft: resume" in full


# --- versions ---------------------------------------------------------------------------


@pytest.fixture
def archived(tmp_path, world):
    """The world's cycle opened on 2026.1, now archived; the new current 2027.1 has no
    mid-year report approval. Set through the one registry every reader asks."""
    folder = tmp_path / "definitions"
    (folder / "archive").mkdir(parents=True)
    shutil.copy(CURRENT, folder / "archive" / "pdca-2026.1.yaml")

    def change(raw):
        raw["version"] = "2027.1"
        del raw["states"]["midyear_submitted"]
        gone = ("submit_midyear", "approve_midyear", "send_back_midyear", "withdraw_midyear")
        raw["transitions"] = [t for t in raw["transitions"] if t["trigger"] not in gone]
        for t in raw["transitions"]:
            if isinstance(t["from"], list):
                t["from"] = [s for s in t["from"] if s != "midyear_submitted"]
        raw["transitions"].append(
            {
                "trigger": "skip_midyear",
                "kind": "submit",
                "from": "doing",
                "to": "midyear_approved",
                "by": ["staff"],
            }
        )

    variant(folder, change)
    registry.configure(folder / "pdca.yaml")
    yield folder
    registry.configure(None)


def test_a_running_cycle_keeps_its_version_under_a_new_definition(archived, world, db):
    assert get_definition().version == "2027.1"
    drive_to(world, "doing")
    assert world.cycle.definition_version == "2026.1"
    drive_to(world, "midyear_submitted")  # the old machine still knows the mid-year report
    ops.approve(world.cycle, by=world.head, now=NOW)
    assert world.cycle.state == "midyear_approved"
    other = ops.open_cycle(world.cycle.item, 2025, now=NOW)
    assert other.definition_version == "2027.1"


def test_a_cycle_in_a_state_the_new_version_removed_keeps_its_label_due_and_people(
    archived, world, db
):
    """Labels, deadlines, who must act and the head's tasks come from the cycle's version."""
    from app.tasks.queries import my_tasks
    from workflows.deadlines import due_date
    from workflows.labels import state_label
    from workflows.permissions import who_must_act

    drive_to(world, "midyear_submitted")
    assert "midyear_submitted" not in get_definition().states
    assert state_label("midyear_submitted", "ja", "2026.1") == "中間報告承認待ち"
    assert due_date(db.session, world.cycle) == date(2026, 10, 30)  # 31 Oct 2026 is a Saturday
    assert who_must_act(world.cycle, NOW.date()) == [world.head]
    tasks = my_tasks(db.session, world.head, NOW.date())
    assert [t.cycle for t in tasks.to_decide] == [world.cycle]
    # Its reminders follow its own stage and actor: 14 days before 30 October, the head.
    from datetime import UTC, datetime

    from app.models import OutboxMessage
    from notifications.reminders import send_reminders

    report = send_reminders(db.session, datetime(2026, 10, 16, 0, 30, tzinfo=UTC))
    assert report.reminders == 1
    (mail,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    assert mail.recipient_id == world.head.id and "中間報告承認待ち" in mail.body_text


def test_diff_lists_the_changes_and_the_running_cycles_they_affect(archived, world, db):
    drive_to(world, "midyear_submitted")
    diff = compare(get_definition("2026.1"), get_definition())
    assert diff.states_removed == ["midyear_submitted"]
    assert ("skip_midyear", "doing", "midyear_approved") in diff.transitions_added
    assert ("approve_midyear", "midyear_submitted", "midyear_approved") in diff.transitions_removed
    (affected,) = affected_cycles(db.session, diff)
    assert affected[0] is world.cycle and "removed" in affected[1]


def test_flask_workflows_diff_and_show(app, archived, world, db):
    drive_to(world, "doing")
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["workflows", "diff", "--from", "2026.1", "--to", str(archived / "pdca.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "- state midyear_submitted" in result.output
    assert "+ skip_midyear: doing -> midyear_approved" in result.output
    assert f"cycle {world.cycle.id} item" in result.output
    shown = app.test_cli_runner().invoke(args=["workflows", "show", "--version", "2026.1"])
    assert shown.output == get_definition("2026.1").mermaid()


def test_flask_audit_verify_reports_ok_and_problems(app, world, db):
    from sqlalchemy import text

    drive_to(world, "doing")
    db.session.commit()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "audit log OK" in ok.output
    db.session.execute(text("UPDATE audit_entry SET actor_id = NULL WHERE seq = 2"))
    db.session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "was altered" in bad.output


# --- the page ---------------------------------------------------------------------------


def test_the_workflow_page_needs_a_login(client):
    response = client.get("/workflow")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_workflow_page_draws_the_definition_with_a_table(client, login_as, world):
    login_as(world.staff)
    response = client.get("/workflow")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<pre class="mermaid"' in html and "stateDiagram-v2" in html
    assert "vendor/mermaid.min.js" in html and "js/workflow.js" in html
    assert "<script>" not in html  # the CSP allows no inline script
    assert "事務局確認待ち" in html and "事務局として確認する" in html
    assert "理由の入力が必要" in html and "中間報告があること" in html
    answer = html.split('id="committee-answer"', 1)[1].split("</p>", 1)[0]
    assert "担当職員、所管部長" in answer
    assert "所管部の" in html and "翌年度の" in html  # roles and stages are listed too
    assert client.get("/workflow?version=1999.9").status_code == 404


def test_workflows_check_warns_of_post_kinds_the_organisation_lacks(app, db, make):
    from app.models import PostKind

    example = str(registry.DEFINITIONS / "examples" / "deputy-mayor.yaml")
    make.post_kinds()
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workflows", "check", example])
    assert result.exit_code == 0 and "2026.1-deputy OK" in result.output
    assert "no post kind 'deputy_mayor'" in result.stderr
    PostKind.ensure(db.session, "deputy_mayor", "副市長")
    db.session.commit()
    assert "no post kind" not in runner.invoke(args=["workflows", "check", example]).stderr


def test_asking_for_unknown_versions_is_refused_and_leaves_nothing_behind():
    """A version named in a request (/workflow?version=...) that has no archived file is
    refused each time; the registry does not keep a trace of every name it was asked."""
    from workflows import registry

    registry.all_definitions()  # the current file and the archive folder, looked at once
    kept = len(registry._stamps)
    for n in range(50):
        with pytest.raises(DefinitionError, match="no definition"):
            registry.get_definition(f"9999.{n}")
    assert len(registry._stamps) == kept
