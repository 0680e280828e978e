"""The unit status lifecycle and the call, dispatch, en-route, on-scene and cleared times it records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.incident.lifecycle import TransitionRefused
from citybrain.incident.units import (
    AVAILABLE,
    DISPATCHED,
    ON_SCENE,
    OUT_OF_SERVICE,
    RETURNING,
    Arrive,
    Back,
    Clear,
    Dispatch,
    EnRoute,
    OutOfService,
    StandDown,
    UnitState,
    unit_transition,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_full_call_records_every_time_and_interval() -> None:
    s = UnitState(AVAILABLE, T0)
    s, ch = unit_transition(s, Dispatch("INC-1", T0, "fire.dispatch"), at(45))
    assert ch[0].detail == {"call_to_dispatch_s": 45.0} and ch[0].incident == "INC-1"
    s, ch = unit_transition(s, EnRoute("FE-3"), at(105))
    assert ch[0].detail == {"turnout_s": 60.0}
    s, ch = unit_transition(s, Arrive("FE-3"), at(525))
    assert s.status == ON_SCENE
    assert ch[0].detail == {"turnout_s": 60.0, "travel_s": 420.0, "response_s": 525.0}
    s, ch = unit_transition(s, Clear("FE-3"), at(3525))
    assert s.status == RETURNING and ch[0].detail == {"on_scene_s": 3000.0}
    assert (s.call_at, s.dispatched_at, s.en_route_at, s.on_scene_at, s.cleared_at) == (
        T0, at(45), at(105), at(525), at(3525))
    s, _ = unit_transition(s, Back("FE-3"), at(4000))
    assert s.status == AVAILABLE and s.incident is None


def test_a_returning_unit_can_take_a_new_call_and_its_times_restart() -> None:
    s = UnitState(RETURNING, T0, incident="INC-1", call_at=T0, on_scene_at=at(100), cleared_at=at(200))
    s, _ = unit_transition(s, Dispatch("INC-2", at(250), "dispatch"), at(260))
    assert s.status == DISPATCHED and s.incident == "INC-2" and s.on_scene_at is None and s.cleared_at is None


def test_stand_down() -> None:
    s, _ = unit_transition(UnitState(AVAILABLE, T0), Dispatch("INC-1", T0, "d"), at(10))
    s2, ch = unit_transition(s, StandDown("d", "enough units"), at(20))
    assert s2.status == AVAILABLE and s2.incident is None and ch[0].kind == "stood_down"
    s, _ = unit_transition(s, EnRoute("u"), at(30))
    s, _ = unit_transition(s, StandDown("d"), at(40))
    assert s.status == RETURNING


@pytest.mark.parametrize(
    ("status", "event", "reason"),
    [
        (ON_SCENE, Dispatch("INC-9", T0, "d"), "cannot dispatch a unit that is on scene"),
        (OUT_OF_SERVICE, Dispatch("INC-9", T0, "d"), "out of service"),
        (AVAILABLE, EnRoute("u"), "only when dispatched"),
        (AVAILABLE, Arrive("u"), "cannot mark on scene"),
        (DISPATCHED, Clear("u"), "only when on scene"),
        (ON_SCENE, StandDown("u"), "cannot stand down"),
        (AVAILABLE, Back("u"), "cannot bring back"),
        (ON_SCENE, OutOfService("u", "pump broken"), "cannot take out of service"),
        (AVAILABLE, OutOfService("u", ""), "needs a reason"),
    ],
)
def test_refusals(status: str, event: object, reason: str) -> None:
    with pytest.raises(TransitionRefused, match=reason):
        unit_transition(UnitState(status, T0, incident="INC-1"), event, at(60))  # type: ignore[arg-type]


def test_call_after_dispatch_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="call cannot come after"):
        unit_transition(UnitState(AVAILABLE, T0), Dispatch("INC-1", at(100), "d"), at(50))


def test_out_of_service_and_back() -> None:
    s, _ = unit_transition(UnitState(AVAILABLE, T0), OutOfService("fleet", "annual inspection"), at(1))
    assert s.status == OUT_OF_SERVICE and s.reason == "annual inspection"
    s, _ = unit_transition(s, Back("fleet"), at(2))
    assert s.status == AVAILABLE and s.reason is None
