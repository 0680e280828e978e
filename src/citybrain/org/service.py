"""Departments, enterprises and sharing between departments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.org.models import Department, Enterprise, Share

# The departments a Chinese megacity's safety work runs through (MISSION.md), seeded on first run.
DEFAULT_DEPARTMENTS: tuple[tuple[str, str, str, bool], ...] = (
    ("ops", "城市运行管理中心", "City Operations Centre", True),
    ("police", "公安局", "Public Security Bureau", False),
    ("fire", "消防救援局", "Fire and Rescue Bureau", False),
    ("emergency", "应急管理局", "Emergency Management Bureau (work safety)", False),
    ("urban", "城管执法局", "Urban Management Enforcement Bureau", False),
    ("governance", "综治办", "Comprehensive Governance Office", False),
    ("housing", "住房城乡建设管理委", "Housing and Construction Commission", False),
    ("transport", "交通委", "Transport Commission", False),
    ("water", "水务局", "Water Authority", False),
    ("metro", "地铁运营", "Metro Operations", False),
)


def seed_departments(*, session: Session, now: datetime) -> int:
    """Add any missing default department; return how many were added."""
    have = set(session.scalars(sa.select(Department.code)))
    added = 0
    for code, zh, en, city_wide in DEFAULT_DEPARTMENTS:
        if code not in have:
            session.add(Department(code=code, name_zh=zh, name_en=en, city_wide=city_wide, created_at=now))
            added += 1
    session.flush()
    return added


def get_department_or_raise(*, session: Session, department_id: int) -> Department:
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound(f"department {department_id} not found")
    return dept


def department_codes(*, session: Session) -> dict[int, str]:
    """Every department's id → code (a small table, read whole)."""
    return {i: c for i, c in session.execute(sa.select(Department.id, Department.code))}


def department_ids(*, session: Session) -> dict[str, int]:
    """Every department's code → id."""
    return {c: i for i, c in department_codes(session=session).items()}


def get_department_by_code(*, session: Session, code: str) -> Department | None:
    return session.scalar(sa.select(Department).where(Department.code == code))


def department_id_for(*, session: Session, code: str, field: str) -> int:
    dept = get_department_by_code(session=session, code=code)
    if dept is None:
        raise Invalid(f"unknown department {code!r}", errors=[FieldError(field, f"no department with code {code!r}")])
    return dept.id


def list_departments(*, session: Session) -> list[Department]:
    return list(session.scalars(sa.select(Department).order_by(Department.id)))


def create_department(
    *, session: Session, now: datetime, code: str, name_zh: str, name_en: str, kind: str = "government",
    city_wide: bool = False, parent_code: str | None = None,
) -> Department:
    if get_department_by_code(session=session, code=code) is not None:
        raise Conflict(f"department {code!r} exists", errors=[FieldError("body.code", "already exists")])
    parent_id = department_id_for(session=session, code=parent_code, field="body.parent_code") if parent_code else None
    dept = Department(
        code=code, name_zh=name_zh, name_en=name_en, kind=kind, city_wide=city_wide, parent_id=parent_id,
        created_at=now,
    )
    session.add(dept)
    session.flush()
    return dept


def _enterprise_scope(principal: Principal) -> Any:
    if principal.enterprise_id is not None and not principal.is_admin:
        return Enterprise.id == principal.enterprise_id
    return department_scope(
        principal, Enterprise.supervising_department_id, resource_type="enterprise", id_col=Enterprise.id
    )


def list_enterprises(
    *, session: Session, principal: Principal, district_code: str | None = None, q: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[Enterprise], int]:
    stmt = sa.select(Enterprise)
    scope = _enterprise_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if district_code:
        stmt = stmt.where(Enterprise.district_code == district_code)
    if q:
        stmt = stmt.where(Enterprise.name.contains(q))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(Enterprise.id).limit(limit).offset(offset))), total


def get_enterprise_or_raise(*, session: Session, principal: Principal, enterprise_id: int) -> Enterprise:
    """The enterprise if the caller may see it; a hidden one is reported as not found, not forbidden."""
    stmt = sa.select(Enterprise).where(Enterprise.id == enterprise_id)
    scope = _enterprise_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    ent = session.scalar(stmt)
    if ent is None:
        raise NotFound(f"enterprise {enterprise_id} not found")
    return ent


def _may_manage(principal: Principal, supervising_department_id: int) -> bool:
    return principal.is_admin or principal.city_wide or principal.department_id == supervising_department_id


def create_enterprise(*, session: Session, now: datetime, principal: Principal, data: dict[str, Any]) -> Enterprise:
    data = dict(data)
    code = data.pop("supervising_department")
    dept_id = department_id_for(session=session, code=code, field="body.supervising_department")
    if not _may_manage(principal, dept_id):
        raise Forbidden("you may only register enterprises your own department supervises")
    if data.get("credit_code") and session.scalar(
        sa.select(Enterprise.id).where(Enterprise.credit_code == data["credit_code"])
    ):
        raise Conflict("credit code already registered", errors=[FieldError("body.credit_code", "already registered")])
    ent = Enterprise(**data, supervising_department_id=dept_id, created_at=now, updated_at=now)
    session.add(ent)
    session.flush()
    return ent


def update_enterprise(
    *, session: Session, now: datetime, principal: Principal, enterprise: Enterprise, data: dict[str, Any]
) -> Enterprise:
    if not _may_manage(principal, enterprise.supervising_department_id):
        raise Forbidden("only the supervising department may change this enterprise")
    data = dict(data)
    if "supervising_department" in data:
        code = data.pop("supervising_department")
        enterprise.supervising_department_id = department_id_for(
            session=session, code=code, field="body.supervising_department"
        )
    for key, value in data.items():
        setattr(enterprise, key, value)
    enterprise.updated_at = now
    return enterprise


def share(
    *, session: Session, now: datetime, principal: Principal, resource_type: str, resource_id: int,
    owner_department_id: int, department_code: str,
) -> Share:
    """Let another department see one resource; only its owner (or a city-wide role) may share it."""
    if not _may_manage(principal, owner_department_id):
        raise Forbidden("only the owning department may share this")
    dept_id = department_id_for(session=session, code=department_code, field="body.department")
    existing = session.scalar(
        sa.select(Share).where(
            Share.resource_type == resource_type, Share.resource_id == resource_id, Share.department_id == dept_id
        )
    )
    if existing:
        return existing
    row = Share(
        resource_type=resource_type, resource_id=resource_id, department_id=dept_id,
        granted_by_user_id=principal.user_id, granted_at=now,
    )
    session.add(row)
    session.flush()
    return row
