"""HTTP routes of risk points, assessments, bands, control measures and pre-works assessments (under /api/v1).

``risk:read`` lists and reads within the caller's scope (department, shared, city-wide; an enterprise officer
its own enterprise's); ``risk:write`` registers and changes risk points, assesses them, adds control
measures, edits the bands and records pre-works assessments; a control check needs ``risk:act`` or
``inspection:act`` (or is the responsible enterprise's own officer). Every write is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status

from citybrain.core.schemas import page_window
from citybrain.deps import ClockDep, CurrentUser, DbSession, Permitted, set_audit
from citybrain.hazard.risk import measures, prework, service
from citybrain.hazard.risk.schemas import (
    AssessmentCreate,
    AssessmentRead,
    CheckCreate,
    CheckRead,
    MeasureCreate,
    MeasureRead,
    PreworkCreate,
    PreworkPage,
    PreworkRead,
    RiskConfigRead,
    RiskConfigUpdate,
    RiskPointCreate,
    RiskPointPage,
    RiskPointRead,
    RiskPointUpdate,
)
from citybrain.org import service as org_service

router = APIRouter(tags=["risk"])


def _point(session: Any, p: Any) -> RiskPointRead:
    return RiskPointRead.model_validate(service.point_dict(p, org_service.department_codes(session=session)))


# -- risk points -------------------------------------------------------------------------------------


@router.get("/risk-points", response_model=RiskPointPage)
def list_points(principal: Permitted("risk:read"), session: DbSession, level: list[str] = Query([]),
                category: list[str] = Query([]), district: str | None = None, department: str | None = None,
                enterprise_id: int | None = None, q: str | None = Query(None, max_length=100), limit: int = 50,
                offset: int = 0) -> RiskPointPage:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_points(session=session, principal=principal, level=level, category=category,
                                      district=district, department=department, enterprise_id=enterprise_id, q=q,
                                      limit=limit, offset=offset)
    codes = org_service.department_codes(session=session)
    return RiskPointPage(items=[RiskPointRead.model_validate(service.point_dict(p, codes)) for p in rows],
                         total=total, limit=limit, offset=offset)


@router.post("/risk-points", response_model=RiskPointRead, status_code=status.HTTP_201_CREATED)
def create_point(body: RiskPointCreate, request: Request, principal: Permitted("risk:write"), session: DbSession,
                 clock: ClockDep) -> RiskPointRead:
    set_audit(request, resource_type="risk_point", action="create", name=body.name)
    p = service.create(session=session, now=clock.now(), principal=principal, **body.model_dump())
    set_audit(request, resource_type="risk_point", resource_id=p.id, action="create", name=p.name)
    return _point(session, p)


@router.get("/risk-points/{risk_point_id}", response_model=RiskPointRead)
def get_point(risk_point_id: int, principal: Permitted("risk:read"), session: DbSession) -> RiskPointRead:
    return _point(session, service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id))


@router.patch("/risk-points/{risk_point_id}", response_model=RiskPointRead)
def update_point(risk_point_id: int, body: RiskPointUpdate, request: Request, principal: Permitted("risk:write"),
                 session: DbSession, clock: ClockDep) -> RiskPointRead:
    changes = body.model_dump(exclude_unset=True)
    set_audit(request, resource_type="risk_point", resource_id=risk_point_id, action="update", fields=sorted(changes))
    p = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
    service.update(session=session, now=clock.now(), principal=principal, point=p, changes=changes)
    return _point(session, p)


@router.post("/risk-points/{risk_point_id}/assessments", response_model=AssessmentRead,
             status_code=status.HTTP_201_CREATED)
def assess(risk_point_id: int, body: AssessmentCreate, request: Request, principal: Permitted("risk:write"),
           session: DbSession, clock: ClockDep) -> AssessmentRead:
    set_audit(request, resource_type="risk_point", resource_id=risk_point_id, action="assess", method=body.method)
    p = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
    a = service.assess(session=session, now=clock.now(), principal=principal, point=p, method=body.method,
                       factors=body.factors, note=body.note)
    set_audit(request, resource_type="risk_point", resource_id=p.id, action="assess", method=a.method,
              score=a.score, level=a.level)
    return AssessmentRead.model_validate(service.assessment_dict(a))


@router.get("/risk-points/{risk_point_id}/assessments", response_model=list[AssessmentRead])
def list_assessments(risk_point_id: int, principal: Permitted("risk:read"),
                     session: DbSession) -> list[AssessmentRead]:
    p = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
    return [AssessmentRead.model_validate(service.assessment_dict(a))
            for a in service.assessments(session=session, point=p)]


# -- bands -------------------------------------------------------------------------------------------


@router.get("/risk-config", response_model=RiskConfigRead)
def get_config(_: Permitted("risk:read"), session: DbSession) -> RiskConfigRead:
    return RiskConfigRead.model_validate(service.config(session=session))


@router.put("/risk-config", response_model=RiskConfigRead)
def put_config(body: RiskConfigUpdate, request: Request, principal: Permitted("risk:write"), session: DbSession,
               clock: ClockDep) -> RiskConfigRead:
    """Replace the bands of the methods named in the body; ``null`` restores a method's shipped defaults."""
    sent = body.model_dump(exclude_unset=True)
    set_audit(request, resource_type="risk_config", action="update", methods=sorted(sent))
    for method, bands in sent.items():
        service.set_bands(session=session, now=clock.now(), principal=principal, method=method, bands=bands)
    return RiskConfigRead.model_validate(service.config(session=session))


# -- control measures --------------------------------------------------------------------------------


@router.post("/risk-points/{risk_point_id}/measures", response_model=MeasureRead,
             status_code=status.HTTP_201_CREATED)
def create_measure(risk_point_id: int, body: MeasureCreate, request: Request, principal: Permitted("risk:write"),
                   session: DbSession, clock: ClockDep) -> MeasureRead:
    now = clock.now()
    set_audit(request, resource_type="risk_point", resource_id=risk_point_id, action="add_measure")
    p = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
    m = measures.create(session=session, now=now, principal=principal, point=p, **body.model_dump())
    set_audit(request, resource_type="control_measure", resource_id=m.id, action="create", risk_point_id=p.id)
    return MeasureRead.model_validate(measures.measure_dict(m, org_service.department_codes(session=session), now, p))


@router.get("/risk-points/{risk_point_id}/measures", response_model=list[MeasureRead])
def list_measures(risk_point_id: int, principal: Permitted("risk:read"), session: DbSession,
                  clock: ClockDep) -> list[MeasureRead]:
    now = clock.now()
    p = service.get_or_raise(session=session, principal=principal, risk_point_id=risk_point_id)
    codes = org_service.department_codes(session=session)
    return [MeasureRead.model_validate(measures.measure_dict(m, codes, now, p))
            for m in measures.of_point(session=session, point=p)]


@router.get("/measures/overdue", response_model=list[MeasureRead])
def overdue_measures(principal: Permitted("risk:read"), session: DbSession, clock: ClockDep,
                     limit: int = 200) -> list[MeasureRead]:
    now = clock.now()
    codes = org_service.department_codes(session=session)
    rows = measures.overdue(session=session, principal=principal, now=now, limit=page_window(limit, 0)[0])
    return [MeasureRead.model_validate(measures.measure_dict(m, codes, now, p)) for m, p in rows]


@router.post("/measures/{measure_id}/checks", response_model=CheckRead, status_code=status.HTTP_201_CREATED)
def record_check(measure_id: int, request: Request, principal: CurrentUser, session: DbSession, clock: ClockDep,
                 body: CheckCreate | None = None) -> CheckRead:
    now = clock.now()
    body = body or CheckCreate()
    set_audit(request, resource_type="control_measure", resource_id=measure_id, action="check",
              effective=body.effective)
    m, p = measures.get_or_raise(session=session, principal=principal, measure_id=measure_id)
    c = measures.record_check(session=session, now=now, principal=principal, measure=m, point=p,
                              effective=body.effective, note=body.note)
    return CheckRead(id=c.id, measure_id=m.id, at=c.at, by=c.by, effective=c.effective, note=c.note,
                     measure=MeasureRead.model_validate(
                         measures.measure_dict(m, org_service.department_codes(session=session), now, p)))


# -- pre-works assessments ---------------------------------------------------------------------------


@router.get("/prework-checklist")
def prework_checklist(_: Permitted("risk:read")) -> dict[str, Any]:
    """The shipped metro pre-works checklist (items, weights, which are critical)."""
    return prework.checklist_dict(prework.load_checklist())


@router.post("/prework-assessments", response_model=PreworkRead, status_code=status.HTTP_201_CREATED)
def create_prework(body: PreworkCreate, request: Request, principal: Permitted("risk:write"), session: DbSession,
                   clock: ClockDep) -> PreworkRead:
    set_audit(request, resource_type="prework_assessment", action="create", project=body.project)
    row = prework.create(session=session, now=clock.now(), principal=principal, **body.model_dump())
    set_audit(request, resource_type="prework_assessment", resource_id=row.id, action="create",
              decision=row.decision, score=row.score)
    return PreworkRead.model_validate(prework.prework_dict(row, org_service.department_codes(session=session)))


@router.get("/prework-assessments", response_model=PreworkPage)
def list_prework(principal: Permitted("risk:read"), session: DbSession,
                 decision: str | None = Query(None, pattern="^(proceed|proceed_with_conditions|stop)$"),
                 risk_point_id: int | None = None, limit: int = 50, offset: int = 0) -> PreworkPage:
    limit, offset = page_window(limit, offset)
    rows, total = prework.list_assessments(session=session, principal=principal, decision=decision,
                                           risk_point_id=risk_point_id, limit=limit, offset=offset)
    codes = org_service.department_codes(session=session)
    return PreworkPage(items=[PreworkRead.model_validate(prework.prework_dict(r, codes)) for r in rows],
                       total=total, limit=limit, offset=offset)


@router.get("/prework-assessments/{assessment_id}", response_model=PreworkRead)
def get_prework(assessment_id: int, principal: Permitted("risk:read"), session: DbSession) -> PreworkRead:
    row = prework.get_or_raise(session=session, principal=principal, assessment_id=assessment_id)
    return PreworkRead.model_validate(prework.prework_dict(row, org_service.department_codes(session=session)))
