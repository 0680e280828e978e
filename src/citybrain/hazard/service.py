"""Hazards (隐患): reported by anyone who finds one, routed to the supervising department, moved through their
lifecycle by the part each actor plays, reminded and escalated by ``sweep``; every change leaves a
``hazard_event`` row (the history).

Services take the session first and ``now`` explicitly and never commit. ``create`` is called by other slices
(inspections, citizen reports, near misses, warnings) with ``actor=None`` for the system. Visibility: an
enterprise user sees its own enterprise's hazards, a department user its department's (and those shared with
it), a city-wide user all; a hidden hazard is "not found".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.database import jsonable
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.core.files import FileStore
from citybrain.core.images import CleanImage
from citybrain.geo.service import district_code_at
from citybrain.hazard import lifecycle as lc
from citybrain.hazard import regulations as regs
from citybrain.hazard.models import Hazard, HazardClause, HazardEvent, HazardPhoto, HazardPlan, Responsibility
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

RESOURCE = "hazard"
SOURCES = ("manual", "inspection", "warning", "citizen_report", "department_feed", "near_miss")
SYSTEM = "system"
LOCAL = ZoneInfo("Asia/Shanghai")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: Known categories: (name_zh, name_en, the department that supervises them when no duty row says otherwise).
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "fire": ("消防安全", "fire safety", "fire"),
    "gas": ("燃气安全", "gas safety", "housing"),
    "construction": ("建设施工", "construction", "housing"),
    "building": ("房屋安全", "building safety", "housing"),
    "hazardous_chemicals": ("危险化学品", "hazardous chemicals", "emergency"),
    "industrial": ("工贸企业", "industry and trade", "emergency"),
    "special_equipment": ("特种设备", "special equipment", "emergency"),
    "road_traffic": ("道路交通", "road traffic", "transport"),
    "metro": ("轨道交通", "metro", "metro"),
    "drainage": ("排水防汛", "drainage and flooding", "water"),
    "urban_facilities": ("市政设施", "urban facilities", "urban"),
    "public_order": ("公共秩序", "public order", "police"),
    "crowd": ("人员密集场所", "crowded places", "police"),
    "other": ("其他", "other", "emergency"),
}
FALLBACK_DEPARTMENT = "emergency"


# -- who plays which part ------------------------------------------------------------------------------


def _is_enterprise_user(principal: Principal) -> bool:
    return principal.enterprise_id is not None and not principal.is_admin


def parts(principal: Principal | None, hazard: Hazard) -> frozenset[str]:
    """The parts (``lc.ENTERPRISE``, ``lc.DEPARTMENT``, ``lc.REPORTER``, ``lc.SYSTEM``) the caller plays here."""
    if principal is None:
        return frozenset({lc.SYSTEM})
    out: set[str] = set()
    if (hazard.enterprise_id is not None and principal.enterprise_id == hazard.enterprise_id
            and principal.can("enterprise:act")):
        out.add(lc.ENTERPRISE)
    if (not _is_enterprise_user(principal) and principal.can("hazard:act")
            and (principal.city_wide or principal.department_id == hazard.supervising_department_id)):
        out.add(lc.DEPARTMENT)
    if may_report(principal):
        out.add(lc.REPORTER)
    return frozenset(out)


def may_report(principal: Principal) -> bool:
    """Inspectors, department users and city-wide users may report a hazard they found."""
    if _is_enterprise_user(principal):
        return principal.can("enterprise:act")
    return principal.can("inspection:act") or principal.department_id is not None or principal.city_wide


def actor_of(principal: Principal | None, hazard: Hazard) -> lc.Actor:
    return lc.Actor(principal.username if principal is not None else SYSTEM, parts(principal, hazard))


# -- scope, reading ------------------------------------------------------------------------------------


def scope_clause(principal: Principal) -> Any:
    """Visible hazards: the enterprise's own, the department's (or shared with it), or all when city-wide."""
    if _is_enterprise_user(principal):
        return Hazard.enterprise_id == principal.enterprise_id
    return department_scope(principal, Hazard.supervising_department_id, resource_type=RESOURCE, id_col=Hazard.id)


def get_or_raise(*, session: Session, principal: Principal | None, hazard_id: int) -> Hazard:
    """The hazard if the caller may see it (``principal=None``: the system); hidden is not found."""
    stmt = sa.select(Hazard).where(Hazard.id == hazard_id)
    scope = scope_clause(principal) if principal is not None else None
    if scope is not None:
        stmt = stmt.where(scope)
    hazard = session.scalars(stmt).first()
    if hazard is None:
        raise NotFound(f"hazard {hazard_id} not found")
    return hazard


def overdue_clause(now: datetime) -> Any:
    return sa.and_(Hazard.status != lc.CLOSED, Hazard.deadline_at.is_not(None), Hazard.deadline_at < now)


def list_hazards(*, session: Session, principal: Principal, now: datetime, status: Sequence[str] = (),
                 grade: Sequence[str] = (), enterprise_id: int | None = None, department_id: int | None = None,
                 district: str | None = None, overdue: bool | None = None, supervised: bool | None = None,
                 clause_id: int | None = None, source: Sequence[str] = (), category: str | None = None,
                 exercise: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Hazard], int]:
    stmt = sa.select(Hazard)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if status:
        stmt = stmt.where(Hazard.status.in_(status))
    if grade:
        stmt = stmt.where(Hazard.grade.in_(grade))
    if enterprise_id is not None:
        stmt = stmt.where(Hazard.enterprise_id == enterprise_id)
    if department_id is not None:
        stmt = stmt.where(Hazard.supervising_department_id == department_id)
    if district:
        stmt = stmt.where(Hazard.district_code == district)
    if overdue is not None:
        stmt = stmt.where(overdue_clause(now) if overdue else sa.not_(overdue_clause(now)))
    if supervised is not None:
        stmt = stmt.where(Hazard.supervised.is_(supervised))
    if clause_id is not None:
        stmt = stmt.where(Hazard.id.in_(sa.select(HazardClause.hazard_id).where(HazardClause.clause_id == clause_id)))
    if source:
        stmt = stmt.where(Hazard.source.in_(source))
    if category:
        stmt = stmt.where(Hazard.category == category)
    if exercise is not None:
        stmt = stmt.where(Hazard.exercise.is_(exercise))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Hazard.found_at.desc(), Hazard.id.desc()).limit(limit).offset(offset)))
    return rows, total


def history(*, session: Session, hazard: Hazard) -> list[HazardEvent]:
    return list(session.scalars(sa.select(HazardEvent).where(HazardEvent.hazard_id == hazard.id)
                                .order_by(HazardEvent.id)))


def current_plan(*, session: Session, hazard: Hazard) -> HazardPlan | None:
    if hazard.plan_version is None:
        return None
    return session.scalar(sa.select(HazardPlan).where(HazardPlan.hazard_id == hazard.id,
                                                      HazardPlan.version == hazard.plan_version))


def photos(*, session: Session, hazard: Hazard) -> list[HazardPhoto]:
    return list(session.scalars(sa.select(HazardPhoto).where(HazardPhoto.hazard_id == hazard.id)
                                .order_by(HazardPhoto.id)))


def get_photo_or_raise(*, session: Session, principal: Principal, hazard_id: int, evidence_id: int) -> HazardPhoto:
    hazard = get_or_raise(session=session, principal=principal, hazard_id=hazard_id)
    photo = session.get(HazardPhoto, evidence_id)
    if photo is None or photo.hazard_id != hazard.id:
        raise NotFound(f"evidence {evidence_id} not found")
    return photo


def clause_ids_of(*, session: Session, hazard: Hazard) -> list[int]:
    return list(session.scalars(sa.select(HazardClause.clause_id).where(HazardClause.hazard_id == hazard.id)
                                .order_by(HazardClause.clause_id)))


# -- history -------------------------------------------------------------------------------------------




def record(session: Session, hazard: Hazard, kind: str, at: datetime, principal: Principal | None,
           actor_kind: str, note: str = "", data: Mapping[str, Any] | None = None) -> HazardEvent:
    """Append one history entry (the hazard must have an id)."""
    ev = HazardEvent(hazard_id=hazard.id, at=at, kind=kind, status=hazard.status,
                     actor=principal.username if principal is not None else SYSTEM,
                     actor_user_id=principal.user_id if principal is not None else None, actor_kind=actor_kind,
                     note=note, data=jsonable(dict(data or {})))
    session.add(ev)
    return ev


# -- state <-> row -------------------------------------------------------------------------------------


def state_of(h: Hazard) -> lc.HazardState:
    return lc.HazardState(
        status=h.status, found_at=h.found_at, has_enterprise=h.enterprise_id is not None, grade=h.grade,
        supervised=h.supervised, registered_at=h.registered_at, graded_at=h.graded_at, planned_at=h.planned_at,
        deadline_at=h.deadline_at, plan_version=h.plan_version or 0, submitted_at=h.submitted_at,
        verified_at=h.verified_at, closed_at=h.closed_at, return_count=h.return_count,
        escalation_level=h.escalation_level, last_reminder=h.last_reminder)


def _store(h: Hazard, s: lc.HazardState, now: datetime) -> None:
    h.status, h.grade, h.supervised = s.status, s.grade, s.supervised
    h.registered_at, h.graded_at, h.planned_at = s.registered_at, s.graded_at, s.planned_at
    h.deadline_at = s.deadline_at
    h.plan_version = s.plan_version or None
    h.submitted_at, h.verified_at, h.closed_at = s.submitted_at, s.verified_at, s.closed_at
    h.return_count, h.escalation_level, h.last_reminder = s.return_count, s.escalation_level, s.last_reminder
    h.updated_at = now


def _move(session: Session, now: datetime, principal: Principal | None, hazard: Hazard, event: lc.HazardEvent,
          *, note: str = "", data: Mapping[str, Any] | None = None) -> lc.HazardState:
    """Apply ``event``; role refusals are 403, status refusals 409, bad plans 422 naming the field."""
    before = state_of(hazard)
    try:
        after = lc.transition(before, event, now)
    except lc.RoleRefused as exc:
        raise Forbidden(str(exc)) from None
    except lc.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    except lc.BadPlan as exc:
        raise Invalid(str(exc), errors=[FieldError(f"body.{exc.field}", exc.message)]) from None
    _store(hazard, after, now)
    record(session, hazard, lc.event_kind(event, before), now, principal, event.actor.kind, note, data)
    return after


# -- creation ------------------------------------------------------------------------------------------


def route(*, session: Session, category: str, district_code: str | None = None,
          enterprise: Enterprise | None = None) -> int:
    """The supervising department of a new hazard without one given.

    In order: a duty row (职责分工) for the category and the enterprise's industry; the enterprise's own
    supervising department; a duty row for the category (the one naming the district first); the category's
    default department; the emergency management bureau.
    """
    rows = list(session.scalars(sa.select(Responsibility).where(Responsibility.category == category)
                                .order_by(Responsibility.id)))
    industry = enterprise.industry if enterprise is not None and enterprise.industry else None

    def fits(r: Responsibility) -> bool:
        return (r.district_code is None or r.district_code == district_code) and (
            r.industry is None or r.industry == industry)

    if industry:
        by_industry = [r for r in rows if r.industry == industry and fits(r)]
        if by_industry:
            return sorted(by_industry, key=lambda r: r.district_code is None)[0].department_id
    if enterprise is not None:
        return enterprise.supervising_department_id
    general = [r for r in rows if fits(r)]
    if general:
        return sorted(general, key=lambda r: (r.district_code is None, r.industry is not None))[0].department_id
    ids = org_service.department_ids(session=session)
    code = CATEGORIES.get(category, ("", "", FALLBACK_DEPARTMENT))[2]
    dept = ids.get(code) or ids.get(FALLBACK_DEPARTMENT)
    if dept is None:
        raise Invalid("no department can supervise this hazard",
                      errors=[FieldError("body.supervising_department_id", "give the supervising department")])
    return dept




def _local_year(now: datetime) -> int:
    return now.astimezone(LOCAL).year


def create(*, session: Session, now: datetime, actor: Principal | None, title: str, category: str, lon: float,
           lat: float, source: str = "manual", source_ref: str | None = None, description: str = "",
           enterprise_id: int | None = None, asset_id: int | None = None,
           supervising_department_id: int | None = None, clause_ids: Sequence[int] = (),
           exercise: bool = False) -> Hazard:
    """Report a found hazard (status ``found``), routed to its supervising department (see ``route``)."""
    errors: list[FieldError] = []
    title = (title or "").strip()
    if not title or len(title) > 300:
        errors.append(FieldError("body.title", "a title of 1 to 300 characters is needed"))
    if not isinstance(category, str) or not _CATEGORY.match(category):
        errors.append(FieldError("body.category", f"a category such as {', '.join(list(CATEGORIES)[:4])}"))
    if source not in SOURCES:
        errors.append(FieldError("body.source", f"one of {', '.join(SOURCES)}"))
    if not isinstance(lon, int | float) or not -180 <= lon <= 180:
        errors.append(FieldError("body.lon", "longitude must be between -180 and 180"))
    if not isinstance(lat, int | float) or not -90 <= lat <= 90:
        errors.append(FieldError("body.lat", "latitude must be between -90 and 90"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    if actor is not None:
        if not may_report(actor):
            raise Forbidden("reporting a hazard needs an inspector (inspection:act), a department user or the "
                            "enterprise itself (enterprise:act)")
        if _is_enterprise_user(actor):
            if enterprise_id not in (None, actor.enterprise_id):
                raise Forbidden("an enterprise may only report hazards of its own enterprise")
            enterprise_id = actor.enterprise_id
    enterprise = None
    if enterprise_id is not None:
        enterprise = session.get(Enterprise, enterprise_id)
        if enterprise is None:
            raise Invalid(f"enterprise {enterprise_id} not found",
                          errors=[FieldError("body.enterprise_id", "no such enterprise")])
    if asset_id is not None:
        from citybrain.sensing.models import Asset

        if session.get(Asset, asset_id) is None:
            raise Invalid(f"asset {asset_id} not found", errors=[FieldError("body.asset_id", "no such asset")])
    if (supervising_department_id is not None
            and supervising_department_id not in org_service.department_codes(session=session)):
        raise Invalid("unknown department", errors=[FieldError("body.supervising_department_id",
                                                               "no such department")])
    ids = regs.check_clause_ids(session=session, clause_ids=clause_ids, field="body.clause_ids")
    district = district_code_at(session=session, lon=float(lon), lat=float(lat)) or (enterprise.district_code if enterprise else None)
    dept = supervising_department_id or route(session=session, category=category, district_code=district,
                                              enterprise=enterprise)
    hazard = Hazard(code=f"YH-new-{uuid.uuid4().hex[:16]}", title=title, description=description or "",
                    category=category, status=lc.FOUND, grade=None, source=source, source_ref=source_ref,
                    lon=float(lon), lat=float(lat), district_code=district, enterprise_id=enterprise_id,
                    asset_id=asset_id, supervising_department_id=dept, supervised=False, return_count=0,
                    escalation_level=0, found_at=now, exercise=exercise,
                    created_by=actor.username if actor is not None else SYSTEM, created_at=now, updated_at=now)
    session.add(hazard)
    session.flush()
    hazard.code = f"YH-{_local_year(now)}-{hazard.id:06d}"
    for cid in ids:
        session.add(HazardClause(hazard_id=hazard.id, clause_id=cid))
    kind = actor_of(actor, hazard).kind if actor is not None else lc.SYSTEM
    record(session, hazard, "found", now, actor, kind, description,
           {"source": source, "source_ref": source_ref, "category": category, "clause_ids": ids})
    session.flush()
    return hazard


# -- lifecycle verbs -----------------------------------------------------------------------------------


def register(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard,
             note: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Register(actor_of(principal, hazard), note), note=note)
    session.flush()
    return hazard


def grade(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, grade: str,
          note: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Grade(actor_of(principal, hazard), grade, note), note=note,
          data={"grade": grade})
    session.flush()
    return hazard


def plan(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, measures: str,
         deadline_at: datetime | None, responsible_person: str, responsible_phone: str | None = None,
         funds: float | None = None, interim_measures: str = "") -> HazardPlan:
    """Write (or revise) the rectification plan; each call stores a new version."""
    event = lc.Plan(actor_of(principal, hazard), measures or "", deadline_at, responsible_person or "", funds,
                    interim_measures or "")
    s = _move(session, now, principal, hazard, event,
              data={"deadline_at": deadline_at, "funds": funds, "responsible_person": responsible_person})
    assert deadline_at is not None  # the lifecycle refused a plan without one
    row = HazardPlan(hazard_id=hazard.id, version=s.plan_version, measures=measures, funds=funds,
                     responsible_person=responsible_person, responsible_phone=responsible_phone,
                     deadline_at=deadline_at, interim_measures=interim_measures or "",
                     created_by=principal.username if principal is not None else SYSTEM, created_at=now)
    session.add(row)
    session.flush()
    return row


def start(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, note: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Start(actor_of(principal, hazard), note), note=note)
    session.flush()
    return hazard


def submit(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, note: str,
           images: Sequence[CleanImage], store: FileStore) -> list[HazardPhoto]:
    """Rectification done: the photos (already through ``clean_image``) are stored, then the hazard moves on.

    The lifecycle is checked before any file is written, so a refused submission stores nothing.
    """
    actor = actor_of(principal, hazard)
    try:
        lc.transition(state_of(hazard), lc.Submit(actor, note, len(images)), now)  # refuse before storing
    except lc.RoleRefused as exc:
        raise Forbidden(str(exc)) from None
    except lc.TransitionRefused as exc:
        if not images:
            raise Invalid(str(exc), errors=[FieldError("body.photos", "at least one photo is needed")]) from None
        raise Conflict(str(exc)) from None
    round_no = hazard.return_count + 1
    rows = []
    for img in images:
        key = store.put(img.data, suffix="jpg")
        rows.append(HazardPhoto(hazard_id=hazard.id, round=round_no, file_key=key, content_type=img.content_type,
                                width=img.width, height=img.height, gps_lon=img.gps[0] if img.gps else None,
                                gps_lat=img.gps[1] if img.gps else None, note=note,
                                uploaded_by=actor.by, uploaded_by_user_id=principal.user_id if principal else None,
                                at=now))
    session.add_all(rows)
    session.flush()
    _move(session, now, principal, hazard, lc.Submit(actor, note, len(images)), note=note,
          data={"round": round_no, "evidence_ids": [r.id for r in rows]})
    session.flush()
    return rows


def verify(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, accept: bool,
           reasons: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Verify(actor_of(principal, hazard), accept, reasons or ""),
          note=reasons or "", data={"accept": accept, "round": hazard.return_count + 1})
    session.flush()
    return hazard


def close(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, note: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Close(actor_of(principal, hazard), note), note=note,
          data={"on_time": hazard.deadline_at is None or now <= hazard.deadline_at})
    session.flush()
    return hazard


def supervise(*, session: Session, now: datetime, principal: Principal | None, hazard: Hazard, on: bool = True,
              note: str = "") -> Hazard:
    _move(session, now, principal, hazard, lc.Supervise(actor_of(principal, hazard), on, note), note=note)
    session.flush()
    return hazard


def comment(*, session: Session, now: datetime, principal: Principal, hazard: Hazard, text: str) -> HazardEvent:
    """A comment on the history, by anyone who sees the hazard and plays a part in it or may act on hazards."""
    text = (text or "").strip()
    if not text:
        raise Invalid("a comment needs text", errors=[FieldError("body.text", "required")])
    kinds = parts(principal, hazard) - {lc.REPORTER}
    if not kinds and not principal.can("hazard:act"):
        raise Forbidden("commenting needs the enterprise, the supervising department or hazard:act")
    ev = record(session, hazard, "comment", now, principal, lc.Actor(principal.username, kinds or
                                                                       frozenset({lc.REPORTER})).kind, text)
    session.flush()
    return ev


# -- reminders and escalation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepItem:
    hazard_id: int
    code: str
    supervising_department_id: int
    enterprise_id: int | None
    due: lc.Due


def sweep(*, session: Session, now: datetime) -> list[SweepItem]:
    """Record every reminder and escalation due at ``now`` once (calling it again at the same time does nothing)."""
    out: list[SweepItem] = []
    rows = session.scalars(sa.select(Hazard).where(Hazard.status != lc.CLOSED, Hazard.deadline_at.is_not(None))
                           .order_by(Hazard.id))
    for h in rows:
        s = state_of(h)
        for item in lc.due(s, now):
            s = lc.apply_due(s, item)
            h.last_reminder, h.escalation_level = s.last_reminder, s.escalation_level
            record(session, h, item.kind, now, None, lc.SYSTEM, item.message_zh,
                   {"key": item.key, "level": item.level, "target": item.target, "due_at": item.at,
                    "message_en": item.message_en, **item.data})
            out.append(SweepItem(h.id, h.code, h.supervising_department_id, h.enterprise_id, item))
    session.flush()
    return out


# -- shaping -------------------------------------------------------------------------------------------


def as_dict(h: Hazard, *, now: datetime, departments: Mapping[int, str]) -> dict[str, Any]:
    overdue = h.status != lc.CLOSED and h.deadline_at is not None and now > h.deadline_at
    days_overdue = round((now - h.deadline_at).total_seconds() / 86400, 1) if overdue and h.deadline_at else 0.0
    zh, en = lc.GRADE_NAMES.get(h.grade or "", ("未定级", "ungraded"))
    cat = CATEGORIES.get(h.category, (h.category, h.category, ""))
    return {
        "id": h.id, "code": h.code, "title": h.title, "description": h.description, "category": h.category,
        "category_zh": cat[0], "category_en": cat[1], "status": h.status, "grade": h.grade, "grade_zh": zh,
        "grade_en": en, "source": h.source, "source_ref": h.source_ref, "lon": h.lon, "lat": h.lat,
        "district_code": h.district_code, "enterprise_id": h.enterprise_id, "asset_id": h.asset_id,
        "supervising_department_id": h.supervising_department_id,
        "supervising_department": departments.get(h.supervising_department_id), "supervised": h.supervised,
        "deadline_at": h.deadline_at, "overdue": overdue, "days_overdue": days_overdue,
        "plan_version": h.plan_version, "return_count": h.return_count, "escalation_level": h.escalation_level,
        "last_reminder": h.last_reminder, "found_at": h.found_at, "registered_at": h.registered_at,
        "graded_at": h.graded_at, "planned_at": h.planned_at, "submitted_at": h.submitted_at,
        "verified_at": h.verified_at, "closed_at": h.closed_at, "exercise": h.exercise, "created_by": h.created_by,
        "created_at": h.created_at, "updated_at": h.updated_at,
    }


def plan_dict(p: HazardPlan) -> dict[str, Any]:
    return {"version": p.version, "measures": p.measures, "funds": p.funds, "responsible_person": p.responsible_person,
            "responsible_phone": p.responsible_phone, "deadline_at": p.deadline_at,
            "interim_measures": p.interim_measures, "created_by": p.created_by, "created_at": p.created_at}


def event_dict(e: HazardEvent) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "kind": e.kind, "status": e.status, "actor": e.actor, "actor_kind": e.actor_kind,
            "note": e.note, "data": e.data}


def photo_dict(p: HazardPhoto) -> dict[str, Any]:
    return {"id": p.id, "round": p.round, "content_type": p.content_type, "width": p.width, "height": p.height,
            "gps_lon": p.gps_lon, "gps_lat": p.gps_lat, "note": p.note, "uploaded_by": p.uploaded_by, "at": p.at,
            "url": f"/api/v1/hazards/{p.hazard_id}/evidence/{p.id}"}
