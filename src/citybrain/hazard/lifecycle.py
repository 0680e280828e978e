"""The hazard (隐患) lifecycle as pure functions of (state, event, now): who may do what, and what is due when.

    found ─register─▶ registered ─grade─▶ graded ─plan─▶ planned ─start─▶ rectifying ─submit─▶ submitted
    submitted ─verify(accept)─▶ verified ─close─▶ closed (销号)
    submitted ─verify(return, reasons)─▶ rectifying          (``return_count`` + 1)

Each event names the actor kinds the caller plays for this hazard (the service works them out from the
principal): the **enterprise** with main responsibility writes the plan, starts and submits; the
**supervising department** registers, grades, verifies, closes and puts under supervision (挂牌督办). A hazard
without an enterprise (a public place) is rectified by the supervising department itself, so the department
then also plays the enterprise. The ``system`` (internal callers) plays every part.

A plan's deadline is limited by grade, counted from grading: general ≤ 30 days, major ≤ 90 days. Major hazards
are supervised from grading on. ``due(state, now)`` says which reminder (milestones for supervised hazards,
3 days and 1 day before the deadline) or escalation (level 1: the supervising department's head at the
deadline; level 2: the city operations centre for a major hazard, or after 15 days overdue) is newly due.
Refusals raise ``TransitionRefused`` (409) or ``RoleRefused`` (403) with the reason; a bad plan raises
``BadPlan`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

__all__ = [
    "CLOSED", "DEPARTMENT", "ENTERPRISE", "FOUND", "GENERAL", "GRADED", "GRADES", "MAJOR", "OPEN_STATUSES",
    "PLANNED", "RECTIFYING", "REGISTERED", "REPORTER", "STATUSES", "SUBMITTED", "SYSTEM", "VERIFIED", "Actor",
    "BadPlan", "Close", "Due", "Grade", "HazardEvent", "HazardState", "Plan", "Register", "RoleRefused", "Start",
    "Submit", "Supervise", "TransitionRefused", "Verify", "due", "event_kind", "found", "is_overdue", "transition",
]

FOUND, REGISTERED, GRADED, PLANNED, RECTIFYING, SUBMITTED, VERIFIED, CLOSED = (
    "found", "registered", "graded", "planned", "rectifying", "submitted", "verified", "closed")
STATUSES = (FOUND, REGISTERED, GRADED, PLANNED, RECTIFYING, SUBMITTED, VERIFIED, CLOSED)
OPEN_STATUSES = STATUSES[:-1]
#: While the enterprise owes work, reminders go out; escalation applies to any open hazard past its deadline.
WORKING_STATUSES = (PLANNED, RECTIFYING)

GENERAL, MAJOR = "general", "major"
GRADES = (GENERAL, MAJOR)
GRADE_NAMES = {GENERAL: ("一般隐患", "general hazard"), MAJOR: ("重大隐患", "major hazard")}
#: The longest rectification period per grade, counted from grading.
DEADLINE_LIMITS = {GENERAL: timedelta(days=30), MAJOR: timedelta(days=90)}
#: Reminders before the deadline, in the order they fall due.
BEFORE_DEADLINE = (("d3", timedelta(days=3)), ("d1", timedelta(days=1)))
#: Milestones of a supervised hazard's rectification period (fractions of planned → deadline).
MILESTONES = (("m25", 0.25), ("m50", 0.5), ("m75", 0.75))
REMINDER_ORDER = tuple(k for k, _ in MILESTONES) + tuple(k for k, _ in BEFORE_DEADLINE)
LONG_OVERDUE = timedelta(days=15)

ENTERPRISE, DEPARTMENT, REPORTER, SYSTEM = "enterprise", "department", "reporter", "system"
ROLE_NAMES = {
    ENTERPRISE: "the enterprise with main responsibility (enterprise:act, its own enterprise)",
    DEPARTMENT: "the supervising department (a member holding hazard:act, or a city-wide user)",
    REPORTER: "an inspector or a department user",
}


class TransitionRefused(ValueError):
    """An event the hazard's status does not allow; the message is the reason shown to the user (409)."""


class RoleRefused(PermissionError):
    """The caller does not play the part the event needs; the message says which part may (403)."""


class BadPlan(ValueError):
    """A rectification plan that cannot be accepted; ``field`` names the plan field at fault (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and which parts (``ENTERPRISE``, ``DEPARTMENT``, ``REPORTER``, ``SYSTEM``) they play here."""

    by: str
    kinds: frozenset[str]

    @classmethod
    def of(cls, by: str, *kinds: str) -> Actor:
        return cls(by, frozenset(kinds))

    @property
    def kind(self) -> str:
        """The one kind recorded in the history (the most official part played)."""
        for k in (SYSTEM, DEPARTMENT, ENTERPRISE, REPORTER):
            if k in self.kinds:
                return k
        return REPORTER


@dataclass(frozen=True, slots=True)
class HazardState:
    """Where a hazard is. ``has_enterprise`` False: a public place, the department also rectifies."""

    status: str
    found_at: datetime
    has_enterprise: bool = True
    grade: str | None = None
    supervised: bool = False
    registered_at: datetime | None = None
    graded_at: datetime | None = None
    planned_at: datetime | None = None
    deadline_at: datetime | None = None
    plan_version: int = 0
    submitted_at: datetime | None = None
    verified_at: datetime | None = None
    closed_at: datetime | None = None
    return_count: int = 0
    escalation_level: int = 0
    last_reminder: str | None = None

    @property
    def open(self) -> bool:
        return self.status != CLOSED


# -- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    actor: Actor
    note: str = ""


@dataclass(frozen=True, slots=True)
class Grade:
    actor: Actor
    grade: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """A rectification plan (整改方案); a new plan while planned or rectifying is a revision."""

    actor: Actor
    measures: str
    deadline_at: datetime | None
    responsible_person: str
    funds: float | None = None
    interim_measures: str = ""


@dataclass(frozen=True, slots=True)
class Start:
    actor: Actor
    note: str = ""


@dataclass(frozen=True, slots=True)
class Submit:
    """Rectification done: ``photos`` pieces of evidence come with the note."""

    actor: Actor
    note: str = ""
    photos: int = 0


@dataclass(frozen=True, slots=True)
class Verify:
    """Acceptance check: accept, or return to the enterprise with reasons."""

    actor: Actor
    accept: bool
    reasons: str = ""


@dataclass(frozen=True, slots=True)
class Close:
    actor: Actor
    note: str = ""


@dataclass(frozen=True, slots=True)
class Supervise:
    """Put under (``on``) or lift supervision (挂牌督办); a major hazard's supervision cannot be lifted."""

    actor: Actor
    on: bool = True
    note: str = ""


HazardEvent = Register | Grade | Plan | Start | Submit | Verify | Close | Supervise

# event class: (allowed from, required part, verb)
_RULES: dict[type, tuple[tuple[str, ...], str, str]] = {
    Register: ((FOUND,), DEPARTMENT, "register"),
    Grade: ((REGISTERED, GRADED), DEPARTMENT, "grade"),
    Plan: ((GRADED, PLANNED, RECTIFYING), ENTERPRISE, "plan"),
    Start: ((PLANNED,), ENTERPRISE, "start rectifying"),
    Submit: ((RECTIFYING,), ENTERPRISE, "submit"),
    Verify: ((SUBMITTED,), DEPARTMENT, "verify"),
    Close: ((VERIFIED,), DEPARTMENT, "close"),
    Supervise: (OPEN_STATUSES[1:], DEPARTMENT, "supervise"),
}


def event_kind(event: HazardEvent, before: HazardState | None = None) -> str:
    """The history's name for an event (``returned`` / ``accepted`` for verification, ``replanned`` …).

    >>> event_kind(Verify(Actor.of("w", DEPARTMENT), accept=False, reasons="still leaking"))
    'returned'
    """
    if isinstance(event, Verify):
        return "accepted" if event.accept else "returned"
    if isinstance(event, Plan):
        return "replanned" if before is not None and before.status in (PLANNED, RECTIFYING) else "planned"
    if isinstance(event, Supervise):
        return "supervised" if event.on else "unsupervised"
    if isinstance(event, Grade):
        return "regraded" if before is not None and before.status == GRADED else "graded"
    return {Register: "registered", Start: "started", Submit: "submitted", Close: "closed"}[type(event)]


def found(now: datetime, *, has_enterprise: bool = True) -> HazardState:
    """A newly reported hazard.

    >>> from datetime import UTC, datetime
    >>> found(datetime(2026, 3, 1, tzinfo=UTC)).status
    'found'
    """
    return HazardState(FOUND, now, has_enterprise=has_enterprise)


def _plays(s: HazardState, actor: Actor, part: str) -> bool:
    if SYSTEM in actor.kinds or part in actor.kinds:
        return True
    # a public place has no enterprise: its supervising department rectifies it
    return part == ENTERPRISE and not s.has_enterprise and DEPARTMENT in actor.kinds


def transition(s: HazardState, event: HazardEvent, now: datetime) -> HazardState:
    """Apply one event and return the new state; refusals raise with the reason.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> dept, firm = Actor.of("wang", DEPARTMENT), Actor.of("li", ENTERPRISE)
    >>> s = transition(found(t), Register(dept), t)
    >>> s = transition(s, Grade(dept, MAJOR), t)
    >>> s.status, s.supervised
    ('graded', True)
    >>> try:
    ...     transition(s, Plan(dept, "replace the valve", t + timedelta(days=20), "Li Lei"), t)
    ... except RoleRefused as exc:
    ...     print(exc)
    plan needs the enterprise with main responsibility (enterprise:act, its own enterprise); you act as department
    >>> try:
    ...     transition(s, Plan(firm, "replace the valve", None, "Li Lei"), t)
    ... except BadPlan as exc:
    ...     print(exc.field)
    deadline_at
    >>> s = transition(s, Plan(firm, "replace the valve", t + timedelta(days=20), "Li Lei", 5e4, "cordon"), t)
    >>> s = transition(s, Start(firm), t)
    >>> s = transition(s, Submit(firm, "done", photos=2), t + timedelta(days=10))
    >>> s = transition(s, Verify(dept, accept=False, reasons="pressure still low"), t + timedelta(days=11))
    >>> s.status, s.return_count
    ('rectifying', 1)
    >>> try:
    ...     transition(s, Close(dept), t + timedelta(days=12))
    ... except TransitionRefused as exc:
    ...     print(exc)
    cannot close a hazard that is rectifying (only when verified)
    """
    try:
        allowed, part, verb = _RULES[type(event)]
    except KeyError:
        raise TypeError(f"unknown hazard event {event!r}") from None
    if not _plays(s, event.actor, part):
        played = ", ".join(sorted(event.actor.kinds)) or "no part in this hazard"
        raise RoleRefused(f"{verb} needs {ROLE_NAMES[part]}; you act as {played}")
    if s.status not in allowed:
        raise TransitionRefused(f"cannot {verb} a hazard that is {s.status} (only when {' or '.join(allowed)})")
    if isinstance(event, Register):
        return replace(s, status=REGISTERED, registered_at=now)
    if isinstance(event, Grade):
        return _grade(s, event, now)
    if isinstance(event, Plan):
        return _plan(s, event, now)
    if isinstance(event, Start):
        return replace(s, status=RECTIFYING)
    if isinstance(event, Submit):
        if event.photos < 1:
            raise TransitionRefused("submitting needs at least one photo of the rectified site")
        return replace(s, status=SUBMITTED, submitted_at=now)
    if isinstance(event, Verify):
        if event.accept:
            return replace(s, status=VERIFIED, verified_at=now)
        if not event.reasons.strip():
            raise TransitionRefused("returning a rectification needs the reasons")
        return replace(s, status=RECTIFYING, return_count=s.return_count + 1, submitted_at=None)
    if isinstance(event, Close):
        return replace(s, status=CLOSED, closed_at=now)
    assert isinstance(event, Supervise)
    if not event.on and s.grade == MAJOR:
        raise TransitionRefused("a major hazard stays under supervision until it is closed")
    return replace(s, supervised=event.on)


def _grade(s: HazardState, e: Grade, now: datetime) -> HazardState:
    if e.grade not in GRADES:
        raise BadPlan("grade", f"one of {', '.join(GRADES)}")
    return replace(s, status=GRADED, grade=e.grade, graded_at=now, supervised=s.supervised or e.grade == MAJOR)


def _plan(s: HazardState, e: Plan, now: datetime) -> HazardState:
    if not e.measures.strip():
        raise BadPlan("measures", "the plan must say what will be done")
    if not e.responsible_person.strip():
        raise BadPlan("responsible_person", "the plan must name who is responsible")
    if e.deadline_at is None:
        raise BadPlan("deadline_at", "a rectification plan needs a deadline")
    if e.deadline_at <= now:
        raise BadPlan("deadline_at", "the deadline must be in the future")
    grade = s.grade or GENERAL
    limit = DEADLINE_LIMITS[grade]
    start = s.graded_at or now
    if e.deadline_at - start > limit:
        raise BadPlan("deadline_at", f"a {grade} hazard must be rectified within {limit.days} days of grading "
                                     f"(by {(start + limit).isoformat()})")
    if grade == MAJOR:  # a major hazard's plan also states funds and the safety measures meanwhile
        if e.funds is None:
            raise BadPlan("funds", "a major hazard's plan must state the funds")
        if not e.interim_measures.strip():
            raise BadPlan("interim_measures", "a major hazard's plan must state the interim safety measures")
    if e.funds is not None and e.funds < 0:
        raise BadPlan("funds", "funds cannot be negative")
    status = PLANNED if s.status == GRADED else s.status
    reset = e.deadline_at != s.deadline_at
    return replace(s, status=status, planned_at=s.planned_at or now, deadline_at=e.deadline_at,
                   plan_version=s.plan_version + 1, last_reminder=None if reset else s.last_reminder)


# -- reminders and escalation ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    """Something a sweep must record once: a ``reminder`` (``key`` d3, d1, m25 …) or an ``escalation``
    (``level`` 1: the supervising department's head; 2: the city operations centre)."""

    kind: str
    key: str
    at: datetime
    level: int = 0
    target: str = ""
    message_zh: str = ""
    message_en: str = ""
    data: dict[str, object] = field(default_factory=dict)


def is_overdue(s: HazardState, now: datetime) -> bool:
    """Open with its deadline passed."""
    return s.open and s.deadline_at is not None and now > s.deadline_at


def _reminder_points(s: HazardState) -> list[tuple[str, datetime]]:
    assert s.deadline_at is not None
    points: list[tuple[str, datetime]] = []
    if s.supervised and s.planned_at is not None:
        span = s.deadline_at - s.planned_at
        points += [(k, s.planned_at + span * f) for k, f in MILESTONES]
    points += [(k, s.deadline_at - before) for k, before in BEFORE_DEADLINE]
    start = s.planned_at or s.deadline_at
    return [(k, at) for k, at in points if at > start]  # a point before the plan existed is never due


def due(s: HazardState, now: datetime) -> list[Due]:
    """What is newly due at ``now``: at most one reminder (the latest passed, beyond ``last_reminder``) and at
    most one escalation (to the highest level reached, beyond ``escalation_level``).

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> s = HazardState(RECTIFYING, t, grade=GENERAL, graded_at=t, planned_at=t, deadline_at=t + timedelta(days=10))
    >>> [d.key for d in due(s, t + timedelta(days=8))]
    ['d3']
    >>> [d.key for d in due(replace(s, last_reminder="d3"), t + timedelta(days=8))]
    []
    >>> [(d.kind, d.level) for d in due(replace(s, last_reminder="d1"), t + timedelta(days=11))]
    [('escalation', 1)]
    >>> [(d.kind, d.level) for d in due(replace(s, last_reminder="d1", escalation_level=1), t + timedelta(days=26))]
    [('escalation', 2)]
    """
    if not s.open or s.deadline_at is None:
        return []
    out: list[Due] = []
    if s.status in WORKING_STATUSES and now <= s.deadline_at:
        passed = [(k, at) for k, at in _reminder_points(s) if at <= now]
        if passed:
            key, at = passed[-1]
            done = REMINDER_ORDER.index(s.last_reminder) if s.last_reminder in REMINDER_ORDER else -1
            if REMINDER_ORDER.index(key) > done:
                left = s.deadline_at - now
                days = max(0, round(left.total_seconds() / 86400, 1))
                out.append(Due("reminder", key, at, target=ENTERPRISE,
                               message_zh=f"隐患整改期限剩余 {days:g} 天",
                               message_en=f"{days:g} days left to rectify the hazard",
                               data={"deadline_at": s.deadline_at.isoformat(), "days_left": days}))
    if now > s.deadline_at:
        over = now - s.deadline_at
        level = 2 if s.grade == MAJOR or over >= LONG_OVERDUE else 1
        if level > s.escalation_level:
            days = round(over.total_seconds() / 86400, 1)
            target = "department_head" if level == 1 else "city"
            at = s.deadline_at if level == 1 or s.grade == MAJOR else s.deadline_at + LONG_OVERDUE
            who_zh = "监管部门负责人" if level == 1 else "市城运中心"
            who_en = "the supervising department's head" if level == 1 else "the city operations centre"
            out.append(Due("escalation", f"e{level}", at, level=level, target=target,
                           message_zh=f"隐患逾期 {days:g} 天，升级至{who_zh}",
                           message_en=f"hazard {days:g} days overdue, escalated to {who_en}",
                           data={"deadline_at": s.deadline_at.isoformat(), "days_overdue": days}))
    return out


def apply_due(s: HazardState, item: Due) -> HazardState:
    """The state after ``item`` was recorded (so the next sweep does not repeat it)."""
    if item.kind == "reminder":
        return replace(s, last_reminder=item.key)
    return replace(s, escalation_level=max(s.escalation_level, item.level))
