"""HTTP: device health, the device map layer and coverage need sensing:read and follow department scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.core.clock import ManualClock
from citybrain.sensing.pipeline import Pipeline
from tests.conftest import Users
from tests.sensing.conftest import reading

API = "/api/v1"
ROUTES = ["/devices/health", "/devices/health/summary", "/devices/map", "/coverage/districts", "/coverage/grid",
          "/coverage/gaps"]


@pytest.fixture
def monitoring_app(app: Any) -> Any:
    """The app: api.py mounts the monitoring routes ahead of ``/devices/{device_id}``."""
    return app


@pytest.mark.parametrize("path", ROUTES)
def test_anonymous_is_401(monitoring_app: Any, client: TestClient, path: str) -> None:
    r = client.get(f"{API}{path}")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


def test_health_list_filters_and_pages(monitoring_app: Any, admin: TestClient, pipeline: Pipeline,
                                       clock: ManualClock) -> None:
    clock.advance(minutes=4)
    pipeline.ingest([reading("GAS-1", clock.now(), methane=0.5, battery=12.0, rssi=-80.0)], source="test")
    r = admin.get(f"{API}/devices/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 4 and [i["key"] for i in body["items"]] == ["GAS-1", "GAS-2", "WPR-1", "STR-1"]
    gas1 = body["items"][0]
    assert gas1 | {"device_id": 0} == {
        "device_id": 0, "key": "GAS-1", "type_key": "gas_methane", "asset_id": gas1["asset_id"],
        "asset_class": "gas_space", "district_code": "310101", "lon": 121.48, "lat": 31.23, "state": "low_battery",
        "problems": ["low_battery"], "last_seen_at": "2026-11-30T01:04:00Z", "battery": 12.0, "rssi": -80.0,
        "out_of_range_rate": 0.0, "out_of_range_known": False}
    r = admin.get(f"{API}/devices/health", params={"state": "offline"})
    assert [i["key"] for i in r.json()["items"]] == ["GAS-2", "STR-1"]
    r = admin.get(f"{API}/devices/health", params={"limit": 1, "offset": 1, "asset_class": "gas_space"})
    assert r.json()["total"] == 2 and [i["key"] for i in r.json()["items"]] == ["GAS-2"]
    assert admin.get(f"{API}/devices/health", params={"district": "310115"}).json()["total"] == 1
    assert admin.get(f"{API}/devices/health", params={"bbox": "121.59,31.29,121.61,31.31"}).json()["total"] == 1
    assert admin.get(f"{API}/devices/health", params={"state": "nope"}).status_code == 422
    assert admin.get(f"{API}/devices/health", params={"bbox": "1,2"}).status_code == 422

    summary = admin.get(f"{API}/devices/health/summary").json()
    assert (summary["total"], summary["offline"], summary["low_battery"], summary["ok"]) == (4, 2, 1, 1)
    assert summary["by_asset_class"]["gas_space"]["total"] == 2 and summary["at"] == "2026-11-30T01:04:00Z"


def test_device_map_is_compact_geojson_and_scoped(monitoring_app: Any, admin: TestClient, users: Users,
                                                  fleet: dict[str, int]) -> None:
    r = admin.get(f"{API}/devices/map")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert ", " not in r.text and ": " not in r.text  # no whitespace between tokens
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    f = next(f for f in fc["features"] if f["properties"]["key"] == "WPR-1")
    assert f["id"] == fleet["WPR-1"] and f["geometry"] == {"type": "Point", "coordinates": [121.5, 31.24]}
    assert f["properties"] == {"key": "WPR-1", "type": "water_pressure", "asset_class": "water_main", "state": "ok",
                               "problems": [], "last_seen_at": None}
    fire = users.login("huo", roles=("dispatcher",), department="fire")
    assert fire.get(f"{API}/devices/map").json()["features"] == []
    assert fire.get(f"{API}/devices/health").json()["total"] == 0
    water = users.login("shui", roles=("viewer",), department="water")
    assert [f["properties"]["key"] for f in water.get(f"{API}/devices/map").json()["features"]] == ["WPR-1"]


def test_coverage_routes(monitoring_app: Any, admin: TestClient, users: Users, fleet: dict[str, int],
                         pipeline: Pipeline, clock: ManualClock) -> None:
    clock.advance(minutes=10)
    pipeline.ingest([reading("GAS-1", clock.now(), 0.5)], source="test")
    bridge = next(a for a in admin.get(f"{API}/assets").json()["items"] if a["key"] == "A-BRG-1")
    assert admin.patch(f"{API}/assets/{bridge['id']}", json={"risk_level": "red"}).status_code == 200
    r = admin.get(f"{API}/coverage/districts")
    assert r.status_code == 200, r.text
    huangpu = next(d for d in r.json()["items"] if d["code"] == "310101")
    assert huangpu["by_class"]["gas_space"] == {"assets": 1, "covered": 1, "share": 1.0}
    assert r.json()["healthy_states"] == ["low_battery", "ok", "weak_signal"]
    r = admin.get(f"{API}/coverage/grid", params={"asset_class": "gas_space"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert [f["properties"]["assets"] for f in r.json()["features"]] == [1]
    r = admin.get(f"{API}/coverage/gaps")
    assert r.status_code == 200 and r.json()["count"] == 1
    gap = r.json()["items"][0]
    assert (gap["key"], gap["risk_level"], gap["reason"], gap["device_states"]) == (
        "A-BRG-1", "red", "no_healthy_device", {"offline": 1})
    water = users.login("shui", roles=("viewer",), department="water")
    assert water.get(f"{API}/coverage/gaps").json()["count"] == 0
    items = water.get(f"{API}/coverage/districts").json()["items"]
    assert sum(d["assets"] for d in items) == 1
