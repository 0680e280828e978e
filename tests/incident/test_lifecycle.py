"""The incident lifecycle: the happy path, every refusal, and level changes that add plan tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.incident.lifecycle import (
    CLOSED,
    CONTAINED,
    RESPONDING,
    REVIEWED,
    VERIFIED,
    ChangeLevel,
    Close,
    Contain,
    IncidentState,
    Reopen,
    Respond,
    Review,
    TransitionRefused,
    Verify,
    start,
    transition,
)
from citybrain.warning.types import Level

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def responding(level: Level = Level.YELLOW) -> IncidentState:
    s, _ = start(level, T0)
    s, _ = transition(s, Verify("duty"), at(1))
    s, _ = transition(s, Respond("fire"), at(2))
    return s


def test_the_whole_life_records_each_time() -> None:
    s = responding()
    s, ch = transition(s, Contain("cmd"), at(30))
    assert (s.status, ch[0].from_status, ch[0].to_status) == (CONTAINED, RESPONDING, CONTAINED)
    s, ch = transition(s, Close("cmd"), at(40))
    assert s.status == CLOSED and not s.open and ch[0].detail == {}
    s, ch = transition(s, Review("lead", "hydrant 3 was dry"), at(60 * 24))
    assert s.status == REVIEWED and ch[0].detail == {"note": "hydrant 3 was dry"}
    assert (s.reported_at, s.verified_at, s.responding_at, s.contained_at, s.closed_at, s.reviewed_at) == (
        T0, at(1), at(2), at(30), at(40), at(60 * 24))


def test_respond_without_verification_is_allowed_and_noted() -> None:
    s, _ = start(Level.RED, T0)
    s, ch = transition(s, Respond("fire"), at(1))
    assert s.status == RESPONDING and s.verified_at is None and ch[0].detail == {"unverified": True}


@pytest.mark.parametrize(
    ("setup", "event", "reason"),
    [
        ("responding", Verify("x"), "cannot verify an incident that is responding"),
        ("reported", Contain("x"), "cannot contain an incident that is reported"),
        ("responding", Close("x"), "contain it first"),
        ("responding", Review("x"), "cannot review an incident that is responding"),
        ("contained", Close("x", open_tasks=1), "1 task is still open"),
        ("contained", Close("x", open_tasks=3, override=True), "3 tasks are still open"),
        ("contained", Close("x", open_tasks=2, reason="moved to hazard"), "override"),
        ("responding", Close("x", false_alarm=True, reason="prank"), "was real"),
        ("reported", Close("x", false_alarm=True), "needs a reason"),
        ("contained", Reopen("x", " "), "reopening needs a reason"),
        ("closed", ChangeLevel(Level.RED, "x"), "can no longer change"),
        ("closed", Respond("x"), "cannot respond an incident that is closed"),
    ],
)
def test_refusals_say_why(setup: str, event: object, reason: str) -> None:
    s, _ = start(Level.YELLOW, T0)
    steps = {"reported": [], "responding": [Respond("a")], "contained": [Respond("a"), Contain("a")],
             "closed": [Respond("a"), Contain("a"), Close("a")]}[setup]
    for e in steps:
        s, _ = transition(s, e, at(5))
    with pytest.raises(TransitionRefused, match=reason):
        transition(s, event, at(10))  # type: ignore[arg-type]


def test_close_with_open_tasks_needs_override_and_reason() -> None:
    s, _ = transition(responding(), Contain("cmd"), at(30))
    s, ch = transition(s, Close("cmd", open_tasks=2, override=True, reason="handed to hazard rectification"), at(31))
    assert s.status == CLOSED
    assert ch[0].detail == {"reason": "handed to hazard rectification", "override": True, "open_tasks": 2}


def test_false_alarm_closes_from_reported_or_verified() -> None:
    s, _ = start(Level.BLUE, T0)
    s, _ = transition(s, Verify("duty"), at(1))
    assert s.status == VERIFIED
    s, ch = transition(s, Close("duty", false_alarm=True, reason="sensor fault"), at(2))
    assert s.status == CLOSED and s.false_alarm and ch[0].detail["false_alarm"] is True


def test_reopen_after_containment() -> None:
    s, _ = transition(responding(), Contain("cmd"), at(30))
    s, ch = transition(s, Reopen("cmd", "smoke again"), at(35))
    assert s.status == RESPONDING and s.contained_at is None and ch[0].kind == "reopened"


def test_raising_the_level_asks_for_the_higher_level_tasks_once() -> None:
    s = responding(Level.YELLOW)
    s, ch = transition(s, ChangeLevel(Level.ORANGE, "cmd", "second building"), at(10))
    assert [c.kind for c in ch] == ["level_raised", "add_plan_tasks"]
    assert ch[1].detail == {"from_level": Level.YELLOW, "to_level": Level.ORANGE}
    s, ch = transition(s, ChangeLevel(Level.YELLOW, "cmd"), at(20))
    assert [c.kind for c in ch] == ["level_lowered"] and s.peak_level == Level.ORANGE
    s, ch = transition(s, ChangeLevel(Level.ORANGE, "cmd"), at(25))
    assert [c.kind for c in ch] == ["level_raised"]  # its tasks are already there
    s, ch = transition(s, ChangeLevel(Level.RED, "cmd"), at(30))
    assert ch[1].kind == "add_plan_tasks" and ch[1].detail == {"from_level": Level.ORANGE, "to_level": Level.RED}
    assert (s.level, s.peak_level) == (Level.RED, Level.RED)
    assert transition(s, ChangeLevel(Level.RED, "cmd"), at(31)) == (s, [])


def test_level_accepts_names() -> None:
    s, ch = transition(responding(), ChangeLevel("I", "cmd"), at(3))  # type: ignore[arg-type]
    assert s.level == Level.RED and ch[-1].kind == "add_plan_tasks"
