"""The incident API end to end: open, dedupe, scope, move, tasks, units and dispatch, plans, metro, audit."""

from __future__ import annotations

import sqlalchemy as sa
import yaml

from citybrain.auth.audit.models import AuditEntry
from citybrain.incident import units_service
from tests.incident.conftest import API, PEOPLES_SQUARE, make_warning

LON, LAT = PEOPLES_SQUARE
GAS = {"incident_type": "gas_leak", "level": "III", "lon": LON, "lat": LAT, "title_en": "Gas smell at the square"}


def problem(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in r.json().get("errors", [])}


def audited(database, resource_type: str) -> list[tuple[str | None, str]]:
    with database.session() as s:
        rows = s.execute(sa.select(AuditEntry.detail, AuditEntry.outcome)
                         .where(AuditEntry.resource_type == resource_type).order_by(AuditEntry.id)).all()
    return [(d.get("action"), outcome) for d, outcome in rows]


def test_open_read_dedupe_and_move_an_incident(iadmin, database, clock):
    r = iadmin.post(f"{API}/incidents", json=GAS)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert (inc["status"], inc["level"], inc["lead_department"], inc["deduplicated"]) == (
        "reported", "yellow", "fire", False)
    assert inc["plan_key"] == "gas_leak.standard" and len(inc["tasks"]) == 6
    assert inc["parts"][0] == {"department": "fire", "lead": True, "acknowledged_at": None, "acknowledged_by": None}
    # the same report 100 m away is linked, not duplicated
    r = iadmin.post(f"{API}/incidents", json={**GAS, "lat": LAT + 0.0009, "links": [{"kind": "report",
                                                                                     "ref_id": "R-17"}]})
    assert r.status_code == 200 and r.json()["id"] == inc["id"] and r.json()["deduplicated"] is True
    assert r.json()["links"][0]["ref_id"] == "R-17"
    listed = iadmin.get(f"{API}/incidents", params={"open": "true", "type": "gas_leak"}).json()
    assert listed["total"] == 1
    for event in ("verify", "respond", "contain"):
        r = iadmin.post(f"{API}/incidents/{inc['id']}/transition", json={"event": event})
        assert r.status_code == 200, r.text
    r = iadmin.post(f"{API}/incidents/{inc['id']}/transition", json={"event": "close"})
    assert r.status_code == 409 and "still open" in r.json()["detail"]
    r = iadmin.post(f"{API}/incidents/{inc['id']}/transition",
                    json={"event": "close", "override": True, "reason": "handed to gas company"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert all(t["status"] == "cancelled" for t in r.json()["tasks"])
    r = iadmin.post(f"{API}/incidents/{inc['id']}/notes", json={"text": "review on Monday"})
    assert r.status_code == 201 and r.json()["kind"] == "note"
    timeline = iadmin.get(f"{API}/incidents/{inc['id']}/timeline").json()
    kinds = [e["kind"] for e in timeline]
    assert kinds[0] == "reported" and "duplicate_report" in kinds and kinds[-1] == "note"
    assert [k for k in kinds if k in ("verified", "responding", "contained", "closed")] == [
        "verified", "responding", "contained", "closed"]
    actions = [a for a, _ in audited(database, "incident")]
    assert actions == ["create", "link_duplicate", "verify", "respond", "contain", "close", "close", "note"]
    outcomes = [o for _, o in audited(database, "incident")]
    assert outcomes[5] != "ok" and outcomes[6] == "ok"  # the refused close is recorded too


def test_bad_input_names_the_field(iadmin):
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "lon": 500}), 422) == {"body.lon"}
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "colour": "red"}), 422) == {"body.colour"}
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "incident_type": "alien"}), 422) == {
        "body.incident_type"}
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "level": "V"}), 422) == {"body.level"}
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}  # self-crossing
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "area": square}), 422) == {"body.area"}
    assert problem(iadmin.post(f"{API}/incidents", json={**GAS, "participants": ["nobody"]}), 422) == {
        "body.participants[0]"}
    inc = iadmin.post(f"{API}/incidents", json=GAS).json()
    assert problem(iadmin.post(f"{API}/incidents/{inc['id']}/transition", json={"event": "explode"}), 422) == {
        "body.event"}
    assert problem(iadmin.post(f"{API}/incidents/{inc['id']}/level", json={"to": "purple"}), 422) == {"body.to"}
    assert problem(iadmin.get(f"{API}/incidents", params={"level": "V"}), 422) == {"query.level[0]"}
    assert problem(iadmin.get(f"{API}/incidents/{inc['id']}/recommendations", params={"kinds": "tank"}), 422) == {
        "query.kinds[0]"}
    assert problem(iadmin.post(f"{API}/units", json={"key": "FE-X", "kind": "fire_engine", "lon": 121.6,
                                                     "lat": 31.3}), 422) == {"body.lon", "body.lat"}
    assert problem(iadmin.post(f"{API}/incidents/{inc['id']}/notes", json={"text": ""}), 422) == {"body.text"}
    assert problem(iadmin.get(f"{API}/incidents/99999"), 404) == set()


def test_scope_a_police_officer_cannot_see_an_emergency_led_incident(iadmin, users, database):
    inc = iadmin.post(f"{API}/incidents", json={"incident_type": "structural_danger", "lon": LON, "lat": LAT,
                                                "lead_department": "emergency", "participants": ["housing"]}).json()
    police = users.login("pc1", department="police")
    housing = users.login("hs1", department="housing")
    assert police.get(f"{API}/incidents/{inc['id']}").status_code == 404
    assert police.get(f"{API}/incidents/{inc['id']}/timeline").status_code == 404
    assert police.post(f"{API}/incidents/{inc['id']}/notes", json={"text": "x"}).status_code == 404
    assert police.get(f"{API}/incidents").json()["total"] == 0
    assert housing.get(f"{API}/incidents/{inc['id']}").status_code == 200
    r = housing.post(f"{API}/incidents/{inc['id']}/parts/housing/acknowledge")
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "hs1"
    assert housing.post(f"{API}/incidents/{inc['id']}/parts/emergency/acknowledge").status_code == 403
    viewer = users.login("v1", roles=("viewer",), department="housing")
    assert viewer.post(f"{API}/incidents/{inc['id']}/notes", json={"text": "x"}).status_code == 403


def test_tasks_through_the_api(iadmin, users, database):
    inc = iadmin.post(f"{API}/incidents", json=GAS).json()
    task = next(t for t in inc["tasks"] if t["key"] == "police_cordon")
    base = f"{API}/incidents/{inc['id']}/tasks/{task['id']}"
    fire = users.login("fe1", department="fire")
    police = users.login("pc2", department="police")
    r = fire.post(f"{base}/accept")
    assert r.status_code == 403 and "police" in r.json()["detail"]
    assert police.post(f"{base}/accept").json()["status"] == "accepted"
    r = police.post(f"{base}/block", json={"reason": ""})
    assert r.status_code == 409 and "reason" in r.json()["detail"]
    r = police.post(f"{base}/block", json={"reason": "crowd at the cordon"})
    assert r.json()["status"] == "blocked" and r.json()["blocked_reason"] == "crowd at the cordon"
    assert police.post(f"{base}/unblock").json()["status"] == "accepted"
    assert police.post(f"{base}/checklist/1", json={"done": True}).json()["checklist"][1]["done"] is True
    assert police.post(f"{base}/start").json()["status"] == "in_progress"
    assert police.post(f"{base}/complete", json={"note": "cordon up"}).json()["status"] == "done"
    assert police.post(f"{base}/fly").status_code == 404
    assert police.post(f"{base}/checklist/9", json={"done": True}).status_code == 409  # done: no more changes
    actions = [a for a, _ in audited(database, "incident_task")]
    assert actions == ["accept", "accept", "block", "block", "unblock", "checklist", "start", "complete", "fly",
                       "checklist"]


def test_raise_level_from_warning_and_metro_through_the_api(iadmin, session, clock):
    w = make_warning(session, clock.now(), level=3)
    session.commit()
    r = iadmin.post(f"{API}/incidents/from-warning/{w.id}")
    assert r.status_code == 201, r.text
    inc = r.json()
    assert (inc["level"], inc["source"], inc["links"][0]["ref_id"]) == ("yellow", "warning", str(w.id))
    assert iadmin.post(f"{API}/incidents/from-warning/{w.id}").status_code == 200  # linked, not duplicated
    r = iadmin.post(f"{API}/incidents/{inc['id']}/level", json={"to": "II", "reason": "injuries"})
    assert r.status_code == 200 and r.json()["level"] == "orange"
    assert "evacuate_and_medical" in [t["key"] for t in r.json()["tasks"]]
    metro = iadmin.post(f"{API}/incidents", json={"incident_type": "metro_disruption", "lon": LON, "lat": LAT,
                                                  "labels": {"station": "People's Square"}}).json()
    r = iadmin.get(f"{API}/incidents/{metro['id']}/metro-impact", params={"k": 2})
    assert r.status_code == 200 and r.json()["lines"] == ["Line 1", "Line 2", "Line 8"]
    assert set(r.json()["by_hop"]) == {"0", "1", "2"} and r.json()["alternatives"]
    assert iadmin.get(f"{API}/incidents/{inc['id']}/metro-impact").status_code == 409


def test_units_recommend_dispatch_and_status(iadmin, database, clock):
    with database.session() as s:
        units_service.seed_demo_units(session=s, now=clock.now())
        s.commit()
    assert len(iadmin.get(f"{API}/units", params={"kind": "fire_engine"}).json()) == 12
    inc = iadmin.post(f"{API}/incidents", json=GAS).json()
    recs = iadmin.get(f"{API}/incidents/{inc['id']}/recommendations", params={"kinds": "fire_engine", "k": 3}).json()
    assert len(recs) == 3 and [r["eta_s"] for r in recs] == sorted(r["eta_s"] for r in recs)
    assert recs[0]["route"]["type"] == "LineString" and recs[0]["route"]["coordinates"][-1] == [LON, LAT]
    unit = recs[0]["unit"]
    r = iadmin.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_id": unit["id"]})
    assert r.status_code == 201 and r.json()["status"] == "dispatched" and r.json()["eta_s"] > 0
    assert iadmin.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_id": unit["id"]}).status_code == 409
    clock.advance(minutes=1)
    assert iadmin.post(f"{API}/units/{unit['id']}/status", json={"status": "en_route"}).json()["status"] == "en_route"
    clock.advance(minutes=5)
    assert iadmin.post(f"{API}/units/{unit['id']}/status", json={"status": "on_scene"}).json()["status"] == "on_scene"
    assert iadmin.post(f"{API}/units/{unit['id']}/status", json={"status": "en_route"}).status_code == 409
    assert problem(iadmin.post(f"{API}/units/{unit['id']}/status", json={"status": "flying"}), 422) == {
        "body.status"}
    d = iadmin.get(f"{API}/incidents/{inc['id']}").json()["units"][0]
    assert d["dispatched_at"] < d["en_route_at"] < d["on_scene_at"] and d["cleared_at"] is None
    report = iadmin.get(f"{API}/incidents/{inc['id']}/report", params={"lang": "en"})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert unit["key"] in report.text and "6 min 0 s" in report.text  # dispatch → on scene, as measured
    assert "情况报告" in iadmin.get(f"{API}/incidents/{inc['id']}/report").text
    r = iadmin.post(f"{API}/units", json={"key": "FE-99", "kind": "fire_engine", "lon": 121.4750, "lat": 31.2310})
    assert r.status_code == 201 and r.json()["department"] == "fire"
    clock.advance(seconds=30)
    r = iadmin.patch(f"{API}/units/{r.json()['id']}", json={"lon": 121.4760})
    assert r.status_code == 200 and r.json()["lon"] == 121.4760
    assert r.json()["position_at"] == clock.now().isoformat().replace("+00:00", "Z")  # the AVL report's time
    assert audited(database, "unit") == [("status", "ok"), ("status", "ok"), ("status", "conflict"), ("create", "ok"),
                                         ("update", "ok")]


def test_plans_export_and_import(iadmin, users, database):
    plans = iadmin.get(f"{API}/plans").json()
    assert "gas_leak.standard" in [p["key"] for p in plans]
    r = iadmin.get(f"{API}/plans/gas_leak.standard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    doc = yaml.safe_load(r.text)
    assert doc["key"] == "gas_leak.standard"
    doc["version"] += 1
    doc["steps"][0]["within"] = "soon"
    r = iadmin.post(f"{API}/plans/import", json={"yaml": yaml.safe_dump(doc, allow_unicode=True)})
    fields = problem(r, 422)
    assert fields == {"body.yaml.steps[0].within"}
    p = r.json()["problems"][0]
    assert p["line"] and p["column"] and "duration" in p["message"]
    doc["steps"][0]["within"] = "10m"
    text = yaml.safe_dump(doc, allow_unicode=True)
    r = iadmin.post(f"{API}/plans/import", json={"yaml": text, "dry_run": True})
    assert r.status_code == 200 and r.json()["version"] == doc["version"]
    assert iadmin.post(f"{API}/plans/import", json={"yaml": text}).status_code == 201
    assert iadmin.post(f"{API}/plans/import", json={"yaml": text}).status_code == 409
    assert iadmin.get(f"{API}/plans/gas_leak.standard").text.count("within: 10m") == 1
    dispatcher = users.login("d1", department="fire")
    assert dispatcher.post(f"{API}/plans/import", json={"yaml": text}).status_code == 403
    assert [a for a, _ in audited(database, "incident_plan")] == ["import", "validate", "import", "import"]
