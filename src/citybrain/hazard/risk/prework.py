"""Pre-works risk assessment of metro construction (地铁施工开工前风险评估).

A shipped checklist (``data/prework_metro.yaml``) of weighted items, some critical, is answered yes / no / na.
``evaluate`` is pure: any critical item answered "no" stops the works; otherwise the score (weight answered
"yes" over the weight that applies, in percent) below the checklist's ``min_score`` stops them too; any other
"no" becomes a condition to meet before or during the works (``proceed_with_conditions``); all clear is
``proceed``. ``create`` stores the answers, score, decision and conditions (``prework_assessment``).

>>> cl = load_checklist()
>>> answers = {item.id: "yes" for item in cl.items}
>>> evaluate(cl, answers).decision
'proceed'
>>> evaluate(cl, {**answers, "emergency_drill": "no"}).decision
'proceed_with_conditions'
>>> r = evaluate(cl, {**answers, "pipelines": "no"})
>>> r.decision, r.failed_critical
('stop', ['pipelines'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import FieldError, Forbidden, Invalid, NotFound
from citybrain.hazard.risk import service
from citybrain.hazard.risk.models import PreworkAssessment
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

PROCEED, CONDITIONS, STOP = "proceed", "proceed_with_conditions", "stop"
DECISION_NAMES = {PROCEED: ("准予开工", "proceed"), CONDITIONS: ("有条件开工", "proceed with conditions"),
                  STOP: ("暂停开工", "stop")}
ANSWERS = ("yes", "no", "na")
RESOURCE = "prework_assessment"


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text_zh: str
    text_en: str
    weight: float
    critical: bool


@dataclass(frozen=True, slots=True)
class Checklist:
    key: str
    version: int
    name_zh: str
    name_en: str
    min_score: float
    items: tuple[Item, ...]

    @property
    def ref(self) -> str:
        return f"{self.key}@{self.version}"


@dataclass(frozen=True, slots=True)
class Result:
    score: float
    decision: str
    failed_critical: list[str]
    conditions: list[dict[str, str]]
    answers: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_checklist(doc: Mapping[str, Any]) -> Checklist:
    items = tuple(Item(str(i["id"]), str(i["text_zh"]), str(i["text_en"]), float(i["weight"]),
                       bool(i.get("critical", False))) for i in doc["items"])
    if len({i.id for i in items}) != len(items) or any(i.weight <= 0 for i in items):
        raise ValueError("pre-works checklist items need unique ids and positive weights")
    return Checklist(str(doc["key"]), int(doc["version"]), str(doc["name_zh"]), str(doc["name_en"]),
                     float(doc.get("min_score", 70)), items)


@lru_cache(maxsize=1)
def load_checklist() -> Checklist:
    """The shipped metro pre-works checklist."""
    text = resources.files("citybrain.hazard.risk.data").joinpath("prework_metro.yaml").read_text(encoding="utf-8")
    return parse_checklist(yaml.safe_load(text))


def _answer(raw: Any) -> tuple[str | None, str]:
    if isinstance(raw, Mapping):
        value, note = raw.get("answer"), str(raw.get("note", ""))[:2000]
    else:
        value, note = raw, ""
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return (value if value in ANSWERS else None), note


def evaluate(checklist: Checklist, answers: Mapping[str, Any], extra_conditions: Sequence[str] = ()) -> Result:
    """The decision for these answers; every item must be answered, critical ones with yes or no.

    Raises ``Invalid`` naming ``body.answers.<item>`` for a missing, unknown or malformed answer.
    """
    errors = [FieldError(f"body.answers.{k}", "not an item of the checklist") for k in answers
              if k not in {i.id for i in checklist.items}]
    clean: dict[str, dict[str, str]] = {}
    for item in checklist.items:
        if item.id not in answers:
            errors.append(FieldError(f"body.answers.{item.id}", "missing: answer yes, no or na"))
            continue
        value, note = _answer(answers[item.id])
        if value is None:
            errors.append(FieldError(f"body.answers.{item.id}", "answer yes, no or na"))
        elif value == "na" and item.critical:
            errors.append(FieldError(f"body.answers.{item.id}", "a critical item cannot be na: answer yes or no"))
        else:
            clean[item.id] = {"answer": value, "note": note} if note else {"answer": value}
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)
    applies = [i for i in checklist.items if clean[i.id]["answer"] != "na"]
    total = sum(i.weight for i in applies)
    score = round(100.0 * sum(i.weight for i in applies if clean[i.id]["answer"] == "yes") / total, 1) if total else 0.0
    failed = [i for i in applies if clean[i.id]["answer"] == "no"]
    failed_critical = [i.id for i in failed if i.critical]
    conditions = [{"item": i.id, "zh": i.text_zh, "en": i.text_en} for i in failed if not i.critical]
    conditions += [{"item": "", "zh": c, "en": c} for c in extra_conditions if c.strip()]
    if failed_critical or score < checklist.min_score:
        decision = STOP
    elif conditions:
        decision = CONDITIONS
    else:
        decision = PROCEED
    return Result(score, decision, failed_critical, conditions, clean)


# -- stored ------------------------------------------------------------------------------------------


def scope_clause(principal: Principal) -> Any:
    if service.enterprise_only(principal):
        return PreworkAssessment.enterprise_id == principal.enterprise_id
    return department_scope(principal, PreworkAssessment.department_id, resource_type=RESOURCE,
                            id_col=PreworkAssessment.id)


def create(*, session: Session, now: datetime, principal: Principal, project: str, answers: Mapping[str, Any],
           risk_point_id: int | None = None, enterprise_id: int | None = None, department: str | None = None,
           lon: float | None = None, lat: float | None = None, conditions: Sequence[str] = (),
           note: str = "") -> PreworkAssessment:
    """Evaluate and keep one pre-works assessment; place and department default to the risk point's."""
    checklist = load_checklist()
    result = evaluate(checklist, answers, conditions)
    dept_id = principal.department_id
    if risk_point_id is not None:
        try:
            point = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
        except NotFound:
            raise service.invalid("body.risk_point_id", f"no risk point {risk_point_id}") from None
        dept_id = point.department_id
        enterprise_id = enterprise_id if enterprise_id is not None else point.enterprise_id
        if lon is None or lat is None:
            lon, lat = point.lon, point.lat
    if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
        raise service.invalid("body.enterprise_id", f"no enterprise {enterprise_id}")
    if department:
        dept_id = org_service.department_id_for(session=session, code=department, field="body.department")
    if dept_id is None:
        raise service.invalid("body.department", "name the responsible department")
    if not service.may_manage(principal, dept_id):
        raise Forbidden("you may assess works for your own department only")
    row = PreworkAssessment(project=project, checklist=checklist.ref, risk_point_id=risk_point_id,
                            enterprise_id=enterprise_id, department_id=dept_id, lon=lon, lat=lat,
                            answers=result.answers, score=result.score, decision=result.decision,
                            failed_critical=result.failed_critical, conditions=result.conditions, note=note,
                            assessor=principal.username, at=now)
    session.add(row)
    session.flush()
    return row


def get_or_raise(*, session: Session, principal: Principal, assessment_id: int) -> PreworkAssessment:
    stmt = sa.select(PreworkAssessment).where(PreworkAssessment.id == assessment_id)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"pre-works assessment {assessment_id} not found")
    return row


def list_assessments(*, session: Session, principal: Principal, decision: str | None = None,
                     risk_point_id: int | None = None, limit: int = 50,
                     offset: int = 0) -> tuple[list[PreworkAssessment], int]:
    stmt = sa.select(PreworkAssessment)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if decision:
        stmt = stmt.where(PreworkAssessment.decision == decision)
    if risk_point_id is not None:
        stmt = stmt.where(PreworkAssessment.risk_point_id == risk_point_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(PreworkAssessment.at.desc(), PreworkAssessment.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def prework_dict(p: PreworkAssessment, departments: Mapping[int, str]) -> dict[str, Any]:
    return {"id": p.id, "project": p.project, "checklist": p.checklist, "risk_point_id": p.risk_point_id,
            "enterprise_id": p.enterprise_id, "department": departments.get(p.department_id), "lon": p.lon,
            "lat": p.lat, "answers": p.answers, "score": p.score, "decision": p.decision,
            "decision_zh": DECISION_NAMES[p.decision][0], "failed_critical": p.failed_critical,
            "conditions": p.conditions, "note": p.note, "assessor": p.assessor, "at": p.at}


def checklist_dict(cl: Checklist) -> dict[str, Any]:
    return {"key": cl.key, "version": cl.version, "name_zh": cl.name_zh, "name_en": cl.name_en,
            "min_score": cl.min_score, "items": [{"id": i.id, "text_zh": i.text_zh, "text_en": i.text_en,
                                                  "weight": i.weight, "critical": i.critical} for i in cl.items]}
