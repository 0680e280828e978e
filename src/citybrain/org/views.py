"""HTTP routes for departments and enterprises."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, CurrentUser, DbSession, Permitted, set_audit
from citybrain.org import service
from citybrain.org.schemas import (
    DepartmentCreate,
    DepartmentRead,
    EnterpriseCreate,
    EnterpriseRead,
    EnterpriseUpdate,
    ShareCreate,
)

router = APIRouter(tags=["organisations"])


@router.get("/departments", response_model=list[DepartmentRead])
def list_departments(_: CurrentUser, session: DbSession) -> list[DepartmentRead]:
    return [DepartmentRead.model_validate(d) for d in service.list_departments(session=session)]


@router.post("/departments", response_model=DepartmentRead, status_code=status.HTTP_201_CREATED)
def create_department(body: DepartmentCreate, request: Request, _: Permitted("admin:write"), session: DbSession,
                      clock: ClockDep) -> DepartmentRead:
    dept = service.create_department(session=session, now=clock.now(), **body.model_dump())
    set_audit(request, resource_type="department", resource_id=dept.id, code=dept.code)
    return DepartmentRead.model_validate(dept)


@router.get("/enterprises", response_model=Page[EnterpriseRead])
def list_enterprises(principal: Permitted("org:read"), session: DbSession, district: str | None = None,
                     q: str | None = None, limit: int = 50, offset: int = 0) -> Page[EnterpriseRead]:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_enterprises(session=session, principal=principal, district_code=district, q=q,
                                           limit=limit, offset=offset)
    return Page(items=[EnterpriseRead.model_validate(e) for e in rows], total=total, limit=limit, offset=offset)


@router.post("/enterprises", response_model=EnterpriseRead, status_code=status.HTTP_201_CREATED)
def create_enterprise(body: EnterpriseCreate, request: Request, principal: Permitted("org:write"),
                      session: DbSession, clock: ClockDep) -> EnterpriseRead:
    ent = service.create_enterprise(session=session, now=clock.now(), principal=principal, data=body.model_dump())
    set_audit(request, resource_type="enterprise", resource_id=ent.id, name=ent.name)
    return EnterpriseRead.model_validate(ent)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseRead)
def get_enterprise(enterprise_id: int, principal: Permitted("org:read"), session: DbSession) -> EnterpriseRead:
    ent = service.get_enterprise_or_raise(session=session, principal=principal, enterprise_id=enterprise_id)
    return EnterpriseRead.model_validate(ent)


@router.patch("/enterprises/{enterprise_id}", response_model=EnterpriseRead)
def update_enterprise(enterprise_id: int, body: EnterpriseUpdate, request: Request,
                      principal: Permitted("org:write"), session: DbSession, clock: ClockDep) -> EnterpriseRead:
    ent = service.get_enterprise_or_raise(session=session, principal=principal, enterprise_id=enterprise_id)
    data = body.model_dump(exclude_unset=True)
    service.update_enterprise(session=session, now=clock.now(), principal=principal, enterprise=ent, data=data)
    set_audit(request, resource_type="enterprise", resource_id=ent.id, changed=sorted(data))
    return EnterpriseRead.model_validate(ent)


@router.post("/enterprises/{enterprise_id}/shares", status_code=status.HTTP_201_CREATED)
def share_enterprise(enterprise_id: int, body: ShareCreate, request: Request, principal: Permitted("org:write"),
                     session: DbSession, clock: ClockDep) -> dict[str, object]:
    ent = service.get_enterprise_or_raise(session=session, principal=principal, enterprise_id=enterprise_id)
    row = service.share(
        session=session, now=clock.now(), principal=principal, resource_type="enterprise", resource_id=ent.id,
        owner_department_id=ent.supervising_department_id, department_code=body.department,
    )
    set_audit(request, resource_type="enterprise", resource_id=ent.id, shared_with=body.department)
    return {"resource_type": "enterprise", "resource_id": ent.id, "department_id": row.department_id}
