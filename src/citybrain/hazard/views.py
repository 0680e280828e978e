"""HTTP routes for hazards, regulations, enforcement actions and duties (mounted under /api/v1).

``hazard:read`` lists and reads within the caller's scope (own enterprise, own department or shared with it,
or city-wide); the lifecycle verbs check the part the caller plays in the hazard (the enterprise, the
supervising department, a reporter) and answer 403 naming the part needed, 409 for a step the status does
not allow. ``hazard:act`` records enforcement actions, ``hazard:write`` edits duties. Every write names what
it touches for the audit log before acting, so a refused write is recorded against its resource too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import FieldError, Invalid
from citybrain.core.files import file_store
from citybrain.core.images import MAX_IMAGE_BYTES, clean_image
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, Settings, set_audit
from citybrain.hazard import enforcement, service, stats
from citybrain.hazard import lifecycle as lc
from citybrain.hazard import regulations as regs
from citybrain.hazard.models import Hazard
from citybrain.hazard.schemas import (
    CommentBody,
    EnforcementCreate,
    EnforcementRead,
    EventRead,
    GradeBody,
    HazardCreate,
    HazardDetail,
    HazardRead,
    NoteBody,
    PlanBody,
    RegulationDetail,
    RegulationRead,
    ResponsibilityCreate,
    ResponsibilityRead,
    StatsRead,
    SuperviseBody,
    VerifyBody,
)
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

router = APIRouter(tags=["hazards"])
MAX_PHOTOS = 9


def _enterprise_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(sa.select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(wanted))).all())


def _read(session: Session, rows: list[Hazard], now: datetime) -> list[HazardRead]:
    codes = org_service.department_codes(session=session)
    names = _enterprise_names(session, {h.enterprise_id for h in rows})
    return [HazardRead.model_validate({**service.as_dict(h, now=now, departments=codes),
                                       "enterprise_name": names.get(h.enterprise_id or 0)}) for h in rows]


def _detail(session: Session, h: Hazard, now: datetime, principal: Principal) -> HazardDetail:
    data: dict[str, Any] = service.as_dict(h, now=now, departments=org_service.department_codes(session=session))
    data["enterprise_name"] = _enterprise_names(session, {h.enterprise_id}).get(h.enterprise_id or 0)
    p = service.current_plan(session=session, hazard=h)
    data["plan"] = service.plan_dict(p) if p is not None else None
    data["evidence"] = [service.photo_dict(x) for x in service.photos(session=session, hazard=h)]
    data["clauses"] = regs.clauses_by_id(session=session, clause_ids=service.clause_ids_of(session=session, hazard=h))
    data["allowed"] = sorted(service.parts(principal, h))
    return HazardDetail.model_validate(data)


def _check_list(values: list[str], allowed: tuple[str, ...], field: str) -> None:
    for i, v in enumerate(values):
        if v not in allowed:
            raise Invalid(f"unknown {field} {v!r}", errors=[FieldError(f"query.{field}[{i}]",
                                                                       f"one of {', '.join(allowed)}")])


def _department(session: Session, code: str | None, field: str) -> int | None:
    return org_service.department_id_for(session=session, code=code, field=field) if code else None


# -- statistics and exports (before /hazards/{id}) -----------------------------------------------------


@router.get("/hazards/stats", response_model=StatsRead)
def hazard_stats(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
                 start: datetime | None = None, end: datetime | None = None,
                 by: str = Query("department", description="department, enterprise or district")) -> StatsRead:
    """On-time rectification, overdue, time to close over [start, end) (default: this quarter so far)."""
    now = clock.now()
    if start is None or end is None:
        local = now.astimezone(stats.LOCAL)
        q_start, q_end = stats.quarter_bounds(local.year, (local.month - 1) // 3 + 1)
        start, end = start or q_start, end or q_end
    return StatsRead.model_validate(stats.compute(session=session, principal=principal, now=now, start=start,
                                                  end=end, by=by))


@router.get("/hazards/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM, for Excel"}})
def export_csv(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
               status_: list[str] = Query([], alias="status"), grade: list[str] = Query([]),
               district: str | None = None, department: str | None = None, overdue: bool | None = None,
               supervised: bool | None = None) -> Response:
    _check_list(status_, lc.STATUSES, "status")
    _check_list(grade, lc.GRADES, "grade")
    now = clock.now()
    dept = _department(session, department, "query.department")
    rows, _ = service.list_hazards(session=session, principal=principal, now=now, status=status_, grade=grade,
                                   district=district, department_id=dept, overdue=overdue, supervised=supervised,
                                   exercise=False, limit=100_000)
    body = stats.export_csv(session=session, rows=rows, now=now)
    name = f"hazards-{now.astimezone(stats.LOCAL):%Y%m%d}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/hazards/reports/quarterly", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
def quarterly(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep, year: int,
              quarter: int, lang: str = Query("zh-CN", pattern="^(zh-CN|en)$"),
              format: str = Query("html", pattern="^(html|pdf)$")) -> Response:  # noqa: A002 - the API word
    """The quarterly hazard report (on-time rectification, overdue, time to close, by department and district)."""
    doc = stats.quarterly_document(session=session, principal=principal, now=clock.now(), year=year,
                                   quarter=quarter, lang=lang)
    if format == "pdf":
        from citybrain.core.pdf import to_pdf

        return Response(to_pdf(doc), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="hazards-{year}-Q{quarter}.pdf"'})
    from citybrain.core.documents import to_html

    return HTMLResponse(to_html(doc))


# -- hazards -------------------------------------------------------------------------------------------


@router.get("/hazards", response_model=Page[HazardRead])
def list_hazards(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
                 status_: list[str] = Query([], alias="status"), grade: list[str] = Query([]),
                 enterprise_id: int | None = None, department: str | None = None, district: str | None = None,
                 overdue: bool | None = None, supervised: bool | None = None, clause_id: int | None = None,
                 source: list[str] = Query([]), category: str | None = None, exercise: bool | None = None,
                 limit: int = 50, offset: int = 0) -> Page[HazardRead]:
    _check_list(status_, lc.STATUSES, "status")
    _check_list(grade, lc.GRADES, "grade")
    _check_list(source, service.SOURCES, "source")
    limit, offset = page_window(limit, offset)
    now = clock.now()
    rows, total = service.list_hazards(
        session=session, principal=principal, now=now, status=status_, grade=grade, enterprise_id=enterprise_id,
        department_id=_department(session, department, "query.department"), district=district, overdue=overdue,
        supervised=supervised, clause_id=clause_id, source=source, category=category, exercise=exercise,
        limit=limit, offset=offset)
    return Page(items=_read(session, rows, now), total=total, limit=limit, offset=offset)


@router.post("/hazards", response_model=HazardDetail, status_code=status.HTTP_201_CREATED)
def create_hazard(body: HazardCreate, request: Request, principal: Permitted("hazard:read"), session: DbSession,
                  clock: ClockDep) -> HazardDetail:
    now = clock.now()
    set_audit(request, resource_type="hazard", action="create", category=body.category)
    h = service.create(session=session, now=now, actor=principal, title=body.title, category=body.category,
                       lon=body.lon, lat=body.lat, source=body.source, source_ref=body.source_ref,
                       description=body.description, enterprise_id=body.enterprise_id, asset_id=body.asset_id,
                       supervising_department_id=_department(session, body.supervising_department,
                                                             "body.supervising_department"),
                       clause_ids=body.clause_ids, exercise=body.exercise)
    set_audit(request, resource_type="hazard", resource_id=h.id, action="create", code=h.code)
    _changed(request, h, now)
    return _detail(session, h, now, principal)


@router.get("/hazards/{hazard_id}", response_model=HazardDetail)
def get_hazard(hazard_id: int, principal: Permitted("hazard:read"), session: DbSession,
               clock: ClockDep) -> HazardDetail:
    h = service.get_or_raise(session=session, principal=principal, hazard_id=hazard_id)
    return _detail(session, h, clock.now(), principal)


@router.get("/hazards/{hazard_id}/events", response_model=list[EventRead])
def get_events(hazard_id: int, principal: Permitted("hazard:read"), session: DbSession) -> list[EventRead]:
    h = service.get_or_raise(session=session, principal=principal, hazard_id=hazard_id)
    return [EventRead.model_validate(service.event_dict(e)) for e in service.history(session=session, hazard=h)]


def _changed(request: Request, h: Hazard, now: datetime) -> None:
    """Tell the dynamic risk map at once (it would see the change at its next rebuild anyway)."""
    from citybrain.analytics import service as riskmap
    from citybrain.hazard.evidence import of_row

    e = of_row(h, now)
    if e is None:
        riskmap.withdraw(cache=request.app.state.cache, ref=f"hazard:{h.id}")
    else:
        riskmap.apply(cache=request.app.state.cache, evidence=e)


def _load(request: Request, session: Session, principal: Principal, hazard_id: int, action: str,
          **detail: object) -> Hazard:
    set_audit(request, resource_type="hazard", resource_id=hazard_id, action=action, **detail)
    return service.get_or_raise(session=session, principal=principal, hazard_id=hazard_id)


@router.post("/hazards/{hazard_id}/register", response_model=HazardDetail)
def register(hazard_id: int, request: Request, principal: Permitted("hazard:read"), session: DbSession,
             clock: ClockDep, body: NoteBody | None = None) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "register")
    service.register(session=session, now=clock.now(), principal=principal, hazard=h, note=(body or NoteBody()).note)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/grade", response_model=HazardDetail)
def grade(hazard_id: int, body: GradeBody, request: Request, principal: Permitted("hazard:read"),
          session: DbSession, clock: ClockDep) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "grade", grade=body.grade)
    service.grade(session=session, now=clock.now(), principal=principal, hazard=h, grade=body.grade, note=body.note)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/plan", response_model=HazardDetail)
def plan(hazard_id: int, body: PlanBody, request: Request, principal: Permitted("hazard:read"),
         session: DbSession, clock: ClockDep) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "plan")
    service.plan(session=session, now=clock.now(), principal=principal, hazard=h, **body.model_dump())
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/start", response_model=HazardDetail)
def start(hazard_id: int, request: Request, principal: Permitted("hazard:read"), session: DbSession,
          clock: ClockDep, body: NoteBody | None = None) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "start")
    service.start(session=session, now=clock.now(), principal=principal, hazard=h, note=(body or NoteBody()).note)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/submit", response_model=HazardDetail)
async def submit(hazard_id: int, request: Request, principal: Permitted("hazard:read"), session: DbSession,
                 clock: ClockDep, settings: Settings, photos: Annotated[list[UploadFile], File()],
                 note: Annotated[str, Form(max_length=4000)] = "") -> HazardDetail:
    """Rectification evidence: a note and 1–9 photos; every photo is checked before anything is stored."""
    h = _load(request, session, principal, hazard_id, "submit", photos=len(photos))
    if len(photos) > MAX_PHOTOS:
        raise Invalid(f"at most {MAX_PHOTOS} photos", errors=[FieldError("body.photos", f"at most {MAX_PHOTOS}")])
    limit = MAX_IMAGE_BYTES  # each photo; the whole request is bounded by CITYBRAIN_MAX_UPLOAD_BYTES
    cleaned = [clean_image(await f.read(), field=f"body.photos[{i}]", max_bytes=limit) for i, f in enumerate(photos)]
    service.submit(session=session, now=clock.now(), principal=principal, hazard=h, note=note, images=cleaned,
                   store=file_store(settings))
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.get("/hazards/{hazard_id}/evidence/{evidence_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_evidence(hazard_id: int, evidence_id: int, principal: Permitted("hazard:read"), session: DbSession,
                 settings: Settings) -> Response:
    photo = service.get_photo_or_raise(session=session, principal=principal, hazard_id=hazard_id,
                                       evidence_id=evidence_id)
    data = file_store(settings).get(photo.file_key)
    return Response(data, media_type=photo.content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/hazards/{hazard_id}/verify", response_model=HazardDetail)
def verify(hazard_id: int, body: VerifyBody, request: Request, principal: Permitted("hazard:read"),
           session: DbSession, clock: ClockDep) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "verify", decision=body.decision)
    service.verify(session=session, now=clock.now(), principal=principal, hazard=h, accept=body.decision == "accept",
                   reasons=body.reasons)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/close", response_model=HazardDetail)
def close(hazard_id: int, request: Request, principal: Permitted("hazard:read"), session: DbSession,
          clock: ClockDep, body: NoteBody | None = None) -> HazardDetail:
    h = _load(request, session, principal, hazard_id, "close")
    service.close(session=session, now=clock.now(), principal=principal, hazard=h, note=(body or NoteBody()).note)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/supervise", response_model=HazardDetail)
def supervise(hazard_id: int, request: Request, principal: Permitted("hazard:read"), session: DbSession,
              clock: ClockDep, body: SuperviseBody | None = None) -> HazardDetail:
    body = body or SuperviseBody()
    h = _load(request, session, principal, hazard_id, "supervise", on=body.on)
    service.supervise(session=session, now=clock.now(), principal=principal, hazard=h, on=body.on, note=body.note)
    _changed(request, h, clock.now())
    return _detail(session, h, clock.now(), principal)


@router.post("/hazards/{hazard_id}/comments", response_model=EventRead, status_code=status.HTTP_201_CREATED)
def add_comment(hazard_id: int, body: CommentBody, request: Request, principal: Permitted("hazard:read"),
                session: DbSession, clock: ClockDep) -> EventRead:
    h = _load(request, session, principal, hazard_id, "comment")
    ev = service.comment(session=session, now=clock.now(), principal=principal, hazard=h, text=body.text)
    return EventRead.model_validate(service.event_dict(ev))


# -- regulations ---------------------------------------------------------------------------------------


@router.get("/regulations", response_model=list[RegulationRead])
def list_regulations(principal: Permitted("hazard:read"), session: DbSession, kind: str | None = None,
                     q: str | None = Query(None, max_length=100)) -> list[RegulationRead]:
    rows = regs.list_regulations(session=session, kind=kind, q=q)
    clauses = regs.clauses_of(session=session, regulation_ids=[r.id for r in rows])
    return [RegulationRead.model_validate(regs.regulation_dict(r, clauses[r.id])) for r in rows]


@router.get("/regulations/clauses/{clause_id}/hazards", response_model=Page[HazardRead])
def hazards_by_clause(clause_id: int, principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
                      limit: int = 50, offset: int = 0) -> Page[HazardRead]:
    regs.get_clause_or_raise(session=session, clause_id=clause_id)
    limit, offset = page_window(limit, offset)
    now = clock.now()
    rows, total = service.list_hazards(session=session, principal=principal, now=now, clause_id=clause_id,
                                       limit=limit, offset=offset)
    return Page(items=_read(session, rows, now), total=total, limit=limit, offset=offset)


@router.get("/regulations/{regulation_id}", response_model=RegulationDetail)
def get_regulation(regulation_id: int, principal: Permitted("hazard:read"), session: DbSession) -> RegulationDetail:
    r = regs.get_regulation_or_raise(session=session, regulation_id=regulation_id)
    return RegulationDetail.model_validate(regs.regulation_dict(r, regs.clauses_of(session=session,
                                                                                   regulation_ids=[r.id])[r.id]))


# -- enforcement actions -------------------------------------------------------------------------------


def _action_read(session: Session, rows: list[Any]) -> list[EnforcementRead]:
    codes = org_service.department_codes(session=session)
    clauses = enforcement.action_clause_ids(session=session, action_ids=[a.id for a in rows])
    return [EnforcementRead.model_validate(enforcement.action_dict(a, departments=codes, clause_ids=clauses[a.id]))
            for a in rows]


@router.post("/enforcement-actions", response_model=EnforcementRead, status_code=status.HTTP_201_CREATED)
def create_action(body: EnforcementCreate, request: Request, principal: Permitted("hazard:act"), session: DbSession,
                  clock: ClockDep) -> EnforcementRead:
    set_audit(request, resource_type="enforcement_action", action="create", kind=body.kind, hazard_id=body.hazard_id,
              enterprise_id=body.enterprise_id)
    row = enforcement.create_action(session=session, now=clock.now(), principal=principal,
                                    enterprise_id=body.enterprise_id, kind=body.kind, note=body.note,
                                    amount=body.amount, hazard_id=body.hazard_id, department_code=body.department,
                                    clause_ids=body.clause_ids, at=body.at)
    set_audit(request, resource_type="enforcement_action", resource_id=row.id, action="create", kind=row.kind,
              hazard_id=row.hazard_id, enterprise_id=row.enterprise_id)
    return _action_read(session, [row])[0]


@router.get("/enforcement-actions", response_model=Page[EnforcementRead])
def list_actions(principal: Permitted("hazard:read"), session: DbSession, enterprise_id: int | None = None,
                 hazard_id: int | None = None, clause_id: int | None = None, limit: int = 50,
                 offset: int = 0) -> Page[EnforcementRead]:
    limit, offset = page_window(limit, offset)
    rows, total = enforcement.list_actions(session=session, principal=principal, enterprise_id=enterprise_id,
                                           hazard_id=hazard_id, clause_id=clause_id, limit=limit, offset=offset)
    return Page(items=_action_read(session, rows), total=total, limit=limit, offset=offset)


# -- responsibilities (职责分工) --------------------------------------------------------------------------


@router.get("/responsibilities", response_model=list[ResponsibilityRead])
def list_responsibilities(principal: Permitted("hazard:read"), session: DbSession, category: str | None = None,
                          department: str | None = None) -> list[ResponsibilityRead]:
    codes = org_service.department_codes(session=session)
    rows = enforcement.list_responsibilities(session=session, category=category,
                                             department_id=_department(session, department, "query.department"))
    return [ResponsibilityRead.model_validate(enforcement.responsibility_dict(r, departments=codes)) for r in rows]


@router.post("/responsibilities", response_model=ResponsibilityRead, status_code=status.HTTP_201_CREATED)
def create_responsibility(body: ResponsibilityCreate, request: Request, principal: Permitted("hazard:write"),
                          session: DbSession, clock: ClockDep) -> ResponsibilityRead:
    set_audit(request, resource_type="responsibility", action="create", department=body.department,
              category=body.category)
    row = enforcement.create_responsibility(session=session, now=clock.now(), principal=principal,
                                            department_code=body.department, category=body.category,
                                            industry=body.industry, district_code=body.district_code,
                                            duty_zh=body.duty_zh, duty_en=body.duty_en)
    set_audit(request, resource_type="responsibility", resource_id=row.id, action="create",
              department=body.department, category=body.category)
    return ResponsibilityRead.model_validate(
        enforcement.responsibility_dict(row, departments=org_service.department_codes(session=session)))


@router.delete("/responsibilities/{responsibility_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_responsibility(responsibility_id: int, request: Request, principal: Permitted("hazard:write"),
                          session: DbSession) -> Response:
    set_audit(request, resource_type="responsibility", resource_id=responsibility_id, action="delete")
    enforcement.delete_responsibility(session=session, principal=principal, responsibility_id=responsibility_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
