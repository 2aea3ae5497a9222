"""The API's marshmallow schemas: the OpenAPI document is generated from them."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.models import Direction, EffectKind, Grade, ProgressStatus
from app.validation import ID_MAX, TEXT_MAX

ID = {"validate": validate.Range(min=1, max=ID_MAX)}
YEAR = {"validate": validate.Range(min=2000, max=2100)}


class Base(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


# --- Problems -----------------------------------------------------------------------------


class ProblemText(Base):
    title = fields.String(required=True)
    detail = fields.String(required=True)


class ProblemMessages(Base):
    ja = fields.Nested(ProblemText, required=True)
    en = fields.Nested(ProblemText, required=True)


class FieldMessages(Base):
    ja = fields.String(required=True)
    en = fields.String(required=True)


class FieldError(Base):
    field = fields.String(required=True)
    message = fields.String(required=True)
    messages = fields.Nested(FieldMessages, required=True)


class Problem(Base):
    """application/problem+json: `title`/`detail` in the request's language, both in
    `messages`; `errors` for the refused fields of a 422."""

    type = fields.String(required=True, metadata={"example": "urn:kaikaku:problem:conflict"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    messages = fields.Nested(ProblemMessages, required=True)
    errors = fields.List(fields.Nested(FieldError))


# --- Shared pieces -----------------------------------------------------------------------


class Label(Base):
    code = fields.String(required=True)
    ja = fields.String(required=True)
    en = fields.String(required=True)


class StateOut(Label):
    stage = fields.String(required=True, allow_none=True)
    stage_ja = fields.String(required=True, allow_none=True)
    stage_en = fields.String(required=True, allow_none=True)
    final = fields.Boolean(required=True)


class Person(Base):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class Named(Base):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class Page(Base):
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class PageArgs(Base):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


# --- Items -------------------------------------------------------------------------------


class IndicatorValueOut(Base):
    fiscal_year = fields.Integer(required=True)
    target = fields.Float(required=True, allow_none=True)
    actual = fields.Float(required=True, allow_none=True)


class IndicatorOut(Base):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    baseline = fields.Float(required=True, allow_none=True)
    baseline_fy = fields.Integer(required=True, allow_none=True)
    values = fields.List(fields.Nested(IndicatorValueOut), required=True)


class CycleRef(Base):
    id = fields.Integer(required=True)
    fiscal_year = fields.Integer(required=True)
    state = fields.String(required=True)
    version = fields.Integer(required=True)


class Viewpoint(Base):
    id = fields.Integer(required=True)
    number = fields.Integer(required=True)
    name = fields.String(required=True)


class ItemOut(Base):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    title = fields.String(required=True)
    purpose = fields.String(required=True)
    content = fields.String(required=True)
    status = fields.String(required=True)
    plan_id = fields.Integer(required=True)
    viewpoint = fields.Nested(Viewpoint, required=True)
    department = fields.Nested(Named, required=True)
    section = fields.Nested(Named, required=True)
    related_sections = fields.List(fields.Nested(Named), required=True)
    indicators = fields.List(fields.Nested(IndicatorOut), required=True)
    cycles = fields.List(fields.Nested(CycleRef), required=True)


class ItemPage(Page):
    items = fields.List(fields.Nested(ItemOut), required=True)


class ItemArgs(PageArgs):
    plan_id = fields.Integer(**ID)
    viewpoint = fields.Integer(**ID)
    department = fields.Integer(**ID)


# --- Cycles ------------------------------------------------------------------------------


class PlanOut(Base):
    goal = fields.String(required=True)
    schedule_q1 = fields.String(required=True)
    schedule_q2 = fields.String(required=True)
    schedule_q3 = fields.String(required=True)
    schedule_q4 = fields.String(required=True)
    carried_over = fields.String(required=True)


class ReportValueOut(Base):
    indicator_id = fields.Integer(required=True)
    value = fields.Float(required=True, allow_none=True)


class ReportOut(Base):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    as_of = fields.Date(required=True)
    body = fields.String(required=True)
    created_by = fields.Nested(Person, required=True)
    values = fields.List(fields.Nested(ReportValueOut), required=True)


class ActualOut(Base):
    indicator_id = fields.Integer(required=True)
    target = fields.Float(required=True, allow_none=True)
    actual = fields.Float(required=True, allow_none=True)


class CheckOut(Base):
    grade = fields.String(required=True, allow_none=True)
    progress_status = fields.String(required=True, allow_none=True)
    achievements = fields.String(required=True, metadata={"description": "取組実績"})
    analysis = fields.String(required=True)
    issues = fields.String(required=True)
    effect_amount = fields.Integer(required=True, allow_none=True)
    effect_kind = fields.String(
        required=True, allow_none=True, metadata={"description": "効果額の種類 (null: 未分類)"}
    )
    effect_basis = fields.String(required=True, metadata={"description": "算定根拠"})
    actuals = fields.List(fields.Nested(ActualOut), required=True)
    confirmed_at = fields.DateTime(required=True, allow_none=True)


class ActOut(Base):
    improvement = fields.String(required=True)
    direction = fields.String(required=True, allow_none=True)


class CycleOut(Base):
    id = fields.Integer(required=True)
    version = fields.Integer(
        required=True, metadata={"description": "Send it back in If-Match to write."}
    )
    item_id = fields.Integer(required=True)
    item_number = fields.String(required=True)
    item_title = fields.String(required=True)
    fiscal_year = fields.Integer(required=True)
    definition_version = fields.String(required=True)
    state = fields.Nested(StateOut, required=True)
    state_since = fields.DateTime(required=True)
    deadline = fields.Date(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    must_act = fields.List(fields.Nested(Person), required=True)
    submitted_by = fields.Nested(Person, required=True, allow_none=True)
    submitted_at = fields.DateTime(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    plan = fields.Nested(PlanOut, required=True)
    reports = fields.List(fields.Nested(ReportOut), required=True)
    check = fields.Nested(CheckOut, required=True)
    act = fields.Nested(ActOut, required=True)
    actions = fields.List(
        fields.String(),
        metadata={"description": "What the caller may do now: save, submit, approve, ..."},
    )


class CyclePage(Page):
    cycles = fields.List(fields.Nested(CycleOut), required=True)


class CycleArgs(PageArgs):
    fiscal_year = fields.Integer(**YEAR)
    item_id = fields.Integer(**ID)
    state = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))


# --- Writes ------------------------------------------------------------------------------

NUMBER = {"allow_none": True, "allow_nan": False, "places": None}
TEXT = {"validate": validate.Length(max=TEXT_MAX)}


class TargetIn(Base):
    fiscal_year = fields.Integer(required=True, **YEAR)
    target = fields.Decimal(required=True, **NUMBER)


class IndicatorIn(Base):
    id = fields.Integer(
        **ID, metadata={"description": "An existing indicator; leave out for a new one."}
    )
    name = fields.String(validate=validate.Length(max=200))
    unit = fields.String(validate=validate.Length(max=40))
    baseline = fields.Decimal(**NUMBER)
    baseline_fy = fields.Integer(allow_none=True, validate=validate.Range(min=1990, max=2100))
    targets = fields.List(fields.Nested(TargetIn))


class ActualIn(Base):
    indicator_id = fields.Integer(required=True, **ID)
    actual = fields.Decimal(required=True, **NUMBER)


class DraftIn(Base):
    """The stage the cycle is in takes the fields of its form (plan, check or act); the
    fields left out keep their stored values."""

    goal = fields.String(**TEXT)
    schedule_q1 = fields.String(**TEXT)
    schedule_q2 = fields.String(**TEXT)
    schedule_q3 = fields.String(**TEXT)
    schedule_q4 = fields.String(**TEXT)
    indicators = fields.List(fields.Nested(IndicatorIn), validate=validate.Length(max=50))
    actuals = fields.List(fields.Nested(ActualIn), validate=validate.Length(max=50))
    grade = fields.String(allow_none=True, validate=validate.OneOf([g.value for g in Grade]))
    progress_status = fields.String(
        allow_none=True, validate=validate.OneOf([s.value for s in ProgressStatus])
    )
    achievements = fields.String(**TEXT, metadata={"description": "取組実績"})
    analysis = fields.String(**TEXT)
    issues = fields.String(**TEXT)
    effect_amount = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=-(10**15), max=10**15),
        metadata={"description": "効果額 in yen"},
    )
    effect_kind = fields.String(
        allow_none=True,
        validate=validate.OneOf([k.value for k in EffectKind]),
        metadata={"description": "効果額の種類: revenue 歳入確保, saving 歳出削減, other その他"},
    )
    effect_basis = fields.String(**TEXT, metadata={"description": "効果額の算定根拠"})
    improvement = fields.String(**TEXT)
    direction = fields.String(
        allow_none=True, validate=validate.OneOf([d.value for d in Direction])
    )


class ReportValueIn(Base):
    indicator_id = fields.Integer(required=True, **ID)
    value = fields.Decimal(required=True, **NUMBER)


class ReportIn(Base):
    kind = fields.String(required=True, validate=validate.Length(max=40))
    as_of = fields.Date(required=True)
    body = fields.String(required=True, **TEXT)
    values = fields.List(fields.Nested(ReportValueIn), validate=validate.Length(max=50))


class CommentIn(Base):
    comment = fields.String(load_default="", **TEXT)


class ReasonIn(Base):
    reason = fields.String(
        load_default="",
        **TEXT,
        metadata={"description": "Required by the workflow: 422 when empty."},
    )


# --- Tasks -------------------------------------------------------------------------------


class TaskOut(Base):
    cycle_id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    item_number = fields.String(required=True)
    item_title = fields.String(required=True)
    fiscal_year = fields.Integer(required=True)
    version = fields.Integer(required=True)
    state = fields.Nested(StateOut, required=True)
    deadline = fields.Date(required=True, allow_none=True)
    days_left = fields.Integer(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    reason = fields.String(required=True)
    via_substitute = fields.Boolean(required=True)


class TaskCounts(Base):
    staff = fields.Integer(required=True, metadata={"description": "to write and submit"})
    decide = fields.Integer(required=True, metadata={"description": "to approve or send back"})
    confirm = fields.Integer(required=True, metadata={"description": "to confirm (secretariat)"})
    total = fields.Integer(required=True)


class MyTasksOut(Base):
    counts = fields.Nested(TaskCounts, required=True)
    to_do = fields.List(fields.Nested(TaskOut), required=True)
    sent_back = fields.List(fields.Nested(TaskOut), required=True)
    upcoming = fields.List(fields.Nested(TaskOut), required=True)
    to_decide = fields.List(fields.Nested(TaskOut), required=True)
    overdue = fields.List(fields.Nested(TaskOut), required=True)
    to_confirm = fields.List(fields.Nested(TaskOut), required=True)


class MeOut(Base):
    id = fields.Integer(required=True)
    login = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    token_prefix = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    token_expires_at = fields.DateTime(required=True)


# --- Secretariat ---------------------------------------------------------------------------


class ConsoleArgs(Base):
    """The secretariat pages' filters, by the same names."""

    fy = fields.Integer(**YEAR)
    viewpoint = fields.Integer(**ID)
    department = fields.Integer(**ID)
    state = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    stage = fields.String(validate=validate.Length(max=40))
    grade = fields.String(validate=validate.OneOf([g.value for g in Grade]))
    overdue = fields.Integer(validate=validate.OneOf([0, 1]))
    days = fields.Integer(validate=validate.Range(min=1, max=365))
    sort = fields.String(
        validate=validate.OneOf(["since", "number", "department", "activity", "grade"])
    )
    cursor = fields.String(validate=validate.Length(max=200))


class MatrixRowOut(Base):
    department = fields.Nested(Named, required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    total = fields.Integer(required=True)
    total_overdue = fields.Integer(required=True)


class DashboardOut(Base):
    fiscal_year = fields.Integer(required=True)
    columns = fields.List(fields.Nested(Label), required=True)
    rows = fields.List(fields.Nested(MatrixRowOut), required=True)
    stuck_total = fields.Integer(required=True)


class StuckOut(Base):
    cycle_id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    item_number = fields.String(required=True)
    item_title = fields.String(required=True)
    department = fields.Nested(Named, required=True)
    fiscal_year = fields.Integer(required=True)
    version = fields.Integer(required=True)
    state = fields.Nested(StateOut, required=True)
    state_since = fields.DateTime(required=True)
    deadline = fields.Date(required=True, allow_none=True)
    days_overdue = fields.Integer(required=True)
    escalation = fields.String(required=True)
    last_activity = fields.DateTime(required=True, allow_none=True)
    must_act = fields.List(fields.Nested(Person), required=True)
    grade = fields.String(required=True, allow_none=True)


class StuckPage(Page):
    fiscal_year = fields.Integer(required=True)
    total = fields.Integer(required=True)
    cycles = fields.List(fields.Nested(StuckOut), required=True)


# --- Published results ---------------------------------------------------------------------


class PublishedIndicator(Base):
    name = fields.String(required=True)
    unit = fields.String(required=True)
    baseline = fields.String(required=True, allow_none=True)
    target = fields.String(required=True, allow_none=True)
    actual = fields.String(required=True, allow_none=True)


class PublishedOpinion(Base):
    opinion = fields.String(required=True)
    reply = fields.String(required=True, allow_none=True)


class PublishedStep(Base):
    fiscal_year = fields.Integer(required=True)
    text = fields.String(required=True)


class PublishedEntry(Base):
    item_id = fields.Integer(required=True)
    number = fields.String(required=True)
    title = fields.String(required=True)
    viewpoint = fields.Integer(required=True)
    viewpoint_name = fields.String(required=True)
    department = fields.String(required=True)
    section = fields.String(required=True)
    related_sections = fields.List(fields.String(), required=True)
    purpose = fields.String(required=True)
    content = fields.String(required=True)
    goal = fields.String(required=True)
    indicators = fields.List(fields.Nested(PublishedIndicator), required=True)
    grade = fields.String(required=True, allow_none=True)
    progress_status = fields.String(required=True, allow_none=True)
    analysis = fields.String(required=True)
    issues = fields.String(required=True)
    effect_amount = fields.Integer(required=True, allow_none=True)
    improvement = fields.String(required=True)
    direction = fields.String(required=True, allow_none=True)
    opinions = fields.List(fields.Nested(PublishedOpinion), required=True)
    # In snapshots published since the progress sheet's fields exist (absent in older ones).
    steps = fields.List(fields.Nested(PublishedStep), metadata={"description": "工程"})
    achievements = fields.String(allow_none=True, metadata={"description": "取組実績"})
    effect_kind = fields.String(
        allow_none=True, metadata={"description": "効果額の種類 (null: 未分類)"}
    )
    effect_basis = fields.String(allow_none=True, metadata={"description": "算定根拠"})


class PublishedYear(Base):
    fiscal_year = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    published_at = fields.DateTime(required=True)
    entries = fields.List(fields.Nested(PublishedEntry), required=True)


class PublishedSummary(Base):
    fiscal_year = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    published_at = fields.DateTime(required=True)
    json_url = fields.String(required=True)
    csv_url = fields.String(required=True)
    indicators_csv_url = fields.String(required=True)


class PublishedList(Base):
    years = fields.List(fields.Nested(PublishedSummary), required=True)
