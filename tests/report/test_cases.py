"""The case workflow as a pure function: every transition, every refusal, roles, re-dispatch, time limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.report import cases as cs

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
SYSTEM = cs.Actor.system()
OPS = cs.Actor(1, frozenset({"ops", "checker"}))
DEPT = cs.Actor(7, frozenset({"department"}))
INSPECTOR = cs.Actor(9, frozenset({"checker"}))
CITIZEN = cs.Actor.citizen()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def dispatched(hours: float = 4) -> cs.CaseState:
    s, _ = cs.transition(cs.CaseState(cs.SUBMITTED, requested_at=T0), cs.Register(hours=hours), SYSTEM, T0)
    s, _ = cs.transition(s, cs.Dispatch(department_id=3), SYSTEM, T0)
    return s


def responded() -> cs.CaseState:
    s, _ = cs.transition(dispatched(), cs.Accept(), DEPT, at(1))
    s, _ = cs.transition(s, cs.Respond("已处理 / fixed"), DEPT, at(2))
    return s


def closed(when: float = 3) -> cs.CaseState:
    s, _ = cs.transition(responded(), cs.Check(passed=True), INSPECTOR, at(when))
    s, _ = cs.transition(s, cs.Close(), OPS, at(when))
    return s


def test_the_whole_way_to_closed_on_time() -> None:
    s = cs.CaseState(cs.SUBMITTED, requested_at=T0)
    s, ch = cs.transition(s, cs.Register(hours=4), SYSTEM, T0)
    assert (s.status, s.registered_at, s.due_at) == (cs.REGISTERED, T0, at(4))
    assert [c.kind for c in ch] == ["registered"] and ch[0].public
    s, ch = cs.transition(s, cs.Dispatch(department_id=3, user_id=11, note="urgent"), OPS, T0)
    assert (s.status, s.department_id, s.assigned_user_id, s.dispatch_count) == (cs.DISPATCHED, 3, 11, 1)
    assert ch[0].kind == "dispatched" and ch[0].data["department_id"] == 3
    s, ch = cs.transition(s, cs.Accept(), DEPT, at(1))
    assert (s.status, s.assigned_user_id) == (cs.HANDLING, 11)  # the person dispatched to stays assigned
    s, ch = cs.transition(s, cs.Respond("已补装 / replaced", note="crew 2"), DEPT, at(2))
    assert (s.status, s.first_response_at, s.assigned_user_id) == (cs.RESPONDED, at(2), 7)
    assert [(c.kind, c.public) for c in ch] == [("responded", True), ("internal_note", False)]
    s, ch = cs.transition(s, cs.Check(passed=True), INSPECTOR, at(3))
    assert s.status == cs.CHECKING and ch[0].kind == "check_passed"
    s, ch = cs.transition(s, cs.Close(), OPS, at(3.5))
    assert (s.status, s.closed_at, ch[0].data["on_time"]) == (cs.CLOSED, at(3.5), True)
    assert cs.on_time(s) is True and not s.open


def test_accept_records_the_accepting_officer_when_nobody_was_named() -> None:
    s, _ = cs.transition(dispatched(), cs.Accept(), DEPT, at(1))
    assert s.assigned_user_id == 7


def test_failed_check_sends_it_back_and_counts_the_dispatch() -> None:
    s, ch = cs.transition(responded(), cs.Check(passed=False, reason="仍未修复 still open"), INSPECTOR, at(3))
    assert (s.status, s.dispatch_count, ch[0].kind, ch[0].text) == (cs.DISPATCHED, 2, "check_failed",
                                                                     "仍未修复 still open")
    s, _ = cs.transition(s, cs.Accept(), DEPT, at(4))
    s, _ = cs.transition(s, cs.Respond("再次处理 / done again"), DEPT, at(5))
    assert s.first_response_at == at(2)  # the first response stays the first


def test_failed_check_needs_a_reason() -> None:
    with pytest.raises(cs.TransitionRefused, match="reason"):
        cs.transition(responded(), cs.Check(passed=False), INSPECTOR, at(3))


def test_the_handler_cannot_check_their_own_work() -> None:
    handler_checker = cs.Actor(7, frozenset({"department", "checker"}))
    with pytest.raises(cs.RoleRefused, match="handled the case cannot also check"):
        cs.transition(responded(), cs.Check(passed=True), handler_checker, at(3))


@pytest.mark.parametrize(("state", "event", "actor"), [
    ("submitted", cs.Register(hours=4), DEPT),
    ("registered", cs.Dispatch(department_id=3), DEPT),
    ("dispatched", cs.Accept(), OPS),
    ("handling", cs.Respond("x"), INSPECTOR),
    ("responded", cs.Check(passed=True), DEPT),
    ("checking", cs.Close(), DEPT),
    ("registered", cs.Reject("spam"), DEPT),
    ("closed", cs.Reopen("still broken", hours=4), OPS),
])
def test_each_step_needs_its_role(state: str, event: cs.CaseEvent, actor: cs.Actor) -> None:
    s = cs.CaseState(state, requested_at=T0, closed_at=T0 if state == "closed" else None)
    with pytest.raises(cs.RoleRefused, match="^only "):
        cs.transition(s, event, actor, at(1))


@pytest.mark.parametrize(("state", "event", "actor"), [
    ("registered", cs.Register(hours=4), SYSTEM),
    ("submitted", cs.Dispatch(department_id=3), SYSTEM),
    ("registered", cs.Accept(), DEPT),
    ("dispatched", cs.Respond("x"), DEPT),
    ("handling", cs.Check(passed=True), INSPECTOR),
    ("responded", cs.Close(), OPS),
    ("closed", cs.Reject("late"), OPS),
    ("responded", cs.Reject("late"), OPS),
    ("merged", cs.Merge(into_id=1), SYSTEM),
    ("dispatched", cs.Reopen("x", hours=4), CITIZEN),
])
def test_each_step_only_from_its_statuses(state: str, event: cs.CaseEvent, actor: cs.Actor) -> None:
    with pytest.raises(cs.TransitionRefused, match="^cannot "):
        cs.transition(cs.CaseState(state, requested_at=T0), event, actor, at(1))


def test_reject_needs_a_reason_and_is_final() -> None:
    s, _ = cs.transition(cs.CaseState(cs.SUBMITTED, requested_at=T0), cs.Register(hours=4), SYSTEM, T0)
    with pytest.raises(cs.TransitionRefused, match="reason"):
        cs.transition(s, cs.Reject("  "), OPS, T0)
    s, ch = cs.transition(s, cs.Reject("不属于安全隐患 / not a safety matter"), OPS, at(1))
    assert (s.status, s.closed_at, ch[0].public) == (cs.REJECTED, at(1), True)
    assert not cs.due(s, at(10)).overdue and cs.on_time(s) is None


def test_merge_from_any_open_status() -> None:
    s, ch = cs.transition(dispatched(), cs.Merge(into_id=42), SYSTEM, at(1))
    assert (s.status, ch[0].data) == (cs.MERGED, {"into": 42})


def test_respond_needs_a_public_reply() -> None:
    s, _ = cs.transition(dispatched(), cs.Accept(), DEPT, at(1))
    with pytest.raises(cs.TransitionRefused, match="public reply"):
        cs.transition(s, cs.Respond("   ", note="internal only"), DEPT, at(2))


def test_register_needs_a_positive_time_limit() -> None:
    with pytest.raises(cs.TransitionRefused, match="positive"):
        cs.transition(cs.CaseState(cs.SUBMITTED, requested_at=T0), cs.Register(hours=0), SYSTEM, T0)


def test_reopen_within_seven_days_registers_it_again() -> None:
    s = closed(when=3)
    assert cs.can_reopen(s, at(3) + timedelta(days=7)) and not cs.can_reopen(s, at(3.01) + timedelta(days=7))
    s2, ch = cs.transition(s, cs.Reopen("井盖又丢了 / gone again", hours=4), CITIZEN, at(3) + timedelta(days=2))
    assert (s2.status, s2.reopen_count, s2.closed_at) == (cs.REGISTERED, 1, None)
    assert s2.due_at == at(3) + timedelta(days=2, hours=4)
    assert ch[0].kind == "reopened" and ch[0].public
    s3, _ = cs.transition(s2, cs.Dispatch(department_id=3), SYSTEM, at(3) + timedelta(days=2))
    assert (s3.status, s3.dispatch_count) == (cs.DISPATCHED, 2)


def test_reopen_after_seven_days_or_without_reason_is_refused() -> None:
    s = closed(when=3)
    with pytest.raises(cs.TransitionRefused, match="within 7 days"):
        cs.transition(s, cs.Reopen("still", hours=4), CITIZEN, at(3) + timedelta(days=7, seconds=1))
    with pytest.raises(cs.TransitionRefused, match="reason"):
        cs.transition(s, cs.Reopen("", hours=4), CITIZEN, at(4))


def test_rating_only_once_and_only_when_closed() -> None:
    s = closed()
    assert cs.can_rate(s)
    assert not cs.can_rate(cs.CaseState(cs.CLOSED, requested_at=T0, rating=4))
    assert not cs.can_rate(responded())


def test_due_and_overdue() -> None:
    s = dispatched(hours=4)
    assert cs.due(s, at(3)) == cs.Due(at(4), False, 3600.0)
    late = cs.due(s, at(5))
    assert late.overdue and late.seconds_left == -3600.0
    assert cs.due(cs.CaseState(cs.SUBMITTED, requested_at=T0), at(100)).overdue is False  # no time limit yet


def test_closed_late_is_not_on_time() -> None:
    s = closed(when=5)  # due at 4 h
    assert cs.on_time(s) is False and not cs.due(s, at(6)).overdue


def test_route_department_prefers_district_then_category_then_priority() -> None:
    table = [cs.Route("*", 1, priority=1000), cs.Route("gas_smell", 4, priority=100),
             cs.Route("gas_smell", 5, priority=50), cs.Route("gas_smell", 9, "310101", priority=200),
             cs.Route("*", 8, "310115")]
    assert cs.route_department("gas_smell", "310101", table) == 9  # the district's own route
    assert cs.route_department("gas_smell", "310104", table) == 5  # then the lower priority
    assert cs.route_department("gas_smell", "310115", table) == 5  # the category beats a district catch-all
    assert cs.route_department("crowding", "310115", table) == 8
    assert cs.route_department("crowding", None, table) == 1
    assert cs.route_department("crowding", None, [cs.Route("gas_smell", 4)]) is None
