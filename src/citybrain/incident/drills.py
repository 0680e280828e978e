"""Drills (应急演练): a scripted scenario run through the live system as an exercise incident.

A scenario (YAML, ``Scenario``) names an incident type, a place and a level, and lists timed injects:
exercise warnings (they go through the real warning lifecycle, routing and notification, marked
exercise: CAP status ``Exercise``, notifications prefixed 演练) and notes. Starting a drill opens an
exercise incident at once — its plan's tasks go to the departments with real deadlines — and the
warning host plays the due injects on its timer (``play_due``). At the end, ``after_action`` measures
every task against its deadline and turns each gap (late or not done) into a corrective task for the
department concerned; the situation report (``report.py``) shows the measured times.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.clock import parse_duration
from citybrain.core.errors import Conflict, FieldError, Invalid
from citybrain.incident import service, tasks_service
from citybrain.incident.models import Incident, IncidentTask
from citybrain.warning.types import Level, Signal

CORRECTIVE_DAYS = 14


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Text(_Model):
    zh: str
    en: str


class Inject(_Model):
    at: str = Field(..., description="offset from the start, e.g. 2m")
    kind: Literal["warning", "note"]
    level: Literal["red", "orange", "yellow", "blue"] | None = None
    text: Text


class Scenario(_Model):
    key: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{1,60}$")
    name: Text
    incident_type: str
    level: Literal["red", "orange", "yellow", "blue"]
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    injects: list[Inject] = []

    def offsets(self) -> list[timedelta]:
        return [parse_duration(i.at) for i in self.injects]


def parse_scenario(text: str) -> Scenario:
    """A scenario from YAML; ``Invalid`` names the field of each problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"scenario is not YAML: {exc}", errors=[FieldError("body.yaml", "not YAML")]) from None
    try:
        sc = Scenario.model_validate(data)
        sc.offsets()
    except ValidationError as exc:
        errs = [FieldError("body.yaml." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise Invalid("scenario refused", errors=errs) from None
    except ValueError as exc:
        raise Invalid(f"scenario refused: {exc}", errors=[FieldError("body.yaml.injects", str(exc))]) from None
    return sc


def starter_scenarios() -> dict[str, Scenario]:
    """The scenarios shipped in ``incident/data/drills`` by key (parsed once per process)."""
    return dict(_starters())


@lru_cache(maxsize=1)
def _starters() -> tuple[tuple[str, Scenario], ...]:
    folder = resources.files("citybrain.incident.data").joinpath("drills")
    found = [parse_scenario(f.read_text(encoding="utf-8"))
             for f in sorted(folder.iterdir(), key=lambda p: p.name) if f.name.endswith(".yaml")]
    return tuple((sc.key, sc) for sc in found)


def start(*, session: Session, now: datetime, principal: Principal | None, scenario: Scenario) -> Incident:
    """Open the exercise incident of ``scenario`` (never linked to a real one) and play the injects due now."""
    opened = service.create(
        session=session, now=now, principal=principal, incident_type=scenario.incident_type, lon=scenario.lon,
        lat=scenario.lat, level=scenario.level, title_zh=f"【演练】{scenario.name.zh}",
        title_en=f"[EXERCISE] {scenario.name.en}", exercise=True, source="drill", force=True,
        labels={"drill": scenario.key, "drill_started": now.isoformat(), "drill_played": 0,
                "drill_scenario": scenario.model_dump(mode="json")})
    play_due(session=session, now=now, incident=opened.incident)
    return opened.incident


def play_due(*, session: Session, now: datetime, incident: Incident | None = None) -> int:
    """Play every inject whose time has come, for one drill incident or all open ones; returns how many."""
    from citybrain.incident.models import Incident as Inc

    if incident is None:
        rows = list(session.scalars(sa.select(Inc).where(Inc.exercise.is_(True), Inc.source == "drill",
                                                         Inc.closed_at.is_(None))))
    else:
        rows = [incident]
    played = 0
    for inc in rows:
        labels = dict(inc.labels or {})
        if "drill_scenario" not in labels:
            continue
        sc = Scenario.model_validate(labels["drill_scenario"])
        started = datetime.fromisoformat(labels["drill_started"])
        done = int(labels.get("drill_played", 0))
        for i, (inject, offset) in enumerate(zip(sc.injects, sc.offsets(), strict=True)):
            if i < done or started + offset > now:
                continue
            _play(session, inc, sc, inject, now)
            done = i + 1
            played += 1
        if done != labels.get("drill_played"):
            labels["drill_played"] = done
            inc.labels = labels
    return played


def _play(session: Session, inc: Incident, sc: Scenario, inject: Inject, now: datetime) -> None:
    from citybrain.warning import service as warnings

    if inject.kind == "note":
        service.add_note(session=session, now=now, principal=None, incident=inc, text=f"[演练] {inject.text.zh}")
        return
    codes = service.department_codes(session=session)
    labels = {"rule": f"drill:{sc.key}", "scope": "area", "department": codes.get(inc.lead_department_id, "ops"),
              "cluster": f"drill-{inc.id}", "kind": "exercise"}
    signal = Signal(f"drill:{sc.key}", labels, Level.parse(inject.level or sc.level), now, None, inc.lon, inc.lat,
                    {"summary_zh": f"【演练】{inject.text.zh}", "summary_en": f"[EXERCISE] {inject.text.en}",
                     "exercise": True})
    applied = warnings.apply_signals(session=session, signals=[signal], now=now, source="drill")
    for w in applied.warnings:
        service.add_link(session, inc, "warning", w.id, now, "drill")


def after_action(*, session: Session, now: datetime, principal: Principal | None, incident: Incident) -> dict[str, Any]:
    """Measure each task against its deadline; each gap becomes a corrective task of its department."""
    if not incident.exercise:
        raise Conflict("after-action corrective tasks are for drills (exercise incidents)")
    tasks = tasks_service.tasks_of(session=session, incident=incident)
    have = {t.key for t in tasks}
    measured, created = [], []
    for t in tasks:
        if t.key.startswith("corrective-"):
            continue
        late_s = None
        if t.done_at is not None and t.deadline is not None:
            late_s = (t.done_at - t.deadline).total_seconds()
        gap = t.done_at is None or (late_s is not None and late_s > 0)
        measured.append({"task": t.key, "department": t.department or t.role, "deadline": t.deadline,
                         "done_at": t.done_at, "late_s": late_s, "gap": gap})
        key = f"corrective-{t.key}"[:80]
        if gap and key not in have:
            why_zh = "未完成" if t.done_at is None else f"超时 {int(late_s or 0) // 60} 分钟"
            why_en = "not done" if t.done_at is None else f"{int(late_s or 0) // 60} min late"
            row = IncidentTask(
                incident_id=incident.id, key=key, title_zh=f"整改：{t.title_zh}（演练中{why_zh}）",
                title_en=f"Correct: {t.title_en} ({why_en} in the drill)", department=t.department, role=t.role,
                level=t.level, deadline=now + timedelta(days=CORRECTIVE_DAYS), depends_on=[], checklist=[],
                notify=None, resources=[], plan_key=t.plan_key, plan_version=t.plan_version, status="pending",
                since=now, escalation_step=0, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            service.record(session, incident, "corrective_task", now, service.actor_of(principal),
                           {"key": key, "department": t.department, "reason": why_en}, task_id=row.id)
            created.append(key)
    return {"measured": measured, "corrective_tasks": created,
            "gaps": sum(1 for m in measured if m["gap"]), "tasks": len(measured)}
