"""HTTP routes for near misses and the precursor pyramid (mounted under /api/v1).

``hazard:read`` reads records and analytics within the caller's scope (enterprise, department or city-wide).
Reporting needs ``hazard:act`` or ``inspection:act``, or ``enterprise:act`` for an enterprise officer's own
enterprise (the service checks and says which); ``to-hazard`` needs a department user with ``hazard:act`` or
``inspection:act``. Every write names what it touches for the audit log before acting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid
from citybrain.core.schemas import page_window
from citybrain.deps import ClockDep, CurrentUser, DbSession, Permitted, set_audit
from citybrain.hazard.nearmiss import service
from citybrain.hazard.nearmiss.models import NearMiss
from citybrain.hazard.nearmiss.schemas import (
    HotspotReport,
    NearMissCreate,
    NearMissPage,
    NearMissRead,
    PyramidReport,
    ToHazardBody,
    ToHazardRead,
    TrendReport,
)
from citybrain.org import service as org_service

router = APIRouter(tags=["near misses"])
GROUPINGS = {"district": ("district",), "type": ("type",), "district,type": ("district", "type")}


def _read(session: Session, row: NearMiss) -> NearMissRead:
    return NearMissRead.model_validate(service.as_dict(row, departments=org_service.department_codes(
        session=session)))


@router.get("/near-misses", response_model=NearMissPage)
def list_near_misses(principal: Permitted("hazard:read"), session: DbSession,
                     kind: list[str] = Query([]), type_: list[str] = Query([], alias="type"),
                     district: str | None = None, enterprise_id: int | None = None, department: str | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: int = 50, offset: int = 0) -> NearMissPage:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_near_misses(session=session, principal=principal, kind=kind, type=type_,
                                           district=district, enterprise_id=enterprise_id, department=department,
                                           since=since, until=until, limit=limit, offset=offset)
    codes = org_service.department_codes(session=session)
    return NearMissPage(items=[NearMissRead.model_validate(service.as_dict(r, departments=codes)) for r in rows],
                        total=total, limit=limit, offset=offset)


@router.post("/near-misses", response_model=NearMissRead, status_code=status.HTTP_201_CREATED)
def create_near_miss(body: NearMissCreate, request: Request, principal: CurrentUser, session: DbSession,
                     clock: ClockDep) -> NearMissRead:
    set_audit(request, resource_type="near_miss", action="create", kind=body.kind, type=body.type)
    row = service.create(session=session, now=clock.now(), principal=principal, **body.model_dump())
    set_audit(request, resource_type="near_miss", resource_id=row.id, action="create", kind=row.kind, type=row.type,
              enterprise_id=row.enterprise_id)
    return _read(session, row)


@router.get("/near-misses/pyramid", response_model=PyramidReport)
def pyramid(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
            district: str | None = None, type_: list[str] = Query([], alias="type"),
            since: datetime | None = Query(None, description="default: one year back")) -> PyramidReport:
    since = since or clock.now() - timedelta(days=365)
    return PyramidReport.model_validate(service.pyramid(session=session, principal=principal, since=since,
                                                        district=district, type=type_))


@router.get("/near-misses/trends", response_model=TrendReport)
def trends(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
           by: str = Query("district", description="district | type | district,type"),
           weeks: int = Query(52, ge=8, le=260), district: str | None = None,
           type_: list[str] = Query([], alias="type")) -> TrendReport:
    if by not in GROUPINGS:
        raise Invalid(f"unknown grouping {by!r}", errors=[FieldError("query.by", f"one of {', '.join(GROUPINGS)}")])
    return TrendReport.model_validate(service.trends(session=session, principal=principal, now=clock.now(),
                                                     weeks=weeks, by=GROUPINGS[by], district=district, type=type_))


@router.get("/near-misses/hotspots", response_model=HotspotReport)
def hotspots(principal: Permitted("hazard:read"), session: DbSession, clock: ClockDep,
             weeks: int = Query(26, ge=8, le=260), recent: int = Query(4, ge=1, le=12),
             type_: list[str] = Query([], alias="type")) -> HotspotReport:
    if recent >= weeks - 2:
        raise Invalid("the recent window must leave history before it",
                      errors=[FieldError("query.recent", f"at most {weeks - 3} for {weeks} weeks")])
    return HotspotReport.model_validate(service.hotspots(session=session, principal=principal, now=clock.now(),
                                                         weeks=weeks, recent_weeks=recent, type=type_))


@router.get("/near-misses/{near_miss_id}", response_model=NearMissRead)
def get_near_miss(near_miss_id: int, principal: Permitted("hazard:read"), session: DbSession) -> NearMissRead:
    return _read(session, service.get_or_raise(session=session, principal=principal, near_miss_id=near_miss_id))


@router.post("/near-misses/{near_miss_id}/to-hazard", response_model=ToHazardRead,
             status_code=status.HTTP_201_CREATED)
def to_hazard(near_miss_id: int, request: Request, principal: CurrentUser, session: DbSession, clock: ClockDep,
              body: ToHazardBody | None = None) -> ToHazardRead:
    set_audit(request, resource_type="near_miss", resource_id=near_miss_id, action="to_hazard")
    row = service.get_or_raise(session=session, principal=principal, near_miss_id=near_miss_id)
    hazard = service.to_hazard(session=session, now=clock.now(), principal=principal, near_miss=row,
                               title=body.title if body else None, category=body.category if body else None)
    set_audit(request, resource_type="near_miss", resource_id=row.id, action="to_hazard", hazard_id=hazard.id)
    return ToHazardRead(near_miss=_read(session, row), hazard_id=hazard.id)
