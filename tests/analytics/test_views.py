"""The risk-map API: GeoJSON shape, explanations, summary, refresh (audited), auth, and the service's cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.analytics import service
from citybrain.analytics.evidence import Evidence
from citybrain.analytics.grid import SHANGHAI
from citybrain.auth.audit.models import AuditEntry
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.warning import service as warnings
from citybrain.warning.types import Level, Signal

LON, LAT = 121.4737, 31.2304  # People's Square, Huangpu (310101)
CELL = SHANGHAI.cell_of(LON, LAT)


class Fixed:
    """A test source: whatever items it is given."""

    kind = "hazard"

    def __init__(self, items: list[Evidence]) -> None:
        self.items = items

    def collect(self, **_: Any) -> list[Evidence]:
        return list(self.items)


def fire_warning(database: Database, clock: ManualClock, level: Level = Level.RED) -> None:
    now = clock.now()
    labels = {"rule": "t", "scope": "area", "department": "fire"}  # no district: the map finds it
    with database.session() as s:
        warnings.apply_signals(session=s, now=now, signals=[
            Signal("t", labels, level, now, 1.0, LON, LAT, {"summary_zh": "燃气泄漏", "summary_en": "gas leak"})])


def test_needs_login(client: TestClient) -> None:
    for path in ("/api/v1/risk-map", "/api/v1/risk-map/summary", f"/api/v1/risk-map/cells/{CELL}",
                 "/api/v1/risk-map/districts/310101"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/v1/risk-map/refresh").status_code == 401


def test_cell_map_explanation_district_and_summary(users: Any, database: Database, clock: ManualClock) -> None:
    fire_warning(database, clock)
    c = users.login("viewer1", roles=("viewer",), department="fire")
    r = c.get("/api/v1/risk-map")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["meta"]["level"] == "cell"
    (f,) = body["features"]
    assert f["id"] == CELL and f["geometry"]["type"] == "Polygon"
    assert f["geometry"]["coordinates"][0] == SHANGHAI.polygon(CELL)
    assert f["properties"] | {"colour": "yellow", "level": 2, "score": 25.0, "baseline_colour": "none",
                              "counts": {"warning": 1}} == f["properties"]

    x = c.get(f"/api/v1/risk-map/cells/{CELL}").json()
    assert x["colour"] == "yellow" and x["raised_by_live_evidence"] is True
    assert x["top"][0]["label_zh"] == "红色预警：燃气泄漏" and x["top"][0]["district"] == "310101"

    d = c.get("/api/v1/risk-map/districts/310101").json()
    assert d["name_zh"] == "黄浦区" and d["total"] == 25.0 and d["area_cells"] > 50
    assert c.get("/api/v1/risk-map/districts/999999").status_code == 404

    districts = c.get("/api/v1/risk-map", params={"level": "district"}).json()["features"]
    assert [g["id"] for g in districts] == ["310101"]
    assert districts[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert districts[0]["properties"]["name_en"] == "Huangpu"

    s = c.get("/api/v1/risk-map/summary").json()
    assert s["cells_by_colour"]["yellow"] == 1 and s["top"][0]["id"] == CELL
    assert s["districts"][0]["id"] == "310101"


def test_filters_crs_and_bad_input(users: Any, database: Database, clock: ManualClock) -> None:
    fire_warning(database, clock, Level.BLUE)  # 3 points: blue
    c = users.login("viewer2", roles=("viewer",), department="fire")
    assert c.get("/api/v1/risk-map", params={"min_level": "yellow"}).json()["features"] == []
    assert len(c.get("/api/v1/risk-map", params={"min_level": "1"}).json()["features"]) == 1
    assert c.get("/api/v1/risk-map", params={"bbox": "121.0,31.0,121.1,31.1"}).json()["features"] == []
    gcj = c.get("/api/v1/risk-map", params={"crs": "gcj02"}).json()["features"][0]["geometry"]["coordinates"][0]
    wgs = SHANGHAI.polygon(CELL)
    assert 0.001 < abs(gcj[0][0] - wgs[0][0]) < 0.01  # GCJ-02 is offset by a few hundred metres
    for params, field in (({"min_level": "purple"}, "query.min_level"), ({"level": "street"}, "query.level"),
                          ({"bbox": "1,2,3"}, "query.bbox")):
        r = c.get("/api/v1/risk-map", params=params)
        assert r.status_code == 422, params
        assert field in r.text
    assert c.get("/api/v1/risk-map/cells/not-a-cell").status_code == 404
    empty = c.get("/api/v1/risk-map/cells/r1c1").json()
    assert empty["colour"] == "none" and empty["items"] == 0


def test_refresh_needs_risk_write_and_is_audited(users: Any, database: Database, clock: ManualClock) -> None:
    viewer = users.login("viewer3", roles=("viewer",), department="fire")
    assert viewer.post("/api/v1/risk-map/refresh").status_code == 403
    officer = users.login("duty1", roles=("duty_officer",), department="ops")
    assert officer.get("/api/v1/risk-map").json()["features"] == []  # cached, empty
    fire_warning(database, clock)
    assert officer.get("/api/v1/risk-map").json()["features"] == []  # still the cached map (TTL 60 s)
    r = officer.post("/api/v1/risk-map/refresh")
    assert r.status_code == 200 and r.json()["items"] == 1
    assert len(officer.get("/api/v1/risk-map").json()["features"]) == 1
    with database.session() as s:
        audit = s.execute(sa.select(AuditEntry.resource_type, AuditEntry.outcome)
                          .where(AuditEntry.resource_type == "risk_map")).all()
    assert len(audit) == 1


def test_enterprise_officer_may_read_the_map(users: Any, database: Database, clock: ManualClock) -> None:
    from citybrain.org.models import Department, Enterprise

    with database.session() as s:
        dept = s.scalar(sa.select(Department.id).where(Department.code == "emergency"))
        ent = Enterprise(name="测试企业", supervising_department_id=dept, created_at=clock.now(),
                         updated_at=clock.now())
        s.add(ent)
        s.flush()
        ent_id = ent.id
    c = users.login("ent1", roles=("enterprise_officer",), department=None, enterprise_id=ent_id)
    assert c.get("/api/v1/risk-map/summary").status_code == 200
    assert c.post("/api/v1/risk-map/refresh").status_code == 403


def test_service_cache_ttl_apply_withdraw_and_warning_sync(session: Any, clock: ManualClock) -> None:
    cache: dict[str, Any] = {}
    assert service.apply(cache=cache, evidence=Evidence("warning", "warning:1", LON, LAT, 25, "a", "a")) is None
    src = Fixed([Evidence("hazard", "hazard:1", LON, LAT, 30.0, "重大隐患", "major hazard")])
    state = service.current(session=session, now=clock.now(), cache=cache, sources=[src])
    assert state.map.score(CELL) == 30 and state.map.district_snapshot("310101")["total"] == 30
    src.items = []
    assert service.current(session=session, now=clock.now() + timedelta(seconds=59), cache=cache,
                           sources=[src]) is state
    assert service.apply(cache=cache, evidence=Evidence("warning", "warning:7", LON, LAT, 25, "a", "a")) == CELL
    assert state.map.colour(CELL) == "orange" and state.map.district_snapshot("310101")["total"] == 55
    n = service.sync_warnings(cache=cache, warnings=[
        {"id": 7, "state": "resolved", "level": "red", "lon": LON, "lat": LAT},
        {"id": 8, "state": "firing", "level": "orange", "lon": LON, "lat": LAT, "silenced_by": None},
    ])
    assert n == 2 and "warning:7" not in state.map and state.map.score(CELL) == 45
    assert service.withdraw(cache=cache, ref="hazard:1") and not service.withdraw(cache=cache, ref="hazard:1")
    assert service.summary(state=state)["changes_since_build"] == 4
    rebuilt = service.current(session=session, now=clock.now() + timedelta(seconds=60), cache=cache, sources=[src])
    assert rebuilt is not state and len(rebuilt.map) == 0
