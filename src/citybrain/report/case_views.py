"""HTTP routes for cases (立案 → 派遣 → 处置 → 反馈 → 核查 → 结案) and their routing table (under /api/v1).

``report:read`` sees the case board within the caller's department scope; ``report:act`` moves cases (the
workflow itself decides which case role may make which step: ``report.cases``); ``report:write`` edits the routing
table and the time limits. The citizen's rating and reopening are deliberately public (the tracking code is the
credential) and rate-limited per client by the report core's limiter. Every write names what it touches for the
audit log before acting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import FieldError, Invalid
from citybrain.core.schemas import InputModel, Page, page_window
from citybrain.core.settings import Settings as SettingsModel
from citybrain.deps import ClockDep, DbSession, Permitted, Settings, set_audit
from citybrain.org import service as org_service
from citybrain.report import case_service as svc
from citybrain.report import cases as cs
from citybrain.report import metrics as metrics_service

router = APIRouter(tags=["cases"])


# -- shapes ------------------------------------------------------------------------------------------


class CaseRead(BaseModel):
    id: int
    service_request_id: str
    service_code: str
    description: str | None
    lon: float | None
    lat: float | None
    address: str | None
    district: str | None
    case_status: str
    status_name_zh: str
    status_name_en: str
    department: str | None
    assigned_user_id: int | None
    requested_at: datetime
    due_at: datetime | None
    overdue: bool
    seconds_left: float | None
    first_response_at: datetime | None
    closed_at: datetime | None
    on_time: bool | None
    public_reply: str | None
    dispatch_count: int
    reopen_count: int
    me_too_count: int
    rating: int | None
    hazard_id: int | None
    incident_id: int | None
    duplicate_of_id: int | None
    updated_at: datetime | None


class RegisterBody(InputModel):
    hours: float | None = Field(None, gt=0, le=24 * 365, description="time limit; the category's when omitted")


class DispatchBody(InputModel):
    department: str | None = Field(None, description="department code; the routing table's choice when omitted")
    user_id: int | None = None
    note: str = Field("", max_length=2000)


class NoteBody(InputModel):
    note: str = Field("", max_length=2000)


class RespondBody(InputModel):
    reply: str = Field(..., min_length=1, max_length=2000, description="public: the citizen reads it")
    note: str = Field("", max_length=2000, description="internal: never shown to the citizen")


class CheckBody(InputModel):
    passed: bool
    reason: str = Field("", max_length=2000)


class ReasonBody(InputModel):
    reason: str = Field(..., min_length=1, max_length=2000)


class RouteItem(InputModel):
    service_code: str = Field(..., max_length=40)
    district_code: str | None = Field(None, max_length=12)
    department: str = Field(..., max_length=40)
    priority: int = Field(100, ge=0, le=100000)


class RouteRead(BaseModel):
    id: int
    service_code: str
    district_code: str | None
    department: str | None
    priority: int
    updated_at: datetime
    updated_by: str | None


class TimeLimitItem(InputModel):
    service_code: str = Field(..., max_length=40)
    hours: float = Field(..., gt=0, le=24 * 365)


class TimeLimitRead(BaseModel):
    service_code: str
    hours: float
    default_hours: float
    overridden: bool
    updated_at: datetime | None
    updated_by: str | None


class ToIncidentBody(InputModel):
    incident_type: str | None = None
    level: str | None = None


class LinkRead(BaseModel):
    report_id: int
    hazard_id: int | None = None
    incident_id: int | None = None
    created: bool = True


class RatingBody(InputModel):
    rating: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=1000)


class CitizenCaseRead(BaseModel):
    case_status: str
    rating: int | None
    can_rate: bool
    can_reopen: bool
    reopen_deadline: datetime | None


def _case(session: Session, report: Any, now: datetime) -> CaseRead:
    return CaseRead.model_validate(svc.case_dict(report, now=now,
                                                 departments=org_service.department_codes(session=session)))


# -- the board ---------------------------------------------------------------------------------------


@router.get("/cases", response_model=Page[CaseRead])
def list_cases(principal: Permitted("report:read"), session: DbSession, clock: ClockDep,
               case_status: list[str] = Query([], description="registered … closed"),
               department: str | None = None, service_code: str | None = None, district: str | None = None,
               overdue: bool | None = None, limit: int = 50, offset: int = 0) -> Page[CaseRead]:
    limit, offset = page_window(limit, offset)
    now = clock.now()
    rows, total = svc.list_cases(session=session, principal=principal, now=now, case_status=case_status,
                                 department=department, service_code=service_code, district=district,
                                 overdue=overdue, limit=limit, offset=offset)
    return Page(items=[_case(session, r, now) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/cases/{report_id}", response_model=CaseRead)
def get_case(report_id: int, principal: Permitted("report:read"), session: DbSession, clock: ClockDep) -> CaseRead:
    return _case(session, svc.get_case_or_raise(session=session, principal=principal, report_id=report_id),
                 clock.now())


def _acting(request: Request, session: Session, principal: Principal, report_id: int, action: str,
            **detail: object) -> Any:
    set_audit(request, resource_type="report", resource_id=report_id, action=action, **detail)
    return svc.get_case_or_raise(session=session, principal=principal, report_id=report_id)


@router.post("/cases/{report_id}/register", response_model=CaseRead)
def register(report_id: int, request: Request, principal: Permitted("report:act"), session: DbSession,
             clock: ClockDep, body: RegisterBody | None = None) -> CaseRead:
    report = _acting(request, session, principal, report_id, "case_register")
    svc.register(session=session, now=clock.now(), principal=principal, report=report,
                 hours=body.hours if body else None)
    return _case(session, report, clock.now())


@router.post("/cases/{report_id}/dispatch", response_model=CaseRead)
def dispatch(report_id: int, body: DispatchBody, request: Request, principal: Permitted("report:act"),
             session: DbSession, clock: ClockDep) -> CaseRead:
    report = _acting(request, session, principal, report_id, "case_dispatch", department=body.department,
                     user_id=body.user_id)
    svc.dispatch(session=session, now=clock.now(), principal=principal, report=report, department=body.department,
                 user_id=body.user_id, note=body.note)
    return _case(session, report, clock.now())


def _step(report_id: int, request: Request, principal: Principal, session: Session, now: datetime, action: str,
          event: cs.CaseEvent, **detail: object) -> CaseRead:
    report = _acting(request, session, principal, report_id, action, **detail)
    svc.act(session=session, now=now, principal=principal, report=report, event=event)
    return _case(session, report, now)


@router.post("/cases/{report_id}/accept", response_model=CaseRead)
def accept(report_id: int, request: Request, principal: Permitted("report:act"), session: DbSession,
           clock: ClockDep, body: NoteBody | None = None) -> CaseRead:
    event = cs.Accept(body.note if body else "")
    return _step(report_id, request, principal, session, clock.now(), "case_accept", event)


@router.post("/cases/{report_id}/respond", response_model=CaseRead)
def respond(report_id: int, body: RespondBody, request: Request, principal: Permitted("report:act"),
            session: DbSession, clock: ClockDep) -> CaseRead:
    return _step(report_id, request, principal, session, clock.now(), "case_respond", cs.Respond(body.reply, body.note))


@router.post("/cases/{report_id}/check", response_model=CaseRead)
def check(report_id: int, body: CheckBody, request: Request, principal: Permitted("report:read"), session: DbSession,
          clock: ClockDep) -> CaseRead:
    """核查: the operations centre or a grid inspector (inspection:act), never the handler; the workflow's role
    check decides, so an inspector without report:act may check too."""
    if not body.passed and not body.reason.strip():
        raise Invalid("a failed check needs a reason", errors=[FieldError("body.reason", "required when failing")])
    return _step(report_id, request, principal, session, clock.now(), "case_check", cs.Check(body.passed, body.reason),
                 passed=body.passed)


@router.post("/cases/{report_id}/close", response_model=CaseRead)
def close(report_id: int, request: Request, principal: Permitted("report:act"), session: DbSession, clock: ClockDep,
          body: NoteBody | None = None) -> CaseRead:
    event = cs.Close(body.note if body else "")
    return _step(report_id, request, principal, session, clock.now(), "case_close", event)


@router.post("/cases/{report_id}/reject", response_model=CaseRead)
def reject(report_id: int, body: ReasonBody, request: Request, principal: Permitted("report:act"), session: DbSession,
           clock: ClockDep) -> CaseRead:
    return _step(report_id, request, principal, session, clock.now(), "case_reject", cs.Reject(body.reason))


# -- routing table and time limits -------------------------------------------------------------------


def _routes(session: Session) -> list[RouteRead]:
    codes = org_service.department_codes(session=session)
    return [RouteRead(id=r.id, service_code=r.service_code, district_code=r.district_code,
                      department=codes.get(r.department_id), priority=r.priority, updated_at=r.updated_at,
                      updated_by=r.updated_by) for r in svc.list_routes(session=session)]


@router.get("/case-routes", response_model=list[RouteRead])
def get_routes(principal: Permitted("report:read"), session: DbSession) -> list[RouteRead]:
    return _routes(session)


@router.put("/case-routes", response_model=list[RouteRead])
def put_routes(body: list[RouteItem], request: Request, principal: Permitted("report:write"), session: DbSession,
               clock: ClockDep) -> list[RouteRead]:
    set_audit(request, resource_type="case_route", action="replace", count=len(body))
    svc.replace_routes(session=session, now=clock.now(), principal=principal, items=[i.model_dump() for i in body])
    return _routes(session)


@router.get("/case-time-limits", response_model=list[TimeLimitRead])
def get_time_limits(principal: Permitted("report:read"), session: DbSession) -> list[TimeLimitRead]:
    return [TimeLimitRead.model_validate(x) for x in svc.time_limits(session=session)]


@router.put("/case-time-limits", response_model=list[TimeLimitRead])
def put_time_limits(body: list[TimeLimitItem], request: Request, principal: Permitted("report:write"),
                    session: DbSession, clock: ClockDep) -> list[TimeLimitRead]:
    set_audit(request, resource_type="case_time_limit", action="replace", count=len(body))
    out = svc.replace_time_limits(session=session, now=clock.now(), principal=principal,
                                  items=[i.model_dump() for i in body])
    return [TimeLimitRead.model_validate(x) for x in out]


# -- metrics -----------------------------------------------------------------------------------------


@router.get("/reports/metrics")
def get_metrics(principal: Permitted("report:read"), session: DbSession, clock: ClockDep,
                since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Reports per day by category and district, response times, on-time rate, duplicates, satisfaction, reopens."""
    until = until or clock.now()
    since = since or until - timedelta(days=30)
    if since >= until:
        raise Invalid("since must be before until", errors=[FieldError("query.since", "not before until")])
    return metrics_service.compute(session=session, principal=principal, since=since, until=until)


# -- onward: hazard, incident ------------------------------------------------------------------------


@router.post("/reports/{report_id}/to-hazard", response_model=LinkRead, status_code=status.HTTP_201_CREATED)
def to_hazard(report_id: int, request: Request, principal: Permitted("report:act"), session: DbSession,
              clock: ClockDep) -> LinkRead:
    report = _acting(request, session, principal, report_id, "to_hazard")
    hazard = svc.to_hazard(session=session, now=clock.now(), principal=principal, report=report)
    set_audit(request, resource_type="report", resource_id=report_id, action="to_hazard", hazard_id=hazard.id)
    return LinkRead(report_id=report_id, hazard_id=hazard.id)


@router.post("/reports/{report_id}/to-incident", response_model=LinkRead, status_code=status.HTTP_201_CREATED)
def to_incident(report_id: int, request: Request, response: Response, principal: Permitted("incident:act"),
                session: DbSession, clock: ClockDep, body: ToIncidentBody | None = None) -> LinkRead:
    report = _acting(request, session, principal, report_id, "to_incident")
    opened = svc.to_incident(session=session, now=clock.now(), principal=principal, report=report,
                             incident_type=body.incident_type if body else None, level=body.level if body else None)
    if not opened.created:
        response.status_code = status.HTTP_200_OK
    set_audit(request, resource_type="report", resource_id=report_id, action="to_incident",
              incident_id=opened.incident.id, created=opened.created)
    return LinkRead(report_id=report_id, incident_id=opened.incident.id, created=opened.created)


# -- the citizen (public, rate-limited) --------------------------------------------------------------


def _throttled(request: Request, settings: SettingsModel) -> Response | None:
    """The report core's per-client limiter: a flood answers 429 problem+json with Retry-After."""
    from citybrain.report import abuse
    from citybrain.report import views as report_views

    name = "feedback" if "feedback" in abuse.LIMITS else "me_too"
    wait = report_views.throttled(request, settings, name)
    return None if wait is None else report_views.too_many(request, wait)


def _citizen(report: Any, now: datetime) -> CitizenCaseRead:
    return CitizenCaseRead(case_status=report.case_status, **svc.citizen_view(report, now))


@router.post("/public/track/{tracking_code}/rating", response_model=CitizenCaseRead)
def rate(tracking_code: str, body: RatingBody, request: Request, session: DbSession, clock: ClockDep,
         settings: Settings) -> CitizenCaseRead:
    now = clock.now()
    set_audit(request, resource_type="report", action="citizen_rating", rating=body.rating)
    if (refused := _throttled(request, settings)) is not None:
        return refused  # type: ignore[return-value]
    report = svc.rate(session=session, now=now, tracking_code=tracking_code, rating=body.rating, comment=body.comment)
    set_audit(request, resource_type="report", resource_id=report.id, action="citizen_rating", rating=body.rating)
    return _citizen(report, now)


@router.post("/public/track/{tracking_code}/reopen", response_model=CitizenCaseRead)
def reopen(tracking_code: str, body: ReasonBody, request: Request, session: DbSession, clock: ClockDep,
           settings: Settings) -> CitizenCaseRead:
    now = clock.now()
    set_audit(request, resource_type="report", action="citizen_reopen")
    if (refused := _throttled(request, settings)) is not None:
        return refused  # type: ignore[return-value]
    report = svc.reopen(session=session, now=now, tracking_code=tracking_code, reason=body.reason)
    set_audit(request, resource_type="report", resource_id=report.id, action="citizen_reopen")
    return _citizen(report, now)
