"""API shape of an audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from citybrain.core.schemas import ReadModel


class AuditRead(ReadModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    department_id: int | None
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str
    status_code: int | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any]
