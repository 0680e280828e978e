"""Risk API round trips: permissions, scope, 422s naming the field, audit of writes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from tests.hazard.risk.factories import enterprise

API = "/api/v1"


def _audited(database: Database, resource_type: str) -> list[str]:
    with database.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT outcome FROM audit_log WHERE resource_type = :t"),
                                           {"t": resource_type})]


def _create(client: TestClient, **kw: Any) -> dict[str, Any]:
    body = {"name": "XX燃气调压站", "kind": "place", "category": "gas", "lon": 121.47, "lat": 31.23, **kw}
    r = client.post(f"{API}/risk-points", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_duty_officer_registers_and_assesses_a_point(users: Any, database: Database) -> None:
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    p = _create(duty, department="housing")
    assert (p["department"], p["level"]) == ("housing", None)

    r = duty.post(f"{API}/risk-points/{p['id']}/assessments", json={"method": "lec",
                                                                    "factors": {"L": 3, "E": 3, "C": 40}})
    assert r.status_code == 201, r.text
    assert (r.json()["score"], r.json()["level"], r.json()["band_zh"]) == (360.0, "red", "极其危险")
    got = duty.get(f"{API}/risk-points/{p['id']}").json()
    assert (got["level"], got["level_zh"], got["method"]) == ("red", "重大风险", "lec")
    assert [a["score"] for a in duty.get(f"{API}/risk-points/{p['id']}/assessments").json()] == [360.0]

    r = duty.post(f"{API}/risk-points/{p['id']}/assessments", json={"method": "matrix",
                                                                    "factors": {"likelihood": 6, "severity": 1}})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.factors.likelihood"]

    r = duty.patch(f"{API}/risk-points/{p['id']}", json={"name": "XX燃气调压站（改）"})
    assert r.status_code == 200 and r.json()["name"] == "XX燃气调压站（改）"
    assert _audited(database, "risk_point").count("ok") == 3  # create, assess, update (the 422 is audited too)
    assert len(_audited(database, "risk_point")) == 4


def test_who_may_read_and_write(users: Any, database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        ent_id = enterprise(s, clock.now()).id
    housing = users.login("h.admin", roles=("dept_admin",), department="housing")
    mine = _create(housing, enterprise_id=ent_id)
    _create(housing, name="另一处")
    dispatcher = users.login("f.disp", roles=("dispatcher",), department="fire")
    assert dispatcher.post(f"{API}/risk-points", json={"name": "x", "kind": "place", "category": "gas", "lon": 121,
                                                       "lat": 31}).status_code == 403
    assert dispatcher.get(f"{API}/risk-points").json()["total"] == 0
    assert dispatcher.get(f"{API}/risk-points/{mine['id']}").status_code == 404
    ent = users.login("ent", roles=("enterprise_officer",), department=None, enterprise_id=ent_id)
    page = ent.get(f"{API}/risk-points").json()
    assert [p["id"] for p in page["items"]] == [mine["id"]]
    assert ent.post(f"{API}/risk-points/{mine['id']}/assessments",
                    json={"method": "lec", "factors": {"L": 1, "E": 1, "C": 1}}).status_code == 403


def test_bands_are_edited_with_validation(users: Any) -> None:
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    cfg = duty.get(f"{API}/risk-config").json()
    assert cfg["lec"]["default"] and cfg["matrix"]["range"] == [1.0, 25.0]
    bands = [{"low": 1, "high": 9, "level": "blue", "name_zh": "低", "name_en": "low"},
             {"low": 11, "high": 25, "level": "red", "name_zh": "重大", "name_en": "major"}]
    r = duty.put(f"{API}/risk-config", json={"matrix": bands})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.matrix[1].low"]
    bands[1]["low"] = 10
    r = duty.put(f"{API}/risk-config", json={"matrix": bands})
    assert r.status_code == 200 and r.json()["matrix"]["default"] is False
    assert duty.put(f"{API}/risk-config", json={"matrix": None}).json()["matrix"]["default"] is True
    viewer = users.login("viewer", roles=("viewer",), department="fire")
    assert viewer.get(f"{API}/risk-config").status_code == 200
    assert viewer.put(f"{API}/risk-config", json={"matrix": bands}).status_code == 403


def test_measures_checks_and_overdue(users: Any, clock: ManualClock) -> None:
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    p = _create(duty, department="housing")
    r = duty.post(f"{API}/risk-points/{p['id']}/measures", json={"measure": "每小时巡检", "frequency": "1h"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert duty.post(f"{API}/risk-points/{p['id']}/measures",
                     json={"measure": "x", "frequency": "often"}).json()["errors"][0]["field"] == "body.frequency"
    clock.advance(hours=2)
    overdue = duty.get(f"{API}/measures/overdue").json()
    assert [(x["id"], x["overdue"], x["risk_point"]) for x in overdue] == [(m["id"], True, "XX燃气调压站")]
    inspector = users.login("insp", roles=("inspector",), department="housing")
    r = inspector.post(f"{API}/measures/{m['id']}/checks", json={"note": "正常"})
    assert r.status_code == 201, r.text
    assert r.json()["measure"]["overdue"] is False
    assert duty.get(f"{API}/measures/overdue").json() == []
    assert [x["last_checked_at"] is not None for x in duty.get(f"{API}/risk-points/{p['id']}/measures").json()] == [
        True]


def test_prework_round_trip(users: Any) -> None:
    metro = users.login("metro", roles=("dept_admin",), department="metro")
    checklist = metro.get(f"{API}/prework-checklist").json()
    answers = {i["id"]: "yes" for i in checklist["items"]}
    r = metro.post(f"{API}/prework-assessments", json={"project": "14号线某站", "answers": {**answers,
                                                                                           "emergency_drill": "no"}})
    assert r.status_code == 201, r.text
    assert (r.json()["decision"], r.json()["decision_zh"], r.json()["department"]) == (
        "proceed_with_conditions", "有条件开工", "metro")
    r2 = metro.post(f"{API}/prework-assessments", json={"project": "缺项", "answers": {"geo_survey": "yes"}})
    assert r2.status_code == 422 and "body.answers.pipelines" in [e["field"] for e in r2.json()["errors"]]
    assert metro.get(f"{API}/prework-assessments?decision=proceed_with_conditions").json()["total"] == 1
    assert metro.get(f"{API}/prework-assessments/{r.json()['id']}").json()["project"] == "14号线某站"
    fire = users.login("fire", roles=("dept_admin",), department="fire")
    assert fire.get(f"{API}/prework-assessments/{r.json()['id']}").status_code == 404
