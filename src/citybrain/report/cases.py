"""The case workflow of a citizen report as a pure function of (state, event, now).

    submitted ─register─▶ registered 立案 ─dispatch─▶ dispatched 派遣 ─accept─▶ handling 处置
    handling ─respond─▶ responded 反馈 ─check(pass)─▶ checking 核查 ─close─▶ closed 结案
    responded ─check(fail, reason)─▶ dispatched (re-dispatched, dispatch_count + 1)
    closed ─reopen (the citizen, within 7 days)─▶ registered (then dispatched again by the service)
    any open status ─reject(reason)─▶ rejected        any open status ─merge─▶ merged (a duplicate)

Who may do what is part of the rule: each event names the case roles allowed to make it (``ROLE_OF``), the
service works out which roles a caller holds on a given case (``ops``: the operations centre / duty officer;
``department``: report:act in the assigned department; ``checker``: ops or a grid inspector, never the person
who handled the case; ``citizen``: the holder of the tracking code; ``system``: automatic routing). Refusals
raise ``TransitionRefused`` naming the transition and the role needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "CHECKING", "CLOSED", "DISPATCHED", "FINAL_STATUSES", "HANDLING", "MERGED", "OPEN_STATUSES", "REGISTERED",
    "REJECTED", "REOPEN_WINDOW", "RESPONDED", "ROLE_OF", "STATUS", "STATUS_NAMES", "SUBMITTED", "Accept", "Actor",
    "CaseChange", "CaseEvent", "CaseState", "Check", "Close", "Dispatch", "Due", "Merge", "Register", "Reject",
    "Reopen", "Respond", "RoleRefused", "Route", "TransitionRefused", "can_rate", "can_reopen", "due", "on_time",
    "route_department", "transition",
]

SUBMITTED, REGISTERED, DISPATCHED, HANDLING = "submitted", "registered", "dispatched", "handling"
RESPONDED, CHECKING, CLOSED, REJECTED, MERGED = "responded", "checking", "closed", "rejected", "merged"
STATUS = (SUBMITTED, REGISTERED, DISPATCHED, HANDLING, RESPONDED, CHECKING, CLOSED, REJECTED, MERGED)
OPEN_STATUSES = (SUBMITTED, REGISTERED, DISPATCHED, HANDLING, RESPONDED, CHECKING)
FINAL_STATUSES = (CLOSED, REJECTED, MERGED)
#: Status names shown to people (the citizen's timeline, the board).
STATUS_NAMES: Mapping[str, tuple[str, str]] = {
    SUBMITTED: ("已提交", "Submitted"), REGISTERED: ("已立案", "Registered"), DISPATCHED: ("已派遣", "Dispatched"),
    HANDLING: ("处置中", "Being handled"), RESPONDED: ("已反馈", "Responded"), CHECKING: ("已核查", "Checked"),
    CLOSED: ("已结案", "Closed"), REJECTED: ("不予受理", "Rejected"), MERGED: ("已合并", "Merged (duplicate)"),
}
REOPEN_WINDOW = timedelta(days=7)
ROLES = ("ops", "department", "checker", "citizen", "system")


class TransitionRefused(ValueError):
    """An event the case's status or the caller's role does not allow; the message is the reason."""


class RoleRefused(TransitionRefused):
    """The caller does not hold the case role the event needs (or handled the case they want to check)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes an event: a user id (None for the citizen or the system) and the case roles held on this case."""

    user_id: int | None
    roles: frozenset[str]

    @classmethod
    def system(cls) -> Actor:
        return cls(None, frozenset({"system", "ops"}))

    @classmethod
    def citizen(cls) -> Actor:
        return cls(None, frozenset({"citizen"}))


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the workflow needs to know about a case."""

    status: str
    requested_at: datetime
    department_id: int | None = None
    assigned_user_id: int | None = None  # the officer handling it (set on accept / respond)
    dispatch_count: int = 0
    reopen_count: int = 0
    registered_at: datetime | None = None
    due_at: datetime | None = None
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


# -- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """立案: accept the report as a case with a time limit of ``hours`` from now."""

    hours: float


@dataclass(frozen=True, slots=True)
class Dispatch:
    """派遣 to a department (and optionally a person in it)."""

    department_id: int
    user_id: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Accept:
    note: str = ""


@dataclass(frozen=True, slots=True)
class Respond:
    """反馈: the public reply the citizen reads, and an internal note they never see."""

    reply: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """核查: pass, or fail with the reason (the case goes back to the department)."""

    passed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Close:
    note: str = ""


@dataclass(frozen=True, slots=True)
class Reject:
    """Not a safety matter, spam, out of the city's remit: the reason is shown to the citizen."""

    reason: str


@dataclass(frozen=True, slots=True)
class Merge:
    into_id: int


@dataclass(frozen=True, slots=True)
class Reopen:
    """The citizen says it is not fixed, within ``REOPEN_WINDOW`` of closing; the case is registered anew."""

    reason: str
    hours: float


CaseEvent = Register | Dispatch | Accept | Respond | Check | Close | Reject | Merge | Reopen

#: event class -> (statuses it is allowed from, roles that may make it)
ROLE_OF: Mapping[type, tuple[tuple[str, ...], frozenset[str]]] = {
    Register: ((SUBMITTED,), frozenset({"ops", "system"})),
    Dispatch: ((REGISTERED, DISPATCHED, HANDLING), frozenset({"ops", "system"})),
    Accept: ((DISPATCHED,), frozenset({"department"})),
    Respond: ((HANDLING,), frozenset({"department"})),
    Check: ((RESPONDED,), frozenset({"checker"})),
    Close: ((CHECKING,), frozenset({"ops"})),
    Reject: ((SUBMITTED, REGISTERED, DISPATCHED, HANDLING), frozenset({"ops"})),
    Merge: (OPEN_STATUSES, frozenset({"ops", "system"})),
    Reopen: ((CLOSED,), frozenset({"citizen"})),
}
_ROLE_NAMES = {"ops": "the operations centre", "department": "the assigned department (report:act)",
               "checker": "a checker (operations centre or grid inspector) other than the handler",
               "citizen": "the citizen who filed it", "system": "automatic routing"}


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One history entry: ``public`` ones are what the citizen sees on the tracking page."""

    kind: str
    at: datetime
    from_status: str
    to_status: str
    public: bool
    text: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def _verb(event: object) -> str:
    return type(event).__name__.lower()


def transition(s: CaseState, event: CaseEvent, actor: Actor, now: datetime) -> tuple[CaseState, list[CaseChange]]:
    """Apply one event made by ``actor``; returns the new state and the history entries.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 11, 30, 1, tzinfo=UTC)
    >>> ops, dept = Actor(1, frozenset({"ops"})), Actor(7, frozenset({"department"}))
    >>> s = CaseState(SUBMITTED, requested_at=t)
    >>> s, _ = transition(s, Register(hours=24), Actor.system(), t)
    >>> s, _ = transition(s, Dispatch(department_id=3), Actor.system(), t)
    >>> s.status, s.due_at - t, s.dispatch_count
    ('dispatched', datetime.timedelta(days=1), 1)
    >>> s, _ = transition(s, Accept(), dept, t + timedelta(hours=1))
    >>> s, ch = transition(s, Respond("井盖已补装 / cover replaced", note="crew 3"), dept, t + timedelta(hours=5))
    >>> [(c.kind, c.public, c.text) for c in ch]
    [('responded', True, '井盖已补装 / cover replaced'), ('internal_note', False, 'crew 3')]
    >>> try:
    ...     transition(s, Check(passed=True), Actor(7, frozenset({"checker"})), t + timedelta(hours=6))
    ... except TransitionRefused as exc:
    ...     print(exc)
    the person who handled the case cannot also check it
    >>> s, _ = transition(s, Check(passed=False, reason="still open"), Actor(9, frozenset({"checker"})), t)
    >>> s.status, s.dispatch_count
    ('dispatched', 2)
    """
    try:
        allowed, roles = ROLE_OF[type(event)]
    except KeyError:
        raise TypeError(f"unknown case event {event!r}") from None
    verb = _verb(event)
    if s.status not in allowed:
        raise TransitionRefused(f"cannot {verb} a case that is {s.status} (only when {' or '.join(allowed)})")
    if not roles & actor.roles:
        needed = " or ".join(_ROLE_NAMES[r] for r in sorted(roles))
        raise RoleRefused(f"only {needed} may {verb} this case")
    one = _one(s, now)
    if isinstance(event, Register):
        if event.hours <= 0:
            raise TransitionRefused("a case's time limit must be positive")
        new = replace(s, status=REGISTERED, registered_at=now, due_at=now + timedelta(hours=event.hours))
        return new, [one("registered", REGISTERED, True, data={"due_at": new.due_at, "hours": event.hours})]
    if isinstance(event, Dispatch):
        user = event.user_id
        redispatch = s.status != REGISTERED
        new = replace(s, status=DISPATCHED, department_id=event.department_id, assigned_user_id=user,
                      dispatch_count=s.dispatch_count + 1)
        return new, [one("redispatched" if redispatch else "dispatched", DISPATCHED, True, event.note,
                         {"department_id": event.department_id, "user_id": user,
                          "dispatch_count": new.dispatch_count})]
    if isinstance(event, Accept):
        new = replace(s, status=HANDLING, assigned_user_id=s.assigned_user_id or actor.user_id)
        return new, [one("accepted", HANDLING, True, data={"user_id": new.assigned_user_id})]
    if isinstance(event, Respond):
        if not event.reply.strip():
            raise TransitionRefused("a response needs a public reply for the citizen")
        new = replace(s, status=RESPONDED, assigned_user_id=actor.user_id or s.assigned_user_id,
                      first_response_at=s.first_response_at or now)
        changes = [one("responded", RESPONDED, True, event.reply)]
        if event.note.strip():
            changes.append(one("internal_note", RESPONDED, False, event.note))
        return new, changes
    if isinstance(event, Check):
        if actor.user_id is not None and actor.user_id == s.assigned_user_id:
            raise RoleRefused("the person who handled the case cannot also check it")
        if event.passed:
            return replace(s, status=CHECKING), [one("check_passed", CHECKING, True, event.reason)]
        if not event.reason.strip():
            raise TransitionRefused("a failed check needs a reason")
        new = replace(s, status=DISPATCHED, dispatch_count=s.dispatch_count + 1)
        return new, [one("check_failed", DISPATCHED, True, event.reason,
                         {"department_id": s.department_id, "dispatch_count": new.dispatch_count})]
    if isinstance(event, Close):
        new = replace(s, status=CLOSED, closed_at=now)
        on = on_time(new)
        return new, [one("closed", CLOSED, True, event.note, {"on_time": on})]
    if isinstance(event, Reject):
        if not event.reason.strip():
            raise TransitionRefused("rejecting a report needs a reason")
        return replace(s, status=REJECTED, closed_at=now), [one("rejected", REJECTED, True, event.reason)]
    if isinstance(event, Merge):
        return replace(s, status=MERGED, closed_at=now), [one("merged", MERGED, True, data={"into": event.into_id})]
    if isinstance(event, Reopen):
        if not can_reopen(s, now):
            raise TransitionRefused(f"a case can be reopened only within {REOPEN_WINDOW.days} days of closing")
        if not event.reason.strip():
            raise TransitionRefused("reopening needs a reason")
        if event.hours <= 0:
            raise TransitionRefused("a case's time limit must be positive")
        new = replace(s, status=REGISTERED, closed_at=None, reopen_count=s.reopen_count + 1, registered_at=now,
                      due_at=now + timedelta(hours=event.hours))
        return new, [one("reopened", REGISTERED, True, event.reason, {"reopen_count": new.reopen_count,
                                                                      "due_at": new.due_at})]
    raise TypeError(f"unknown case event {event!r}")  # pragma: no cover - ROLE_OF covers every event


def _one(s: CaseState, now: datetime) -> Any:
    def make(kind: str, to: str, public: bool, text: str = "", data: Mapping[str, Any] | None = None) -> CaseChange:
        return CaseChange(kind, now, s.status, to, public, text, dict(data or {}))

    return make


# -- time limits and the citizen's window ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    """Where a case stands against its time limit."""

    due_at: datetime | None
    overdue: bool
    seconds_left: float | None  # negative when overdue; None without a time limit or once final


def due(s: CaseState, now: datetime) -> Due:
    """Overdue: still open (not closed, rejected or merged) past ``due_at``.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 11, 30, tzinfo=UTC)
    >>> s = CaseState(DISPATCHED, requested_at=t, due_at=t + timedelta(hours=4))
    >>> due(s, t + timedelta(hours=5)).overdue, due(s, t + timedelta(hours=3)).seconds_left
    (True, 3600.0)
    """
    if s.due_at is None or s.status in FINAL_STATUSES:
        return Due(s.due_at, False, None)
    left = (s.due_at - now).total_seconds()
    return Due(s.due_at, left < 0, left)


def on_time(s: CaseState) -> bool | None:
    """Closed before its due time (None while not closed or without a time limit).

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 11, 30, tzinfo=UTC)
    >>> on_time(CaseState(CLOSED, requested_at=t, due_at=t + timedelta(hours=4), closed_at=t + timedelta(hours=2)))
    True
    """
    if s.closed_at is None or s.due_at is None or s.status != CLOSED:
        return None
    return s.closed_at <= s.due_at


def can_reopen(s: CaseState, now: datetime) -> bool:
    """The citizen may reopen a closed case within ``REOPEN_WINDOW`` of its closing."""
    return s.status == CLOSED and s.closed_at is not None and now <= s.closed_at + REOPEN_WINDOW


def can_rate(s: CaseState) -> bool:
    """A closed case can be rated once."""
    return s.status == CLOSED and s.rating is None


# -- routing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One row of the routing table: a category (in a district, or anywhere when None) goes to a department."""

    service_code: str
    department_id: int
    district_code: str | None = None
    priority: int = 100


def route_department(service_code: str, district_code: str | None, routes: Iterable[Route]) -> int | None:
    """The department a case goes to: a route for this district beats a city-wide one, then lower priority wins.

    A route with service code ``*`` catches every category without its own route.

    >>> table = [Route("gas_smell", 4), Route("gas_smell", 9, "310101"), Route("*", 6)]
    >>> route_department("gas_smell", "310101", table), route_department("gas_smell", "310104", table)
    (9, 4)
    >>> route_department("other", None, table), route_department("other", None, [])
    (6, None)
    """
    best: tuple[tuple[int, int, int, int], int] | None = None
    for i, r in enumerate(routes):
        if r.service_code not in (service_code, "*"):
            continue
        if r.district_code is not None and r.district_code != district_code:
            continue
        key = (0 if r.service_code == service_code else 1, 0 if r.district_code is not None else 1, r.priority, i)
        if best is None or key < best[0]:
            best = (key, r.department_id)
    return None if best is None else best[1]


def sorted_statuses(values: Sequence[str]) -> list[str]:
    """Statuses in workflow order (for boards)."""
    return sorted(values, key=lambda v: STATUS.index(v) if v in STATUS else len(STATUS))
