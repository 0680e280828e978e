"""Cases of citizen reports: registered and dispatched by the routing table on arrival, moved through the
workflow of ``report.cases`` by the people allowed to, every change a ``report_event`` (public ones are what the
citizen sees), rated and reopened by the citizen; the routing table and time limits.

Services take the session first and ``now`` explicitly and never commit. The report row and its history belong
to the report core (``report.models``, ``report.service``); this module imports them lazily so it stays
importable on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.database import jsonable
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.org import service as org_service
from citybrain.report import cases as cs
from citybrain.report import models as report_models
from citybrain.report.case_models import CaseRoute, CaseTimeLimit

RESOURCE = "report"
DEFAULT_HOURS = 72.0
#: Default routes (category -> department code), seeded on first run; ``*`` catches anything else.
DEFAULT_ROUTES: Mapping[str, str] = {
    "gas_smell": "emergency", "fire_hazard": "fire", "road_collapse": "transport", "manhole_missing": "urban",
    "waterlogging": "water", "construction_site": "housing", "hazardous_chemicals": "emergency",
    "crowding": "police", "exposed_wiring": "urban", "structural_crack": "housing", "other": "governance",
    "*": "governance",
}
FALLBACK_DEPARTMENT = "ops"


def _report_service() -> Any:
    from citybrain.report import service

    return service


def _record(session: Session, report: Any, now: datetime, kind: str, actor_user_id: int | None, text: str = "",
            public: bool = True, data: Mapping[str, Any] | None = None) -> Any:
    return _report_service().record_event(session=session, report=report, now=now, kind=kind,
                                          actor_user_id=actor_user_id, text=text, public=public,
                                          data=jsonable(dict(data or {})))




# -- routing table and time limits -------------------------------------------------------------------


def service_codes() -> list[str]:
    from citybrain.report import services_catalog

    return [s.code for s in services_catalog.services()]


def seed(*, session: Session, now: datetime) -> int:
    """Seed the default routes once (nothing when the table has rows); returns how many were added."""
    if session.scalar(sa.select(sa.func.count()).select_from(CaseRoute)):
        return 0
    ids = org_service.department_ids(session=session)
    rows = [CaseRoute(service_code=code, district_code=None, department_id=ids[dept],
                      priority=1000 if code == "*" else 100, updated_at=now, updated_by="system")
            for code, dept in DEFAULT_ROUTES.items() if dept in ids]
    session.add_all(rows)
    session.flush()
    return len(rows)


def list_routes(*, session: Session) -> list[CaseRoute]:
    return list(session.scalars(sa.select(CaseRoute).order_by(CaseRoute.service_code, CaseRoute.district_code,
                                                              CaseRoute.priority, CaseRoute.id)))


def replace_routes(*, session: Session, now: datetime, principal: Principal | None,
                   items: Sequence[Mapping[str, Any]]) -> list[CaseRoute]:
    """Replace the whole routing table; each item {service_code, district_code?, department (code), priority?}."""
    known = set(service_codes()) | {"*"}
    ids = org_service.department_ids(session=session)
    errors = []
    for i, it in enumerate(items):
        if it.get("service_code") not in known:
            errors.append(FieldError(f"body[{i}].service_code", "unknown category (a service code or *)"))
        if it.get("department") not in ids:
            errors.append(FieldError(f"body[{i}].department", f"no department with code {it.get('department')!r}"))
    if errors:
        raise Invalid("; ".join(e.message for e in errors), errors=errors)
    session.execute(sa.delete(CaseRoute))
    by = principal.username if principal else "system"
    rows = [CaseRoute(service_code=it["service_code"], district_code=it.get("district_code") or None,
                      department_id=ids[it["department"]], priority=int(it.get("priority", 100)),
                      updated_at=now, updated_by=by) for it in items]
    session.add_all(rows)
    session.flush()
    return list_routes(session=session)


def routes_for(session: Session) -> list[cs.Route]:
    return [cs.Route(r.service_code, r.department_id, r.district_code, r.priority)
            for r in list_routes(session=session)]


def default_hours(service_code: str) -> float:
    from citybrain.report import services_catalog

    defn = services_catalog.find(service_code)
    return float(getattr(defn, "time_limit_h", DEFAULT_HOURS)) if defn is not None else DEFAULT_HOURS


def time_limits(*, session: Session) -> list[dict[str, Any]]:
    """Every category's time limit: the override if there is one, else the catalogue's default."""
    overrides = {r.service_code: r for r in session.scalars(sa.select(CaseTimeLimit))}
    out = []
    for code in service_codes():
        row = overrides.get(code)
        out.append({"service_code": code, "hours": row.hours if row else default_hours(code),
                    "default_hours": default_hours(code), "overridden": row is not None,
                    "updated_at": row.updated_at if row else None, "updated_by": row.updated_by if row else None})
    return out


def replace_time_limits(*, session: Session, now: datetime, principal: Principal | None,
                        items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Replace the overrides; each item {service_code, hours > 0}."""
    known = set(service_codes())
    errors = []
    for i, it in enumerate(items):
        if it.get("service_code") not in known:
            errors.append(FieldError(f"body[{i}].service_code", "unknown category"))
        hours = it.get("hours")
        if not isinstance(hours, int | float) or not 0 < hours <= 24 * 365:
            errors.append(FieldError(f"body[{i}].hours", "hours must be more than 0 and at most a year"))
    if errors:
        raise Invalid("; ".join(e.message for e in errors), errors=errors)
    session.execute(sa.delete(CaseTimeLimit))
    by = principal.username if principal else "system"
    session.add_all([CaseTimeLimit(service_code=it["service_code"], hours=float(it["hours"]), updated_at=now,
                                   updated_by=by) for it in items])
    session.flush()
    return time_limits(session=session)


def time_limit_hours(*, session: Session, service_code: str) -> float:
    row = session.get(CaseTimeLimit, service_code)
    return row.hours if row is not None else default_hours(service_code)


def route_for(*, session: Session, service_code: str, district_code: str | None) -> int:
    """The department id a new case goes to (the operations centre when no route matches)."""
    dept = cs.route_department(service_code, district_code, routes_for(session))
    if dept is None:
        dept = org_service.department_ids(session=session).get(FALLBACK_DEPARTMENT)
    if dept is None:
        raise Conflict("no case route matches and there is no operations-centre department")
    return dept


# -- state <-> row -----------------------------------------------------------------------------------


def state_of(report: Any) -> cs.CaseState:
    return cs.CaseState(
        status=report.case_status, requested_at=report.requested_at, department_id=report.department_id,
        assigned_user_id=report.assigned_user_id, dispatch_count=report.dispatch_count or 0,
        reopen_count=report.reopen_count or 0, due_at=report.due_at, first_response_at=report.first_response_at,
        closed_at=report.closed_at, rating=report.rating)


def _store(report: Any, s: cs.CaseState, now: datetime) -> None:
    report.case_status, report.department_id, report.assigned_user_id = s.status, s.department_id, s.assigned_user_id
    report.dispatch_count, report.reopen_count, report.due_at = s.dispatch_count, s.reopen_count, s.due_at
    report.first_response_at, report.closed_at = s.first_response_at, s.closed_at
    report.updated_at = now


def apply(*, session: Session, now: datetime, report: Any, event: cs.CaseEvent, actor: cs.Actor) -> list[Any]:
    """Apply one workflow event to the report row and record its history; a refused role becomes 403, a refused
    step 409."""
    try:
        new, changes = cs.transition(state_of(report), event, actor, now)
    except cs.RoleRefused as exc:
        raise Forbidden(str(exc)) from None
    except cs.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    _store(report, new, now)
    if isinstance(event, cs.Respond):
        report.public_reply = event.reply
    return [_record(session, report, now, c.kind, actor.user_id, c.text, c.public,
                    {**c.data, "from": c.from_status, "to": c.to_status}) for c in changes]


def roles_of(principal: Principal, report: Any) -> cs.Actor:
    """The case roles ``principal`` holds on ``report`` (see ``report.cases``)."""
    roles: set[str] = set()
    if principal.is_admin:
        roles |= {"ops", "department", "checker"}
    acts = principal.can("report:act")
    if acts and principal.city_wide:
        roles |= {"ops", "checker"}
    if acts and principal.department_id is not None and principal.department_id == report.department_id:
        roles.add("department")
    if principal.can("inspection:act") and principal.can("report:read"):
        roles.add("checker")
    return cs.Actor(principal.user_id, frozenset(roles))


def on_submitted(*, session: Session, report: Any, now: datetime) -> None:
    """Register (立案) a newly stored report and dispatch it by the routing table; the report core calls this.

    Only a report still ``submitted`` and not held for moderation is touched (a merged duplicate or a flagged
    one is not), so calling it again after moderation approves a report is safe.
    """
    if report.case_status != cs.SUBMITTED or getattr(report, "moderation_status", "ok") not in ("ok", "approved"):
        return
    system = cs.Actor.system()
    hours = time_limit_hours(session=session, service_code=report.service_code)
    apply(session=session, now=now, report=report, event=cs.Register(hours=hours), actor=system)
    dept = route_for(session=session, service_code=report.service_code, district_code=report.district_code)
    apply(session=session, now=now, report=report, event=cs.Dispatch(department_id=dept), actor=system)


# -- reading -----------------------------------------------------------------------------------------


def scope_clause(principal: Principal) -> Any:
    model = report_models.CitizenReport
    return department_scope(principal, model.department_id, resource_type=RESOURCE, id_col=model.id)


def get_case_or_raise(*, session: Session, principal: Principal, report_id: int) -> Any:
    """The report if the caller's department scope covers it (hidden is not found)."""
    model = report_models.CitizenReport
    stmt = sa.select(model).where(model.id == report_id)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row


def list_cases(*, session: Session, principal: Principal, now: datetime, case_status: Sequence[str] = (),
               department: str | None = None, service_code: str | None = None, district: str | None = None,
               overdue: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Any], int]:
    """The case board: newest first within the caller's scope, with the filters given."""
    model = report_models.CitizenReport
    stmt = sa.select(model)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    bad = [FieldError(f"query.case_status[{i}]", "unknown status") for i, s in enumerate(case_status)
           if s not in cs.STATUS]
    if bad:
        raise Invalid("unknown case status", errors=bad)
    if case_status:
        stmt = stmt.where(model.case_status.in_(case_status))
    if department:
        dept_id = org_service.department_ids(session=session).get(department)
        if dept_id is None:
            raise Invalid(f"no department {department!r}", errors=[FieldError("query.department", "unknown code")])
        stmt = stmt.where(model.department_id == dept_id)
    if service_code:
        stmt = stmt.where(model.service_code == service_code)
    if district:
        stmt = stmt.where(model.district_code == district)
    if overdue is not None:
        late = sa.and_(model.case_status.in_(cs.OPEN_STATUSES), model.due_at.is_not(None), model.due_at < now)
        stmt = stmt.where(late if overdue else sa.not_(late))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(model.requested_at.desc(), model.id.desc()).limit(limit)
                                .offset(offset)))
    return rows, total


def case_dict(report: Any, *, now: datetime, departments: Mapping[int, str]) -> dict[str, Any]:
    d = cs.due(state_of(report), now)
    names = cs.STATUS_NAMES.get(report.case_status, (report.case_status, report.case_status))
    return {
        "id": report.id, "service_request_id": report.service_request_id, "service_code": report.service_code,
        "description": report.description, "lon": report.lon, "lat": report.lat, "address": report.address,
        "district": report.district_code, "case_status": report.case_status, "status_name_zh": names[0],
        "status_name_en": names[1], "department": departments.get(report.department_id),
        "assigned_user_id": report.assigned_user_id, "requested_at": report.requested_at, "due_at": report.due_at,
        "overdue": d.overdue, "seconds_left": d.seconds_left, "first_response_at": report.first_response_at,
        "closed_at": report.closed_at, "on_time": cs.on_time(state_of(report)), "public_reply": report.public_reply,
        "dispatch_count": report.dispatch_count or 0, "reopen_count": report.reopen_count or 0,
        "me_too_count": report.me_too_count or 0, "rating": report.rating, "hazard_id": report.hazard_id,
        "incident_id": report.incident_id, "duplicate_of_id": report.duplicate_of_id,
        "updated_at": report.updated_at,
    }


# -- staff verbs -------------------------------------------------------------------------------------


def register(*, session: Session, now: datetime, principal: Principal, report: Any,
             hours: float | None = None) -> None:
    hours = hours if hours is not None else time_limit_hours(session=session, service_code=report.service_code)
    apply(session=session, now=now, report=report, event=cs.Register(hours=hours), actor=roles_of(principal, report))


def dispatch(*, session: Session, now: datetime, principal: Principal, report: Any, department: str | None = None,
             user_id: int | None = None, note: str = "") -> None:
    """派遣 to ``department`` (a code; the routing table's choice when None) and optionally one of its people."""
    if department is None:
        dept_id = route_for(session=session, service_code=report.service_code, district_code=report.district_code)
    else:
        found = org_service.department_ids(session=session).get(department)
        if found is None:
            raise Invalid(f"no department {department!r}", errors=[FieldError("body.department", "unknown code")])
        dept_id = found
    if user_id is not None:
        from citybrain.auth.models import User

        user = session.get(User, user_id)
        if user is None or not user.is_active or user.department_id != dept_id:
            raise Invalid("that person is not an active member of the department",
                          errors=[FieldError("body.user_id", "not an active member of the department")])
    apply(session=session, now=now, report=report, event=cs.Dispatch(dept_id, user_id, note),
          actor=roles_of(principal, report))


def act(*, session: Session, now: datetime, principal: Principal, report: Any, event: cs.CaseEvent) -> None:
    """accept / respond / check / close / reject, as the case roles of ``principal`` allow."""
    apply(session=session, now=now, report=report, event=event, actor=roles_of(principal, report))


# -- the citizen -------------------------------------------------------------------------------------


def by_tracking_code(*, session: Session, tracking_code: str) -> Any:
    return _report_service().get_by_tracking_code_or_raise(session=session, tracking_code=tracking_code)


def rate(*, session: Session, now: datetime, tracking_code: str, rating: int, comment: str = "") -> Any:
    """The citizen rates a closed case once (1–5 stars and an optional comment)."""
    report = by_tracking_code(session=session, tracking_code=tracking_code)
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid("a rating is 1 to 5 stars", errors=[FieldError("body.rating", "between 1 and 5")])
    if len(comment) > 1000:
        raise Invalid("the comment is too long", errors=[FieldError("body.comment", "at most 1000 characters")])
    s = state_of(report)
    if s.status != cs.CLOSED:
        raise Conflict("only a closed case can be rated")
    if not cs.can_rate(s):
        raise Conflict("this case has already been rated")
    report.rating, report.rating_comment, report.rated_at, report.updated_at = rating, comment, now, now
    _record(session, report, now, "rated", None, comment, True, {"rating": rating})
    return report


def reopen(*, session: Session, now: datetime, tracking_code: str, reason: str) -> Any:
    """Not fixed: within 7 days of closing the case is registered again and re-dispatched (reopen_count + 1)."""
    report = by_tracking_code(session=session, tracking_code=tracking_code)
    if not reason.strip():
        raise Invalid("say what is still wrong", errors=[FieldError("body.reason", "empty")])
    if len(reason) > 2000:
        raise Invalid("the reason is too long", errors=[FieldError("body.reason", "at most 2000 characters")])
    hours = time_limit_hours(session=session, service_code=report.service_code)
    previous = report.department_id
    apply(session=session, now=now, report=report, event=cs.Reopen(reason=reason, hours=hours),
          actor=cs.Actor.citizen())
    report.rating, report.rating_comment, report.rated_at = None, None, None
    dept = previous or route_for(session=session, service_code=report.service_code,
                                 district_code=report.district_code)
    apply(session=session, now=now, report=report, event=cs.Dispatch(department_id=dept), actor=cs.Actor.system())
    return report


def citizen_view(report: Any, now: datetime) -> dict[str, Any]:
    """What the tracking page may add to the report core's view: the rate/reopen switches."""
    s = state_of(report)
    deadline = s.closed_at + cs.REOPEN_WINDOW if s.status == cs.CLOSED and s.closed_at else None
    return {"can_rate": cs.can_rate(s), "can_reopen": cs.can_reopen(s, now), "reopen_deadline": deadline,
            "rating": report.rating}


# -- onward: a hazard to rectify, an incident to respond to --------------------------------------------

#: report category -> incident type (``incident.taxonomy``); the others need the type named.
INCIDENT_TYPE_OF: Mapping[str, str] = {
    "gas_smell": "gas_leak", "fire_hazard": "fire", "road_collapse": "road_collapse", "waterlogging": "waterlogging",
    "hazardous_chemicals": "hazmat_release", "crowding": "crowd_crush", "structural_crack": "structural_danger",
    "construction_site": "structural_danger",
}


#: report category -> hazard category (``hazard.service.CATEGORIES``); others go as "other".
HAZARD_CATEGORY_OF: Mapping[str, str] = {
    "gas_smell": "gas", "fire_hazard": "fire", "road_collapse": "road_traffic", "manhole_missing": "urban_facilities",
    "waterlogging": "drainage", "construction_site": "construction", "hazardous_chemicals": "hazardous_chemicals",
    "crowding": "crowd", "exposed_wiring": "urban_facilities", "structural_crack": "building",
}


def _title(report: Any) -> str:
    from citybrain.report import services_catalog

    defn = services_catalog.find(report.service_code)
    name = defn.name_zh if defn is not None else report.service_code
    return f"{name}（市民报告 {report.service_request_id}）"


def _need_position(report: Any) -> None:
    if report.lon is None or report.lat is None:
        raise Conflict(f"report {report.id} has no position (address only): it cannot be placed on the map")


def to_hazard(*, session: Session, now: datetime, principal: Principal, report: Any) -> Any:
    """Register the report as a hazard to rectify (隐患) through the hazard core; the report keeps the link."""
    if report.hazard_id is not None:
        raise Conflict(f"report {report.id} is already hazard {report.hazard_id}")
    from citybrain.hazard import service as hazard_service

    _need_position(report)
    hazard = hazard_service.create(session=session, now=now, actor=principal, title=_title(report),
                                   category=HAZARD_CATEGORY_OF.get(report.service_code, "other"), lon=report.lon,
                                   lat=report.lat, source="citizen_report", source_ref=f"report:{report.id}",
                                   description=report.description or "")
    report.hazard_id, report.updated_at = hazard.id, now
    _record(session, report, now, "to_hazard", principal.user_id, "已转为隐患整改 / Registered as a hazard to fix",
            True, {"hazard_id": hazard.id})
    return hazard


def to_incident(*, session: Session, now: datetime, principal: Principal, report: Any,
                incident_type: str | None = None, level: str | int | None = None) -> Any:
    """Open (or join) an incident for the report and link the two; returns ``incident.service.Opened``."""
    if report.incident_id is not None:
        raise Conflict(f"report {report.id} is already linked to incident {report.incident_id}")
    from citybrain.incident import service as incident_service

    _need_position(report)
    itype = incident_type or INCIDENT_TYPE_OF.get(report.service_code)
    if itype is None:
        raise Invalid("this category has no default incident type: name one",
                      errors=[FieldError("body.incident_type", "required for this category")])
    opened = incident_service.create(
        session=session, now=now, principal=principal, incident_type=itype, lon=report.lon, lat=report.lat,
        level=level, title_zh=_title(report), description=report.description or "", district=report.district_code,
        reported_at=report.requested_at, link_refs=[("report", report.id)])
    report.incident_id, report.updated_at = opened.incident.id, now
    _record(session, report, now, "to_incident", principal.user_id,
            "已转应急事件处置 / Handed to emergency response", True,
            {"incident_id": opened.incident.id, "created": opened.created})
    return opened
