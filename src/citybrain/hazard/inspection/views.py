"""HTTP routes of inspections (under /api/v1).

``inspection:read`` reads checklists, plans and records within the caller's scope (an enterprise officer: its
own enterprise's). Planning needs ``inspection:write`` or ``risk:write`` (an enterprise officer may plan its own
self-inspections). Recording needs ``inspection:act`` or, for an enterprise's self-inspection, its officer.

Photos are uploaded first, one per request (``POST /inspections/photos``, multipart field ``file``; cleaned by
``core.images.clean_image``), and the record then names their keys in ``answers.<item>.photos``; a record is
JSON (``POST /inspections``). Every write is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status

from citybrain.core.errors import Forbidden, NotFound
from citybrain.core.files import file_store
from citybrain.core.schemas import page_window
from citybrain.deps import ClockDep, CurrentUser, DbSession, Permitted, Settings, set_audit
from citybrain.hazard.inspection import checklists, service
from citybrain.hazard.inspection.schemas import (
    ChecklistRead,
    InspectionCreate,
    InspectionPage,
    InspectionRead,
    PhotoRead,
    PlanCreate,
    PlanPage,
    PlanRead,
)
from citybrain.org import service as org_service

router = APIRouter(tags=["inspections"])


# -- checklists --------------------------------------------------------------------------------------


@router.get("/checklists", response_model=list[ChecklistRead])
def list_checklists(_: Permitted("inspection:read")) -> list[ChecklistRead]:
    return [ChecklistRead.model_validate(c.as_dict()) for c in checklists.all_checklists().values()]


@router.get("/checklists/{key}", response_model=ChecklistRead)
def get_checklist(key: str, _: Permitted("inspection:read")) -> ChecklistRead:
    try:
        return ChecklistRead.model_validate(checklists.get(key).as_dict())
    except KeyError:
        raise NotFound(f"checklist {key!r} not found") from None


# -- plans -------------------------------------------------------------------------------------------


@router.get("/inspection-plans", response_model=PlanPage)
def list_plans(principal: Permitted("inspection:read"), session: DbSession, clock: ClockDep, mine: bool = False,
               limit: int = 50, offset: int = 0) -> PlanPage:
    now = clock.now()
    limit, offset = page_window(limit, offset)
    rows, total = service.list_plans(session=session, principal=principal, now=now, mine=mine, limit=limit,
                                     offset=offset)
    codes = org_service.department_codes(session=session)
    return PlanPage(items=[PlanRead.model_validate(service.plan_dict(p, codes, now)) for p in rows], total=total,
                    limit=limit, offset=offset)


@router.get("/inspection-plans/overdue", response_model=PlanPage)
def overdue_plans(principal: Permitted("inspection:read"), session: DbSession, clock: ClockDep, limit: int = 200,
                  offset: int = 0) -> PlanPage:
    now = clock.now()
    limit, offset = page_window(limit, offset)
    rows, total = service.list_plans(session=session, principal=principal, now=now, overdue_only=True, limit=limit,
                                     offset=offset)
    codes = org_service.department_codes(session=session)
    return PlanPage(items=[PlanRead.model_validate(service.plan_dict(p, codes, now)) for p in rows], total=total,
                    limit=limit, offset=offset)


@router.post("/inspection-plans", response_model=PlanRead, status_code=status.HTTP_201_CREATED)
def create_plan(body: PlanCreate, request: Request, principal: CurrentUser, session: DbSession,
                clock: ClockDep) -> PlanRead:
    set_audit(request, resource_type="inspection_plan", action="create", name=body.name)
    if not (principal.can("inspection:write") or principal.can("risk:write")
            or (service.enterprise_only(principal) and principal.can("enterprise:act"))):
        raise Forbidden("your roles do not grant inspection:write")
    now = clock.now()
    plan = service.create_plan(session=session, now=now, principal=principal, **body.model_dump())
    set_audit(request, resource_type="inspection_plan", resource_id=plan.id, action="create", name=plan.name)
    return PlanRead.model_validate(service.plan_dict(plan, org_service.department_codes(session=session), now))


# -- records -----------------------------------------------------------------------------------------


@router.post("/inspections/photos", response_model=PhotoRead, status_code=status.HTTP_201_CREATED)
async def upload_photo(request: Request, principal: CurrentUser, session: DbSession, clock: ClockDep,
                       settings: Settings, file: Annotated[UploadFile, File()]) -> PhotoRead:
    """One photo (JPEG/PNG/WebP, re-encoded without metadata); its EXIF position is kept for the record."""
    set_audit(request, resource_type="inspection_photo", action="upload")
    raw = await file.read()
    row = service.upload_photo(session=session, now=clock.now(), principal=principal, store=file_store(settings),
                               raw=raw)
    set_audit(request, resource_type="inspection_photo", resource_id=row.key, action="upload")
    return PhotoRead(key=row.key, width=row.width, height=row.height, lon=row.lon, lat=row.lat,
                     uploaded_at=row.uploaded_at)


@router.post("/inspections", response_model=InspectionRead, status_code=status.HTTP_201_CREATED)
def submit(body: InspectionCreate, request: Request, principal: CurrentUser, session: DbSession,
           clock: ClockDep) -> InspectionRead:
    set_audit(request, resource_type="inspection_record", action="submit", plan_id=body.plan_id,
              checklist=body.checklist_key)
    record = service.submit(session=session, now=clock.now(), principal=principal, **body.model_dump())
    set_audit(request, resource_type="inspection_record", resource_id=record.id, action="submit",
              plan_id=record.plan_id, checklist=record.checklist_key, failed=record.failed,
              hazards=record.hazard_ids)
    return InspectionRead.model_validate(service.record_dict(record, org_service.department_codes(session=session)))


@router.get("/inspections", response_model=InspectionPage)
def list_records(principal: Permitted("inspection:read"), session: DbSession, plan_id: int | None = None,
                 checklist_key: str | None = None, enterprise_id: int | None = None, risk_point_id: int | None = None,
                 failed: bool = Query(False, description="only records with a failed item"), limit: int = 50,
                 offset: int = 0) -> InspectionPage:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_records(session=session, principal=principal, plan_id=plan_id,
                                       checklist_key=checklist_key, enterprise_id=enterprise_id,
                                       risk_point_id=risk_point_id, failed_only=failed, limit=limit, offset=offset)
    codes = org_service.department_codes(session=session)
    return InspectionPage(items=[InspectionRead.model_validate(service.record_dict(r, codes)) for r in rows],
                          total=total, limit=limit, offset=offset)


@router.get("/inspections/{record_id}", response_model=InspectionRead)
def get_record(record_id: int, principal: Permitted("inspection:read"), session: DbSession) -> InspectionRead:
    record = service.get_record_or_raise(session=session, principal=principal, record_id=record_id)
    return InspectionRead.model_validate(service.record_dict(record, org_service.department_codes(session=session)))


@router.get("/inspections/{record_id}/photos/{key}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(record_id: int, key: str, principal: Permitted("inspection:read"), session: DbSession,
              settings: Settings) -> Response:
    record = service.get_record_or_raise(session=session, principal=principal, record_id=record_id)
    data = file_store(settings).get(service.photo_of(record, key))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
