"""HTTP: ingestion formats and credentials, registry routes, scope and the read endpoints."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth.audit.models import AuditEntry
from citybrain.core.database import Database
from tests.conftest import Users
from tests.sensing.conftest import reading

API = "/api/v1"


def ndjson(lines: list[Any]) -> str:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"


def test_post_readings_as_array_object_and_ndjson(sensing_app: Any, admin: TestClient, fleet: dict[str, int],
                                                  t0: datetime) -> None:
    r = admin.post(f"{API}/readings", json=[reading("GAS-1", t0, 1.0), reading("GAS-1", t0, 1.0)])
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    r = admin.post(f"{API}/readings", json={"readings": [reading("GAS-2", t0, 2.0), reading("NOPE", t0, 1.0)]})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 1
    assert body["rejected"] == [{"index": 1, "device_id": "NOPE", "msg_id": reading("NOPE", t0)["msg_id"],
                                 "reason": "unknown_device", "field": "device_id",
                                 "message": "no device 'NOPE' is registered"}]
    text = ndjson([reading("WPR-1", t0, 0.3), "", "{not json", reading("WPR-1", t0 + timedelta(minutes=5), 0.31)])
    r = admin.post(f"{API}/readings", content=text, headers={"Content-Type": "application/x-ndjson"})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 2
    assert [(x["index"], x["reason"], x["field"]) for x in body["rejected"]] == [(1, "malformed", "line 3")]


def test_a_body_that_is_not_json_is_a_400(sensing_app: Any, admin: TestClient, fleet: dict[str, int]) -> None:
    r = admin.post(f"{API}/readings", content="{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


def test_device_credentials(sensing_app: Any, admin: TestClient, client: TestClient, fleet: dict[str, int],
                            t0: datetime, database: Database) -> None:
    r = admin.post(f"{API}/devices/{fleet['GAS-1']}/secret")
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    auth = {"Authorization": f"Device GAS-1:{secret}"}
    r = client.post(f"{API}/readings", json=[reading("GAS-1", t0, 1.0), reading("GAS-2", t0, 1.0)], headers=auth)
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 1
    assert [(x["device_id"], x["reason"]) for x in body["rejected"]] == [("GAS-2", "wrong_credentials")]
    for bad in (f"Device GAS-1:{secret}x", f"Device GAS-2:{secret}", "Device GAS-1", "Device NOPE:abc"):
        r = client.post(f"{API}/readings", json=[reading("GAS-1", t0 + timedelta(minutes=1), 1.0)],
                        headers={"Authorization": bad})
        assert r.status_code == 401, bad
    assert client.post(f"{API}/readings", json=[]).status_code == 401  # nobody
    # the secret is shown once: reading the device does not reveal it
    dev = admin.get(f"{API}/devices/{fleet['GAS-1']}").json()
    assert dev["has_secret"] is True and secret not in json.dumps(dev)
    with database.session() as s:
        audit = s.scalars(sa.select(AuditEntry).where(AuditEntry.resource_type == "reading")).all()
    assert audit and audit[0].detail["accepted"] == 1


def test_writing_readings_needs_sensing_write(sensing_app: Any, users: Users, fleet: dict[str, int],
                                              t0: datetime) -> None:
    viewer = users.login("vera", roles=("viewer",), department="water")
    r = viewer.post(f"{API}/readings", json=[reading("WPR-1", t0, 0.3)])
    assert r.status_code == 403
    assert viewer.get(f"{API}/devices").status_code == 200


def test_department_scope_over_http(sensing_app: Any, users: Users, fleet: dict[str, int]) -> None:
    water = users.login("wang", roles=("dispatcher",), department="water")
    r = water.get(f"{API}/devices")
    assert [d["key"] for d in r.json()["items"]] == ["WPR-1"]
    assert water.get(f"{API}/devices/{fleet['GAS-1']}").status_code == 404
    assert water.get(f"{API}/devices/{fleet['GAS-1']}/series").status_code == 404
    ops = users.login("zhou", roles=("duty_officer",), department="ops")
    assert ops.get(f"{API}/devices").json()["total"] == 4


def test_registry_routes(sensing_app: Any, admin: TestClient) -> None:
    r = admin.post(f"{API}/assets", json={"key": "PIT-9", "asset_class": "construction_pit", "department": "housing",
                                          "lon": 121.47, "lat": 31.22, "risk_level": "orange", "name_en": "pit 9"})
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["geometry"] == {"type": "Point", "coordinates": [121.47, 31.22]}
    assert admin.post(f"{API}/assets", json={"key": "PIT-9", "asset_class": "x", "department": "housing",
                                             "lon": 1, "lat": 1}).status_code == 409
    r = admin.post(f"{API}/devices", json={"key": "SET-9", "type_key": "pit_settlement", "asset_id": asset["id"]})
    assert r.status_code == 201, r.text
    dev = r.json()
    assert (dev["lon"], dev["lat"], dev["status"], dev["has_secret"]) == (121.47, 31.22, "active", False)
    r = admin.post(f"{API}/devices", json={"key": "SET-10", "type_key": "no_such_type", "asset_id": asset["id"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.type_key"
    r = admin.patch(f"{API}/devices/{dev['id']}", json={"status": "maintenance"})
    assert r.status_code == 200 and r.json()["status"] == "maintenance"
    r = admin.patch(f"{API}/assets/{asset['id']}", json={"risk_level": "red"})
    assert r.json()["risk_level"] == "red"
    assert admin.patch(f"{API}/assets/{asset['id']}", json={"risk_level": "purple"}).status_code == 422
    assert admin.get(f"{API}/assets", params={"asset_class": "construction_pit"}).json()["total"] == 1
    assert admin.get(f"{API}/devices", params={"status": "maintenance"}).json()["total"] == 1
    types = admin.get(f"{API}/device-types").json()
    assert {t["key"] for t in types} >= {"gas_methane", "pit_settlement"}


def test_read_endpoints(sensing_app: Any, admin: TestClient, fleet: dict[str, int], t0: datetime) -> None:
    admin.post(f"{API}/readings", json=[reading("STR-1", t0 + timedelta(minutes=i), float(i)) for i in range(30)]
               + [reading("GAS-1", t0, None, methane=3.0, battery=70)])
    dev = fleet["STR-1"]
    r = admin.get(f"{API}/devices/{dev}/readings", params={"start": (t0 + timedelta(minutes=28)).isoformat()})
    assert [p["value"] for p in r.json()["items"]] == [28.0, 29.0]
    r = admin.get(f"{API}/devices/{dev}/series", params={"points": 20, "start": t0.isoformat(),
                                                       "end": (t0 + timedelta(minutes=30)).isoformat()})
    s = r.json()
    assert r.status_code == 200 and len(s["points"]) <= 20 and max(p["max"] for p in s["points"]) == 29.0
    r = admin.get(f"{API}/devices/{dev}/readings", params={"quantity": "methane"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.quantity"
    r = admin.get(f"{API}/readings/latest", params={"bbox": "121.47,31.22,121.49,31.24"})
    assert [(i["key"], i["values"]["methane"]["value"]) for i in r.json()["items"]] == [("GAS-1", 3.0)]
    assert admin.get(f"{API}/readings/latest", params={"bbox": "1,2,3"}).status_code == 422
