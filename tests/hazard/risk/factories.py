"""Principals and rows shared by the risk and inspection tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.hazard.risk import service
from citybrain.hazard.risk.models import RiskPoint
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

ADMIN = Principal(user_id=1, username="admin", roles=("admin",))


def dept(session: Session, code: str) -> int:
    return org_service.department_id_for(session=session, code=code, field="department")


def officer(session: Session, code: str = "emergency", roles: tuple[str, ...] = ("dept_admin",),
            name: str | None = None) -> Principal:
    """A department user (user id 1 exists, which the foreign keys need)."""
    return Principal(user_id=1, username=name or f"{code}.{roles[0]}", roles=roles, department_id=dept(session, code))


def enterprise_officer(enterprise_id: int) -> Principal:
    return Principal(user_id=1, username=f"ent{enterprise_id}", roles=("enterprise_officer",),
                     enterprise_id=enterprise_id)


def enterprise(session: Session, now: datetime, name: str = "浦东燃气", supervisor: str = "housing",
               **extra: Any) -> Enterprise:
    data = {"name": name, "supervising_department": supervisor, "lon": 121.50, "lat": 31.23, **extra}
    return org_service.create_enterprise(session=session, now=now, principal=ADMIN, data=data)


def point(session: Session, now: datetime, principal: Principal = ADMIN, **kw: Any) -> RiskPoint:
    args: dict[str, Any] = {"name": "XX燃气调压站", "kind": "place", "category": "gas", "lon": 121.47, "lat": 31.23,
                            "department": "housing"}
    args.update(kw)
    return service.create(session=session, now=now, principal=principal, **args)
