"""The unit status lifecycle with its times, as a pure function of (state, event, now).

    available ─dispatch─▶ dispatched ─en_route─▶ en_route ─arrive─▶ on_scene ─clear─▶ returning ─back─▶ available
    returning ─dispatch─▶ dispatched             (straight on to a new call)
    dispatched | en_route ─stand_down─▶ available | returning   (cancelled before arrival)
    available | returning ─out_of_service─▶ out_of_service ─back─▶ available

A dispatch records the incident and its call time, so the standard intervals come out of the unit's own
record: turnout (dispatch → en route), travel (en route → on scene), response (call → on scene) and time on
scene (on scene → cleared). Who may move a unit is the service's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from citybrain.incident.lifecycle import TransitionRefused

__all__ = [
    "AVAILABLE", "DISPATCHED", "EN_ROUTE", "ON_SCENE", "OUT_OF_SERVICE", "RETURNING", "UNIT_STATUSES", "Arrive",
    "Back", "Clear", "Dispatch", "EnRoute", "OutOfService", "StandDown", "UnitChange", "UnitEvent", "UnitState",
    "unit_transition",
]

AVAILABLE, DISPATCHED, EN_ROUTE, ON_SCENE, RETURNING, OUT_OF_SERVICE = (
    "available", "dispatched", "en_route", "on_scene", "returning", "out_of_service",
)
UNIT_STATUSES = (AVAILABLE, DISPATCHED, EN_ROUTE, ON_SCENE, RETURNING, OUT_OF_SERVICE)


@dataclass(frozen=True, slots=True)
class UnitState:
    """A unit's status and, while it serves an incident, the times of that assignment."""

    status: str
    since: datetime
    incident: str | int | None = None
    call_at: datetime | None = None
    dispatched_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    cleared_at: datetime | None = None
    reason: str | None = None  # why out of service


@dataclass(frozen=True, slots=True)
class Dispatch:
    incident: str | int
    call_at: datetime  # when the call (or the warning) reached the centre
    by: str


@dataclass(frozen=True, slots=True)
class EnRoute:
    by: str


@dataclass(frozen=True, slots=True)
class Arrive:
    by: str


@dataclass(frozen=True, slots=True)
class Clear:
    """The unit leaves the scene (its work there is done)."""

    by: str


@dataclass(frozen=True, slots=True)
class StandDown:
    """Cancelled before arrival."""

    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Back:
    """Back at base and ready (from returning), or back in service (from out of service)."""

    by: str


@dataclass(frozen=True, slots=True)
class OutOfService:
    by: str
    reason: str


UnitEvent = Dispatch | EnRoute | Arrive | Clear | StandDown | Back | OutOfService


@dataclass(frozen=True, slots=True)
class UnitChange:
    kind: str
    at: datetime
    from_status: str
    to_status: str
    incident: str | int | None
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def unit_transition(s: UnitState, event: UnitEvent, now: datetime) -> tuple[UnitState, list[UnitChange]]:
    """Apply one event to a unit; refusals raise ``TransitionRefused``.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, 8, tzinfo=UTC)
    >>> s = UnitState(AVAILABLE, t)
    >>> s, _ = unit_transition(s, Dispatch("INC-7", t, "fire.dispatch"), t + timedelta(seconds=40))
    >>> s, _ = unit_transition(s, EnRoute("FE-1"), t + timedelta(seconds=100))
    >>> s, ch = unit_transition(s, Arrive("FE-1"), t + timedelta(minutes=7))
    >>> dict(ch[0].detail)
    {'turnout_s': 60.0, 'travel_s': 320.0, 'response_s': 420.0}
    """
    st = s.status

    def refuse(verb: str, allowed: tuple[str, ...]) -> TransitionRefused:
        return TransitionRefused(f"cannot {verb} a unit that is {st.replace('_', ' ')} "
                                 f"(only when {' or '.join(a.replace('_', ' ') for a in allowed)})")

    def to(status: str, kind: str, by: str, detail: Mapping[str, Any] | None = None,
           **values: Any) -> tuple[UnitState, list[UnitChange]]:
        new = replace(s, status=status, since=now, **values)
        return new, [UnitChange(kind, now, st, status, new.incident if new.incident is not None else s.incident,
                                by, dict(detail or {}))]

    if isinstance(event, Dispatch):
        if st not in (AVAILABLE, RETURNING):
            raise refuse("dispatch", (AVAILABLE, RETURNING))
        if event.call_at > now:
            raise TransitionRefused("the call cannot come after the dispatch")
        return to(DISPATCHED, "dispatched", event.by, {"call_to_dispatch_s": _seconds(event.call_at, now)},
                  incident=event.incident, call_at=event.call_at, dispatched_at=now, en_route_at=None,
                  on_scene_at=None, cleared_at=None)
    if isinstance(event, EnRoute):
        if st != DISPATCHED:
            raise refuse("set en route", (DISPATCHED,))
        return to(EN_ROUTE, "en_route", event.by, {"turnout_s": _seconds(s.dispatched_at, now)}, en_route_at=now)
    if isinstance(event, Arrive):
        if st not in (DISPATCHED, EN_ROUTE):
            raise refuse("mark on scene", (DISPATCHED, EN_ROUTE))
        en_route_at = s.en_route_at  # None when the crew never reported en route
        detail = {"turnout_s": _seconds(s.dispatched_at, en_route_at), "travel_s": _seconds(en_route_at, now),
                  "response_s": _seconds(s.call_at, now)}
        return to(ON_SCENE, "on_scene", event.by, detail, on_scene_at=now)
    if isinstance(event, Clear):
        if st != ON_SCENE:
            raise refuse("clear", (ON_SCENE,))
        return to(RETURNING, "cleared", event.by, {"on_scene_s": _seconds(s.on_scene_at, now)}, cleared_at=now)
    if isinstance(event, StandDown):
        if st not in (DISPATCHED, EN_ROUTE):
            raise refuse("stand down", (DISPATCHED, EN_ROUTE))
        new, ch = to(RETURNING if st == EN_ROUTE else AVAILABLE, "stood_down", event.by,
                     {"reason": event.reason} if event.reason else {})
        return (replace(new, incident=None) if new.status == AVAILABLE else new), ch
    if isinstance(event, Back):
        if st not in (RETURNING, OUT_OF_SERVICE):
            raise refuse("bring back", (RETURNING, OUT_OF_SERVICE))
        return to(AVAILABLE, "available", event.by, incident=None, reason=None)
    if isinstance(event, OutOfService):
        if not event.reason.strip():
            raise TransitionRefused("taking a unit out of service needs a reason")
        if st not in (AVAILABLE, RETURNING):
            raise refuse("take out of service", (AVAILABLE, RETURNING))
        return to(OUT_OF_SERVICE, "out_of_service", event.by, {"reason": event.reason}, incident=None,
                  reason=event.reason)
    raise TypeError(f"unknown unit event {event!r}")
