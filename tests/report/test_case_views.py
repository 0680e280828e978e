"""Cases over HTTP: the board and the workflow with roles, the routing table, onward to incident and hazard,
metrics, and the citizen's rating and reopening (public, rate-limited); every write audited."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth.audit.models import AuditEntry
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.report import abuse
from citybrain.report import case_service as svc
from citybrain.report.models import CitizenReport

PEOPLES_SQUARE = (121.4737, 31.2304)


def stored_report(database: Database, clock: ManualClock, *, service_code: str = "manhole_missing",
                  district: str = "310101") -> tuple[int, str]:
    """A report stored and handed to cases as the report core does; returns (id, tracking code)."""
    with database.session() as s:
        svc.seed(session=s, now=clock.now())
        token = secrets.token_hex(8)
        r = CitizenReport(service_request_id=f"SR-V-{token}", token=token, tracking_code=secrets.token_urlsafe(12),
                          service_code=service_code, description="窨井盖缺失", lon=PEOPLES_SQUARE[0],
                          lat=PEOPLES_SQUARE[1], district_code=district, client_key="test", case_status="submitted",
                          public_reply="", me_too_count=0, reopen_count=0, dispatch_count=0,
                          requested_at=clock.now(), updated_at=clock.now())
        s.add(r)
        s.flush()
        svc.on_submitted(session=s, report=r, now=clock.now())
        return r.id, r.tracking_code


def audited(database: Database, path_part: str) -> list[AuditEntry]:
    """Audit entries of writes whose path contains ``path_part`` (the action is "METHOD /path")."""
    with database.session() as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action.like(f"%{path_part}%"))))


def test_workflow_over_http_with_roles_and_the_citizen(users: Any, database: Database, clock: ManualClock,
                                                       client: TestClient) -> None:
    rid, code = stored_report(database, clock)
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    urban = users.login("urban1", roles=("dispatcher",), department="urban")
    police = users.login("police1", roles=("dispatcher",), department="police")

    board = ops.get("/api/v1/cases", params={"case_status": "dispatched"}).json()
    assert [c["id"] for c in board["items"]] == [rid] and board["items"][0]["department"] == "urban"
    assert police.get("/api/v1/cases").json()["total"] == 0
    assert police.get(f"/api/v1/cases/{rid}").status_code == 404
    assert police.post(f"/api/v1/cases/{rid}/accept").status_code == 404  # out of scope: not found

    assert ops.post(f"/api/v1/cases/{rid}/accept").status_code == 403  # ops is not the assigned department
    assert urban.post(f"/api/v1/cases/{rid}/accept", json={"note": "on it"}).json()["case_status"] == "handling"
    r = urban.post(f"/api/v1/cases/{rid}/respond", json={"reply": "已补装 / replaced", "note": "crew 2"})
    assert r.status_code == 200 and r.json()["public_reply"] == "已补装 / replaced"
    assert urban.post(f"/api/v1/cases/{rid}/respond", json={"reply": "again"}).status_code == 409
    assert urban.post(f"/api/v1/cases/{rid}/check", json={"passed": True}).status_code == 403  # the handler
    bad = ops.post(f"/api/v1/cases/{rid}/check", json={"passed": False})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.reason"
    inspector = users.login("grid1", roles=("inspector",), department="urban")  # no report:act, yet a checker
    assert inspector.post(f"/api/v1/cases/{rid}/check", json={"passed": True}).json()["case_status"] == "checking"
    closed = ops.post(f"/api/v1/cases/{rid}/close").json()
    assert closed["case_status"] == "closed" and closed["on_time"] is True

    track = client.get(f"/api/v1/public/track/{code}").json()
    assert track["public_reply"] == "已补装 / replaced" and track["can_rate"]
    assert "crew 2" not in str(track["events"])  # the internal note stays internal
    bad = client.post(f"/api/v1/public/track/{code}/rating", json={"rating": 9})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.rating"
    rated = client.post(f"/api/v1/public/track/{code}/rating", json={"rating": 5, "comment": "很快"})
    assert rated.status_code == 200 and rated.json()["rating"] == 5 and not rated.json()["can_rate"]
    assert client.post(f"/api/v1/public/track/{code}/rating", json={"rating": 4}).status_code == 409
    clock.advance(days=2)
    reopened = client.post(f"/api/v1/public/track/{code}/reopen", json={"reason": "又松了 / loose again"})
    assert reopened.status_code == 200 and reopened.json()["case_status"] == "dispatched"
    assert client.post("/api/v1/public/track/nope/reopen", json={"reason": "x"}).status_code == 404
    accepts = audited(database, "/accept")
    assert {(a.resource_type, a.resource_id) for a in accepts} == {("report", str(rid))}
    assert {a.detail.get("action") for a in accepts} == {"case_accept"}
    assert audited(database, "/rating") and audited(database, "/reopen")


def test_reject_and_redispatch_by_ops(users: Any, database: Database, clock: ManualClock) -> None:
    rid, _ = stored_report(database, clock, service_code="other")
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    moved = ops.post(f"/api/v1/cases/{rid}/dispatch", json={"department": "urban", "note": "市容"})
    assert moved.status_code == 200 and (moved.json()["department"], moved.json()["dispatch_count"]) == ("urban", 2)
    bad = ops.post(f"/api/v1/cases/{rid}/dispatch", json={"department": "nowhere"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.department"
    assert ops.post(f"/api/v1/cases/{rid}/reject", json={}).status_code == 422
    rejected = ops.post(f"/api/v1/cases/{rid}/reject", json={"reason": "非安全隐患 / not a safety matter"})
    assert rejected.json()["case_status"] == "rejected"


def test_routing_table_and_time_limits(users: Any, database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        svc.seed(session=s, now=clock.now())
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    urban = users.login("urban1", roles=("dispatcher",), department="urban")
    routes = urban.get("/api/v1/case-routes").json()
    assert {r["service_code"]: r["department"] for r in routes}["gas_smell"] == "emergency"
    new = [{"service_code": "gas_smell", "department": "fire"}, {"service_code": "*", "department": "ops"}]
    assert urban.put("/api/v1/case-routes", json=new).status_code == 403  # report:write only
    bad = ops.put("/api/v1/case-routes", json=[{"service_code": "gas_smell", "department": "fire", "x": 1}])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("x")
    put = ops.put("/api/v1/case-routes", json=new)
    assert put.status_code == 200 and [(r["service_code"], r["department"]) for r in put.json()] == [
        ("*", "ops"), ("gas_smell", "fire")]
    limits = ops.put("/api/v1/case-time-limits", json=[{"service_code": "gas_smell", "hours": 1}]).json()
    assert next(x for x in limits if x["service_code"] == "gas_smell")["hours"] == 1
    bad = ops.put("/api/v1/case-time-limits", json=[{"service_code": "nope", "hours": 1}])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body[0].service_code"
    assert "case_route" in {a.resource_type for a in audited(database, "/case-routes")}


def test_to_incident_and_to_hazard_over_http(users: Any, database: Database, clock: ManualClock) -> None:
    gas, _ = stored_report(database, clock, service_code="gas_smell")
    manhole, _ = stored_report(database, clock)
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    viewer = users.login("viewer1", roles=("viewer",), department="ops")
    assert viewer.post(f"/api/v1/reports/{gas}/to-incident").status_code == 403
    r = ops.post(f"/api/v1/reports/{gas}/to-incident", json={"level": "III"})
    assert r.status_code == 201 and r.json()["incident_id"]
    incident = ops.get(f"/api/v1/incidents/{r.json()['incident_id']}").json()
    assert incident["incident_type"] == "gas_leak" and {"kind": "report", "ref_id": str(gas)} in [
        {"kind": x["kind"], "ref_id": x["ref_id"]} for x in incident["links"]]
    assert ops.post(f"/api/v1/reports/{gas}/to-incident").status_code == 409
    h = ops.post(f"/api/v1/reports/{manhole}/to-hazard")
    assert h.status_code == 201 and h.json()["hazard_id"]
    assert ops.get(f"/api/v1/cases/{manhole}").json()["hazard_id"] == h.json()["hazard_id"]
    assert audited(database, "/to-hazard")[0].detail["hazard_id"] == h.json()["hazard_id"]
    assert audited(database, "/to-incident")


def test_metrics_endpoint(users: Any, database: Database, clock: ManualClock) -> None:
    stored_report(database, clock)
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    clock.advance(minutes=1)  # the window ends now, exclusive
    m = ops.get("/api/v1/reports/metrics").json()
    assert m["reports"] == 1 and m["per_day_by_category"][0]["service_code"] == "manhole_missing"
    bad = ops.get("/api/v1/reports/metrics", params={"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.since"
    assert users.login("ent", roles=("enterprise_officer",), department=None).get(
        "/api/v1/reports/metrics").status_code == 403


def test_citizen_feedback_is_rate_limited_per_client(database: Database, clock: ManualClock,
                                                     client: TestClient) -> None:
    _, code = stored_report(database, clock)
    name = "feedback" if "feedback" in abuse.LIMITS else "me_too"
    answers = [client.post(f"/api/v1/public/track/{code}/reopen", json={"reason": "x"})
               for _ in range(int(abuse.LIMITS[name].capacity) + 1)]
    assert {a.status_code for a in answers[:-1]} == {409}  # not closed: refused, but counted
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) >= 1


def test_a_report_filed_through_the_public_api_is_dispatched(app: Any, database: Database, clock: ManualClock,
                                                             client: TestClient) -> None:
    with database.session() as s:
        svc.seed(session=s, now=clock.now())
    app.state.cache["report.challenge_difficulty"] = 4
    ch = client.get("/api/v1/public/challenge").json()
    r = client.post("/api/v1/public/reports", data={
        "service_code": "waterlogging", "description": "路口积水很深", "lon": str(PEOPLES_SQUARE[0]),
        "lat": str(PEOPLES_SQUARE[1]), "anonymous": "true", "challenge": ch["challenge"],
        "nonce": abuse.solve(ch["challenge"], ch["difficulty"])})
    assert r.status_code == 201, r.text
    track = client.get(f"/api/v1/public/track/{r.json()['tracking_code']}").json()
    assert track["case_status"] == "dispatched"
    assert [e["kind"] for e in track["events"]][-2:] == ["registered", "dispatched"]
