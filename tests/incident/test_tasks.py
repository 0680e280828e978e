"""Tasks: accepted, in progress, done, blocked with a reason; overdue, escalation and acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.incident.lifecycle import TransitionRefused
from citybrain.incident.tasks import (
    ACCEPTED,
    BLOCKED,
    CANCELLED,
    DONE,
    IN_PROGRESS,
    Accept,
    Block,
    Cancel,
    Complete,
    Escalate,
    Start,
    TaskState,
    Unblock,
    acknowledge_part,
    escalation_due,
    new_task,
    overdue,
    parts_for,
    task_transition,
    unacknowledged,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(s: TaskState, *events: object, minute: float = 1) -> TaskState:
    for e in events:
        s, _ = task_transition(s, e, at(minute))  # type: ignore[arg-type]
    return s


def test_happy_path_and_times() -> None:
    s = new_task(at(15), T0)
    s, ch = task_transition(s, Accept("fire"), at(1))
    s, _ = task_transition(s, Start("fire"), at(2))
    s, ch = task_transition(s, Complete("fire", "zone set"), at(12))
    assert (s.status, s.accepted_at, s.started_at, s.done_at) == (DONE, at(1), at(2), at(12))
    assert ch[0].detail == {"note": "zone set", "late": False} and not s.open


def test_late_completion_is_marked() -> None:
    s = run(new_task(at(15), T0), Accept("fire"), Start("fire"))
    _, ch = task_transition(s, Complete("fire"), at(16))
    assert ch[0].detail["late"] is True


def test_start_implies_accept() -> None:
    s = run(new_task(None, T0), Start("police"))
    assert s.status == IN_PROGRESS and s.accepted_at == at(1)


def test_block_needs_a_reason_and_unblock_returns_where_it_was() -> None:
    s = run(new_task(at(30), T0), Accept("water"), Start("water"))
    with pytest.raises(TransitionRefused, match="needs a reason"):
        task_transition(s, Block("water", "  "), at(5))
    s, ch = task_transition(s, Block("water", "pump truck stuck in traffic"), at(5))
    assert s.status == BLOCKED and ch[0].detail == {"reason": "pump truck stuck in traffic"}
    with pytest.raises(TransitionRefused, match="unblock it first"):
        task_transition(s, Complete("water"), at(6))
    with pytest.raises(TransitionRefused, match="already blocked"):
        task_transition(s, Block("water", "again"), at(6))
    s, _ = task_transition(s, Unblock("water"), at(7))
    assert s.status == IN_PROGRESS and s.blocked_reason is None
    s = run(new_task(None, T0), Accept("a"), Block("a", "no key"), Unblock("a"))
    assert s.status == ACCEPTED


@pytest.mark.parametrize(
    ("events", "event", "reason"),
    [
        ([], Complete("x"), "must be accepted"),
        ([], Block("x", "r"), "accept the task"),
        ([], Unblock("x"), "not blocked"),
        ([Accept("x")], Accept("x"), "only a pending task"),
        ([Accept("x"), Start("x")], Start("x"), "only a pending or accepted"),
        ([Accept("x"), Complete("x")], Cancel("x", "r"), "can no longer change"),
        ([Cancel("x", "dup")], Accept("x"), "cancelled task; it can no longer change|the task is cancelled"),
        ([], Cancel("x", ""), "needs a reason"),
        ([], Escalate(2), "does not follow step 0"),
        ([Cancel("x", "dup")], Escalate(1), "not escalated"),
    ],
)
def test_refusals(events: list[object], event: object, reason: str) -> None:
    s = run(new_task(at(10), T0), *events)
    with pytest.raises(TransitionRefused, match=reason):
        task_transition(s, event, at(2))  # type: ignore[arg-type]


def test_cancel_any_open_task() -> None:
    s = run(new_task(None, T0), Accept("x"), Block("x", "r"), Cancel("x", "duplicate of task 4"))
    assert s.status == CANCELLED and not s.open


def test_overdue_is_strictly_after_the_deadline_and_only_while_open() -> None:
    s = new_task(at(15), T0)
    assert not overdue(s, at(15)) and overdue(s, at(15.01))
    assert not overdue(new_task(None, T0), at(10_000))
    done = run(s, Accept("x"), Complete("x"), minute=20)
    assert not overdue(done, at(30))


def test_escalation_steps_follow_the_policy_in_order() -> None:
    s = new_task(at(15), T0)
    assert escalation_due(s, at(15)) is None
    seen = []
    for minute in (16, 20, 31, 44, 46, 76, 200):
        step = escalation_due(s, at(minute))
        if step is not None:
            seen.append((minute, step.notify))
            s, _ = task_transition(s, Escalate(step.step), at(minute))
    assert seen == [(16, "assignee"), (31, "lead_department"), (46, "commander"), (76, "ops")]
    assert s.escalation_step == 4 and escalation_due(s, at(1000)) is None


def test_departments_acknowledge_their_part() -> None:
    parts = parts_for(["fire", "police", "housing"])
    parts, ch = acknowledge_part(parts, "police", at(3), by="police.duty")
    assert unacknowledged(parts) == ["fire", "housing"] and ch[0].detail == {"department": "police"}
    again, ch = acknowledge_part(parts, "police", at(9))
    assert again["police"] == at(3) and ch == []
    with pytest.raises(TransitionRefused, match="no part in this incident"):
        acknowledge_part(parts, "metro", at(4))
