"""Near misses and minor accidents: report, read within scope, turn into a hazard, and analyse.

Scope: an enterprise officer (a principal with an ``enterprise_id``) reports and sees only its own enterprise's
records; a department user sees its department's (``department_scope``, resource type ``near_miss``, so
``org.Share`` works); city-wide users see all. Services take the session first, ``now`` explicitly and never
commit. The analytics (``pyramid``, ``trends``, ``hotspots``) read the rows in scope as plain
``precursors.Record`` values and hand them to the pure functions of ``analytics.precursors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics import hotspots as hs
from citybrain.analytics import precursors as pc
from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.clock import ensure_utc
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unavailable
from citybrain.geo.service import district_code_at
from citybrain.hazard.nearmiss.models import NearMiss
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

RESOURCE = "near_miss"
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
#: Shanghai's extent (WGS84), used when no districts layer is loaded: lon 120.85–122.20, lat 30.66–31.90.
CITY_BOUNDS = (120.85, 30.66, 122.20, 31.90)
FALLBACK_DEPARTMENT = "emergency"

KINDS: dict[str, tuple[str, str]] = dict(pc.KIND_NAMES)
TYPES: dict[str, tuple[str, str]] = {
    "gas": ("燃气", "gas"),
    "fire": ("火灾", "fire"),
    "fall_from_height": ("高处坠落", "fall from height"),
    "struck_by_object": ("物体打击", "struck by object"),
    "traffic": ("交通", "traffic"),
    "construction_collapse": ("坍塌", "construction collapse"),
    "electrical": ("触电", "electrical"),
    "crowd": ("人群拥挤踩踏", "crowd"),
    "hazardous_chemicals": ("危险化学品", "hazardous chemicals"),
    "other": ("其他", "other"),
}
#: The hazard register's category for each near-miss type (``hazard.service.CATEGORIES``), used by ``to_hazard``.
HAZARD_CATEGORY = {
    "gas": "gas", "fire": "fire", "fall_from_height": "construction", "struck_by_object": "construction",
    "traffic": "road_traffic", "construction_collapse": "construction", "electrical": "industrial", "crowd": "crowd",
    "hazardous_chemicals": "hazardous_chemicals", "other": "other",
}
CAUSES: dict[str, tuple[str, str]] = {
    "unsafe_act": ("人的不安全行为", "unsafe act"),
    "unsafe_condition": ("物的不安全状态", "unsafe condition"),
    "management": ("管理缺陷", "management failure"),
    "environment": ("环境因素", "environment"),
    "equipment": ("设备设施缺陷", "equipment defect"),
    "training": ("培训教育不足", "insufficient training"),
    "other": ("其他", "other"),
}


# -- scope, reading ----------------------------------------------------------------------------------------------


def _is_enterprise_user(principal: Principal) -> bool:
    return principal.enterprise_id is not None and not principal.is_admin


def scope_clause(principal: Principal) -> Any:
    """Visible near misses: the caller's enterprise's, else its department's or shared with it; all if city-wide."""
    if _is_enterprise_user(principal):
        return NearMiss.enterprise_id == principal.enterprise_id
    return department_scope(principal, NearMiss.department_id, resource_type=RESOURCE, id_col=NearMiss.id)


def _scoped(stmt: Any, principal: Principal) -> Any:
    scope = scope_clause(principal)
    return stmt if scope is None else stmt.where(scope)


def get_or_raise(*, session: Session, principal: Principal, near_miss_id: int) -> NearMiss:
    """The near miss if the caller may see it; a hidden one is not found."""
    row: NearMiss | None = session.scalar(_scoped(sa.select(NearMiss).where(NearMiss.id == near_miss_id),
                                                  principal))
    if row is None:
        raise NotFound(f"near miss {near_miss_id} not found")
    return row


def _check_vocab(values: Sequence[str] | None, vocab: dict[str, Any], field: str) -> None:
    for i, v in enumerate(values or ()):
        if v not in vocab:
            raise Invalid(f"unknown {field.rsplit('.', 1)[-1]} {v!r}",
                          errors=[FieldError(f"{field}[{i}]", f"one of {', '.join(vocab)}")])


def _filtered(stmt: Any, *, kind: Sequence[str] | None = None, type: Sequence[str] | None = None,  # noqa: A002
              district: str | None = None, enterprise_id: int | None = None, department_id: int | None = None,
              since: datetime | None = None, until: datetime | None = None) -> Any:
    if kind:
        stmt = stmt.where(NearMiss.kind.in_(kind))
    if type:
        stmt = stmt.where(NearMiss.type.in_(type))
    if district:
        stmt = stmt.where(NearMiss.district_code == district)
    if enterprise_id is not None:
        stmt = stmt.where(NearMiss.enterprise_id == enterprise_id)
    if department_id is not None:
        stmt = stmt.where(NearMiss.department_id == department_id)
    if since is not None:
        stmt = stmt.where(NearMiss.occurred_at >= ensure_utc(since))
    if until is not None:
        stmt = stmt.where(NearMiss.occurred_at < ensure_utc(until))
    return stmt


def list_near_misses(*, session: Session, principal: Principal, kind: Sequence[str] | None = None,
                     type: Sequence[str] | None = None, district: str | None = None,  # noqa: A002
                     enterprise_id: int | None = None, department: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[list[NearMiss], int]:
    """Near misses in scope, newest first, with the total before paging."""
    _check_vocab(kind, KINDS, "query.kind")
    _check_vocab(type, TYPES, "query.type")
    dept_id = (org_service.department_id_for(session=session, code=department, field="query.department")
               if department else None)
    stmt = _filtered(_scoped(sa.select(NearMiss), principal), kind=kind, type=type, district=district,
                     enterprise_id=enterprise_id, department_id=dept_id, since=since, until=until)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(NearMiss.occurred_at.desc(), NearMiss.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


# -- reporting ---------------------------------------------------------------------------------------------------




def city_bounds(session: Session) -> tuple[float, float, float, float]:
    """The districts layer's extent, or Shanghai's when no layer is loaded."""
    from citybrain.geo.service import bounds

    return bounds(session=session, layer="districts") or CITY_BOUNDS


def _validate(session: Session, now: datetime, *, kind: str, type: str, occurred_at: datetime,  # noqa: A002
              lon: float, lat: float, causes: Sequence[str], injuries: int) -> datetime:
    errors = []
    if kind not in KINDS:
        errors.append(FieldError("body.kind", f"one of {', '.join(KINDS)}"))
    if type not in TYPES:
        errors.append(FieldError("body.type", f"one of {', '.join(TYPES)}"))
    occurred = ensure_utc(occurred_at)
    if occurred > now:
        errors.append(FieldError("body.occurred_at", "must not be in the future"))
    min_x, min_y, max_x, max_y = city_bounds(session)
    if not min_x <= lon <= max_x:
        errors.append(FieldError("body.lon", f"outside the city (longitude {min_x:.3f}–{max_x:.3f})"))
    if not min_y <= lat <= max_y:
        errors.append(FieldError("body.lat", f"outside the city (latitude {min_y:.3f}–{max_y:.3f})"))
    for i, c in enumerate(causes):
        if c not in CAUSES:
            errors.append(FieldError(f"body.causes[{i}]", f"one of {', '.join(CAUSES)}"))
    if injuries < 0:
        errors.append(FieldError("body.injuries", "must not be negative"))
    elif kind == "near_miss" and injuries > 0:
        errors.append(FieldError("body.injuries", "a near miss injured nobody: report it as minor or serious"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return occurred


def _enterprise(session: Session, principal: Principal, enterprise_id: int | None) -> Enterprise | None:
    if _is_enterprise_user(principal):
        if not principal.can("enterprise:act"):
            raise Forbidden("your roles do not grant enterprise:act")
        if enterprise_id is not None and enterprise_id != principal.enterprise_id:
            raise Forbidden("an enterprise officer may report only for its own enterprise")
        enterprise_id = principal.enterprise_id
    elif not (principal.can("hazard:act") or principal.can("inspection:act")):
        raise Forbidden("reporting a near miss needs hazard:act or inspection:act (or enterprise:act for your own "
                        "enterprise)")
    if enterprise_id is None:
        return None
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise Invalid(f"enterprise {enterprise_id} not found",
                      errors=[FieldError("body.enterprise_id", "no such enterprise")])
    return ent


def _department(session: Session, principal: Principal, code: str | None, ent: Enterprise | None) -> int:
    if code:
        dept_id = org_service.department_id_for(session=session, code=code, field="body.department")
        allowed = {principal.department_id, ent.supervising_department_id if ent else None}
        if not principal.city_wide and dept_id not in allowed:
            raise Forbidden("you may report for your own department or the enterprise's supervising department")
        return dept_id
    if ent is not None:
        return ent.supervising_department_id
    if principal.department_id is not None:
        return principal.department_id
    return org_service.department_id_for(session=session, code=FALLBACK_DEPARTMENT, field="body.department")


def create(*, session: Session, now: datetime, principal: Principal, kind: str, type: str,  # noqa: A002
           occurred_at: datetime, lon: float, lat: float, what_almost_happened: str = "",
           causes: Sequence[str] = (), injuries: int = 0, enterprise_id: int | None = None,
           department: str | None = None) -> NearMiss:
    """Record a near miss or accident; bad input is a 422 naming the field, a wrong role a 403."""
    ent = _enterprise(session, principal, enterprise_id)
    occurred = _validate(session, now, kind=kind, type=type, occurred_at=occurred_at, lon=lon, lat=lat,
                         causes=causes, injuries=injuries)
    row = NearMiss(kind=kind, type=type, occurred_at=occurred, lon=lon, lat=lat,
                   district_code=district_code_at(session=session, lon=lon, lat=lat), enterprise_id=ent.id if ent else None,
                   department_id=_department(session, principal, department, ent),
                   what_almost_happened=what_almost_happened, causes=list(dict.fromkeys(causes)),
                   injuries=injuries, reported_by=principal.username, hazard_id=None, created_at=now)
    session.add(row)
    session.flush()
    return row


def to_hazard(*, session: Session, now: datetime, principal: Principal, near_miss: NearMiss,
              title: str | None = None, category: str | None = None) -> Any:
    """Register the hazard a near miss revealed (through the hazard core) and link it; once per near miss."""
    if _is_enterprise_user(principal) or not (principal.can("hazard:act") or principal.can("inspection:act")):
        raise Forbidden("turning a near miss into a hazard needs a department user with hazard:act or "
                        "inspection:act")
    if near_miss.hazard_id is not None:
        raise Conflict(f"near miss {near_miss.id} already became hazard {near_miss.hazard_id}",
                       hazard_id=near_miss.hazard_id)
    try:
        from citybrain.hazard import service as hazard_service
    except ImportError:
        raise Unavailable("the hazard register is not available") from None
    type_zh, type_en = TYPES.get(near_miss.type, (near_miss.type, near_miss.type))
    kind_zh, kind_en = KINDS[near_miss.kind]
    hazard = hazard_service.create(
        session=session, now=now, actor=principal,
        title=title or f"{type_zh}{kind_zh}暴露的隐患 / hazard revealed by a {type_en} {kind_en} (#{near_miss.id})",
        category=category or HAZARD_CATEGORY.get(near_miss.type, "other"), lon=near_miss.lon, lat=near_miss.lat,
        source="near_miss", source_ref=f"near_miss:{near_miss.id}", description=near_miss.what_almost_happened,
        enterprise_id=near_miss.enterprise_id)
    near_miss.hazard_id = hazard.id
    session.flush()
    return hazard


def as_dict(row: NearMiss, *, departments: dict[int, str] | None = None) -> dict[str, Any]:
    kind_zh, kind_en = KINDS.get(row.kind, (row.kind, row.kind))
    type_zh, type_en = TYPES.get(row.type, (row.type, row.type))
    return {
        "id": row.id, "kind": row.kind, "kind_zh": kind_zh, "kind_en": kind_en, "type": row.type,
        "type_zh": type_zh, "type_en": type_en, "occurred_at": row.occurred_at, "lon": row.lon, "lat": row.lat,
        "district_code": row.district_code, "enterprise_id": row.enterprise_id,
        "department": (departments or {}).get(row.department_id), "what_almost_happened": row.what_almost_happened,
        "causes": list(row.causes or []), "injuries": row.injuries, "reported_by": row.reported_by,
        "hazard_id": row.hazard_id, "created_at": row.created_at,
    }


# -- analytics over the rows in scope ----------------------------------------------------------------------------


def records(*, session: Session, principal: Principal, since: datetime | None = None,
            until: datetime | None = None, district: str | None = None,
            type: Sequence[str] | None = None) -> list[pc.Record]:  # noqa: A002
    """The rows in scope as plain analytics records (Asia/Shanghai local times)."""
    _check_vocab(type, TYPES, "query.type")
    cols = sa.select(NearMiss.occurred_at, NearMiss.kind, NearMiss.district_code, NearMiss.type, NearMiss.lon,
                     NearMiss.lat)
    stmt = _filtered(_scoped(cols, principal), type=type, district=district, since=since, until=until)
    return [pc.Record(at=ensure_utc(at).astimezone(SHANGHAI).replace(tzinfo=None), kind=k, district=d, type=t,
                      lon=lon, lat=lat) for at, k, d, t, lon, lat in session.execute(stmt)]


def pyramid(*, session: Session, principal: Principal, since: datetime, district: str | None = None,
            type: Sequence[str] | None = None) -> dict[str, Any]:  # noqa: A002
    """The pyramid for the whole scope, per district, per type and per district and type since ``since``."""
    recs = records(session=session, principal=principal, since=since, district=district, type=type)
    out: dict[str, Any] = {"since": since, "total": pc.pyramids(recs, by=())[0].as_dict() if recs
                           else pc.pyramid_of((), 0, 0, 0).as_dict()}
    for name, by in (("by_district", ("district",)), ("by_type", ("type",)), ("by_district_type",
                                                                                ("district", "type"))):
        out[name] = [p.as_dict(by) for p in pc.pyramids(recs, by=by)]
    return out


def _weeks(now: datetime, weeks: int) -> tuple[date, datetime]:
    """The Monday ``weeks`` weeks back (Shanghai) and the same instant in UTC, so the last week is the current."""
    today = now.astimezone(SHANGHAI).date()
    first = pc.week_start(today) - timedelta(weeks=weeks - 1)
    return first, datetime(first.year, first.month, first.day, tzinfo=SHANGHAI).astimezone(UTC)


def trends(*, session: Session, principal: Principal, now: datetime, weeks: int = 52, by: Sequence[str] = ("district",),
           recent_weeks: int = 8, baseline_weeks: int = 12, shift: float = 1.5, arl0: float = 520.0,
           district: str | None = None, type: Sequence[str] | None = None) -> dict[str, Any]:  # noqa: A002
    """CUSUM alarms on weekly counts per group; ``active`` lists those fired in the last ``recent_weeks``."""
    first, since = _weeks(now, weeks)
    recs = records(session=session, principal=principal, since=since, district=district, type=type)
    series = pc.weekly_series(recs, by=by, start=first, weeks=weeks)
    alarms = pc.trend_alarms(series, start=first, baseline_weeks=baseline_weeks, shift=shift, arl0=arl0)
    cutoff = first + timedelta(weeks=weeks - recent_weeks)
    return {"from_week": first.isoformat(), "weeks": weeks, "by": list(by), "series": len(series),
            "method": {"name": "one-sided Poisson CUSUM", "baseline_weeks": baseline_weeks, "guard_weeks": 2,
                       "shift": shift, "arl0_weeks": arl0},
            "active": [a.as_dict(by) for a in alarms if a.week_start >= cutoff],
            "alarms": [a.as_dict(by) for a in alarms]}


def hotspots(*, session: Session, principal: Principal, now: datetime, weeks: int = 26, recent_weeks: int = 4,
             cell_m: float = 500.0, type: Sequence[str] | None = None) -> dict[str, Any]:  # noqa: A002
    """Emerging hotspot cells over the last ``weeks`` weeks."""
    first, since = _weeks(now, weeks)
    recs = records(session=session, principal=principal, since=since, type=type)
    report = hs.emerging_hotspots(recs, grid=hs.Grid(lat0=31.2, size_m=cell_m), start=first, weeks=weeks,
                                  recent_weeks=recent_weeks)
    return {"from_week": first.isoformat(), "weeks": weeks, "cell_m": cell_m, "cells": report.cells,
            "evaluated_weeks": report.evaluated_weeks, "hotspots": [h.as_dict() for h in report.hotspots]}
