"""Incidents stored and acted on: plans become tasks, levels add tasks, dedupe links, warnings open incidents,
scope hides, tasks move and escalate, units are recommended and dispatched, the timeline is append-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from citybrain.core.errors import Conflict, Forbidden, Invalid, NotFound
from citybrain.geo.coords import distance_m
from citybrain.incident import flows, service, tasks_service, units_service
from citybrain.incident import plans as pl
from citybrain.incident.models import Incident, IncidentEvent, IncidentLink, IncidentTask, Unit
from citybrain.warning.types import Level
from tests.incident.conftest import PEOPLES_SQUARE, make_warning, officer

LON, LAT = PEOPLES_SQUARE


def north(metres: float) -> tuple[float, float]:
    """A point ``metres`` due north of People's Square."""
    return LON, LAT + metres / 111_194.9


def open_gas(session, clock, **kw):
    kw.setdefault("level", "III")
    return service.create(session=session, now=clock.now(), principal=officer(session, "ops", ("duty_officer",)),
                          incident_type="gas_leak", lon=kw.pop("lon", LON), lat=kw.pop("lat", LAT), **kw)


def kinds(session, inc) -> list[str]:
    return [e.kind for e in service.timeline(session=session, incident=inc)]


def test_creating_instantiates_the_plan_with_absolute_deadlines_and_parts(session, clock):
    opened = open_gas(session, clock)
    inc = opened.incident
    assert opened.created and inc.status == "reported" and inc.level == Level.YELLOW
    plan = pl.starter_plans()["gas_leak"]
    assert (inc.plan_key, inc.plan_version) == (plan.key, plan.version)
    tasks = {t.key: t for t in tasks_service.tasks_of(session=session, incident=inc)}
    assert set(tasks) == {s.key for s in plan.steps_at(Level.YELLOW)}
    assert "evacuate_and_medical" not in tasks and "city_command" not in tasks  # levels II and I only
    for step in plan.steps_at(Level.YELLOW):
        assert tasks[step.key].deadline == inc.reported_at + step.within_td
        assert tasks[step.key].status == "pending" and tasks[step.key].department == step.department
    assert tasks["fire_detect_secure"].deadline == clock.now() + timedelta(minutes=15)
    assert tasks["supplier_shutoff_repair"].role == "enterprise"
    assert all(c["done"] is False for c in tasks["fire_detect_secure"].checklist)
    parts = [service.department_codes(session=session)[p.department_id]
             for p in tasks_service.parts(session=session, incident=inc)]
    assert parts[0] == "fire" and set(parts) == {"fire", "housing", "police", "emergency", "ops"}
    assert inc.participants == ["housing", "police", "emergency", "ops"]
    k = kinds(session, inc)
    assert k[0] == "reported" and k.count("task_created") == len(tasks) and "plan_instantiated" in k


def test_raising_the_level_adds_only_the_higher_levels_tasks(session, clock):
    inc = open_gas(session, clock).incident
    before = {t.key for t in tasks_service.tasks_of(session=session, incident=inc)}
    clock.advance(minutes=10)
    raised_at = clock.now()
    added = service.change_level(session=session, now=raised_at, principal=None, incident=inc, to="II",
                                 reason="second leak")
    assert [t.key for t in added] == ["evacuate_and_medical"]
    assert added[0].deadline == raised_at + timedelta(minutes=30)  # relative_to: level
    assert {t.key for t in tasks_service.tasks_of(session=session, incident=inc)} == before | {"evacuate_and_medical"}
    # lowering and raising back to a level reached before adds nothing; beyond it adds only level I
    service.change_level(session=session, now=clock.now(), principal=None, incident=inc, to="III")
    assert service.change_level(session=session, now=clock.now(), principal=None, incident=inc, to="II") == []
    added = service.change_level(session=session, now=clock.now(), principal=None, incident=inc, to="red")
    assert [t.key for t in added] == ["city_command"]
    assert inc.peak_level == Level.RED
    k = kinds(session, inc)
    assert k.count("plan_tasks_added") == 2 and "level_lowered" in k
    with pytest.raises(Invalid) as exc:
        service.change_level(session=session, now=clock.now(), principal=None, incident=inc, to="purple")
    assert exc.value.errors[0].field == "body.to"


def test_dedupe_links_within_300_m_and_30_min_and_opens_beyond(session, clock):
    first = open_gas(session, clock).incident
    near, far = north(295), north(305)
    assert distance_m(near, PEOPLES_SQUARE) < 300 < distance_m(far, PEOPLES_SQUARE)
    clock.advance(minutes=30)  # the window's edge is inclusive
    linked = open_gas(session, clock, lon=near[0], lat=near[1], description="smell of gas reported again")
    assert not linked.created and linked.incident.id == first.id
    assert kinds(session, first).count("duplicate_report") == 1 and first.last_report_at == clock.now()
    # just beyond the radius: a new incident
    beyond = open_gas(session, clock, lon=far[0], lat=far[1])
    assert beyond.created and beyond.incident.id != first.id
    # the window runs from the latest linked report: 55 min after the first, 25 after the latest, still linked
    clock.advance(minutes=25)
    assert open_gas(session, clock).incident.id == first.id
    clock.advance(minutes=30, seconds=1)  # 30 min + 1 s after the latest: a new incident
    late = open_gas(session, clock, lon=near[0], lat=near[1])
    assert late.created and late.incident.id not in (first.id, beyond.incident.id)
    # another type at the same place, or forced, or an exercise: never linked
    assert service.create(session=session, now=clock.now(), principal=None, incident_type="fire", lon=LON,
                          lat=LAT).created
    assert open_gas(session, clock, force=True).created
    assert open_gas(session, clock, exercise=True).created
    assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 6


def test_from_warning_carries_level_place_and_link_and_dedupes(session, clock):
    w = make_warning(session, clock.now() - timedelta(minutes=2), level=2, labels={"asset": "A-GAS-1"})
    opened = service.create_from_warning(session=session, now=clock.now(), principal=None, warning_id=w.id)
    inc = opened.incident
    assert opened.created and inc.incident_type == "gas_leak" and inc.level == Level.ORANGE
    assert (inc.lon, inc.lat, inc.district_code) == (w.lon, w.lat, "310101")
    assert inc.reported_at == w.starts_at and inc.source == "warning" and inc.title_en == "Methane above limit"
    assert inc.labels["asset"] == "A-GAS-1" and inc.labels["warning_rule"] == "gas-methane-high"
    assert [(x.kind, x.ref_id) for x in service.links(session=session, incident=inc)] == [("warning", str(w.id))]
    # at II the plan's level-II task is there from the start
    assert "evacuate_and_medical" in {t.key for t in tasks_service.tasks_of(session=session, incident=inc)}
    w2 = make_warning(session, clock.now(), rule="gas-cluster", level=3, lon=north(100)[0], lat=north(100)[1])
    again = service.create_from_warning(session=session, now=clock.now(), principal=None, warning_id=w2.id)
    assert not again.created and again.incident.id == inc.id
    assert sorted(x.ref_id for x in service.links(session=session, incident=inc)) == sorted([str(w.id), str(w2.id)])
    # a warning that points to no incident, or one the caller cannot see
    nodata = make_warning(session, clock.now(), rule="sensor-no-data", fingerprint="nodata")
    with pytest.raises(Conflict):
        service.create_from_warning(session=session, now=clock.now(), principal=None, warning_id=nodata.id)
    with pytest.raises(NotFound):
        service.create_from_warning(session=session, now=clock.now(), principal=officer(session, "police"),
                                    warning_id=w.id)


def test_scope_hides_an_emergency_led_incident_from_police(session, clock):
    inc = service.create(session=session, now=clock.now(), principal=None, incident_type="structural_danger",
                         lon=LON, lat=LAT, lead_department="emergency", participants=["housing"]).incident
    police, housing, emergency = officer(session, "police"), officer(session, "housing"), officer(session, "emergency")
    with pytest.raises(NotFound):
        service.get_or_raise(session=session, principal=police, incident_id=inc.id)
    assert service.list_incidents(session=session, principal=police)[1] == 0
    for p in (housing, emergency, officer(session, "ops")):
        assert service.get_or_raise(session=session, principal=p, incident_id=inc.id).id == inc.id
    assert service.list_incidents(session=session, principal=housing)[1] == 1


def test_task_transitions_block_with_reason_and_the_assigned_department_only(session, clock):
    inc = open_gas(session, clock).incident
    task = next(t for t in tasks_service.tasks_of(session=session, incident=inc) if t.key == "fire_detect_secure")
    fire, police = officer(session, "fire"), officer(session, "police")

    def act(verb, who=fire, **kw):
        return tasks_service.act_on_task(session=session, now=clock.now(), principal=who, incident=inc, task=task,
                                         action=tasks_service.TaskAction(verb, **kw))

    with pytest.raises(Forbidden):
        act("accept", police)
    with pytest.raises(Conflict, match="accepted before"):
        act("complete")
    act("accept")
    with pytest.raises(Conflict, match="needs a reason"):
        act("block", reason="  ")
    clock.advance(minutes=2)
    act("block", reason="road closed by flooding")
    assert (task.status, task.blocked_reason) == ("blocked", "road closed by flooding")
    with pytest.raises(Conflict, match="unblock it first"):
        act("complete")
    act("unblock")
    assert task.status == "accepted" and task.blocked_reason is None
    act("start")
    tasks_service.toggle_checklist(session=session, now=clock.now(), principal=fire, incident=inc, task=task,
                                   index=0, done=True)
    assert task.checklist[0]["done"] is True and task.checklist[0]["done_by"] == "officer-fire"
    act("complete", note="zone set at 50 m")
    assert task.status == "done" and task.done_at == clock.now()
    k = kinds(session, inc)
    assert [x for x in k if x.startswith("task_") and x != "task_created"] == [
        "task_accepted", "task_blocked", "task_unblocked", "task_started", "task_checklist", "task_done"]
    # a task assigned to a role (the gas company) is acted on for it by the lead department, not by others
    role_task = next(t for t in tasks_service.tasks_of(session=session, incident=inc) if t.role == "enterprise")
    with pytest.raises(Forbidden):
        tasks_service.act_on_task(session=session, now=clock.now(), principal=police, incident=inc, task=role_task,
                                  action=tasks_service.TaskAction("accept"))
    tasks_service.act_on_task(session=session, now=clock.now(), principal=fire, incident=inc, task=role_task,
                              action=tasks_service.TaskAction("accept"))
    # acknowledging a part: own department only, once
    with pytest.raises(Forbidden):
        tasks_service.acknowledge_part(session=session, now=clock.now(), principal=police, incident=inc,
                                       department="fire")
    part = tasks_service.acknowledge_part(session=session, now=clock.now(), principal=fire, incident=inc,
                                          department="fire")
    assert part.acknowledged_by == "officer-fire"
    with pytest.raises(NotFound):
        tasks_service.acknowledge_part(session=session, now=clock.now(), principal=officer(session, "ops"),
                                       incident=inc, department="water")


def test_overdue_tasks_escalate_step_by_step(session, clock):
    inc = open_gas(session, clock).incident
    tasks = {t.key: t for t in tasks_service.tasks_of(session=session, incident=inc)}
    done = tasks["police_cordon"]
    for verb in ("accept", "complete"):
        tasks_service.act_on_task(session=session, now=clock.now(), principal=officer(session, "police"),
                                  incident=inc, task=done, action=tasks_service.TaskAction(verb))
    clock.advance(minutes=15)
    assert tasks_service.escalate_overdue_tasks(session=session, now=clock.now()) == []  # due, not yet overdue
    clock.advance(seconds=1)
    got = tasks_service.escalate_overdue_tasks(session=session, now=clock.now())
    assert [(t.key, s.notify) for t, s in got] == [("fire_detect_secure", "assignee")]
    assert tasks_service.escalate_overdue_tasks(session=session, now=clock.now()) == []  # one step per due time
    clock.advance(minutes=15)
    got = tasks_service.escalate_overdue_tasks(session=session, now=clock.now())
    assert {(t.key, s.step) for t, s in got} == {("fire_detect_secure", 2), ("ops_report", 1),
                                                ("supplier_shutoff_repair", 1)}
    assert tasks["fire_detect_secure"].escalation_step == 2 and done.escalation_step == 0
    ev = [e for e in service.timeline(session=session, incident=inc) if e.kind == "task_escalated"]
    assert {(e.detail["key"], e.detail["notify"]) for e in ev} >= {("fire_detect_secure", "assignee"),
                                                                  ("fire_detect_secure", "lead_department")}
    assert all(e.task_id is not None and e.detail["overdue_s"] > 0 for e in ev)


def test_closing_with_open_tasks_needs_an_override_and_a_reason(session, clock):
    inc = open_gas(session, clock).incident
    ops = officer(session, "ops", ("duty_officer",))

    def move(event, **kw):
        return service.transition(session=session, now=clock.now(), principal=ops, incident=inc, event=event, **kw)

    with pytest.raises(Conflict, match="contain it first"):
        move("close")
    with pytest.raises(Forbidden):  # a participating department does not command the incident
        service.transition(session=session, now=clock.now(), principal=officer(session, "police"), incident=inc,
                           event="verify")
    service.transition(session=session, now=clock.now(), principal=officer(session, "fire"), incident=inc,
                       event="verify")  # the lead department does
    move("respond")
    move("contain")
    with pytest.raises(Conflict, match="still open"):
        move("close")
    with pytest.raises(Conflict, match="still open"):
        move("close", override=True)
    n = tasks_service.open_task_count(session=session, incident=inc)
    move("close", override=True, reason="handed over to the gas company")
    assert inc.status == "closed" and inc.closed_at == clock.now()
    assert tasks_service.open_task_count(session=session, incident=inc) == 0
    closed = [e for e in service.timeline(session=session, incident=inc) if e.kind == "closed"][0]
    assert closed.detail == {"reason": "handed over to the gas company", "override": True, "open_tasks": n}
    assert kinds(session, inc).count("task_cancelled") == n
    move("review", summary="response within plan times")
    assert inc.status == "reviewed" and inc.review_summary == "response within plan times"
    with pytest.raises(Invalid):
        move("explode")


def test_the_timeline_is_append_only(session, clock, database):
    inc = open_gas(session, clock).incident
    service.add_note(session=session, now=clock.now(), principal=None, incident=inc, text="crew on the way")
    session.commit()
    with pytest.raises(sa.exc.DBAPIError), database.engine.begin() as conn:
        conn.execute(sa.update(IncidentEvent).values(kind="forged"))
    with pytest.raises(sa.exc.DBAPIError), database.engine.begin() as conn:
        conn.execute(sa.delete(IncidentEvent))
    with database.session() as s:
        assert "note" in [e.kind for e in s.scalars(sa.select(IncidentEvent))]


def test_dispatch_recommends_the_nearest_by_travel_time_and_records_times_in_order(session, clock):
    assert units_service.seed_demo_units(session=session, now=clock.now()) == 30
    assert units_service.seed_demo_units(session=session, now=clock.now()) == 0
    inc = open_gas(session, clock).incident
    recs = units_service.recommend_units(session=session, incident=inc, kinds=["fire_engine"], k=3)
    assert len(recs) == 3 and all(r.unit.kind == "fire_engine" for r in recs)
    assert [r.eta_s for r in recs] == sorted(r.eta_s for r in recs)
    router = units_service.router()
    truth = sorted((router.travel_time_s((u.lon, u.lat), (inc.lon, inc.lat)), u.key)
                   for u in session.scalars(sa.select(Unit).where(Unit.kind == "fire_engine")))
    assert recs[0].eta_s == pytest.approx(truth[0][0]) and recs[0].unit.key == truth[0][1]
    assert recs[0].route.geometry[-1] == (inc.lon, inc.lat)
    unit = recs[0].unit
    fire = officer(session, "fire")
    with pytest.raises(Forbidden):
        units_service.dispatch_unit(session=session, now=clock.now(), principal=officer(session, "police"),
                                    incident=inc, unit=unit)
    clock.advance(seconds=40)
    d = units_service.dispatch_unit(session=session, now=clock.now(), principal=fire, incident=inc, unit=unit)
    assert unit.status == "dispatched" and unit.incident_id == inc.id and d.eta_s == pytest.approx(recs[0].eta_s)
    with pytest.raises(Conflict):  # not available any more
        units_service.dispatch_unit(session=session, now=clock.now(), principal=fire, incident=inc, unit=unit)
    assert unit.key not in [r.unit.key for r in units_service.recommend_units(session=session, incident=inc,
                                                                              kinds=["fire_engine"], k=3)]
    for step, wait in (("en_route", 60), ("on_scene", 300), ("cleared", 1800), ("available", 600)):
        clock.advance(seconds=wait)
        units_service.set_status(session=session, now=clock.now(), principal=fire, unit=unit, status=step)
    assert d.call_at == inc.reported_at
    assert d.call_at < d.dispatched_at < d.en_route_at < d.on_scene_at < d.cleared_at
    assert unit.status == "available" and unit.incident_id is None and (unit.lon, unit.lat) == (unit.home_lon,
                                                                                                  unit.home_lat)
    ev = {e.kind: e.detail for e in service.timeline(session=session, incident=inc) if e.kind.startswith("unit_")}
    assert list(ev) == ["unit_dispatched", "unit_en_route", "unit_on_scene", "unit_cleared", "unit_available"]
    assert ev["unit_on_scene"]["response_s"] == (d.on_scene_at - d.call_at).total_seconds()
    with pytest.raises(Invalid) as exc:
        units_service.create(session=session, now=clock.now(), principal=None, key="FE-X", kind="fire_engine",
                             lon=121.60, lat=31.30)
    assert {e.field for e in exc.value.errors} == {"body.lon", "body.lat"}


def test_metro_impact_for_a_real_station(session, clock):
    inc = service.create(session=session, now=clock.now(), principal=None, incident_type="metro_disruption",
                         lon=LON, lat=LAT, labels={"station": "People's Square"}).incident
    got = units_service.metro_impact(incident=inc, k=2)
    assert got["lines"] == ["Line 1", "Line 2", "Line 8"]
    assert [s["name_en"] for s in got["stations"]] == ["People's Square"]
    assert len(got["by_hop"]["0"]) == 1 and got["by_hop"]["1"] and got["by_hop"]["2"]
    assert got["alternatives"] and all(a["minutes"] is None or a["extra_minutes"] >= 0 for a in got["alternatives"])
    assert all("People's Square" not in a["path"] for a in got["alternatives"])
    # without labels a metro incident falls back to the nearest station; a fire is no metro incident
    bare = service.create(session=session, now=clock.now(), principal=None, incident_type="metro_disruption",
                          lon=LON, lat=LAT, force=True).incident
    assert units_service.metro_impact(incident=bare, k=1)["stations"]
    fire = service.create(session=session, now=clock.now(), principal=None, incident_type="fire", lon=LON,
                          lat=LAT).incident
    with pytest.raises(Conflict, match="not a metro incident"):
        units_service.metro_impact(incident=fire)


def test_auto_incident_from_a_red_warning_once(session, clock):
    red = make_warning(session, clock.now(), level=1, annotations={"auto_incident": "red"})
    opened = flows.auto_incident_from_warning(session, red, clock.now())
    assert opened is not None and opened.created and opened.incident.source == "warning"
    assert flows.auto_incident_from_warning(session, red, clock.now()) is None  # already linked
    yellow = make_warning(session, clock.now(), level=3, annotations={"auto_incident": "red"}, fingerprint="y")
    assert flows.auto_incident_from_warning(session, yellow, clock.now()) is None
    plain = make_warning(session, clock.now(), level=1, fingerprint="plain")
    assert flows.auto_incident_from_warning(session, plain, clock.now()) is None
    odd = make_warning(session, clock.now(), rule="sensor-no-data", level=1, annotations={"auto_incident": "red"},
                       fingerprint="odd")
    assert flows.auto_incident_from_warning(session, odd, clock.now()) is None  # logged, never raised
    assert session.scalar(sa.select(sa.func.count()).select_from(IncidentLink)) == 1


def test_an_imported_plan_version_is_used_for_new_incidents(session, clock):
    plan = pl.starter_plans()["fire"]
    v2 = plan.model_copy(update={"version": plan.version + 1, "steps": plan.steps[:1]})
    text = pl.dump_plan(v2)
    with pytest.raises(Invalid) as exc:
        tasks_service.import_plan(session=session, now=clock.now(), principal=None,
                                  text=text.replace("within: ", "within: soon", 1))
    assert "line" in exc.value.errors[0].message and exc.value.errors[0].field.startswith("body.yaml.steps[0]")
    tasks_service.import_plan(session=session, now=clock.now(), principal=None, text=text, dry_run=True)
    assert tasks_service.plan_for_type(session=session, incident_type="fire").version == plan.version
    tasks_service.import_plan(session=session, now=clock.now(), principal=None, text=text)
    with pytest.raises(Conflict):
        tasks_service.import_plan(session=session, now=clock.now(), principal=None, text=text)
    inc = service.create(session=session, now=clock.now(), principal=None, incident_type="fire", lon=LON,
                         lat=LAT).incident
    assert inc.plan_version == plan.version + 1
    assert [t.key for t in session.scalars(sa.select(IncidentTask).where(IncidentTask.incident_id == inc.id))] == [
        plan.steps[0].key]


def test_a_duplicate_report_comes_after_what_was_recorded_before_it_and_links_each_ref_once(session, clock):
    inc = open_gas(session, clock).incident
    service.record(session, inc, "note", clock.now(), "duty", {"text": "a neighbour smells gas"})  # not flushed
    again = open_gas(session, clock, link_refs=[("report", 7), ("report", 7), ("hazard", 3)])
    assert not again.created and again.incident is inc
    assert kinds(session, inc)[-4:] == ["note", "duplicate_report", "linked", "linked"]
    assert [(x.kind, x.ref_id) for x in service.links(session=session, incident=inc)] == [("report", "7"),
                                                                                          ("hazard", "3")]
    fresh = open_gas(session, clock, force=True, link_refs=[("report", 8), ("report", 8)]).incident
    assert kinds(session, fresh)[-2:] == ["plan_instantiated", "linked"]
    assert [(x.kind, x.ref_id) for x in service.links(session=session, incident=fresh)] == [("report", "8")]
    count = session.scalar(sa.select(sa.func.count()).select_from(Incident))
    with pytest.raises(Invalid, match="unknown link kind"):
        open_gas(session, clock, force=True, link_refs=[("report", 9), ("tweet", 1)])
    with pytest.raises(Invalid, match="unknown link kind"):
        open_gas(session, clock, link_refs=[("tweet", 1)])  # a duplicate of the first: refused all the same
    assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == count
    assert kinds(session, inc)[-1] == "linked"
