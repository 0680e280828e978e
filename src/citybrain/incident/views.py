"""HTTP routes of incident command (mounted under /api/v1).

``incident:read`` lists and reads incidents within the caller's scope (lead or participating department, or
city-wide), units, recommendations, plans and metro impact; ``incident:act`` opens incidents, moves them,
acts on tasks and parts, dispatches and moves units, adds notes; ``incident:write`` registers units and
imports plans. Every write names what it touches for the audit log before acting, so a refused write is
recorded against its resource too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, set_audit
from citybrain.incident import lifecycle as lc
from citybrain.incident import plans as pl
from citybrain.incident import service, tasks_service, units_service
from citybrain.incident.models import Incident
from citybrain.incident.schemas import (
    ChecklistBody,
    DispatchBody,
    DispatchRead,
    EventRead,
    FromWarningBody,
    IncidentCreate,
    IncidentDetail,
    IncidentRead,
    IncidentUpdate,
    LevelBody,
    NoteBody,
    PartRead,
    PlanImport,
    PlanSummary,
    RecommendationRead,
    TaskActionBody,
    TaskRead,
    TransitionBody,
    UnitCreate,
    UnitRead,
    UnitStatusBody,
    UnitUpdate,
)
from citybrain.incident.taxonomy import INCIDENT_TYPES
from citybrain.warning.types import Level

router = APIRouter(tags=["incidents"])
YAML_TYPE = "application/yaml"


def _detail(session: Session, inc: Incident, now: Any, *, deduplicated: bool = False) -> IncidentDetail:
    codes = service.department_codes(session=session)
    data = service.as_dict(inc, departments=codes)
    data["tasks"] = [tasks_service.task_dict(t, now) for t in tasks_service.tasks_of(session=session, incident=inc)]
    data["parts"] = [tasks_service.part_dict(p, codes, inc.lead_department_id)
                     for p in tasks_service.parts(session=session, incident=inc)]
    data["units"] = [units_service.dispatch_dict(d, u)
                     for d, u in units_service.dispatches(session=session, incident=inc)]
    data["links"] = [service.link_dict(link) for link in service.links(session=session, incident=inc)]
    data["deduplicated"] = deduplicated
    return IncidentDetail.model_validate(data)


def _levels(values: list[str]) -> list[int]:
    out = []
    for i, v in enumerate(values):
        try:
            out.append(int(Level.parse(v)))
        except ValueError as exc:
            raise Invalid(str(exc), errors=[FieldError(f"query.level[{i}]", "unknown level")]) from None
    return out


# -- incidents ---------------------------------------------------------------------------------------


@router.get("/incidents", response_model=Page[IncidentRead])
def list_incidents(principal: Permitted("incident:read"), session: DbSession,
                   status_: list[str] = Query([], alias="status", description="reported … reviewed"),
                   incident_type: list[str] = Query([], alias="type"), level: list[str] = Query([]),
                   district: str | None = None, exercise: bool | None = None,
                   open: bool | None = Query(None, description="only open (true) or only closed (false)"),  # noqa: A002
                   limit: int = 50, offset: int = 0) -> Page[IncidentRead]:
    for i, s in enumerate(status_):
        if s not in lc.STATUSES:
            raise Invalid(f"unknown status {s!r}", errors=[FieldError(f"query.status[{i}]", "unknown status")])
    for i, t in enumerate(incident_type):
        if t not in INCIDENT_TYPES:
            raise Invalid(f"unknown incident type {t!r}", errors=[FieldError(f"query.type[{i}]", "unknown type")])
    limit, offset = page_window(limit, offset)
    rows, total = service.list_incidents(session=session, principal=principal, status=status_,
                                         incident_type=incident_type, level=_levels(level), district=district,
                                         exercise=exercise, open_only=open, limit=limit, offset=offset)
    codes = service.department_codes(session=session)
    return Page(items=[IncidentRead.model_validate(service.as_dict(r, departments=codes)) for r in rows],
                total=total, limit=limit, offset=offset)


@router.post("/incidents", response_model=IncidentDetail, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": IncidentDetail, "description": "linked to an open duplicate"}})
def create_incident(body: IncidentCreate, request: Request, response: Response, principal: Permitted("incident:act"),
                    session: DbSession, clock: ClockDep) -> IncidentDetail:
    now = clock.now()
    set_audit(request, resource_type="incident", action="create", incident_type=body.incident_type)
    opened = service.create(
        session=session, now=now, principal=principal, incident_type=body.incident_type, lon=body.lon, lat=body.lat,
        level=body.level, title_zh=body.title_zh, title_en=body.title_en, description=body.description,
        area=body.area, district=body.district, labels=body.labels, commander=body.commander,
        lead_department=body.lead_department, participants=body.participants, exercise=body.exercise,
        source=body.source, reported_at=body.reported_at, link_refs=[(x.kind, x.ref_id) for x in body.links],
        force=body.force)
    if not opened.created:
        response.status_code = status.HTTP_200_OK
    set_audit(request, resource_type="incident", resource_id=opened.incident.id,
              action="create" if opened.created else "link_duplicate", incident_type=body.incident_type)
    return _detail(session, opened.incident, now, deduplicated=not opened.created)


@router.post("/incidents/from-warning/{warning_id}", response_model=IncidentDetail,
             status_code=status.HTTP_201_CREATED)
def from_warning(warning_id: int, request: Request, response: Response, principal: Permitted("incident:act"),
                 session: DbSession, clock: ClockDep, body: FromWarningBody | None = None) -> IncidentDetail:
    now = clock.now()
    set_audit(request, resource_type="incident", action="from_warning", warning_id=warning_id)
    opened = service.create_from_warning(session=session, now=now, principal=principal, warning_id=warning_id,
                                         force=bool(body and body.force))
    if not opened.created:
        response.status_code = status.HTTP_200_OK
    set_audit(request, resource_type="incident", resource_id=opened.incident.id, action="from_warning",
              warning_id=warning_id, created=opened.created)
    return _detail(session, opened.incident, now, deduplicated=not opened.created)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: int, principal: Permitted("incident:read"), session: DbSession,
                 clock: ClockDep) -> IncidentDetail:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    return _detail(session, inc, clock.now())


@router.patch("/incidents/{incident_id}", response_model=IncidentDetail)
def update_incident(incident_id: int, body: IncidentUpdate, request: Request, principal: Permitted("incident:act"),
                    session: DbSession, clock: ClockDep) -> IncidentDetail:
    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="update",
              fields=sorted(body.model_dump(exclude_unset=True)))
    service.update(session=session, now=now, principal=principal, incident=inc,
                   changes=body.model_dump(exclude_unset=True))
    return _detail(session, inc, now)


@router.post("/incidents/{incident_id}/transition", response_model=IncidentDetail)
def transition(incident_id: int, body: TransitionBody, request: Request, principal: Permitted("incident:act"),
               session: DbSession, clock: ClockDep) -> IncidentDetail:
    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action=body.event, override=body.override)
    service.transition(session=session, now=now, principal=principal, incident=inc, event=body.event, note=body.note,
                       reason=body.reason, override=body.override, false_alarm=body.false_alarm, summary=body.summary)
    return _detail(session, inc, now)


@router.post("/incidents/{incident_id}/level", response_model=IncidentDetail)
def change_level(incident_id: int, body: LevelBody, request: Request, principal: Permitted("incident:act"),
                 session: DbSession, clock: ClockDep) -> IncidentDetail:
    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="level", to=str(body.to))
    added = service.change_level(session=session, now=now, principal=principal, incident=inc, to=body.to,
                                 reason=body.reason)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="level", to=str(body.to),
              tasks_added=[t.key for t in added])
    return _detail(session, inc, now)


@router.get("/incidents/{incident_id}/timeline", response_model=list[EventRead])
def get_timeline(incident_id: int, principal: Permitted("incident:read"), session: DbSession) -> list[EventRead]:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    return [EventRead.model_validate(service.event_dict(e)) for e in service.timeline(session=session, incident=inc)]


@router.post("/incidents/{incident_id}/notes", response_model=EventRead, status_code=status.HTTP_201_CREATED)
def add_note(incident_id: int, body: NoteBody, request: Request, principal: Permitted("incident:act"),
             session: DbSession, clock: ClockDep) -> EventRead:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="note")
    ev = service.add_note(session=session, now=clock.now(), principal=principal, incident=inc, text=body.text,
                          attachment=body.attachment)
    return EventRead.model_validate(service.event_dict(ev))


# -- tasks and parts ---------------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/tasks/{task_id}/checklist/{index}", response_model=TaskRead)
def toggle_checklist(incident_id: int, task_id: int, index: int, body: ChecklistBody, request: Request,
                     principal: Permitted("incident:act"), session: DbSession, clock: ClockDep) -> TaskRead:
    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    task = tasks_service.get_task_or_raise(session=session, incident=inc, task_id=task_id)
    set_audit(request, resource_type="incident_task", resource_id=task.id, action="checklist", index=index,
              done=body.done)
    tasks_service.toggle_checklist(session=session, now=now, principal=principal, incident=inc, task=task,
                                   index=index, done=body.done)
    return TaskRead.model_validate(tasks_service.task_dict(task, now))


@router.post("/incidents/{incident_id}/tasks/{task_id}/{verb}", response_model=TaskRead)
def act_on_task(incident_id: int, task_id: int, verb: str, request: Request, principal: Permitted("incident:act"),
                session: DbSession, clock: ClockDep, body: TaskActionBody | None = None) -> TaskRead:
    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    task = tasks_service.get_task_or_raise(session=session, incident=inc, task_id=task_id)
    body = body or TaskActionBody()
    set_audit(request, resource_type="incident_task", resource_id=task.id, action=verb, incident_id=inc.id)
    tasks_service.act_on_task(session=session, now=now, principal=principal, incident=inc, task=task,
                              action=tasks_service.TaskAction(verb, body.note, body.reason))
    return TaskRead.model_validate(tasks_service.task_dict(task, now))


@router.post("/incidents/{incident_id}/parts/{department}/acknowledge", response_model=PartRead)
def acknowledge_part(incident_id: int, department: str, request: Request, principal: Permitted("incident:act"),
                     session: DbSession, clock: ClockDep) -> PartRead:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="acknowledge_part", department=department)
    part = tasks_service.acknowledge_part(session=session, now=clock.now(), principal=principal, incident=inc,
                                          department=department)
    return PartRead.model_validate(tasks_service.part_dict(part, service.department_codes(session=session),
                                                           inc.lead_department_id))


# -- units and dispatch ------------------------------------------------------------------------------


@router.get("/units", response_model=list[UnitRead])
def list_units(_: Permitted("incident:read"), session: DbSession, kind: list[str] = Query([]),
               status_: list[str] = Query([], alias="status"), department: str | None = None) -> list[UnitRead]:
    codes = service.department_codes(session=session)
    return [UnitRead.model_validate(units_service.unit_dict(u, codes))
            for u in units_service.list_units(session=session, kind=kind, status=status_, department=department)]


@router.post("/units", response_model=UnitRead, status_code=status.HTTP_201_CREATED)
def create_unit(body: UnitCreate, request: Request, principal: Permitted("incident:write"), session: DbSession,
                clock: ClockDep) -> UnitRead:
    set_audit(request, resource_type="unit", action="create", key=body.key)
    u = units_service.create(session=session, now=clock.now(), principal=principal, key=body.key, kind=body.kind,
                             lon=body.lon, lat=body.lat, name=body.name, department=body.department,
                             home_lon=body.home_lon, home_lat=body.home_lat)
    set_audit(request, resource_type="unit", resource_id=u.id, action="create", key=u.key)
    return UnitRead.model_validate(units_service.unit_dict(u, service.department_codes(session=session)))


@router.patch("/units/{unit_id}", response_model=UnitRead)
def update_unit(unit_id: int, body: UnitUpdate, request: Request, principal: Permitted("incident:act"),
                session: DbSession, clock: ClockDep) -> UnitRead:
    u = units_service.get_or_raise(session=session, unit_id=unit_id)
    changes = body.model_dump(exclude_unset=True)
    set_audit(request, resource_type="unit", resource_id=u.id, action="update", fields=sorted(changes))
    units_service.update(session=session, now=clock.now(), principal=principal, unit=u, changes=changes)
    return UnitRead.model_validate(units_service.unit_dict(u, service.department_codes(session=session)))


@router.post("/units/{unit_id}/status", response_model=UnitRead)
def unit_status(unit_id: int, body: UnitStatusBody, request: Request, principal: Permitted("incident:act"),
                session: DbSession, clock: ClockDep) -> UnitRead:
    u = units_service.get_or_raise(session=session, unit_id=unit_id)
    set_audit(request, resource_type="unit", resource_id=u.id, action="status", status=body.status)
    units_service.set_status(session=session, now=clock.now(), principal=principal, unit=u, status=body.status,
                             reason=body.reason)
    return UnitRead.model_validate(units_service.unit_dict(u, service.department_codes(session=session)))


@router.get("/incidents/{incident_id}/recommendations", response_model=list[RecommendationRead])
def recommendations(incident_id: int, principal: Permitted("incident:read"), session: DbSession,
                    kinds: list[str] = Query([], description="unit kinds, e.g. fire_engine"),
                    k: int = 3) -> list[RecommendationRead]:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    kinds = [x for part in kinds for x in part.split(",") if x]
    recs = units_service.recommend_units(session=session, incident=inc, kinds=kinds or None, k=k)
    codes = service.department_codes(session=session)
    return [RecommendationRead.model_validate(units_service.recommendation_dict(r, codes)) for r in recs]


@router.post("/incidents/{incident_id}/dispatch", response_model=DispatchRead, status_code=status.HTTP_201_CREATED)
def dispatch(incident_id: int, body: DispatchBody, request: Request, principal: Permitted("incident:act"),
             session: DbSession, clock: ClockDep) -> DispatchRead:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    u = units_service.get_or_raise(session=session, unit_id=body.unit_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="dispatch", unit=u.key)
    d = units_service.dispatch_unit(session=session, now=clock.now(), principal=principal, incident=inc, unit=u,
                                    call_at=body.call_at)
    return DispatchRead.model_validate(units_service.dispatch_dict(d, u))


@router.get("/incidents/{incident_id}/metro-impact")
def metro_impact(incident_id: int, principal: Permitted("incident:read"), session: DbSession,
                 k: int = 2) -> dict[str, Any]:
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    return units_service.metro_impact(incident=inc, k=k)


# -- plans -------------------------------------------------------------------------------------------


def _summary(p: pl.Plan) -> PlanSummary:
    levels = sorted({s.level for s in p.steps}, reverse=True)
    return PlanSummary(key=p.key, version=p.version, incident_type=p.incident_type, name_zh=p.name.zh,
                       name_en=p.name.en, steps=len(p.steps), levels=[lv.roman for lv in levels])


@router.get("/plans", response_model=list[PlanSummary])
def list_plans(_: Permitted("incident:read"), session: DbSession) -> list[PlanSummary]:
    return [_summary(p) for p in tasks_service.list_plans(session=session)]


@router.get("/plans/{key}", response_class=Response, responses={200: {"content": {YAML_TYPE: {}}}})
def export_plan(key: str, _: Permitted("incident:read"), session: DbSession, version: int | None = None) -> Response:
    plan = tasks_service.get_plan(session=session, key=key, version=version)
    return Response(pl.dump_plan(plan), media_type=YAML_TYPE,
                    headers={"Content-Disposition": f'inline; filename="{key}.v{plan.version}.yaml"'})


@router.post("/plans/import", response_model=PlanSummary, status_code=status.HTTP_201_CREATED)
def import_plan(body: PlanImport, request: Request, response: Response, principal: Permitted("incident:write"),
                session: DbSession, clock: ClockDep) -> PlanSummary:
    set_audit(request, resource_type="incident_plan", action="validate" if body.dry_run else "import")
    plan = tasks_service.import_plan(session=session, now=clock.now(), principal=principal, text=body.yaml,
                                     dry_run=body.dry_run)
    if body.dry_run:
        response.status_code = status.HTTP_200_OK
    set_audit(request, resource_type="incident_plan", resource_id=f"{plan.key}@{plan.version}",
              action="validate" if body.dry_run else "import")
    return _summary(plan)


@router.get("/incidents/{incident_id}/report", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}},
                             "description": "the situation report as HTML or PDF"}})
def situation_report(incident_id: int, principal: Permitted("incident:read"), session: DbSession, clock: ClockDep,
                     lang: str = Query("zh-CN", pattern="^(zh-CN|en)$"),
                     format: str = Query("html", pattern="^(html|pdf)$")) -> Response:  # noqa: A002 - the API word
    """The situation report (情况报告): phase times, units' turnout and travel against ETA, tasks against their
    deadlines, and the timeline; as printable HTML or as a PDF rendered on the server."""
    from citybrain.incident.report import situation_document

    now = clock.now()
    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    detail = _detail(session, inc, now).model_dump()
    events = [service.event_dict(e) for e in service.timeline(session=session, incident=inc)]
    doc = situation_document(detail, events, now=now, lang=lang)
    if format == "pdf":
        from citybrain.core.pdf import to_pdf

        return Response(to_pdf(doc), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="incident-{inc.id}-report.pdf"'})
    from citybrain.core.documents import to_html

    return Response(to_html(doc), media_type="text/html; charset=utf-8")


# -- drills ------------------------------------------------------------------------------------------


@router.get("/drills/scenarios")
def drill_scenarios(_: Permitted("incident:read")) -> list[dict[str, Any]]:
    """The shipped drill scenarios (start one with ``POST /drills``)."""
    from citybrain.incident import drills

    return [s.model_dump(mode="json") for s in drills.starter_scenarios().values()]


@router.post("/drills", response_model=IncidentDetail, status_code=status.HTTP_201_CREATED)
def start_drill(request: Request, principal: Permitted("incident:write"), session: DbSession, clock: ClockDep,
                body: dict[str, Any] = Body(..., description='{"scenario": "<key>"} or {"yaml": "<scenario>"}')
                ) -> IncidentDetail:
    """Run a scenario through the live system as an exercise incident (演练)."""
    from citybrain.incident import drills

    if set(body) - {"scenario", "yaml"}:
        raise Invalid("unknown field", errors=[FieldError(f"body.{sorted(set(body) - {'scenario', 'yaml'})[0]}",
                                                          "unknown field")])
    if isinstance(body.get("yaml"), str):
        scenario = drills.parse_scenario(body["yaml"])
    else:
        known = drills.starter_scenarios()
        key = body.get("scenario")
        if key not in known:
            raise Invalid(f"unknown scenario {key!r}",
                          errors=[FieldError("body.scenario", f"one of {', '.join(known)}")])
        scenario = known[key]
    now = clock.now()
    inc = drills.start(session=session, now=now, principal=principal, scenario=scenario)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="drill", scenario=scenario.key)
    return _detail(session, inc, now)


@router.post("/incidents/{incident_id}/after-action")
def after_action(incident_id: int, request: Request, principal: Permitted("incident:act"), session: DbSession,
                 clock: ClockDep) -> dict[str, Any]:
    """A drill's after-action review: every task against its deadline; each gap becomes a corrective task."""
    from citybrain.incident import drills

    inc = service.get_or_raise(session=session, principal=principal, incident_id=incident_id)
    set_audit(request, resource_type="incident", resource_id=inc.id, action="after_action")
    return drills.after_action(session=session, now=clock.now(), principal=principal, incident=inc)
