"""Schedule settings: validation and the preview calendar."""

from __future__ import annotations

from datetime import date

from app.secretariat import schedule

GOOD = {
    "due-plan": "2027-05-02",  # Sunday
    "due-do": "2027-11-03",  # 文化の日
    "due-check": "2028-05-31",
    "due-act": "2028-06-30",
    "committee_from": "2028-07-03",
    "committee_to": "2028-08-31",
    "publication_on": "2028-09-29",
    "reminder_days": "7、1",
    "escalate_head_after": "3",
    "escalate_secretariat_after": "10",
    "escalation_repeat_days": "7",
}


def test_a_good_form_parses_and_sorts_the_reminders():
    parsed = schedule.parse(2027, GOOD)
    assert parsed.ok, parsed.errors
    assert parsed.values["reminder_days"] == [7, 1]
    assert parsed.values["due-plan"] == date(2027, 5, 2)


def test_errors_are_per_field_and_in_japanese():
    parsed = schedule.parse(
        2027,
        {
            **GOOD,
            "due-plan": "2026-04-30",
            "due-check": "2027-12-01",
            "reminder_days": "7, -1",
            "escalation_repeat_days": "0",
            "committee_to": "2028-06-01",
        },
    )
    assert "当該年度内" in parsed.errors["due-plan"]
    assert "翌年度" in parsed.errors["due-check"]
    assert "0〜90" in parsed.errors["reminder_days"]
    assert "1〜60" in parsed.errors["escalation_repeat_days"]
    assert "開始日以後" in parsed.errors["committee_to"]
    assert "入力してください" in schedule.parse(2027, {**GOOD, "due-act": ""}).errors["due-act"]


def test_preview_moves_deadlines_to_the_previous_business_day_and_says_why():
    values = schedule.parse(2027, GOOD).values
    plan, midyear, *_rest = schedule.deadlines_preview(values)
    assert plan.due_on == date(2027, 4, 30) and plan.reason == "日曜日"
    assert midyear.due_on == date(2027, 11, 2) and midyear.reason == "文化の日"
    # 1 day before is 昭和の日: the reminder moves back to the 28th, as the scheduler sends it.
    assert plan.reminders == [date(2027, 4, 23), date(2027, 4, 28)]
    assert [d for _who, d in plan.escalations] == [date(2027, 5, 10), date(2027, 5, 19)]


def test_calendar_runs_from_april_to_publication_with_holidays_and_markers():
    months = schedule.calendar_preview(2027, schedule.parse(2027, GOOD).values)
    assert (months[0].year, months[0].month) == (2027, 4)
    assert (months[-1].year, months[-1].month) == (2028, 9)
    days = {d.day: d for m in months for w in m.weeks for d in w if d.day}
    assert days[date(2027, 4, 29)].holiday == "昭和の日"
    assert {m.kind for m in days[date(2027, 5, 2)].markers} == {"moved"}
    assert "due" in {m.kind for m in days[date(2027, 4, 30)].markers}
    assert days[date(2027, 12, 30)].holiday == "年末年始"
