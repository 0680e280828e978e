"""Departments: the seeded set, who may add one, and input errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.core.errors import Invalid
from citybrain.org import service as org_service

DEPARTMENTS = "/api/v1/departments"
SEEDED = ["ops", "police", "fire", "emergency", "urban", "governance", "housing", "transport", "water", "metro"]


def _count(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM department")).scalar_one())


def test_the_default_departments_are_seeded_and_only_ops_is_city_wide(users) -> None:
    r = users.login("vera", roles=("viewer",)).get(DEPARTMENTS)

    assert r.status_code == 200
    depts = r.json()
    assert [d["code"] for d in depts] == SEEDED
    assert [d["code"] for d in depts if d["city_wide"]] == ["ops"]
    assert all(d["name_zh"] and d["name_en"] for d in depts)


def test_seeding_again_adds_nothing(database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        assert org_service.seed_departments(session=s, now=clock.now()) == 0
    assert _count(database) == len(SEEDED)


def test_anonymous_callers_cannot_list_departments(client: TestClient) -> None:
    r = client.get(DEPARTMENTS)

    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_admin_adds_a_department_under_a_parent(admin: TestClient) -> None:
    r = admin.post(DEPARTMENTS, json={"code": "pd-huangpu", "name_zh": "黄浦分局", "name_en": "Huangpu Police",
                                      "parent_code": "police"})

    assert r.status_code == 201, r.text
    assert r.json()["code"] == "pd-huangpu" and r.json()["city_wide"] is False
    assert [d["code"] for d in admin.get(DEPARTMENTS).json()][-1] == "pd-huangpu"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"code": "fire", "name_zh": "消防", "name_en": "Fire"}, 409, "body.code"),
    ({"code": "Bad Code", "name_zh": "x", "name_en": "x"}, 422, "body.code"),
    ({"code": "sub", "name_zh": "x", "name_en": "x", "parent_code": "navy"}, 422, "body.parent_code"),
    ({"code": "sub", "name_zh": "x", "name_en": "x", "kind": "military"}, 422, "body.kind"),
    ({"code": "sub", "name_zh": "x"}, 422, "body.name_en"),
])
def test_bad_department_input_names_the_field_and_writes_nothing(
    admin: TestClient, database: Database, body: dict, status: int, field: str
) -> None:
    before = _count(database)

    r = admin.post(DEPARTMENTS, json=body)

    assert r.status_code == status, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert _count(database) == before


@pytest.mark.parametrize("role", ["dept_admin", "duty_officer"])
def test_only_administrators_add_departments(users, database: Database, role: str) -> None:
    c = users.login("someone", roles=(role,), department="police")

    r = c.post(DEPARTMENTS, json={"code": "newdept", "name_zh": "新", "name_en": "New"})

    assert r.status_code == 403
    assert _count(database) == len(SEEDED)


def test_an_unknown_department_code_is_invalid_naming_the_callers_field(database: Database) -> None:
    with database.session() as s:
        assert org_service.department_id_for(session=s, code="fire", field="body.department") > 0
        with pytest.raises(Invalid) as info:
            org_service.department_id_for(session=s, code="navy", field="body.supervising_department")
    assert [e.field for e in info.value.errors] == ["body.supervising_department"]
