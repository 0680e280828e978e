"""Enterprises: registered by their supervising department, visible to it, to whom it shares with, and to
their own safety officers; everyone else gets 404 (hidden, not forbidden)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.org import service as org_service

ENTERPRISES = "/api/v1/enterprises"
CREDIT = "91310115MA1H7XXX1A"


ROOT = Principal(user_id=1, username="admin", roles=("admin",))


def _enterprise(database: Database, clock: ManualClock, supervisor: str, name: str, **extra: Any) -> int:
    with database.session() as s:
        ent = org_service.create_enterprise(session=s, now=clock.now(), principal=ROOT,
                                            data={"name": name, "supervising_department": supervisor, **extra})
        return ent.id


def _dept(database: Database, code: str) -> int:
    with database.session() as s:
        return org_service.department_id_for(session=s, code=code, field="department")


def _count(database: Database, table: str = "enterprise") -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one())


def _names(c: TestClient) -> set[str]:
    r = c.get(ENTERPRISES)
    assert r.status_code == 200, r.text
    return {e["name"] for e in r.json()["items"]}


def test_an_admin_registers_an_enterprise(admin: TestClient, database: Database) -> None:
    r = admin.post(ENTERPRISES, json={"name": "金山石化", "credit_code": CREDIT, "industry": "chemicals",
                                      "district_code": "310116", "lon": 121.34, "lat": 30.72,
                                      "supervising_department": "emergency"})

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["supervising_department_id"] == _dept(database, "emergency")
    assert body["credit_code"] == CREDIT and body["district_code"] == "310116"
    assert admin.get(f"{ENTERPRISES}/{body['id']}").json()["name"] == "金山石化"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"name": "dup", "credit_code": CREDIT, "supervising_department": "emergency"}, 409, "body.credit_code"),
    ({"name": "x", "credit_code": "123", "supervising_department": "emergency"}, 422, "body.credit_code"),
    ({"name": "x", "supervising_department": "navy"}, 422, "body.supervising_department"),
    ({"name": "x", "district_code": "31a116", "supervising_department": "fire"}, 422, "body.district_code"),
    ({"name": "x", "lat": 91, "supervising_department": "fire"}, 422, "body.lat"),
    ({"name": "", "supervising_department": "fire"}, 422, "body.name"),
])
def test_bad_enterprise_input_names_the_field_and_writes_nothing(
    admin: TestClient, database: Database, clock: ManualClock, body: dict, status: int, field: str
) -> None:
    _enterprise(database, clock, "emergency", "first", credit_code=CREDIT)

    r = admin.post(ENTERPRISES, json=body)

    assert r.status_code == status, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert _count(database) == 1


def test_a_dept_admin_registers_enterprises_only_for_their_department(users, database: Database) -> None:
    head = users.login("echief", roles=("dept_admin",), department="emergency")

    own = head.post(ENTERPRISES, json={"name": "own", "supervising_department": "emergency"})
    other = head.post(ENTERPRISES, json={"name": "other", "supervising_department": "fire"})

    assert own.status_code == 201
    assert other.status_code == 403
    assert _count(database) == 1


def test_an_enterprise_officer_sees_only_their_own_enterprise(users, database: Database, clock: ManualClock) -> None:
    mine = _enterprise(database, clock, "emergency", "mine")
    theirs = _enterprise(database, clock, "emergency", "theirs")
    officer = users.login("safety", roles=("enterprise_officer",), department="emergency", enterprise_id=mine)

    assert _names(officer) == {"mine"}
    assert officer.get(f"{ENTERPRISES}/{mine}").status_code == 200
    assert officer.get(f"{ENTERPRISES}/{theirs}").status_code == 404
    assert officer.patch(f"{ENTERPRISES}/{mine}", json={"name": "renamed"}).status_code == 403


def test_a_share_lets_another_department_see_but_not_change_an_enterprise(
    users, database: Database, clock: ManualClock
) -> None:
    ent = _enterprise(database, clock, "emergency", "宝山危化仓库")
    _enterprise(database, clock, "fire", "fire's own")
    fire = users.login("fdisp", roles=("dispatcher",), department="fire")
    fire_head = users.login("fchief", roles=("dept_admin",), department="fire")
    emergency_head = users.login("echief", roles=("dept_admin",), department="emergency")

    assert _names(fire) == {"fire's own"}
    hidden = fire.get(f"{ENTERPRISES}/{ent}")
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert fire_head.post(f"{ENTERPRISES}/{ent}/shares", json={"department": "fire"}).status_code == 404

    shared = emergency_head.post(f"{ENTERPRISES}/{ent}/shares", json={"department": "fire"})

    assert shared.status_code == 201, shared.text
    assert shared.json() == {"resource_type": "enterprise", "resource_id": ent,
                             "department_id": _dept(database, "fire")}
    assert _names(fire) == {"fire's own", "宝山危化仓库"}
    assert fire.get(f"{ENTERPRISES}/{ent}").status_code == 200
    # seeing is not owning: neither a fire dispatcher nor the fire department's admin may change or re-share it
    assert fire.patch(f"{ENTERPRISES}/{ent}", json={"name": "x"}).status_code == 403
    assert fire_head.patch(f"{ENTERPRISES}/{ent}", json={"name": "x"}).status_code == 403
    assert fire_head.post(f"{ENTERPRISES}/{ent}/shares", json={"department": "police"}).status_code == 403
    assert fire.get(f"{ENTERPRISES}/{ent}").json()["name"] == "宝山危化仓库"
    # and the share reaches fire only
    police = Principal(user_id=99, username="p", roles=("dispatcher",), department_id=_dept(database, "police"))
    with database.session() as s:
        rows, total = org_service.list_enterprises(session=s, principal=police)
    assert (rows, total) == ([], 0)


def test_sharing_twice_keeps_one_grant_and_an_unknown_department_is_422(
    admin: TestClient, database: Database, clock: ManualClock
) -> None:
    ent = _enterprise(database, clock, "emergency", "x")

    for _ in range(2):
        assert admin.post(f"{ENTERPRISES}/{ent}/shares", json={"department": "fire"}).status_code == 201
    bad = admin.post(f"{ENTERPRISES}/{ent}/shares", json={"department": "navy"})

    assert _count(database, "share") == 1
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["body.department"]


def test_the_supervising_department_updates_its_enterprise(users, database: Database, clock: ManualClock) -> None:
    ent = _enterprise(database, clock, "emergency", "old name")
    head = users.login("echief", roles=("dept_admin",), department="emergency")
    clock.advance(minutes=5)

    r = head.patch(f"{ENTERPRISES}/{ent}", json={"name": "new name", "district_code": "310113"})

    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["district_code"]) == ("new name", "310113")
    updated, created = (datetime.fromisoformat(r.json()[k]) for k in ("updated_at", "created_at"))
    assert updated - created == timedelta(minutes=5)


def test_city_wide_callers_see_every_enterprise(database: Database, clock: ManualClock) -> None:
    for dept in ("emergency", "fire", "housing"):
        _enterprise(database, clock, dept, dept)
    duty = Principal(user_id=99, username="duty", roles=("duty_officer",), department_id=_dept(database, "police"))
    ops = Principal(user_id=99, username="ops", roles=("dispatcher",), department_id=_dept(database, "ops"),
                    department_city_wide=True)

    with database.session() as s:
        for who in (duty, ops):
            rows, total = org_service.list_enterprises(session=s, principal=who)
            assert total == 3 and {e.name for e in rows} == {"emergency", "fire", "housing"}


def test_listing_filters_by_district_and_name(admin: TestClient, database: Database, clock: ManualClock) -> None:
    _enterprise(database, clock, "emergency", "浦东化工", district_code="310115")
    _enterprise(database, clock, "emergency", "浦东物流", district_code="310115")
    _enterprise(database, clock, "emergency", "金山化工", district_code="310116")

    assert _count(database) == 3
    by_district = admin.get(ENTERPRISES, params={"district": "310115"}).json()
    by_name = admin.get(ENTERPRISES, params={"q": "化工"}).json()
    assert by_district["total"] == 2
    assert {e["name"] for e in by_name["items"]} == {"浦东化工", "金山化工"}
