"""Risk points (风险点), their assessments and the city's assessment bands.

A risk point belongs to one responsible department; it is visible to that department, to departments it is
shared with and to city-wide users; an enterprise officer sees only the points of its own enterprise. Its
current method, score and level are those of its latest assessment (``risk_assessment``, append-only).
Services take the session first and ``now`` explicitly and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import FieldError, Forbidden, Invalid, NotFound
from citybrain.geo.service import district_code_at
from citybrain.hazard.risk import scoring
from citybrain.hazard.risk.models import RiskAssessment, RiskConfig, RiskPoint
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

RESOURCE = "risk_point"
KINDS = ("asset", "place", "enterprise")
CATEGORIES = ("gas", "construction", "metro_construction", "hazardous_chemicals", "crowd", "fire", "building",
              "industrial", "special_equipment", "road_traffic", "metro", "drainage", "urban_facilities", "bridge",
              "water", "other")


def invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[FieldError(field, message)])


def scoring_invalid(exc: scoring.ScoringError, prefix: str) -> Invalid:
    """A ``ScoringError`` as a 422 naming each field under ``prefix`` (``body.factors``)."""
    errors = [FieldError(f"{prefix}.{p.field}" if prefix else p.field, p.message) for p in exc.problems]
    return Invalid(str(exc), errors=errors)


# -- scope -------------------------------------------------------------------------------------------


def enterprise_only(principal: Principal) -> bool:
    """An enterprise's own officer: sees its own enterprise's data and nothing else."""
    return principal.enterprise_id is not None and not principal.is_admin


def scope_clause(principal: Principal) -> Any:
    if enterprise_only(principal):
        return RiskPoint.enterprise_id == principal.enterprise_id
    return department_scope(principal, RiskPoint.department_id, resource_type=RESOURCE, id_col=RiskPoint.id)


def may_manage(principal: Principal, department_id: int | None) -> bool:
    """Writes belong to the owning department (or a city-wide user); shared departments only read."""
    if enterprise_only(principal):
        return False
    return principal.is_admin or principal.city_wide or principal.department_id == department_id


def get_or_raise(*, session: Session, principal: Principal | None, risk_point_id: int) -> RiskPoint:
    """The risk point if the caller may see it (``principal=None``: the system); hidden is not found."""
    stmt = sa.select(RiskPoint).where(RiskPoint.id == risk_point_id)
    scope = scope_clause(principal) if principal is not None else None
    if scope is not None:
        stmt = stmt.where(scope)
    point = session.scalars(stmt).first()
    if point is None:
        raise NotFound(f"risk point {risk_point_id} not found")
    return point


def list_points(*, session: Session, principal: Principal, level: Sequence[str] = (), category: Sequence[str] = (),
                district: str | None = None, department: str | None = None, enterprise_id: int | None = None,
                q: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[RiskPoint], int]:
    stmt = sa.select(RiskPoint)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if level:
        stmt = stmt.where(RiskPoint.level.in_(level))
    if category:
        stmt = stmt.where(RiskPoint.category.in_(category))
    if district:
        stmt = stmt.where(RiskPoint.district_code == district)
    if department:
        stmt = stmt.where(RiskPoint.department_id == org_service.department_id_for(
            session=session, code=department, field="query.department"))
    if enterprise_id is not None:
        stmt = stmt.where(RiskPoint.enterprise_id == enterprise_id)
    if q:
        stmt = stmt.where(RiskPoint.name.contains(q))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    severity = sa.case({"red": 0, "orange": 1, "yellow": 2, "blue": 3}, value=RiskPoint.level, else_=4)
    rows = session.scalars(stmt.order_by(severity, RiskPoint.score.desc(), RiskPoint.id).limit(limit).offset(offset))
    return list(rows), total


# -- points ------------------------------------------------------------------------------------------




def _check_lonlat(lon: Any, lat: Any) -> None:
    errors = []
    if not isinstance(lon, int | float) or not -180 <= lon <= 180:
        errors.append(FieldError("body.lon", "longitude must be between -180 and 180"))
    if not isinstance(lat, int | float) or not -90 <= lat <= 90:
        errors.append(FieldError("body.lat", "latitude must be between -90 and 90"))
    if errors:
        raise Invalid("; ".join(e.message for e in errors), errors=errors)


def asset_position(session: Session, asset_id: int) -> tuple[float, float, Any] | None:
    """(lon, lat, asset) of an asset (its bounding box's centre), or None if there is no such asset."""
    from citybrain.sensing.models import Asset

    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    return (asset.min_x + asset.max_x) / 2, (asset.min_y + asset.max_y) / 2, asset


def create(*, session: Session, now: datetime, principal: Principal, name: str, kind: str, category: str,
           lon: float | None = None, lat: float | None = None, asset_id: int | None = None,
           enterprise_id: int | None = None, department: str | None = None, district: str | None = None,
           description: str = "") -> RiskPoint:
    """Register a risk point; its place defaults to the asset's or enterprise's, its department to the caller's."""
    if kind not in KINDS:
        raise invalid("body.kind", f"one of {', '.join(KINDS)}")
    if category not in CATEGORIES:
        raise invalid("body.category", f"one of {', '.join(CATEGORIES)}")
    default_dept: int | None = principal.department_id
    default_pos: tuple[float, float] | None = None
    if kind == "asset" and asset_id is None:
        raise invalid("body.asset_id", "an asset risk point names its asset")
    if kind == "enterprise" and enterprise_id is None:
        raise invalid("body.enterprise_id", "an enterprise risk point names its enterprise")
    if asset_id is not None:
        found = asset_position(session, asset_id)
        if found is None:
            raise invalid("body.asset_id", f"no asset {asset_id}")
        default_pos, default_dept = (found[0], found[1]), found[2].department_id
        enterprise_id = enterprise_id if enterprise_id is not None else found[2].enterprise_id
    if enterprise_id is not None:
        ent = session.get(Enterprise, enterprise_id)
        if ent is None:
            raise invalid("body.enterprise_id", f"no enterprise {enterprise_id}")
        if default_pos is None and ent.lon is not None and ent.lat is not None:
            default_pos = (ent.lon, ent.lat)
        if asset_id is None:
            default_dept = ent.supervising_department_id
        district = district or ent.district_code
    if lon is None or lat is None:
        if default_pos is None:
            raise invalid("body.lon" if lon is None else "body.lat", "a position (lon, lat) is needed")
        lon, lat = (lon if lon is not None else default_pos[0]), (lat if lat is not None else default_pos[1])
    _check_lonlat(lon, lat)
    dept_id = (org_service.department_id_for(session=session, code=department, field="body.department")
               if department else default_dept)
    if dept_id is None:
        raise invalid("body.department", "name the responsible department")
    if not may_manage(principal, dept_id):
        raise Forbidden("you may register risk points for your own department only")
    point = RiskPoint(name=name, kind=kind, category=category, description=description, asset_id=asset_id,
                      enterprise_id=enterprise_id, lon=float(lon), lat=float(lat),
                      district_code=district or district_code_at(session=session, lon=lon, lat=lat), department_id=dept_id,
                      created_by=principal.username, created_at=now, updated_at=now)
    session.add(point)
    session.flush()
    return point


def update(*, session: Session, now: datetime, principal: Principal, point: RiskPoint,
           changes: Mapping[str, Any]) -> RiskPoint:
    if not may_manage(principal, point.department_id):
        raise Forbidden("only the responsible department may change this risk point")
    changes = {k: v for k, v in changes.items() if v is not None}
    if "category" in changes and changes["category"] not in CATEGORIES:
        raise invalid("body.category", f"one of {', '.join(CATEGORIES)}")
    if "department" in changes:
        dept_id = org_service.department_id_for(session=session, code=changes.pop("department"),
                                                field="body.department")
        if not may_manage(principal, dept_id):
            raise Forbidden("you may hand a risk point only to your own department")
        point.department_id = dept_id
    moved = "lon" in changes or "lat" in changes
    if moved:
        _check_lonlat(changes.get("lon", point.lon), changes.get("lat", point.lat))
    for key in ("name", "category", "description", "lon", "lat"):
        if key in changes:
            setattr(point, key, changes[key])
    if "district" in changes:
        point.district_code = changes["district"]
    elif moved:
        point.district_code = district_code_at(session=session, lon=point.lon, lat=point.lat)
    point.updated_at = now
    return point


# -- bands -------------------------------------------------------------------------------------------


def current_bands(*, session: Session, method: str) -> tuple[scoring.Band, ...]:
    row = session.scalar(sa.select(RiskConfig).where(RiskConfig.key == method))
    if row is None:
        return scoring.DEFAULT_BANDS[method]
    return tuple(scoring.bands_from_json(row.bands))


def config(*, session: Session) -> dict[str, Any]:
    """Each method's bands (the city's or the shipped defaults), its score range and factor value sets."""
    rows = {r.key: r for r in session.scalars(sa.select(RiskConfig))}
    out = {}
    for method in scoring.METHODS:
        row = rows.get(method)
        bands = current_bands(session=session, method=method)
        out[method] = {"bands": scoring.bands_to_json(bands), "range": list(scoring.score_range(method)),
                       "default": row is None, "factors": scoring.factor_values(method),
                       "updated_by": row.updated_by if row else None, "updated_at": row.updated_at if row else None}
    return out


def set_bands(*, session: Session, now: datetime, principal: Principal, method: str,
              bands: Sequence[Mapping[str, Any]] | None) -> None:
    """Replace a method's bands after checking them (``None`` restores the shipped defaults)."""
    row = session.scalar(sa.select(RiskConfig).where(RiskConfig.key == method))
    if bands is None:
        if row is not None:
            session.delete(row)
        return
    try:
        checked = scoring.check_bands(method, scoring.bands_from_json(list(bands)))
    except scoring.ScoringError as exc:
        errors = [FieldError(f"body.{method}{p.field.removeprefix('bands')}", p.message) for p in exc.problems]
        raise Invalid(str(exc), errors=errors) from None
    data = scoring.bands_to_json(checked)
    if row is None:
        session.add(RiskConfig(key=method, bands=data, updated_by=principal.username, updated_at=now))
    else:
        row.bands, row.updated_by, row.updated_at = data, principal.username, now
    session.flush()


# -- assessments -------------------------------------------------------------------------------------


def assess(*, session: Session, now: datetime, principal: Principal, point: RiskPoint, method: str,
           factors: Mapping[str, Any], note: str = "") -> RiskAssessment:
    """Score the point with the city's bands, keep the assessment, and make it the point's current level."""
    if not may_manage(principal, point.department_id):
        raise Forbidden("only the responsible department may assess this risk point")
    if method not in scoring.METHODS:
        raise invalid("body.method", f"one of {', '.join(scoring.METHODS)}")
    try:
        result = scoring.assess(method, factors, current_bands(session=session, method=method))
    except scoring.ScoringError as exc:
        raise scoring_invalid(exc, "body.factors") from None
    row = RiskAssessment(risk_point_id=point.id, method=method, factors=result.factors, score=result.score,
                         level=result.level, band_zh=result.band.name_zh, band_en=result.band.name_en,
                         assessor=principal.username, assessor_user_id=principal.user_id or None, note=note, at=now)
    session.add(row)
    point.method, point.score, point.level = method, result.score, result.level
    point.band_zh, point.band_en, point.assessed_at, point.updated_at = row.band_zh, row.band_en, now, now
    session.flush()
    return row


def assessments(*, session: Session, point: RiskPoint) -> list[RiskAssessment]:
    """The point's assessment history, newest first."""
    return list(session.scalars(sa.select(RiskAssessment).where(RiskAssessment.risk_point_id == point.id)
                                .order_by(RiskAssessment.at.desc(), RiskAssessment.id.desc())))


# -- shaping -----------------------------------------------------------------------------------------


def point_dict(p: RiskPoint, departments: Mapping[int, str]) -> dict[str, Any]:
    names = scoring.LEVEL_NAMES.get(p.level or "")
    return {
        "id": p.id, "name": p.name, "kind": p.kind, "category": p.category, "description": p.description,
        "asset_id": p.asset_id, "enterprise_id": p.enterprise_id, "lon": p.lon, "lat": p.lat,
        "district": p.district_code, "department": departments.get(p.department_id), "method": p.method,
        "score": p.score, "level": p.level, "level_zh": names[0] if names else None,
        "level_en": names[1] if names else None, "band_zh": p.band_zh, "band_en": p.band_en,
        "assessed_at": p.assessed_at, "created_by": p.created_by, "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def assessment_dict(a: RiskAssessment) -> dict[str, Any]:
    return {"id": a.id, "risk_point_id": a.risk_point_id, "method": a.method, "factors": a.factors,
            "score": a.score, "level": a.level, "band_zh": a.band_zh, "band_en": a.band_en,
            "assessor": a.assessor, "note": a.note, "at": a.at}
