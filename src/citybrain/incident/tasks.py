"""The task lifecycle, overdue detection, escalation steps and each department's acknowledgement of its part.

    pending ──accept──▶ accepted ──start──▶ in_progress ──complete──▶ done
                           │  ▲                 │  ▲
                           block │ unblock     block │ unblock          (any open status ──cancel──▶ cancelled)
                           ▼  │                 ▼  │
                          blocked (with a reason; unblock returns to where it was)

Pure functions of (state, event, now), like ``citybrain.incident.lifecycle``; who may act (the assigned
department, role or person) is checked by services. Refusals raise ``TransitionRefused`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from citybrain.incident.lifecycle import TransitionRefused

__all__ = [
    "ACCEPTED", "BLOCKED", "CANCELLED", "DEFAULT_TASK_ESCALATION", "DONE", "IN_PROGRESS", "OPEN_TASK_STATUSES",
    "PENDING", "Accept", "Block", "Cancel", "Complete", "Escalate", "EscalationStep", "Start", "TaskChange",
    "TaskEvent", "TaskState", "Unblock", "acknowledge_part", "escalation_due", "new_task", "overdue", "parts_for",
    "task_transition", "unacknowledged",
]

PENDING, ACCEPTED, IN_PROGRESS, BLOCKED, DONE, CANCELLED = (
    "pending", "accepted", "in_progress", "blocked", "done", "cancelled",
)
OPEN_TASK_STATUSES = (PENDING, ACCEPTED, IN_PROGRESS, BLOCKED)


@dataclass(frozen=True, slots=True)
class TaskState:
    status: str
    deadline: datetime | None
    created_at: datetime
    since: datetime
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    done_at: datetime | None = None
    blocked_reason: str | None = None
    resume_status: str | None = None  # where ``unblock`` returns to
    escalation_step: int = 0  # escalation steps already taken

    @property
    def open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES


@dataclass(frozen=True, slots=True)
class Accept:
    by: str


@dataclass(frozen=True, slots=True)
class Start:
    by: str


@dataclass(frozen=True, slots=True)
class Complete:
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unblock:
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Cancel:
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """Record that escalation ``step`` (1-based, see ``escalation_due``) was taken."""

    step: int
    by: str = "policy"


TaskEvent = Accept | Start | Complete | Block | Unblock | Cancel | Escalate


@dataclass(frozen=True, slots=True)
class TaskChange:
    kind: str
    at: datetime
    from_status: str | None
    to_status: str
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def new_task(deadline: datetime | None, now: datetime) -> TaskState:
    """A pending task due at ``deadline`` (absolute; ``plans.instantiate`` computes it)."""
    return TaskState(PENDING, deadline, now, now)


def task_transition(s: TaskState, event: TaskEvent, now: datetime) -> tuple[TaskState, list[TaskChange]]:
    """Apply one event to a task; refusals raise ``TransitionRefused``.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = new_task(t + timedelta(minutes=15), t)
    >>> s, _ = task_transition(s, Accept("fire"), t + timedelta(minutes=1))
    >>> s, ch = task_transition(s, Block("fire", "road closed by flooding"), t + timedelta(minutes=3))
    >>> s.status, s.blocked_reason
    ('blocked', 'road closed by flooding')
    >>> s, _ = task_transition(s, Unblock("fire"), t + timedelta(minutes=5))
    >>> s.status
    'accepted'
    """
    if isinstance(event, Escalate):
        if not s.open:
            raise TransitionRefused(f"a {s.status} task is not escalated")
        if event.step != s.escalation_step + 1:
            raise TransitionRefused(f"escalation step {event.step} does not follow step {s.escalation_step}")
        return replace(s, escalation_step=event.step), [
            TaskChange("escalated", now, s.status, s.status, event.by, {"step": event.step})]
    if not s.open:
        raise TransitionRefused(f"the task is {s.status}; it can no longer change")
    if isinstance(event, Accept):
        if s.status != PENDING:
            raise TransitionRefused(f"only a pending task can be accepted (this one is {s.status})")
        return _to(s, ACCEPTED, now, event.by, "accepted", accepted_at=now)
    if isinstance(event, Start):
        if s.status not in (PENDING, ACCEPTED):
            raise TransitionRefused(f"only a pending or accepted task can be started (this one is {s.status})")
        return _to(s, IN_PROGRESS, now, event.by, "started", accepted_at=s.accepted_at or now, started_at=now)
    if isinstance(event, Complete):
        if s.status == BLOCKED:
            raise TransitionRefused(f"the task is blocked ({s.blocked_reason}); unblock it first")
        if s.status == PENDING:
            raise TransitionRefused("a pending task must be accepted before it is done")
        late = s.deadline is not None and now > s.deadline
        return _to(s, DONE, now, event.by, "done", {"note": event.note, "late": late}, done_at=now)
    if isinstance(event, Block):
        if not event.reason.strip():
            raise TransitionRefused("blocking a task needs a reason")
        if s.status == BLOCKED:
            raise TransitionRefused("the task is already blocked")
        if s.status == PENDING:
            raise TransitionRefused("accept the task before reporting it blocked (or refuse it by cancelling)")
        return _to(s, BLOCKED, now, event.by, "blocked", {"reason": event.reason},
                   blocked_reason=event.reason, resume_status=s.status)
    if isinstance(event, Unblock):
        if s.status != BLOCKED:
            raise TransitionRefused(f"the task is {s.status}, not blocked")
        back = s.resume_status or ACCEPTED
        return _to(s, back, now, event.by, "unblocked", {"note": event.note} if event.note else {},
                   blocked_reason=None, resume_status=None)
    if isinstance(event, Cancel):
        if not event.reason.strip():
            raise TransitionRefused("cancelling a task needs a reason")
        return _to(s, CANCELLED, now, event.by, "cancelled", {"reason": event.reason})
    raise TypeError(f"unknown task event {event!r}")


def _to(s: TaskState, status: str, now: datetime, by: str, kind: str, detail: Mapping[str, Any] | None = None,
        **stamps: Any) -> tuple[TaskState, list[TaskChange]]:
    new = replace(s, status=status, since=now, **stamps)
    return new, [TaskChange(kind, now, s.status, status, by, dict(detail or {}))]


def overdue(task: TaskState, now: datetime) -> bool:
    """An open task past its deadline (a task without a deadline is never overdue).

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = new_task(t + timedelta(minutes=15), t)
    >>> overdue(s, t + timedelta(minutes=15)), overdue(s, t + timedelta(minutes=15, seconds=1))
    (False, True)
    """
    return task.open and task.deadline is not None and now > task.deadline


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Step ``step`` falls due ``after`` the deadline and notifies ``notify``."""

    step: int
    after: timedelta
    notify: str  # "assignee", "lead_department", "commander", "ops"


#: At the deadline the assignee is reminded; 15 min later the lead department's dispatcher, 30 min the
#: incident commander, 60 min the operations centre (督办).
DEFAULT_TASK_ESCALATION: tuple[EscalationStep, ...] = (
    EscalationStep(1, timedelta(0), "assignee"),
    EscalationStep(2, timedelta(minutes=15), "lead_department"),
    EscalationStep(3, timedelta(minutes=30), "commander"),
    EscalationStep(4, timedelta(minutes=60), "ops"),
)


def escalation_due(task: TaskState, now: datetime,
                   policy: Iterable[EscalationStep] = DEFAULT_TASK_ESCALATION) -> EscalationStep | None:
    """The next escalation step due for an overdue task, or ``None``; record it with ``Escalate(step)``.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = new_task(t, t)
    >>> escalation_due(s, t + timedelta(minutes=20)).notify
    'assignee'
    >>> s, _ = task_transition(s, Escalate(1), t + timedelta(minutes=20))
    >>> escalation_due(s, t + timedelta(minutes=20)).notify
    'lead_department'
    """
    if not overdue(task, now) or task.deadline is None:
        return None
    for step in sorted(policy, key=lambda p: p.step):
        if step.step > task.escalation_step:
            return step if now - task.deadline >= step.after else None
    return None


# -- departments' acknowledgement of their part -----------------------------------------------------


def parts_for(departments: Iterable[str]) -> dict[str, datetime | None]:
    """No department has acknowledged yet."""
    return dict.fromkeys(departments)


def acknowledge_part(parts: Mapping[str, datetime | None], department: str, now: datetime,
                     by: str | None = None) -> tuple[dict[str, datetime | None], list[TaskChange]]:
    """Record that ``department`` acknowledged its part in the incident (idempotent: the first time counts).

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> parts, ch = acknowledge_part(parts_for(["fire", "police"]), "fire", t, by="fire.duty")
    >>> unacknowledged(parts), ch[0].kind
    (['police'], 'part_acknowledged')
    """
    if department not in parts:
        raise TransitionRefused(f"department {department!r} has no part in this incident "
                                f"(taking part: {', '.join(parts) or 'none'})")
    if parts[department] is not None:
        return dict(parts), []
    new = {**parts, department: now}
    return new, [TaskChange("part_acknowledged", now, None, "acknowledged", by, {"department": department})]


def unacknowledged(parts: Mapping[str, datetime | None]) -> list[str]:
    """Departments that have not acknowledged their part yet, in their order."""
    return [d for d, at in parts.items() if at is None]
