"""Near-miss routes: a few round trips — report, read in scope, 422 naming the field, audit, analytics, to-hazard."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from citybrain.auth.audit.models import AuditEntry
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from tests.hazard.nearmiss.conftest import FakeHazards

URL = "/api/v1/near-misses"


def _body(clock: ManualClock, **kw: Any) -> dict[str, Any]:
    return {"kind": "near_miss", "type": "gas", "occurred_at": "2026-11-29T10:00:00+08:00", "lon": 121.4737,
            "lat": 31.2304, "what_almost_happened": "燃气软管老化，险些泄漏", "causes": ["unsafe_condition"], **kw}


def test_report_read_and_scope_over_http(users: Any, clock: ManualClock, database: Database) -> None:
    police = users.login("wang", roles=("dispatcher",), department="police")
    fire = users.login("zhao", roles=("dispatcher",), department="fire")
    r = police.post(URL, json=_body(clock))
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["department"] == "police" and row["district_code"] == "310101" and row["type_zh"] == "燃气"
    assert row["occurred_at"].startswith("2026-11-29T02:00:00")
    assert police.get(f"{URL}/{row['id']}").json()["id"] == row["id"]
    assert fire.get(f"{URL}/{row['id']}").status_code == 404
    assert fire.get(URL).json()["total"] == 0
    page = police.get(URL, params={"type": "gas"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == row["id"]
    with database.session() as s:
        audit = s.scalars(sa.select(AuditEntry).where(AuditEntry.resource_type == "near_miss")).one()
        assert audit.resource_id == str(row["id"]) and audit.actor == "wang" and audit.outcome == "ok"


def test_bad_input_and_wrong_roles(users: Any, clock: ManualClock) -> None:
    police = users.login("wang", roles=("dispatcher",), department="police")
    r = police.post(URL, json=_body(clock, occurred_at="2026-12-25T00:00:00Z"))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.occurred_at"]
    r = police.post(URL, json=_body(clock, lon=100.0))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.lon"]
    assert police.post(URL, json=_body(clock, weather="fine")).status_code == 422
    viewer = users.login("v", roles=("viewer",), department="police")
    r = viewer.post(URL, json=_body(clock))
    assert r.status_code == 403 and "hazard:act" in r.json()["detail"]
    assert police.get(f"{URL}/trends", params={"by": "street"}).status_code == 422


def test_analytics_endpoints(users: Any, clock: ManualClock) -> None:
    ops = users.login("duty", roles=("duty_officer",), department="ops")
    for kind, injuries in (("near_miss", 0), ("minor", 1), ("minor", 2), ("serious", 4)):
        assert ops.post(URL, json=_body(clock, kind=kind, injuries=injuries, type="fire",
                                        department="fire")).status_code == 201
    pyr = ops.get(f"{URL}/pyramid").json()
    assert (pyr["total"]["near_miss"], pyr["total"]["minor"], pyr["total"]["serious"]) == (1, 2, 1)
    assert pyr["total"]["thin_base"] and pyr["by_type"][0]["type"] == "fire"
    assert ops.get(f"{URL}/pyramid", params={"district": "310115"}).json()["total"]["total"] == 0
    trends = ops.get(f"{URL}/trends", params={"by": "district,type", "weeks": 20}).json()
    assert trends["series"] == 1 and trends["by"] == ["district", "type"]
    (alarm,) = trends["active"]  # four in one week where there had been none
    assert (alarm["district"], alarm["type"], alarm["week"], alarm["count"], alarm["rule"]) == (
        "310101", "fire", "2026-11-23", 4, "spike")
    hot = ops.get(f"{URL}/hotspots", params={"weeks": 12}).json()
    assert hot["cells"] == 1 and hot["weeks"] == 12
    assert ops.get(f"{URL}/hotspots", params={"weeks": 8, "recent": 7}).status_code == 422


def test_to_hazard_over_http(users: Any, clock: ManualClock, fake_hazards: FakeHazards) -> None:
    police = users.login("wang", roles=("dispatcher",), department="police")
    nid = police.post(URL, json=_body(clock)).json()["id"]
    r = police.post(f"{URL}/{nid}/to-hazard", json={"title": "燃气软管老化"})
    assert r.status_code == 201, r.text
    assert r.json()["hazard_id"] == 501 and r.json()["near_miss"]["hazard_id"] == 501
    assert fake_hazards.calls[0]["title"] == "燃气软管老化" and fake_hazards.calls[0]["category"] == "gas"
    assert police.post(f"{URL}/{nid}/to-hazard").status_code == 409
