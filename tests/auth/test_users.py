"""User administration: who may create and change users, input errors, and department-scoped listing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth import service as auth_service
from citybrain.core.database import Database
from citybrain.org import service as org_service

USERS = "/api/v1/users"
LOGIN = "/api/v1/auth/login"


def _user_count(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM app_user")).scalar_one())


def _new_user(**over: Any) -> dict[str, Any]:
    return {"username": "carol", "password": "carol-pass-123", "roles": ["dispatcher"], "department": "police",
            "display_name": "王警官"} | over


def _fields(r: Any) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


def test_admin_creates_a_user_who_can_then_log_in(admin: TestClient, client: TestClient) -> None:
    r = admin.post(USERS, json=_new_user())

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["username"] == "carol" and body["display_name"] == "王警官"
    assert body["roles"] == ["dispatcher"]
    assert body["department"]["code"] == "police"
    assert "password" not in r.text and "argon2" not in r.text
    assert admin.get(f"{USERS}/{body['id']}").json()["username"] == "carol"
    assert client.post(LOGIN, json={"username": "carol", "password": "carol-pass-123"}).status_code == 200


def test_an_unknown_role_is_422_naming_body_roles(admin: TestClient, database: Database) -> None:
    before = _user_count(database)

    r = admin.post(USERS, json=_new_user(roles=["dispatcher", "superuser"]))

    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _fields(r) == ["body.roles"]
    assert "superuser" in r.json()["errors"][0]["message"]
    assert _user_count(database) == before


def test_a_duplicate_username_is_409(admin: TestClient, users, database: Database) -> None:
    users.add("carol")
    before = _user_count(database)

    r = admin.post(USERS, json=_new_user())

    assert r.status_code == 409
    assert _fields(r) == ["body.username"]
    assert _user_count(database) == before


def test_a_short_password_is_422_naming_the_field(admin: TestClient, users, database: Database) -> None:
    users.add("dave")
    before = _user_count(database)

    created = admin.post(USERS, json=_new_user(password="short"))
    dave_id = admin.get(USERS).json()["items"][-1]["id"]
    changed = admin.patch(f"{USERS}/{dave_id}", json={"password": "short"})

    for r in (created, changed):
        assert r.status_code == 422
        assert _fields(r) == ["body.password"]
    assert _user_count(database) == before


def test_an_unknown_department_is_422_naming_it(admin: TestClient) -> None:
    r = admin.post(USERS, json=_new_user(department="navy"))

    assert r.status_code == 422
    assert _fields(r) == ["body.department"]


@pytest.mark.parametrize(("department", "roles", "status"), [
    ("police", ["dispatcher"], 201),
    ("police", ["dept_admin", "inspector"], 201),
    ("fire", ["dispatcher"], 403),
    (None, ["dispatcher"], 403),
    ("police", ["duty_officer"], 403),
    ("police", ["dispatcher", "admin"], 403),
    ("police", ["analyst"], 403),
])
def test_a_dept_admin_creates_users_only_in_their_department_and_never_city_wide(
    users, database: Database, department: str | None, roles: list[str], status: int
) -> None:
    head = users.login("pchief", roles=("dept_admin",), department="police")
    before = _user_count(database)

    r = head.post(USERS, json=_new_user(department=department, roles=roles))

    assert r.status_code == status, r.text
    assert _user_count(database) == before + (1 if status == 201 else 0)


def test_a_dispatcher_cannot_create_users(users, database: Database) -> None:
    disp = users.login("pdisp", roles=("dispatcher",), department="police")
    before = _user_count(database)

    r = disp.post(USERS, json=_new_user())

    assert r.status_code == 403
    assert "user:write" in r.json()["detail"]
    assert _user_count(database) == before


def test_a_city_wide_duty_officer_lists_everyone_a_dispatcher_only_their_department(users) -> None:
    users.add("p1", department="police")
    users.add("f1", department="fire")
    officer = users.login("duty", roles=("duty_officer",), department="transport")  # city-wide by role
    disp = users.login("pdisp", roles=("dispatcher",), department="police")

    everyone = officer.get(USERS).json()
    police = disp.get(USERS).json()

    assert {u["username"] for u in everyone["items"]} == {"admin", "p1", "f1", "duty", "pdisp"}
    assert everyone["total"] == 5
    assert {u["username"] for u in police["items"]} == {"p1", "pdisp"}
    assert police["total"] == 2
    f1 = next(u for u in everyone["items"] if u["username"] == "f1")
    assert officer.get(f"{USERS}/{f1['id']}").status_code == 200
    assert disp.get(f"{USERS}/{f1['id']}").status_code == 404  # hidden, not forbidden


def test_listing_pages_and_counts(users, admin: TestClient) -> None:
    for name in ("u1", "u2", "u3"):
        users.add(name)

    page = admin.get(USERS, params={"limit": 2, "offset": 1}).json()

    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    assert [u["username"] for u in page["items"]] == ["u1", "u2"]


def test_a_password_change_revokes_existing_sessions(users, admin: TestClient, client: TestClient) -> None:
    ana = users.login("ana")
    ana_id = ana.get("/api/v1/auth/me").json()["user"]["id"]

    r = admin.patch(f"{USERS}/{ana_id}", json={"password": "brand-new-pass-1"})

    assert r.status_code == 200, r.text
    assert ana.get("/api/v1/auth/me").status_code == 401
    assert client.post(LOGIN, json={"username": "ana", "password": "pw-ana-123"}).status_code == 401
    assert client.post(LOGIN, json={"username": "ana", "password": "brand-new-pass-1"}).status_code == 200


def test_a_dept_admin_cannot_change_users_of_other_departments_or_move_theirs_away(users, database: Database) -> None:
    users.add("p1", department="police")
    users.add("f1", department="fire")
    head = users.login("pchief", roles=("dept_admin",), department="police")
    with database.session() as s:
        ids = {u.username: u.id for u in (auth_service.get_by_username(session=s, username=n) for n in ("p1", "f1"))}

    assert head.patch(f"{USERS}/{ids['f1']}", json={"display_name": "x"}).status_code in (403, 404)
    assert head.patch(f"{USERS}/{ids['p1']}", json={"department": "fire"}).status_code == 403
    assert head.patch(f"{USERS}/{ids['p1']}", json={"roles": ["duty_officer"]}).status_code == 403
    assert head.patch(f"{USERS}/{ids['p1']}", json={"display_name": "李警官"}).status_code == 200
    with database.session() as s:
        p1 = auth_service.get_by_username(session=s, username="p1")
        f1 = auth_service.get_by_username(session=s, username="f1")
        assert p1.roles == ["dispatcher"] and p1.display_name == "李警官"
        assert p1.department_id == org_service.department_id_for(session=s, code="police", field="department")
        assert f1.display_name == "f1"


def test_a_dept_admin_cannot_take_over_a_city_wide_user_in_their_department(users, client: TestClient) -> None:
    users.add("boss", roles=("admin",), department="police")
    head = users.login("pchief", roles=("dept_admin",), department="police")
    boss = next(u for u in head.get(USERS).json()["items"] if u["username"] == "boss")

    r = head.patch(f"{USERS}/{boss['id']}", json={"password": "taken-over-123"})

    assert r.status_code == 403
    assert client.post(LOGIN, json={"username": "boss", "password": "taken-over-123"}).status_code == 401


def test_an_unknown_enterprise_is_422_naming_it(app, users, database: Database) -> None:
    users.add("root", roles=("admin",), department="ops")
    root = TestClient(app, base_url="http://testserver", raise_server_exceptions=False)
    root.headers["X-CSRF-Token"] = root.post(LOGIN, json={"username": "root", "password": "pw-root-123"}).json()[
        "csrf_token"]
    before = _user_count(database)

    r = root.post(USERS, json=_new_user(roles=["enterprise_officer"], enterprise_id=987654))

    assert _user_count(database) == before
    assert r.status_code == 422
    assert _fields(r) == ["body.enterprise_id"]
