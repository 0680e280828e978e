"""Incidents: opened by hand or from a warning (de-duplicated), their plan instantiated at once, moved through
their lifecycle, levels raised, notes added; every change leaves an ``incident_event`` row (the timeline).

Services take the session first and ``now`` explicitly and never commit. Tasks, parts and plans are in
``tasks_service``, units and dispatch in ``units_service``; this module owns the incident row, its scope
and the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.database import jsonable as to_json
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.geo.service import district_code_at
from citybrain.incident import lifecycle as lc
from citybrain.incident import tasks_service
from citybrain.incident.dedupe import Candidate, find_duplicate
from citybrain.incident.models import Incident, IncidentEvent, IncidentLink, IncidentPart, IncidentTask
from citybrain.incident.taxonomy import INCIDENT_TYPES, incident_type_for
from citybrain.org import service as org_service
from citybrain.org.models import Share
from citybrain.warning.types import Level

RESOURCE = "incident"
SOURCES = ("manual", "warning", "feed", "drill")
LINK_KINDS = ("warning", "report", "hazard", "feed")  # feed: "<department>:<external id>" (intake)
SYSTEM = "system"

# Statements of the incident-opening path, built once (building and keying a statement costs about as much as
# running it on SQLite; the warning host opens or links an incident for every red warning).
_OPEN_OF_TYPE = {exercise: sa.select(Incident).where(Incident.incident_type == sa.bindparam("incident_type"),
                                                     Incident.status.in_(lc.OPEN_STATUSES),
                                                     Incident.exercise.is_(exercise))
                 for exercise in (False, True)}
_LINK_OF = sa.select(IncidentLink.id).where(IncidentLink.incident_id == sa.bindparam("incident_id"),
                                            IncidentLink.kind == sa.bindparam("kind"),
                                            IncidentLink.ref_id == sa.bindparam("ref_id"))
_INSERT_LINK = sa.insert(IncidentLink.__table__)
_INSERT_EVENTS = sa.insert(IncidentEvent.__table__)


@dataclass(frozen=True, slots=True)
class Opened:
    """What ``create`` did: the incident, and whether it is new or an open one the report was linked to."""

    incident: Incident
    created: bool


# -- scope, reading ----------------------------------------------------------------------------------


def scope_clause(principal: Principal) -> Any:
    """Visible incidents: led by the caller's department, with a part for it, shared with it; all if city-wide."""
    if principal.city_wide:
        return None
    dept = principal.department_id
    if dept is None:
        return sa.false()
    parts = sa.select(IncidentPart.incident_id).where(IncidentPart.department_id == dept)
    shared = sa.select(Share.resource_id).where(Share.resource_type == RESOURCE, Share.department_id == dept)
    return sa.or_(Incident.lead_department_id == dept, Incident.id.in_(parts), Incident.id.in_(shared))


def get_or_raise(*, session: Session, principal: Principal | None, incident_id: int) -> Incident:
    """The incident if the caller may see it (``principal=None``: the system); hidden is not found."""
    stmt = sa.select(Incident).where(Incident.id == incident_id)
    scope = scope_clause(principal) if principal is not None else None
    if scope is not None:
        stmt = stmt.where(scope)
    inc = session.scalars(stmt).first()
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    return inc


def list_incidents(*, session: Session, principal: Principal, status: Sequence[str] | None = None,
                   incident_type: Sequence[str] | None = None, level: Sequence[int] | None = None,
                   district: str | None = None, exercise: bool | None = None, open_only: bool | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[list[Incident], int]:
    stmt = sa.select(Incident)
    scope = scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if status:
        stmt = stmt.where(Incident.status.in_(status))
    if incident_type:
        stmt = stmt.where(Incident.incident_type.in_(incident_type))
    if level:
        stmt = stmt.where(Incident.level.in_(level))
    if district:
        stmt = stmt.where(Incident.district_code == district)
    if exercise is not None:
        stmt = stmt.where(Incident.exercise.is_(exercise))
    if open_only is not None:
        cond = Incident.status.in_(lc.OPEN_STATUSES)
        stmt = stmt.where(cond if open_only else sa.not_(cond))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Incident.level, Incident.reported_at.desc(), Incident.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def timeline(*, session: Session, incident: Incident) -> list[IncidentEvent]:
    return list(session.scalars(sa.select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                .order_by(IncidentEvent.id)))


def links(*, session: Session, incident: Incident) -> list[IncidentLink]:
    return list(session.scalars(sa.select(IncidentLink).where(IncidentLink.incident_id == incident.id)
                                .order_by(IncidentLink.id)))


department_codes = org_service.department_codes  # re-exported: the incident modules' one vocabulary
department_ids = org_service.department_ids


# -- the timeline ------------------------------------------------------------------------------------




def jsonable(v: Any) -> Any:
    """Plain JSON for the timeline's ``detail`` (levels as their colour, times as ISO 8601)."""
    return to_json(v, leaf=lambda x: x.colour if isinstance(x, Level) else None)


def _entry(incident: Incident, kind: str, at: datetime, actor: str | None, detail: Mapping[str, Any] | None,
           task_id: int | None, unit_id: int | None) -> dict[str, Any]:
    return {"incident_id": incident.id, "at": at, "kind": kind, "status": incident.status, "level": incident.level,
            "actor": actor, "task_id": task_id, "unit_id": unit_id, "detail": jsonable(dict(detail or {}))}


def record(session: Session, incident: Incident, kind: str, at: datetime, actor: str | None,
           detail: Mapping[str, Any] | None = None, *, task_id: int | None = None,
           unit_id: int | None = None) -> IncidentEvent:
    """Append one timeline entry (the incident must have an id)."""
    ev = IncidentEvent(**_entry(incident, kind, at, actor, detail, task_id, unit_id))
    session.add(ev)
    return ev


class Timeline:
    """Timeline entries held back and written in one INSERT, in the order added, for a step that adds several
    and reads none back (opening an incident); ``record`` is the one-at-a-time way that returns the row.

    ``write`` flushes the session first, so entries ``record`` added before it keep their place; nothing should
    call ``record`` between ``add`` and ``write``.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, incident: Incident, kind: str, at: datetime, actor: str | None,
            detail: Mapping[str, Any] | None = None, *, task_id: int | None = None,
            unit_id: int | None = None) -> None:
        """Like ``record``: the incident's status and level as they are now (it must have an id)."""
        self.rows.append(_entry(incident, kind, at, actor, detail, task_id, unit_id))

    def write(self, session: Session) -> None:
        session.flush()
        if self.rows:
            session.execute(_INSERT_EVENTS, self.rows)
            self.rows = []


def actor_of(principal: Principal | None) -> str:
    return principal.username if principal is not None else SYSTEM


# -- state <-> row -----------------------------------------------------------------------------------


def state_of(inc: Incident) -> lc.IncidentState:
    return lc.IncidentState(
        status=inc.status, level=Level(inc.level), peak_level=Level(inc.peak_level), reported_at=inc.reported_at,
        since=inc.status_since, verified_at=inc.verified_at, responding_at=inc.responding_at,
        contained_at=inc.contained_at, closed_at=inc.closed_at, reviewed_at=inc.reviewed_at,
        false_alarm=inc.false_alarm)


def _store(inc: Incident, s: lc.IncidentState, now: datetime) -> None:
    inc.status, inc.level, inc.peak_level, inc.status_since = s.status, int(s.level), int(s.peak_level), s.since
    inc.verified_at, inc.responding_at, inc.contained_at = s.verified_at, s.responding_at, s.contained_at
    inc.closed_at, inc.reviewed_at, inc.false_alarm = s.closed_at, s.reviewed_at, s.false_alarm
    inc.updated_at = now


# -- creation ----------------------------------------------------------------------------------------


def _check_location(lon: Any, lat: Any, area: Mapping[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    errors = []
    if not isinstance(lon, int | float) or not -180 <= lon <= 180:
        errors.append(FieldError(f"{prefix}.lon", "longitude must be between -180 and 180"))
    if not isinstance(lat, int | float) or not -90 <= lat <= 90:
        errors.append(FieldError(f"{prefix}.lat", "latitude must be between -90 and 90"))
    out = None
    if area is not None:
        try:
            geom = shape(dict(area))
            if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid or geom.is_empty:
                raise ValueError(f"a valid Polygon or MultiPolygon is needed, not {geom.geom_type}")
            out = dict(area)
        except Exception as exc:  # noqa: BLE001 - shapely raises many kinds for bad GeoJSON
            errors.append(FieldError(f"{prefix}.area", f"not a polygon: {exc}"))
    if errors:
        raise Invalid("; ".join(e.message for e in errors), errors=errors)
    return out




def _check_link_kind(kind: str) -> None:
    if kind not in LINK_KINDS:
        raise Invalid(f"unknown link kind {kind!r}", errors=[FieldError("body.links.kind",
                                                                        f"one of {', '.join(LINK_KINDS)}")])


def add_link(session: Session, incident: Incident, kind: str, ref_id: str | int, now: datetime,
             actor: str | None) -> IncidentLink | None:
    """Link a warning / report / hazard (idempotent); a new link goes on the timeline."""
    _check_link_kind(kind)
    ref = str(ref_id)
    existing = session.scalar(sa.select(IncidentLink).where(IncidentLink.incident_id == incident.id,
                                                            IncidentLink.kind == kind, IncidentLink.ref_id == ref))
    if existing is not None:
        return None
    link = IncidentLink(incident_id=incident.id, kind=kind, ref_id=ref, created_at=now, created_by=actor)
    session.add(link)
    record(session, incident, "linked", now, actor, {"kind": kind, "ref_id": ref})
    return link


def _link(session: Session, incident: Incident, kind: str, ref_id: str | int, now: datetime, actor: str | None,
          timeline: Timeline) -> None:
    """``add_link`` for ``create`` (which checked the kind): the row inserted at once (a later look-up sees it
    without a flush), its timeline entry added to ``timeline``."""
    ref = str(ref_id)
    if session.scalar(_LINK_OF, {"incident_id": incident.id, "kind": kind, "ref_id": ref}) is not None:
        return
    session.execute(_INSERT_LINK, {"incident_id": incident.id, "kind": kind, "ref_id": ref, "created_at": now,
                                   "created_by": actor})
    timeline.add(incident, "linked", now, actor, {"kind": kind, "ref_id": ref})


def create(*, session: Session, now: datetime, principal: Principal | None, incident_type: str,
           lon: float, lat: float, level: Level | str | int | None = None, title_zh: str = "", title_en: str = "",
           description: str = "", area: Mapping[str, Any] | None = None, district: str | None = None,
           labels: Mapping[str, Any] | None = None, commander: str | None = None,
           lead_department: str | None = None, participants: Sequence[str] | None = None, exercise: bool = False,
           source: str = "manual", reported_at: datetime | None = None,
           link_refs: Iterable[tuple[str, str | int]] = (), force: bool = False) -> Opened:
    """Open an incident and instantiate its plan's tasks and parts at once, or link to the open duplicate.

    A report of the same type within the type's radius and window of an open incident (same exercise flag)
    is linked to it (a ``duplicate_report`` entry on its timeline, the links added) unless ``force``.

    Links, parts and timeline entries are inserted as rows, not objects (nothing here reads them back); the
    first flush puts whatever the caller had pending first, so its timeline entries keep their place. Link
    kinds are checked before anything is written.
    """
    itype = INCIDENT_TYPES.get(incident_type)
    if itype is None:
        raise Invalid(f"unknown incident type {incident_type!r}",
                      errors=[FieldError("body.incident_type", f"one of {', '.join(INCIDENT_TYPES)}")])
    if source not in SOURCES:
        raise Invalid(f"unknown source {source!r}", errors=[FieldError("body.source", f"one of {', '.join(SOURCES)}")])
    try:
        lvl = Level.parse(level) if level is not None else itype.default_level
    except ValueError as exc:
        raise Invalid(str(exc), errors=[FieldError("body.level", "use I-IV, red/orange/yellow/blue or 1-4")]) from None
    area = _check_location(lon, lat, area, "body")
    actor = actor_of(principal)
    at = reported_at or now
    link_refs = list(link_refs)
    session.flush()  # what the caller left pending goes first: its timeline entries keep their place
    timeline = Timeline()
    if not force:
        open_rows = session.scalars(_OPEN_OF_TYPE[bool(exercise)], {"incident_type": incident_type})
        dup = find_duplicate(Candidate(incident_type, lon, lat, at), list(open_rows), now)
        if dup is not None:
            for kind, _ in link_refs:
                _check_link_kind(kind)
            dup.last_report_at = max(dup.last_report_at, at)
            dup.updated_at = now
            timeline.add(dup, "duplicate_report", now, actor,
                         {"source": source, "lon": lon, "lat": lat, "reported_at": at, "title_zh": title_zh,
                          "title_en": title_en, "description": description, "level": lvl})
            for kind, ref in link_refs:
                _link(session, dup, kind, ref, now, actor, timeline)
            timeline.write(session)
            return Opened(dup, False)

    ids = department_ids(session=session)
    lead = lead_department or itype.lead
    errors = []
    if lead not in ids:
        errors.append(FieldError("body.lead_department", f"no department with code {lead!r}"))
    wanted = list(itype.participants if participants is None else participants)
    for i, code in enumerate(wanted):
        if code not in ids:
            errors.append(FieldError(f"body.participants[{i}]", f"no department with code {code!r}"))
    if errors:
        raise Invalid("; ".join(e.message for e in errors), errors=errors)
    for kind, _ in link_refs:
        _check_link_kind(kind)
    s, changes = lc.start(lvl, at, by=actor)
    inc = Incident(
        incident_type=incident_type, level=int(s.level), peak_level=int(s.peak_level), status=s.status,
        status_since=s.since, title_zh=title_zh or itype.name_zh, title_en=title_en or itype.name_en,
        description=description, lon=float(lon), lat=float(lat), area=area,
        district_code=district or district_code_at(session=session, lon=lon, lat=lat), labels=dict(labels or {}),
        commander=commander, lead_department_id=ids[lead], participants=[], exercise=exercise, source=source,
        reported_at=at, last_report_at=at, created_by=actor, created_at=now, updated_at=now)
    session.add(inc)
    session.flush()
    for c in changes:
        timeline.add(inc, c.kind, now, c.actor, {"source": source, "level": lvl, "reported_at": at})
    specs = tasks_service.instantiate_plan(session=session, incident=inc, now=now, actor=actor, timeline=timeline)
    task_departments = [t.department for t in specs if t.department]
    codes = [c for c in dict.fromkeys([*wanted, *task_departments]) if c != lead]
    inc.participants = codes
    tasks_service.add_parts(session=session, incident=inc, codes=[lead, *codes], ids=ids)
    for kind, ref in link_refs:
        _link(session, inc, kind, ref, now, actor, timeline)
    timeline.write(session)
    return Opened(inc, True)


def create_from_warning(*, session: Session, now: datetime, principal: Principal | None, warning_id: int,
                        force: bool = False) -> Opened:
    """Open (or link) the incident a warning points to: type from its rule or asset class, its level and place."""
    from citybrain.sensing.models import Asset
    from citybrain.warning import service as warning_service
    from citybrain.warning.models import Warning

    if principal is not None:
        w = warning_service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    else:
        w = session.get(Warning, warning_id)
        if w is None:
            raise NotFound(f"warning {warning_id} not found")
    labels = dict(w.labels or {})
    asset_class = labels.get("asset_class")
    if asset_class is None and w.asset_id is not None:
        asset_class = session.scalar(sa.select(Asset.asset_class).where(Asset.id == w.asset_id))
    itype = incident_type_for(rule=w.rule_key, asset_class=asset_class)
    if itype is None:
        raise Conflict(f"warning {w.id} (rule {w.rule_key!r}) does not point to an incident type")
    if w.lon is None or w.lat is None:
        raise Conflict(f"warning {w.id} has no location to open an incident at")
    keep = {k: v for k, v in labels.items() if k in ("station", "stations", "segment", "asset", "device", "line")}
    keep["warning_rule"] = w.rule_key
    return create(session=session, now=now, principal=principal, incident_type=itype.key, lon=w.lon, lat=w.lat,
                  level=Level(w.level), title_zh=w.summary_zh, title_en=w.summary_en, district=w.district_code,
                  labels=keep, exercise=w.exercise, source="warning", reported_at=w.starts_at,
                  link_refs=[("warning", w.id)], force=force)


# -- lifecycle ---------------------------------------------------------------------------------------

EVENTS = ("verify", "respond", "contain", "close", "review", "reopen")


def check_command(principal: Principal | None, incident: Incident) -> None:
    """Status and level belong to the command: the lead department, the commander, or city-wide users."""
    if principal is None or principal.city_wide or principal.department_id == incident.lead_department_id:
        return
    if incident.commander and principal.username == incident.commander:
        return
    raise Forbidden("only the lead department, the commander or the operations centre changes the incident's "
                    "status or level")


def transition(*, session: Session, now: datetime, principal: Principal | None, incident: Incident, event: str,
               note: str = "", reason: str = "", override: bool = False, false_alarm: bool = False,
               summary: str = "") -> Incident:
    """Move the incident one step (``EVENTS``); refusals are 409 with the lifecycle's reason."""
    check_command(principal, incident)
    by = actor_of(principal)
    open_tasks = tasks_service.open_task_count(session=session, incident=incident)
    ev: lc.IncidentEvent
    if event == "verify":
        ev = lc.Verify(by, note)
    elif event == "respond":
        ev = lc.Respond(by, note)
    elif event == "contain":
        ev = lc.Contain(by, note)
    elif event == "close":
        ev = lc.Close(by, open_tasks=open_tasks, override=override, reason=reason or note, false_alarm=false_alarm)
    elif event == "review":
        ev = lc.Review(by, summary or note)
    elif event == "reopen":
        ev = lc.Reopen(by, reason or note)
    else:
        raise Invalid(f"unknown event {event!r}", errors=[FieldError("body.event", f"one of {', '.join(EVENTS)}")])
    try:
        s, changes = lc.transition(state_of(incident), ev, now)
    except lc.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    _store(incident, s, now)
    if event == "review":
        incident.review_summary = summary or note
    for c in changes:
        record(session, incident, c.kind, now, c.actor, c.detail)
    if event == "close" and open_tasks:
        tasks_service.cancel_open_tasks(session=session, now=now, incident=incident, by=by,
                                        reason=f"incident closed: {reason or note}")
    session.flush()
    return incident


def change_level(*, session: Session, now: datetime, principal: Principal | None, incident: Incident,
                 to: Level | str | int, reason: str = "") -> list[IncidentTask]:
    """Raise or lower the level; beyond the peak, the plan's higher-level tasks are added (returned)."""
    check_command(principal, incident)
    try:
        target = Level.parse(to)
    except ValueError as exc:
        raise Invalid(str(exc), errors=[FieldError("body.to", "use I-IV, red/orange/yellow/blue or 1-4")]) from None
    try:
        s, changes = lc.transition(state_of(incident), lc.ChangeLevel(target, actor_of(principal), reason), now)
    except lc.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    _store(incident, s, now)
    added: list[IncidentTask] = []
    for c in changes:
        if c.kind == "add_plan_tasks":
            added = tasks_service.add_level_tasks(session=session, now=now, incident=incident,
                                                  from_level=Level(c.detail["from_level"]),
                                                  to_level=Level(c.detail["to_level"]), actor=c.actor)
            record(session, incident, "plan_tasks_added", now, c.actor,
                   {**c.detail, "tasks": [t.key for t in added]})
        else:
            record(session, incident, c.kind, now, c.actor, c.detail)
    session.flush()
    return added


def add_note(*, session: Session, now: datetime, principal: Principal | None, incident: Incident, text: str,
             attachment: Mapping[str, Any] | None = None) -> IncidentEvent:
    """A note (or, with ``attachment`` {name, url}, a file) on the timeline."""
    if not text.strip() and attachment is None:
        raise Invalid("a note needs text", errors=[FieldError("body.text", "empty")])
    detail: dict[str, Any] = {"text": text}
    if attachment is not None:
        detail["attachment"] = dict(attachment)
    ev = record(session, incident, "file" if attachment is not None else "note", now, actor_of(principal), detail)
    incident.updated_at = now
    session.flush()
    return ev


def update(*, session: Session, now: datetime, principal: Principal | None, incident: Incident,
           changes: Mapping[str, Any]) -> Incident:
    """Edit descriptive fields (titles, description, commander, area, labels); each change on the timeline."""
    allowed = ("title_zh", "title_en", "description", "commander", "area", "labels")
    if "area" in changes and changes["area"] is not None:
        _check_location(incident.lon, incident.lat, changes["area"], "body")
    done = {}
    for key in allowed:
        if key in changes and getattr(incident, key) != changes[key]:
            setattr(incident, key, changes[key])
            done[key] = changes[key] if key != "area" else "changed"
    if done:
        incident.updated_at = now
        record(session, incident, "updated", now, actor_of(principal), done)
        session.flush()
    return incident


# -- shapes ------------------------------------------------------------------------------------------


def as_dict(inc: Incident, *, departments: Mapping[int, str]) -> dict[str, Any]:
    level, peak = Level(inc.level), Level(inc.peak_level)
    itype = INCIDENT_TYPES.get(inc.incident_type)
    return {
        "id": inc.id, "incident_type": inc.incident_type,
        "type_name_zh": itype.name_zh if itype else inc.incident_type,
        "type_name_en": itype.name_en if itype else inc.incident_type,
        "level": level.colour, "level_roman": level.roman, "peak_level": peak.colour, "status": inc.status,
        "status_since": inc.status_since, "open": inc.status in lc.OPEN_STATUSES, "title_zh": inc.title_zh,
        "title_en": inc.title_en, "description": inc.description, "lon": inc.lon, "lat": inc.lat, "area": inc.area,
        "district": inc.district_code, "labels": dict(inc.labels or {}), "commander": inc.commander,
        "lead_department": departments.get(inc.lead_department_id), "participants": list(inc.participants or []),
        "exercise": inc.exercise, "source": inc.source, "false_alarm": inc.false_alarm,
        "reported_at": inc.reported_at, "last_report_at": inc.last_report_at, "verified_at": inc.verified_at,
        "responding_at": inc.responding_at, "contained_at": inc.contained_at, "closed_at": inc.closed_at,
        "reviewed_at": inc.reviewed_at, "plan_key": inc.plan_key, "plan_version": inc.plan_version,
        "review_summary": inc.review_summary, "created_by": inc.created_by, "created_at": inc.created_at,
        "updated_at": inc.updated_at,
    }


def event_dict(e: IncidentEvent) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "kind": e.kind, "status": e.status, "level": Level(e.level).colour,
            "actor": e.actor, "task_id": e.task_id, "unit_id": e.unit_id, "detail": dict(e.detail or {})}


def link_dict(link: IncidentLink) -> dict[str, Any]:
    return {"id": link.id, "kind": link.kind, "ref_id": link.ref_id, "created_at": link.created_at,
            "created_by": link.created_by}
