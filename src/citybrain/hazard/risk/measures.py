"""Control measures (管控措施) of risk points: who is responsible, how often it is checked, and its checks.

A measure is due every ``frequency`` (a duration such as ``1d`` or ``7d``, ``core.clock.parse_duration``);
recording a check moves ``next_due_at`` on from the check. A measure past ``next_due_at`` is overdue and adds
to its risk point's weight on the risk map (``hazard.risk.evidence``). Checks are append-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.clock import parse_duration
from citybrain.core.errors import Forbidden, NotFound
from citybrain.hazard.risk import service
from citybrain.hazard.risk.models import ControlCheck, ControlMeasure, RiskPoint
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise


def frequency_of(text: str, field: str = "body.frequency") -> Any:
    try:
        delta = parse_duration(text)
    except ValueError as exc:
        raise service.invalid(field, str(exc)) from None
    if delta.total_seconds() < 3600:
        raise service.invalid(field, "checks are at most hourly (at least 1h)")
    return delta


def _measure_scope(principal: Principal) -> Any:
    if service.enterprise_only(principal):
        return sa.or_(ControlMeasure.enterprise_id == principal.enterprise_id,
                      RiskPoint.enterprise_id == principal.enterprise_id)
    return service.scope_clause(principal)


def get_or_raise(*, session: Session, principal: Principal, measure_id: int) -> tuple[ControlMeasure, RiskPoint]:
    stmt = (sa.select(ControlMeasure, RiskPoint).join(RiskPoint, RiskPoint.id == ControlMeasure.risk_point_id)
            .where(ControlMeasure.id == measure_id))
    scope = _measure_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"control measure {measure_id} not found")
    return row[0], row[1]


def create(*, session: Session, now: datetime, principal: Principal, point: RiskPoint, measure: str,
           frequency: str, department: str | None = None, enterprise_id: int | None = None, person: str = "",
           first_due_at: datetime | None = None) -> ControlMeasure:
    """Add a control measure; the responsible party defaults to the point's department."""
    if not service.may_manage(principal, point.department_id):
        raise Forbidden("only the responsible department may add control measures to this risk point")
    delta = frequency_of(frequency)
    if department is not None and enterprise_id is not None:
        raise service.invalid("body.enterprise_id", "name a department or an enterprise, not both")
    dept_id = None
    if enterprise_id is not None:
        if session.get(Enterprise, enterprise_id) is None:
            raise service.invalid("body.enterprise_id", f"no enterprise {enterprise_id}")
    else:
        dept_id = (org_service.department_id_for(session=session, code=department, field="body.department")
                   if department else point.department_id)
    m = ControlMeasure(risk_point_id=point.id, measure=measure, department_id=dept_id, enterprise_id=enterprise_id,
                       person=person, frequency=frequency, active=True, last_checked_at=None,
                       next_due_at=first_due_at or now + delta, created_by=principal.username, created_at=now,
                       updated_at=now)
    session.add(m)
    session.flush()
    return m


def of_point(*, session: Session, point: RiskPoint) -> list[ControlMeasure]:
    return list(session.scalars(sa.select(ControlMeasure).where(ControlMeasure.risk_point_id == point.id)
                                .order_by(ControlMeasure.id)))


def may_check(principal: Principal, measure: ControlMeasure, point: RiskPoint) -> bool:
    """Operational staff (risk or inspection ``act``) and the responsible enterprise's own officer."""
    if service.enterprise_only(principal):
        return principal.can("enterprise:act") and principal.enterprise_id in (measure.enterprise_id,
                                                                              point.enterprise_id)
    return principal.can("risk:act") or principal.can("inspection:act")


def record_check(*, session: Session, now: datetime, principal: Principal, measure: ControlMeasure,
                 point: RiskPoint, effective: bool = True, note: str = "") -> ControlCheck:
    """Record that the measure was checked now; the next check falls due one frequency later."""
    if not may_check(principal, measure, point):
        raise Forbidden("your roles do not let you record checks of this measure")
    check = ControlCheck(measure_id=measure.id, at=now, by=principal.username, effective=effective, note=note)
    session.add(check)
    measure.last_checked_at = now
    measure.next_due_at = now + frequency_of(measure.frequency, "frequency")
    measure.updated_at = now
    session.flush()
    return check


def overdue(*, session: Session, principal: Principal | None, now: datetime,
            limit: int = 200) -> list[tuple[ControlMeasure, RiskPoint]]:
    """Active measures past their due time that the caller may see (all for ``principal=None``), oldest first."""
    stmt = (sa.select(ControlMeasure, RiskPoint).join(RiskPoint, RiskPoint.id == ControlMeasure.risk_point_id)
            .where(ControlMeasure.active.is_(True), ControlMeasure.next_due_at < now))
    scope = _measure_scope(principal) if principal is not None else None
    if scope is not None:
        stmt = stmt.where(scope)
    return [(m, p) for m, p in session.execute(stmt.order_by(ControlMeasure.next_due_at).limit(limit))]


def measure_dict(m: ControlMeasure, departments: Mapping[int, str], now: datetime,
                 point: RiskPoint | None = None) -> dict[str, Any]:
    return {"id": m.id, "risk_point_id": m.risk_point_id, "risk_point": point.name if point else None,
            "measure": m.measure, "department": departments.get(m.department_id) if m.department_id else None,
            "enterprise_id": m.enterprise_id, "person": m.person, "frequency": m.frequency, "active": m.active,
            "last_checked_at": m.last_checked_at, "next_due_at": m.next_due_at,
            "overdue": m.active and m.next_due_at < now, "created_at": m.created_at}
