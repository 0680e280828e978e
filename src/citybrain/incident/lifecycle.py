"""The incident lifecycle as a pure function of (state, event, now).

    reported ─verify─▶ verified ─respond─▶ responding ─contain─▶ contained ─close─▶ closed ─review─▶ reviewed
    contained ─reopen─▶ responding                       (the situation flares up again)
    reported | verified ─close (false alarm, reason)─▶ closed

``respond`` is also allowed straight from ``reported`` (a fire engine leaves before anyone verifies). The level
(I–IV, ``citybrain.warning.types.Level``) can change while the incident is open; raising it beyond the highest
level reached so far returns an ``add_plan_tasks`` change that the service turns into tasks with
``plans.raise_level``. Who may do what is checked by services, not here. Refused events raise
``TransitionRefused`` with the reason. Tasks have their own lifecycle in ``citybrain.incident.tasks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from citybrain.warning.types import Level

__all__ = [
    "CLOSED", "CONTAINED", "OPEN_STATUSES", "REPORTED", "RESPONDING", "REVIEWED", "STATUSES", "VERIFIED",
    "ChangeLevel", "Close", "Contain", "IncidentChange", "IncidentEvent", "IncidentState", "Reopen", "Respond",
    "Review", "TransitionRefused", "Verify", "start", "transition",
]

REPORTED, VERIFIED, RESPONDING, CONTAINED, CLOSED, REVIEWED = (
    "reported", "verified", "responding", "contained", "closed", "reviewed",
)
STATUSES = (REPORTED, VERIFIED, RESPONDING, CONTAINED, CLOSED, REVIEWED)
OPEN_STATUSES = (REPORTED, VERIFIED, RESPONDING, CONTAINED)


class TransitionRefused(ValueError):
    """An event the current state does not allow; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class IncidentState:
    """Where an incident is: status, level now and the most severe level reached, and when each step happened."""

    status: str
    level: Level
    peak_level: Level
    reported_at: datetime
    since: datetime  # when it entered ``status``
    verified_at: datetime | None = None
    responding_at: datetime | None = None
    contained_at: datetime | None = None
    closed_at: datetime | None = None
    reviewed_at: datetime | None = None
    false_alarm: bool = False

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


# -- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verify:
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Respond:
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Contain:
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Reopen:
    """The situation flares up again after containment."""

    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close after containment; with ``false_alarm`` also from reported/verified. ``open_tasks`` counts the
    incident's unfinished tasks: closing with any needs ``override`` and a ``reason``."""

    by: str
    open_tasks: int = 0
    override: bool = False
    reason: str = ""
    false_alarm: bool = False


@dataclass(frozen=True, slots=True)
class Review:
    """The after-action review is done."""

    by: str
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ChangeLevel:
    to: Level
    by: str
    reason: str = ""


IncidentEvent = Verify | Respond | Contain | Reopen | Close | Review | ChangeLevel


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """One timeline entry. ``add_plan_tasks`` carries ``detail={"from_level", "to_level"}`` (Level values)."""

    kind: str
    at: datetime
    from_status: str | None
    to_status: str
    level: Level
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


# -- transitions -------------------------------------------------------------------------------------


def start(level: Level, now: datetime, *, by: str | None = None) -> tuple[IncidentState, list[IncidentChange]]:
    """A newly reported incident at ``level``; the service instantiates its plan at that level.

    >>> from datetime import UTC, datetime
    >>> s, ch = start(Level.YELLOW, datetime(2026, 1, 1, tzinfo=UTC), by="duty")
    >>> s.status, s.level.roman, [c.kind for c in ch]
    ('reported', 'III', ['reported'])
    """
    s = IncidentState(REPORTED, level, level, now, now)
    return s, [IncidentChange("reported", now, None, REPORTED, level, by)]


_STEP: dict[type, tuple[tuple[str, ...], str, str]] = {
    # event class: (allowed from, to, change kind)
    Verify: ((REPORTED,), VERIFIED, "verified"),
    Respond: ((REPORTED, VERIFIED), RESPONDING, "responding"),
    Contain: ((RESPONDING,), CONTAINED, "contained"),
    Reopen: ((CONTAINED,), RESPONDING, "reopened"),
    Review: ((CLOSED,), REVIEWED, "reviewed"),
}
_STAMP = {VERIFIED: "verified_at", RESPONDING: "responding_at", CONTAINED: "contained_at", CLOSED: "closed_at",
          REVIEWED: "reviewed_at"}


def transition(s: IncidentState, event: IncidentEvent, now: datetime) -> tuple[IncidentState, list[IncidentChange]]:
    """Apply one event; returns the new state and the timeline entries. Refusals raise ``TransitionRefused``.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s, _ = start(Level.YELLOW, t)
    >>> s, _ = transition(s, Respond("fire.dispatch"), t + timedelta(minutes=2))
    >>> s, ch = transition(s, ChangeLevel(Level.ORANGE, "commander", "second leak"), t + timedelta(minutes=9))
    >>> [(c.kind, c.detail.get("to_level")) for c in ch]
    [('level_raised', <Level.ORANGE: 2>), ('add_plan_tasks', <Level.ORANGE: 2>)]
    >>> s, _ = transition(s, Contain("commander"), t + timedelta(minutes=40))
    >>> try:
    ...     transition(s, Close("commander", open_tasks=2), t + timedelta(minutes=50))
    ... except TransitionRefused as exc:
    ...     print(exc)
    2 tasks are still open: finish or cancel them, or close with an override and a reason
    """
    if isinstance(event, ChangeLevel):
        return _change_level(s, event, now)
    if isinstance(event, Close):
        return _close(s, event, now)
    try:
        allowed, to, kind = _STEP[type(event)]
    except KeyError:
        raise TypeError(f"unknown incident event {event!r}") from None
    if s.status not in allowed:
        raise TransitionRefused(f"cannot {_verb(event)} an incident that is {s.status} "
                                f"(only when {' or '.join(allowed)})")
    detail: dict[str, Any] = {}
    if isinstance(event, Reopen):
        if not event.reason.strip():
            raise TransitionRefused("reopening needs a reason")
        detail["reason"] = event.reason
        new = replace(s, status=to, since=now, contained_at=None)
    else:
        new = replace(s, status=to, since=now, **{_STAMP[to]: now})
        note = getattr(event, "note", "") or getattr(event, "summary", "")
        if note:
            detail["note"] = note
        if isinstance(event, Respond) and s.status == REPORTED:
            detail["unverified"] = True
    return new, [IncidentChange(kind, now, s.status, to, s.level, event.by, detail)]


def _verb(event: object) -> str:
    return type(event).__name__.lower()


def _close(s: IncidentState, e: Close, now: datetime) -> tuple[IncidentState, list[IncidentChange]]:
    if e.false_alarm:
        if s.status not in (REPORTED, VERIFIED):
            raise TransitionRefused(f"an incident that is {s.status} was real; contain it, then close it")
        if not e.reason.strip():
            raise TransitionRefused("closing as a false alarm needs a reason")
    elif s.status != CONTAINED:
        raise TransitionRefused(f"cannot close an incident that is {s.status}: contain it first "
                                "(or close it as a false alarm before the response starts)")
    if e.open_tasks < 0:
        raise ValueError("open_tasks cannot be negative")
    if e.open_tasks and not (e.override and e.reason.strip()):
        raise TransitionRefused(f"{e.open_tasks} task{'s are' if e.open_tasks > 1 else ' is'} still open: finish "
                                "or cancel them, or close with an override and a reason")
    new = replace(s, status=CLOSED, since=now, closed_at=now, false_alarm=e.false_alarm)
    detail: dict[str, Any] = {"reason": e.reason} if e.reason else {}
    if e.false_alarm:
        detail["false_alarm"] = True
    if e.open_tasks:
        detail.update(override=True, open_tasks=e.open_tasks)
    return new, [IncidentChange("closed", now, s.status, CLOSED, s.level, e.by, detail)]


def _change_level(s: IncidentState, e: ChangeLevel, now: datetime) -> tuple[IncidentState, list[IncidentChange]]:
    if not s.open:
        raise TransitionRefused(f"the incident is {s.status}; its level can no longer change")
    to = Level.parse(e.to)
    if to == s.level:
        return s, []
    raised = to < s.level  # a smaller number is more severe
    new = replace(s, level=to, peak_level=min(s.peak_level, to))
    detail: dict[str, Any] = {"from_level": s.level, "to_level": to}
    if e.reason:
        detail["reason"] = e.reason
    changes = [IncidentChange("level_raised" if raised else "level_lowered", now, s.status, s.status, to, e.by,
                              detail)]
    if to < s.peak_level:  # beyond anything reached before: the plan's higher-level tasks are missing
        changes.append(IncidentChange("add_plan_tasks", now, s.status, s.status, to, e.by,
                                      {"from_level": s.peak_level, "to_level": to}))
    return new, changes
