"""Plans become tasks: stored and starter plans, instantiation at opening and on level raise, the task lifecycle
(who may act, checklists, overdue escalation) and each department's acknowledgement of its part.

A task assigned to a department is acted on by that department (or city-wide users); a task assigned to a
role by the commander, the lead department or city-wide users; a named assignee may always act on theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.incident import lifecycle as lc
from citybrain.incident import plans as pl
from citybrain.incident import service
from citybrain.incident import tasks as tk
from citybrain.incident.models import Incident, IncidentPart, IncidentPlan, IncidentTask
from citybrain.warning.types import Level

# Statements of the incident-opening path, built once (see ``service``).
_STORED_PLAN_DOCUMENTS = sa.select(IncidentPlan.document).order_by(IncidentPlan.key, IncidentPlan.version)
_TASK_KEYS = sa.select(IncidentTask.key).where(IncidentTask.incident_id == sa.bindparam("incident_id"))
_INSERT_PARTS = sa.insert(IncidentPart.__table__)
_INSERT_TASKS = sa.insert(IncidentTask.__table__).returning(IncidentTask.__table__.c.id, sort_by_parameter_order=True)

# -- plans -------------------------------------------------------------------------------------------


def stored_plans(*, session: Session) -> list[pl.Plan]:
    return [pl.validate_plan(document) for document in session.scalars(_STORED_PLAN_DOCUMENTS)]


def all_plans(*, session: Session) -> list[pl.Plan]:
    """The starter plans and every stored version (a stored plan may shadow a starter key with a new version)."""
    return [*pl.starter_plans().values(), *stored_plans(session=session)]


def plan_for_type(*, session: Session, incident_type: str) -> pl.Plan | None:
    """The latest version of the plans for ``incident_type``."""
    return pl.latest_plan(all_plans(session=session), incident_type)


def get_plan(*, session: Session, key: str, version: int | None = None) -> pl.Plan:
    versions = [p for p in all_plans(session=session) if p.key == key]
    if version is not None:
        versions = [p for p in versions if p.version == version]
    if not versions:
        raise NotFound(f"plan {key!r}{f' version {version}' if version is not None else ''} not found")
    return max(versions, key=lambda p: p.version)


def list_plans(*, session: Session) -> list[pl.Plan]:
    """The latest version of every plan key."""
    latest: dict[str, pl.Plan] = {}
    for p in all_plans(session=session):
        if p.key not in latest or p.version > latest[p.key].version:
            latest[p.key] = p
    return sorted(latest.values(), key=lambda p: (p.incident_type, p.key))


def import_plan(*, session: Session, now: datetime, principal: Principal | None, text: str,
                dry_run: bool = False) -> pl.Plan:
    """Validate a YAML plan (errors name path, line and column) and store it as a new version."""
    from citybrain.org.models import Department

    try:
        plan = pl.parse_plan(text, departments=list(session.scalars(sa.select(Department.code))))
    except pl.PlanError as exc:
        errors = [FieldError(f"body.yaml{'.' + p.path if p.path else ''}",
                             f"{p.message}" + (f" (line {p.line}, column {p.column})" if p.line else ""))
                  for p in exc.problems]
        raise Invalid("the plan does not validate", errors=errors,
                      problems=[{"path": p.path, "line": p.line, "column": p.column, "message": p.message}
                                for p in exc.problems]) from None
    existing = [p for p in all_plans(session=session) if p.key == plan.key]
    if any(p.version == plan.version for p in existing):
        raise Conflict(f"plan {plan.key!r} version {plan.version} exists; raise the version to change it",
                       errors=[FieldError("body.yaml.version", "already exists")])
    if existing and plan.version < max(p.version for p in existing):
        raise Conflict(f"plan {plan.key!r} has version {max(p.version for p in existing)}; import a higher one",
                       errors=[FieldError("body.yaml.version", "lower than the latest")])
    if not dry_run:
        session.add(IncidentPlan(key=plan.key, version=plan.version, incident_type=plan.incident_type,
                                 document=plan.model_dump(mode="json"), created_at=now,
                                 created_by=service.actor_of(principal)))
        session.flush()
    return plan


# -- instantiation -----------------------------------------------------------------------------------


def _task_values(incident: Incident, spec: pl.TaskSpec, now: datetime) -> dict[str, Any]:
    s = tk.new_task(spec.deadline, now)
    return dict(
        incident_id=incident.id, key=spec.key, title_zh=spec.title.get("zh", ""), title_en=spec.title.get("en", ""),
        department=spec.department, role=spec.role, level=int(spec.level), deadline=spec.deadline,
        depends_on=list(spec.depends_on), checklist=[{**c, "done": False} for c in spec.checklist],
        notify=dict(spec.notify) if spec.notify else None, resources=[list(r) for r in spec.resources],
        plan_key=spec.plan_key, plan_version=spec.plan_version, status=s.status, since=s.since,
        escalation_step=0, created_at=now, updated_at=now)


def _created(task: Mapping[str, Any]) -> dict[str, Any]:
    """A ``task_created`` entry's detail."""
    return {"key": task["key"], "department": task["department"], "role": task["role"], "deadline": task["deadline"]}


def _add_tasks(session: Session, incident: Incident, specs: Sequence[pl.TaskSpec], now: datetime,
               actor: str | None) -> list[IncidentTask]:
    have = set(session.scalars(_TASK_KEYS, {"incident_id": incident.id}))
    values = [_task_values(incident, s, now) for s in specs if s.key not in have]
    rows = [IncidentTask(**v) for v in values]
    session.add_all(rows)
    session.flush()
    for v, t in zip(values, rows, strict=True):
        service.record(session, incident, "task_created", now, actor, _created(v), task_id=t.id)
    return rows


def instantiate_plan(*, session: Session, incident: Incident, now: datetime, actor: str | None,
                     timeline: service.Timeline | None = None) -> list[pl.TaskSpec]:
    """The latest plan of the incident's type at its level, as tasks due from the incident's report.

    The tasks are inserted as rows (one statement returning their ids; the caller gets the specs, not task
    objects); their timeline entries go to ``timeline`` when given (the caller writes it), else are written here.
    """
    plan = plan_for_type(session=session, incident_type=incident.incident_type)
    if plan is None:
        return []
    entries = service.Timeline() if timeline is None else timeline
    incident.plan_key, incident.plan_version = plan.key, plan.version
    specs = pl.instantiate(plan, incident.reported_at, Level(incident.level))
    have = set(session.scalars(_TASK_KEYS, {"incident_id": incident.id}))
    rows = [_task_values(incident, s, now) for s in specs if s.key not in have]
    ids = session.scalars(_INSERT_TASKS, rows).all() if rows else []
    for row, task_id in zip(rows, ids, strict=True):
        entries.add(incident, "task_created", now, actor, _created(row), task_id=task_id)
    entries.add(incident, "plan_instantiated", now, actor,
                {"plan": plan.key, "version": plan.version, "tasks": [s.key for s in specs]})
    if timeline is None:
        entries.write(session)
    return specs


def add_level_tasks(*, session: Session, now: datetime, incident: Incident, from_level: Level, to_level: Level,
                    actor: str | None) -> list[IncidentTask]:
    """The tasks a higher level adds to the incident's plan (the version it was opened with)."""
    if incident.plan_key is None:
        return []
    plan = get_plan(session=session, key=incident.plan_key, version=incident.plan_version)
    specs = pl.raise_level(plan, from_level, to_level, incident.reported_at, raised_at=now)
    rows = _add_tasks(session, incident, specs, now, actor)
    ids = service.department_ids(session=session)
    have = set(session.scalars(sa.select(IncidentPart.department_id).where(IncidentPart.incident_id == incident.id)))
    new = [t.department for t in rows if t.department and ids.get(t.department) not in have]
    if new:
        incident.participants = list(dict.fromkeys([*(incident.participants or []), *new]))
        add_parts(session=session, incident=incident, codes=new, ids=ids, start=len(have))
    return rows


def add_parts(*, session: Session, incident: Incident, codes: Sequence[str], ids: Mapping[str, int],
              start: int = 0) -> None:
    """The departments' parts in the incident, inserted as rows at once (nothing reads them back as objects)."""
    rows = [{"incident_id": incident.id, "department_id": ids[code], "position": start + i}
            for i, code in enumerate(dict.fromkeys(codes)) if code in ids]
    if rows:
        session.execute(_INSERT_PARTS, rows)


def parts(*, session: Session, incident: Incident) -> list[IncidentPart]:
    return list(session.scalars(sa.select(IncidentPart).where(IncidentPart.incident_id == incident.id)
                                .order_by(IncidentPart.position)))


def acknowledge_part(*, session: Session, now: datetime, principal: Principal, incident: Incident,
                     department: str) -> IncidentPart:
    """The department acknowledges its part (its own members or city-wide users; the first time counts)."""
    codes = service.department_codes(session=session)
    ids = {c: i for i, c in codes.items()}
    rows = {codes[p.department_id]: p for p in parts(session=session, incident=incident)}
    if not principal.city_wide and ids.get(department) != principal.department_id:
        raise Forbidden(f"only {department} (or the operations centre) acknowledges {department}'s part")
    current = {code: p.acknowledged_at for code, p in rows.items()}
    try:
        _, changes = tk.acknowledge_part(current, department, now, by=principal.username)
    except lc.TransitionRefused as exc:
        raise NotFound(str(exc)) from None
    part = rows[department]
    for c in changes:
        part.acknowledged_at, part.acknowledged_by = now, principal.username
        service.record(session, incident, c.kind, now, c.actor, c.detail)
    session.flush()
    return part


# -- the task lifecycle ------------------------------------------------------------------------------


def open_task_count(*, session: Session, incident: Incident) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(IncidentTask).where(
        IncidentTask.incident_id == incident.id, IncidentTask.status.in_(tk.OPEN_TASK_STATUSES))) or 0


def tasks_of(*, session: Session, incident: Incident) -> list[IncidentTask]:
    return list(session.scalars(sa.select(IncidentTask).where(IncidentTask.incident_id == incident.id)
                                .order_by(IncidentTask.deadline, IncidentTask.id)))


def get_task_or_raise(*, session: Session, incident: Incident, task_id: int) -> IncidentTask:
    t = session.get(IncidentTask, task_id)
    if t is None or t.incident_id != incident.id:
        raise NotFound(f"task {task_id} of incident {incident.id} not found")
    return t


def task_state(t: IncidentTask) -> tk.TaskState:
    return tk.TaskState(status=t.status, deadline=t.deadline, created_at=t.created_at, since=t.since,
                        accepted_at=t.accepted_at, started_at=t.started_at, done_at=t.done_at,
                        blocked_reason=t.blocked_reason, resume_status=t.resume_status,
                        escalation_step=t.escalation_step)


def _store_task(t: IncidentTask, s: tk.TaskState, now: datetime) -> None:
    t.status, t.since, t.accepted_at = s.status, s.since, s.accepted_at
    t.started_at, t.done_at = s.started_at, s.done_at
    t.blocked_reason, t.resume_status, t.escalation_step = s.blocked_reason, s.resume_status, s.escalation_step
    t.updated_at = now


def may_act(principal: Principal, incident: Incident, t: IncidentTask, codes: Mapping[int, str]) -> bool:
    if principal.city_wide or (t.assignee and t.assignee == principal.username):
        return True
    mine = codes.get(principal.department_id or -1)
    if t.department is not None:
        return mine == t.department
    return principal.username == incident.commander or principal.department_id == incident.lead_department_id


TASK_VERBS = ("accept", "start", "complete", "block", "unblock", "cancel")


@dataclass(frozen=True, slots=True)
class TaskAction:
    verb: str
    note: str = ""
    reason: str = ""


def act_on_task(*, session: Session, now: datetime, principal: Principal, incident: Incident, task: IncidentTask,
                action: TaskAction) -> IncidentTask:
    """One task event; a task of another department is refused (403), an illegal step is 409 with the reason."""
    if not may_act(principal, incident, task, service.department_codes(session=session)):
        who = task.department or f"the {task.role}"
        raise Forbidden(f"task {task.key!r} is assigned to {who}; your department may not act on it")
    if incident.status not in lc.OPEN_STATUSES and action.verb != "cancel":
        raise Conflict(f"the incident is {incident.status}; its tasks can no longer change")
    by = principal.username
    events: dict[str, tk.TaskEvent] = {
        "accept": tk.Accept(by), "start": tk.Start(by), "complete": tk.Complete(by, action.note),
        "block": tk.Block(by, action.reason), "unblock": tk.Unblock(by, action.note),
        "cancel": tk.Cancel(by, action.reason)}
    if action.verb not in events:
        raise NotFound(f"no task action {action.verb!r} (one of {', '.join(TASK_VERBS)})")
    _apply(session, incident, task, events[action.verb], now)
    return task


def _apply(session: Session, incident: Incident, t: IncidentTask, event: tk.TaskEvent, now: datetime) -> None:
    try:
        s, changes = tk.task_transition(task_state(t), event, now)
    except lc.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    _store_task(t, s, now)
    for c in changes:
        service.record(session, incident, f"task_{c.kind}", now, c.actor, {"key": t.key, **c.detail}, task_id=t.id)
    incident.updated_at = now
    session.flush()


def cancel_open_tasks(*, session: Session, now: datetime, incident: Incident, by: str, reason: str) -> int:
    n = 0
    for t in tasks_of(session=session, incident=incident):
        if t.status in tk.OPEN_TASK_STATUSES:
            _apply(session, incident, t, tk.Cancel(by, reason), now)
            n += 1
    return n


def toggle_checklist(*, session: Session, now: datetime, principal: Principal, incident: Incident,
                     task: IncidentTask, index: int, done: bool) -> IncidentTask:
    if not may_act(principal, incident, task, service.department_codes(session=session)):
        raise Forbidden(f"task {task.key!r} is assigned to {task.department or task.role}")
    if task.status not in tk.OPEN_TASK_STATUSES:
        raise Conflict(f"the task is {task.status}; its checklist can no longer change")
    items = [dict(c) for c in task.checklist or []]
    if not 0 <= index < len(items):
        raise Invalid(f"no checklist item {index}", errors=[FieldError("path.index", f"0..{len(items) - 1}")])
    items[index].update(done=done, done_by=principal.username if done else None,
                        done_at=now.isoformat() if done else None)
    task.checklist = items
    task.updated_at = now
    service.record(session, incident, "task_checklist", now, principal.username,
                   {"key": task.key, "item": index, "done": done}, task_id=task.id)
    session.flush()
    return task


def escalate_overdue_tasks(*, session: Session, now: datetime,
                           policy: Sequence[tk.EscalationStep] = tk.DEFAULT_TASK_ESCALATION
                           ) -> list[tuple[IncidentTask, tk.EscalationStep]]:
    """Take the next due escalation step of every overdue open task of an open incident (one step per call)."""
    out = []
    rows = session.execute(sa.select(IncidentTask, Incident).join(Incident, Incident.id == IncidentTask.incident_id)
                           .where(IncidentTask.status.in_(tk.OPEN_TASK_STATUSES), IncidentTask.deadline < now,
                                  Incident.status.in_(lc.OPEN_STATUSES)).order_by(IncidentTask.id)).all()
    for t, inc in rows:
        step = tk.escalation_due(task_state(t), now, policy)
        if step is None:
            continue
        s, changes = tk.task_transition(task_state(t), tk.Escalate(step.step), now)
        _store_task(t, s, now)
        for c in changes:
            service.record(session, inc, "task_escalated", now, c.actor,
                           {"key": t.key, "step": step.step, "notify": step.notify, "department": t.department,
                            "overdue_s": (now - t.deadline).total_seconds() if t.deadline else None}, task_id=t.id)
        out.append((t, step))
    session.flush()
    return out


def task_dict(t: IncidentTask, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": t.id, "key": t.key, "title_zh": t.title_zh, "title_en": t.title_en, "department": t.department,
        "role": t.role, "assignee": t.assignee, "level": Level(t.level).colour, "deadline": t.deadline,
        "overdue": bool(now and tk.overdue(task_state(t), now)), "depends_on": list(t.depends_on or []),
        "checklist": list(t.checklist or []), "notify": t.notify, "resources": list(t.resources or []),
        "plan_key": t.plan_key, "plan_version": t.plan_version, "status": t.status, "since": t.since,
        "blocked_reason": t.blocked_reason, "escalation_step": t.escalation_step, "created_at": t.created_at,
        "accepted_at": t.accepted_at, "started_at": t.started_at, "done_at": t.done_at,
    }


def part_dict(p: IncidentPart, codes: Mapping[int, str], lead_id: int) -> dict[str, Any]:
    return {"department": codes.get(p.department_id), "lead": p.department_id == lead_id,
            "acknowledged_at": p.acknowledged_at, "acknowledged_by": p.acknowledged_by}
