"""Writing and reading the audit log (rows are only ever inserted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.audit.models import AuditEntry
from citybrain.auth.permissions import Principal

OUTCOMES = {200: "ok", 401: "unauthenticated", 403: "denied", 404: "not-found", 409: "conflict", 413: "too-large",
            429: "throttled"}


def outcome_for(status: int) -> str:
    if status < 400:
        return "ok"
    if status in OUTCOMES:
        return OUTCOMES[status]
    return "invalid" if status < 500 else "error"


def record(
    *,
    session: Session,
    now: datetime,
    action: str,
    status_code: int | None,
    principal: Principal | None = None,
    actor: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    request_id: str | None = None,
    outcome: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor_user_id=principal.user_id if principal else None,
        actor=(actor or (principal.username if principal else "anonymous"))[:80],
        department_id=principal.department_id if principal else None,
        action=action[:120],
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome or outcome_for(status_code or 200),
        status_code=status_code,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
        request_id=request_id,
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    *,
    session: Session,
    principal: Principal,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    resource_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Newest first; outside city-wide roles a caller sees only entries made by their own department."""
    stmt = sa.select(AuditEntry)
    if not principal.city_wide:
        if principal.department_id is None:
            stmt = stmt.where(sa.false())
        else:
            stmt = stmt.where(AuditEntry.department_id == principal.department_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if resource_type:
        stmt = stmt.where(AuditEntry.resource_type == resource_type)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), total
