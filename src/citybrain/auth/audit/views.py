"""Reading the audit log (there is no route that changes it)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from citybrain.auth.audit import service
from citybrain.auth.audit.schemas import AuditRead
from citybrain.core.schemas import Page, page_window
from citybrain.deps import DbSession, Permitted

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditRead])
def list_audit(principal: Permitted("audit:read"), session: DbSession, since: datetime | None = None,
               until: datetime | None = None, actor: str | None = None, outcome: str | None = None,
               resource_type: str | None = None, limit: int = 100, offset: int = 0) -> Page[AuditRead]:
    limit, offset = page_window(limit, offset, maximum=1000)
    rows, total = service.list_entries(session=session, principal=principal, since=since, until=until, actor=actor,
                                       outcome=outcome, resource_type=resource_type, limit=limit, offset=offset)
    return Page(items=[AuditRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)
