"""The pure hazard lifecycle: every allowed and refused step, who may take it, and what falls due when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.hazard import lifecycle as lc

T = datetime(2026, 3, 1, tzinfo=UTC)
DEPT = lc.Actor.of("wang", lc.DEPARTMENT)
FIRM = lc.Actor.of("li", lc.ENTERPRISE)
REPORTER = lc.Actor.of("zhao", lc.REPORTER)
SYSTEM = lc.Actor.of("system", lc.SYSTEM)


def plan_for(actor: lc.Actor, days: float = 20, **kw: object) -> lc.Plan:
    fields: dict[str, object] = dict(measures="replace the valve", deadline_at=T + timedelta(days=days),
                                     responsible_person="Li Lei", funds=1000.0, interim_measures="cordon off")
    fields.update(kw)
    return lc.Plan(actor, **fields)  # type: ignore[arg-type]


def at_status(status: str, *, grade: str = lc.GENERAL, has_enterprise: bool = True) -> lc.HazardState:
    """A state in ``status`` reached by the regular path."""
    s = lc.found(T, has_enterprise=has_enterprise)
    steps: list[lc.HazardEvent] = [lc.Register(DEPT), lc.Grade(DEPT, grade), plan_for(SYSTEM), lc.Start(SYSTEM),
                                   lc.Submit(SYSTEM, "done", photos=1), lc.Verify(DEPT, accept=True), lc.Close(DEPT)]
    for ev in steps:
        if s.status == status:
            return s
        s = lc.transition(s, ev, T)
    assert s.status == status
    return s


def test_the_regular_path_to_closure_stamps_each_step():
    s = lc.found(T)
    s = lc.transition(s, lc.Register(DEPT), T + timedelta(hours=1))
    s = lc.transition(s, lc.Grade(DEPT, lc.GENERAL), T + timedelta(hours=2))
    s = lc.transition(s, plan_for(FIRM), T + timedelta(days=1))
    assert (s.status, s.plan_version, s.deadline_at) == (lc.PLANNED, 1, T + timedelta(days=20))
    s = lc.transition(s, lc.Start(FIRM), T + timedelta(days=1))
    s = lc.transition(s, lc.Submit(FIRM, "fixed", photos=2), T + timedelta(days=5))
    s = lc.transition(s, lc.Verify(DEPT, accept=True), T + timedelta(days=6))
    s = lc.transition(s, lc.Close(DEPT), T + timedelta(days=6))
    assert s.status == lc.CLOSED and not s.open
    assert (s.registered_at, s.graded_at, s.planned_at) == (T + timedelta(hours=1), T + timedelta(hours=2),
                                                            T + timedelta(days=1))
    assert (s.submitted_at, s.verified_at, s.closed_at) == (T + timedelta(days=5), T + timedelta(days=6),
                                                            T + timedelta(days=6))


def test_a_return_goes_back_to_rectifying_and_counts():
    s = at_status(lc.SUBMITTED)
    s = lc.transition(s, lc.Verify(DEPT, accept=False, reasons="cracks remain"), T)
    assert (s.status, s.return_count, s.submitted_at) == (lc.RECTIFYING, 1, None)
    s = lc.transition(s, lc.Submit(FIRM, "again", photos=1), T)
    s = lc.transition(s, lc.Verify(DEPT, accept=False, reasons="still"), T)
    assert s.return_count == 2
    with pytest.raises(lc.TransitionRefused, match="reasons"):
        lc.transition(at_status(lc.SUBMITTED), lc.Verify(DEPT, accept=False, reasons="  "), T)


ALLOWED_FROM = {
    "register": (lc.FOUND,),
    "grade": (lc.REGISTERED, lc.GRADED),
    "plan": (lc.GRADED, lc.PLANNED, lc.RECTIFYING),
    "start": (lc.PLANNED,),
    "submit": (lc.RECTIFYING,),
    "verify": (lc.SUBMITTED,),
    "close": (lc.VERIFIED,),
    "supervise": (lc.REGISTERED, lc.GRADED, lc.PLANNED, lc.RECTIFYING, lc.SUBMITTED, lc.VERIFIED),
}


def event(name: str) -> lc.HazardEvent:
    return {"register": lc.Register(SYSTEM), "grade": lc.Grade(SYSTEM, lc.GENERAL), "plan": plan_for(SYSTEM),
            "start": lc.Start(SYSTEM), "submit": lc.Submit(SYSTEM, "x", photos=1),
            "verify": lc.Verify(SYSTEM, accept=True), "close": lc.Close(SYSTEM),
            "supervise": lc.Supervise(SYSTEM)}[name]


@pytest.mark.parametrize("name", sorted(ALLOWED_FROM))
@pytest.mark.parametrize("status", lc.STATUSES)
def test_each_event_is_allowed_exactly_from_its_statuses(name: str, status: str):
    s = at_status(status)
    if status in ALLOWED_FROM[name]:
        assert lc.transition(s, event(name), T + timedelta(hours=1)) is not None
    else:
        with pytest.raises(lc.TransitionRefused, match=f"a hazard that is {status}"):
            lc.transition(s, event(name), T + timedelta(hours=1))


PART = {"register": lc.DEPARTMENT, "grade": lc.DEPARTMENT, "plan": lc.ENTERPRISE, "start": lc.ENTERPRISE,
        "submit": lc.ENTERPRISE, "verify": lc.DEPARTMENT, "close": lc.DEPARTMENT, "supervise": lc.DEPARTMENT}


@pytest.mark.parametrize("name", sorted(PART))
def test_each_event_needs_its_part(name: str):
    s = at_status(ALLOWED_FROM[name][0])
    ev = event(name)
    wrong = {lc.DEPARTMENT: lc.Actor.of("li", lc.ENTERPRISE, lc.REPORTER),
             lc.ENTERPRISE: lc.Actor.of("wang", lc.REPORTER)}[PART[name]]
    with pytest.raises(lc.RoleRefused) as caught:
        lc.transition(s, replace(ev, actor=wrong), T + timedelta(hours=1))  # type: ignore[type-var]
    assert ("supervising department" if PART[name] == lc.DEPARTMENT else "enterprise with main") in str(caught.value)
    right = lc.Actor.of("ok", PART[name])
    assert lc.transition(s, replace(ev, actor=right), T + timedelta(hours=1)) is not None  # type: ignore[type-var]


def test_the_role_is_checked_before_the_status():
    with pytest.raises(lc.RoleRefused):
        lc.transition(lc.found(T), lc.Close(FIRM), T)


def test_without_an_enterprise_the_department_rectifies_itself():
    s = at_status(lc.GRADED, has_enterprise=False)
    s = lc.transition(s, plan_for(DEPT), T)
    s = lc.transition(s, lc.Start(DEPT), T)
    assert s.status == lc.RECTIFYING
    with pytest.raises(lc.RoleRefused):  # but with an enterprise, it may not
        lc.transition(at_status(lc.GRADED), plan_for(DEPT), T)


def test_a_plan_without_a_deadline_or_beyond_the_limit_is_refused_naming_the_field():
    s = at_status(lc.GRADED)
    with pytest.raises(lc.BadPlan) as caught:
        lc.transition(s, plan_for(FIRM, deadline_at=None), T)
    assert caught.value.field == "deadline_at"
    with pytest.raises(lc.BadPlan, match="within 30 days") as caught:
        lc.transition(s, plan_for(FIRM, days=31), T)
    assert caught.value.field == "deadline_at"
    with pytest.raises(lc.BadPlan, match="future"):
        lc.transition(s, plan_for(FIRM, days=1), T + timedelta(days=2))
    for name in ("measures", "responsible_person"):
        with pytest.raises(lc.BadPlan) as caught:
            lc.transition(s, plan_for(FIRM, **{name: " "}), T)
        assert caught.value.field == name
    assert lc.transition(s, plan_for(FIRM, days=30, funds=None, interim_measures=""), T).status == lc.PLANNED


def test_a_major_hazard_is_supervised_gets_90_days_and_a_fuller_plan():
    s = at_status(lc.GRADED, grade=lc.MAJOR)
    assert s.supervised
    assert lc.transition(s, plan_for(FIRM, days=90), T).deadline_at == T + timedelta(days=90)
    with pytest.raises(lc.BadPlan):
        lc.transition(s, plan_for(FIRM, days=91), T)
    for name in ("funds", "interim_measures"):
        with pytest.raises(lc.BadPlan) as caught:
            lc.transition(s, plan_for(FIRM, **{name: None if name == "funds" else ""}), T)
        assert caught.value.field == name
    with pytest.raises(lc.TransitionRefused, match="stays under supervision"):
        lc.transition(s, lc.Supervise(DEPT, on=False), T)
    general = lc.transition(at_status(lc.GRADED), lc.Supervise(DEPT), T)
    assert general.supervised and not lc.transition(general, lc.Supervise(DEPT, on=False), T).supervised


def test_a_revised_plan_is_a_new_version_and_resets_the_reminders_when_the_deadline_moves():
    s = replace(at_status(lc.RECTIFYING), last_reminder="d3")
    same = lc.transition(s, plan_for(FIRM), T)
    assert (same.status, same.plan_version, same.last_reminder) == (lc.RECTIFYING, 2, "d3")
    moved = lc.transition(s, plan_for(FIRM, days=25), T)
    assert (moved.plan_version, moved.last_reminder, moved.planned_at) == (2, None, s.planned_at)


def test_submitting_needs_a_photo_and_bad_grades_are_refused():
    with pytest.raises(lc.TransitionRefused, match="photo"):
        lc.transition(at_status(lc.RECTIFYING), lc.Submit(FIRM, "done", photos=0), T)
    with pytest.raises(lc.BadPlan):
        lc.transition(at_status(lc.REGISTERED), lc.Grade(DEPT, "huge"), T)


def test_event_kinds_name_what_happened():
    assert lc.event_kind(plan_for(FIRM), at_status(lc.GRADED)) == "planned"
    assert lc.event_kind(plan_for(FIRM), at_status(lc.RECTIFYING)) == "replanned"
    assert lc.event_kind(lc.Verify(DEPT, accept=True)) == "accepted"
    assert lc.event_kind(lc.Supervise(DEPT, on=False)) == "unsupervised"
    assert lc.Actor.of("x", lc.ENTERPRISE, lc.DEPARTMENT).kind == lc.DEPARTMENT


# -- due ---------------------------------------------------------------------------------------------


def working(grade: str = lc.GENERAL, days: float = 20, supervised: bool = False, **kw: object) -> lc.HazardState:
    return lc.HazardState(lc.RECTIFYING, T, grade=grade, graded_at=T, planned_at=T, supervised=supervised,
                          deadline_at=T + timedelta(days=days), **kw)  # type: ignore[arg-type]


def keys(s: lc.HazardState, now: datetime) -> list[tuple[str, str]]:
    return [(d.kind, d.key) for d in lc.due(s, now)]


def test_reminders_fall_due_three_days_and_one_day_before_the_deadline_once_each():
    s = working()
    assert keys(s, T + timedelta(days=16)) == []
    assert keys(s, T + timedelta(days=17)) == [("reminder", "d3")]
    s = lc.apply_due(s, lc.due(s, T + timedelta(days=17))[0])
    assert keys(s, T + timedelta(days=17, hours=5)) == []
    assert keys(s, T + timedelta(days=19, hours=1)) == [("reminder", "d1")]
    # a sweep that missed both sends only the latest
    assert keys(working(), T + timedelta(days=19, hours=1)) == [("reminder", "d1")]


def test_supervised_hazards_get_milestone_reminders():
    s = working(lc.MAJOR, days=80, supervised=True)
    assert keys(s, T + timedelta(days=20)) == [("reminder", "m25")]
    assert keys(s, T + timedelta(days=41)) == [("reminder", "m50")]
    assert keys(replace(s, last_reminder="m50"), T + timedelta(days=59)) == []
    assert keys(replace(s, last_reminder="m50"), T + timedelta(days=60)) == [("reminder", "m75")]
    assert keys(working(days=80), T + timedelta(days=41)) == []  # not supervised: no milestones


def test_escalation_goes_to_the_department_head_then_the_city():
    s = working(last_reminder="d1")
    [e] = lc.due(s, T + timedelta(days=20, hours=1))
    assert (e.kind, e.level, e.target) == ("escalation", 1, "department_head")
    assert "overdue" in e.message_en and "逾期" in e.message_zh
    s = lc.apply_due(s, e)
    assert lc.due(s, T + timedelta(days=30)) == []
    [e2] = lc.due(s, T + timedelta(days=35))
    assert (e2.level, e2.target, e2.at) == (2, "city", T + timedelta(days=35))


def test_a_major_hazard_goes_straight_to_the_city_when_overdue():
    [e] = lc.due(working(lc.MAJOR, supervised=True, last_reminder="d1"), T + timedelta(days=21))
    assert (e.level, e.target) == (2, "city")


def test_nothing_is_due_without_a_deadline_or_once_closed_and_no_reminders_while_awaiting_verification():
    assert lc.due(lc.found(T), T + timedelta(days=400)) == []
    assert lc.due(replace(working(), status=lc.CLOSED), T + timedelta(days=400)) == []
    submitted = replace(working(), status=lc.SUBMITTED)
    assert keys(submitted, T + timedelta(days=18)) == []
    assert keys(submitted, T + timedelta(days=21)) == [("escalation", "e1")]
    assert lc.is_overdue(submitted, T + timedelta(days=21)) and not lc.is_overdue(submitted, T)
