"""Sensing coverage: shares per district and grid cell, the gap list, and the grid as GeoJSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from shapely.geometry import Point, shape

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.geo.spatial import haversine_m
from citybrain.sensing import coverage, service
from tests.sensing.conftest import CaughtUpPipeline, reading

ADMIN = Principal(user_id=1, username="admin", roles=("admin",))

# Huangpu (310101): three gas spaces, two with a healthy device; a red pit whose only device is offline;
# a red and an orange pit without devices elsewhere; a red covered bridge. One gas space has no district
# code and is placed by the districts layer (People's Square lies in Huangpu).
ASSETS: list[dict[str, Any]] = [
    {"key": "GS-1", "asset_class": "gas_space", "department": "emergency", "district_code": "310101",
     "risk_level": "yellow", "lon": 121.4800, "lat": 31.2300},
    {"key": "GS-2", "asset_class": "gas_space", "department": "emergency", "district_code": "310101",
     "risk_level": None, "lon": 121.4810, "lat": 31.2305},
    {"key": "GS-3", "asset_class": "gas_space", "department": "emergency", "district_code": None,
     "risk_level": "orange", "lon": 121.4737, "lat": 31.2304},
    {"key": "PIT-RED-OFF", "asset_class": "construction_pit", "department": "housing", "district_code": "310101",
     "risk_level": "red", "lon": 121.4900, "lat": 31.2200},
    {"key": "PIT-ORANGE-NONE", "asset_class": "construction_pit", "department": "housing",
     "district_code": "310115", "risk_level": "orange", "lon": 121.6000, "lat": 31.2000},
    {"key": "PIT-RED-NONE", "asset_class": "construction_pit", "department": "housing", "district_code": "310115",
     "risk_level": "red", "lon": 121.6100, "lat": 31.2100},
    {"key": "BRG-RED-OK", "asset_class": "bridge", "department": "transport", "district_code": "310115",
     "risk_level": "red", "lon": 121.6200, "lat": 31.2200},
]
DEVICES = [  # (device, type, asset)
    ("D-GS-1", "gas_methane", "GS-1"), ("D-GS-2", "gas_methane", "GS-2"), ("D-GS-3", "gas_methane", "GS-3"),
    ("D-PIT", "pit_settlement", "PIT-RED-OFF"), ("D-BRG-a", "bridge_strain", "BRG-RED-OK"),
    ("D-BRG-b", "bridge_strain", "BRG-RED-OK"),
]
HEALTHY = ["D-GS-1", "D-GS-3", "D-BRG-a"]  # they report; the others stay silent


@pytest.fixture
def built(database: Database, clock: ManualClock) -> dict[str, int]:
    """The fleet above, registered through the service, an hour later with only HEALTHY reporting."""
    ids: dict[str, int] = {}
    with database.session() as s:
        service.ensure_device_types(session=s, now=clock.now())
        for a in ASSETS:
            ids[a["key"]] = service.create_asset(session=s, now=clock.now(), principal=ADMIN, data=a).id
        for key, type_key, asset in DEVICES:
            service.create_device(session=s, now=clock.now(), principal=ADMIN,
                                  data={"key": key, "type_key": type_key, "asset_id": ids[asset]})
    clock.advance(hours=1)
    pipe = CaughtUpPipeline(database, clock)
    result = pipe.ingest([reading(k, clock.now(), 1.0) for k in HEALTHY], source="test")
    assert result.accepted == len(HEALTHY), result.rejected
    return ids


def at(database: Database, now: datetime, fn: Any, **kw: Any) -> Any:
    with database.session() as s:
        return fn(s, now, principal=kw.pop("principal", ADMIN), **kw)


def test_asset_coverage_counts_healthy_devices(database: Database, clock: ManualClock,
                                               built: dict[str, int]) -> None:
    rows = {a.key: a for a in at(database, clock.now(), coverage.asset_coverage)}
    assert (rows["GS-1"].devices, rows["GS-1"].healthy, rows["GS-1"].covered) == (1, 1, True)
    assert (rows["GS-2"].devices, rows["GS-2"].healthy, rows["GS-2"].device_states) == (1, 0, {"offline": 1})
    assert (rows["BRG-RED-OK"].devices, rows["BRG-RED-OK"].healthy) == (2, 1)
    assert rows["PIT-RED-NONE"].devices == 0 and not rows["PIT-RED-NONE"].covered
    assert rows["GS-3"].district_code == "310101"  # placed by the districts layer


def test_district_shares(database: Database, clock: ManualClock, built: dict[str, int]) -> None:
    districts = {d["code"]: d for d in at(database, clock.now(), coverage.district_coverage)}
    huangpu = districts["310101"]
    assert huangpu["name_en"] == "Huangpu"
    assert huangpu["by_class"]["gas_space"] == {"assets": 3, "covered": 2, "share": round(2 / 3, 4)}
    assert huangpu["by_class"]["construction_pit"] == {"assets": 1, "covered": 0, "share": 0.0}
    assert (huangpu["assets"], huangpu["covered"], huangpu["share"]) == (4, 2, 0.5)
    pudong = districts["310115"]
    assert (pudong["assets"], pudong["covered"]) == (3, 1)
    assert districts["310104"]["assets"] == 0 and districts["310104"]["share"] is None  # every district listed
    gas = {d["code"]: d for d in at(database, clock.now(), coverage.district_coverage, asset_class="gas_space")}
    assert gas["310101"]["assets"] == 3 and gas["310115"]["assets"] == 0


def test_gaps_list_uncovered_high_risk_assets_by_risk(database: Database, clock: ManualClock,
                                                      built: dict[str, int]) -> None:
    gaps = at(database, clock.now(), coverage.coverage_gaps)
    assert [(g["key"], g["reason"]) for g in gaps] == [
        ("PIT-RED-NONE", "no_device"), ("PIT-RED-OFF", "no_healthy_device"), ("PIT-ORANGE-NONE", "no_device"),
    ]
    keys = {g["key"] for g in gaps}
    assert "BRG-RED-OK" not in keys and "GS-3" not in keys  # covered (GS-3 orange with a healthy device)
    assert gaps[1]["device_states"] == {"offline": 1}
    assert [g["key"] for g in at(database, clock.now(), coverage.coverage_gaps, district="310101")] == ["PIT-RED-OFF"]


def test_grid_is_valid_geojson_of_500_m_cells(database: Database, clock: ManualClock, built: dict[str, int]) -> None:
    grid = at(database, clock.now(), coverage.grid_coverage)
    assert grid["type"] == "FeatureCollection" and grid["grid"]["size_m"] == 500.0
    feats = grid["features"]
    assert sum(f["properties"]["assets"] for f in feats) == len(ASSETS)
    for f in feats:
        poly = shape(f["geometry"])
        assert f["type"] == "Feature" and poly.is_valid and f["geometry"]["type"] == "Polygon"
        ring = f["geometry"]["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        (x0, y0), (x1, _), (_, y1) = ring[0], ring[1], ring[2]
        assert haversine_m(x0, y0, x1, y0) == pytest.approx(500, rel=0.01)
        assert haversine_m(x0, y0, x0, y1) == pytest.approx(500, rel=0.01)
        p = f["properties"]
        assert set(p) == {"cell", "assets", "covered", "share", "by_class"} and p["cell"] == f["id"]
    # GS-1 and GS-2 (about 100 m apart) share a cell: 1 of 2 gas spaces covered
    cell = coverage.GRID.cell_of(121.4800, 31.2300)
    assert cell == coverage.GRID.cell_of(121.4810, 31.2305)
    gs = next(f for f in feats if f["id"] == cell)
    assert shape(gs["geometry"]).contains(Point(121.4800, 31.2300))
    assert gs["properties"]["by_class"] == {"gas_space": {"assets": 2, "covered": 1, "share": 0.5}}


def test_coverage_follows_department_scope(database: Database, clock: ManualClock, built: dict[str, int]) -> None:
    from citybrain.org import service as org_service

    with database.session() as s:
        housing = org_service.department_id_for(session=s, code="housing", field="department")
    p = Principal(user_id=5, username="h", roles=("dispatcher",), department_id=housing)
    assert {a.key for a in at(database, clock.now(), coverage.asset_coverage, principal=p)} == {
        "PIT-RED-OFF", "PIT-ORANGE-NONE", "PIT-RED-NONE"}
    assert len(at(database, clock.now(), coverage.coverage_gaps, principal=p)) == 3
