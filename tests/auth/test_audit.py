"""The audit log: every write (accepted or rejected) is recorded once, secrets never are, rows never change."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth.audit import service as audit_service
from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.org import service as org_service

ENTERPRISES = "/api/v1/enterprises"
WRITTEN = ("enterprise", "app_user", "auth_token", "share", "department")


def _audit(database: Database) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit_log ORDER BY id")).mappings().all()
    out = []
    for row in rows:
        row = dict(row)
        if isinstance(row["detail"], str):  # SQLite hands JSON back as text
            row["detail"] = json.loads(row["detail"])
        out.append(row)
    return out


def _counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {t: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar_one())
                for t in WRITTEN}


def _dept(database: Database, code: str) -> int:
    with database.session() as s:
        return org_service.department_id_for(session=s, code=code, field="department")


def test_a_write_is_recorded_with_actor_action_status_outcome_and_ip(admin: TestClient, database: Database,
                                                                     clock: ManualClock) -> None:
    before = len(_audit(database))

    r = admin.post(ENTERPRISES, json={"name": "浦东化工", "supervising_department": "emergency"},
                   headers={"User-Agent": "audit-test/1.0"})

    assert r.status_code == 201, r.text
    rows = _audit(database)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["actor"] == "admin" and row["actor_user_id"] is not None
    assert row["department_id"] == _dept(database, "ops")
    assert row["action"] == "POST /api/v1/enterprises"
    assert row["status_code"] == 201 and row["outcome"] == "ok"
    assert row["ip"] == "testclient"
    assert row["user_agent"] == "audit-test/1.0"
    assert row["resource_type"] == "enterprise" and row["resource_id"] == str(r.json()["id"])
    assert row["request_id"] == r.headers["x-request-id"]
    assert row["detail"] == {"name": "浦东化工"}


def test_reads_are_not_audited(admin: TestClient, database: Database) -> None:
    before = len(_audit(database))

    for path in ("/api/v1/auth/me", ENTERPRISES, "/api/v1/departments", "/api/v1/users", "/healthz"):
        assert admin.get(path).status_code == 200

    assert len(_audit(database)) == before


@pytest.mark.parametrize(("who", "body", "status", "outcome", "actor"), [
    ("anonymous", {"name": "x", "supervising_department": "fire"}, 401, "unauthenticated", "anonymous"),
    ("dispatcher", {"name": "x", "supervising_department": "fire"}, 403, "denied", "fdisp"),
    ("admin", {"name": 42, "supervising_department": "fire"}, 422, "invalid", "admin"),
    ("admin", {"name": "x", "supervising_department": "navy"}, 422, "invalid", "admin"),
])
def test_a_rejected_write_is_audited_and_writes_nothing_else(
    request: pytest.FixtureRequest, users, database: Database, who: str, body: dict[str, Any], status: int,
    outcome: str, actor: str
) -> None:
    c: TestClient = {"anonymous": lambda: request.getfixturevalue("client"),
                     "dispatcher": lambda: users.login("fdisp", roles=("dispatcher",), department="fire"),
                     "admin": lambda: request.getfixturevalue("admin")}[who]()
    counts, before = _counts(database), len(_audit(database))

    r = c.post(ENTERPRISES, json=body)

    assert r.status_code == status, r.text
    assert _counts(database) == counts
    rows = _audit(database)
    assert len(rows) == before + 1
    assert rows[-1]["action"] == "POST /api/v1/enterprises"
    assert rows[-1]["status_code"] == status
    assert rows[-1]["outcome"] == outcome
    assert rows[-1]["actor"] == actor
    assert (rows[-1]["actor_user_id"] is None) is (who == "anonymous")


def test_a_write_refused_for_a_missing_csrf_header_is_audited_as_denied(users, database: Database) -> None:
    ana = users.login("ana")
    ana.headers.pop("X-CSRF-Token")
    before = len(_audit(database))

    assert ana.post("/api/v1/auth/tokens", json={"name": "x"}).status_code == 403

    rows = _audit(database)
    assert len(rows) == before + 1
    assert (rows[-1]["actor"], rows[-1]["outcome"]) == ("ana", "denied")


def test_failed_logins_are_audited_with_username_and_reason_but_never_the_password(
    client: TestClient, users, admin: TestClient, database: Database
) -> None:
    users.add("ana")
    guesses = {"wrong": "Tr0ub4dor&3-guess", "unknown": "c0rrect-horse-guess", "invalid": "extra-field-secret"}
    before = len(_audit(database))

    assert client.post("/api/v1/auth/login", json={"username": "ana", "password": guesses["wrong"]}).status_code == 401
    assert client.post("/api/v1/auth/login",
                       json={"username": "ghost", "password": guesses["unknown"]}).status_code == 401
    assert client.post("/api/v1/auth/login",
                       json={"username": "ana", "password": guesses["invalid"], "x": 1}).status_code == 422
    # accepted writes that carry passwords must not store them either
    created = admin.post("/api/v1/users", json={"username": "ben", "password": "ben-secret-pass-9",
                                                "roles": ["viewer"], "department": "fire"})
    assert created.status_code == 201
    assert admin.patch(f"/api/v1/users/{created.json()['id']}",
                       json={"password": "ben-newer-pass-9"}).status_code == 200

    rows = _audit(database)[before:]
    wrong, unknown = rows[0], rows[1]
    assert (wrong["actor"], wrong["outcome"], wrong["status_code"]) == ("ana", "unauthenticated", 401)
    assert wrong["detail"] == {"username": "ana", "reason": "wrong password"}
    assert (unknown["actor"], unknown["detail"]) == ("ghost", {"username": "ghost", "reason": "unknown user"})
    assert rows[-1]["detail"] == {"changed": ["password"]}
    everything = json.dumps(_audit(database), default=str)
    for secret in (*guesses.values(), "ben-secret-pass-9", "ben-newer-pass-9", "pw-ana-123"):
        assert secret not in everything


def _one_entry(database: Database, clock: ManualClock) -> int:
    with database.session() as s:
        return audit_service.record(session=s, now=clock.now(), action="POST /x", status_code=200,
                                    actor="tester").id


def test_update_on_the_audit_log_is_refused_by_the_database(database: Database, clock: ManualClock) -> None:
    entry = _one_entry(database, clock)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :id"), {"id": entry})

    with database.engine.connect() as conn:
        actor = conn.execute(sa.text("SELECT actor FROM audit_log WHERE id = :id"), {"id": entry}).scalar_one()
    assert actor == "tester"


def test_delete_on_the_audit_log_is_refused_by_the_database(database: Database, clock: ManualClock) -> None:
    entry = _one_entry(database, clock)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))

    with database.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE id = :id"), {"id": entry}).scalar_one() == 1


def test_truncate_on_the_audit_log_is_refused_on_postgres(database: Database, clock: ManualClock) -> None:
    _one_entry(database, clock)
    if database.dialect != "postgresql":
        return  # SQLite has no TRUNCATE; DELETE without WHERE is covered above

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE audit_log"))


def test_admin_reads_the_audit_log_newest_first_with_filters(admin: TestClient, client: TestClient) -> None:
    client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever-1"})
    admin.post(ENTERPRISES, json={"name": "x", "supervising_department": "fire"})

    everything = admin.get("/api/v1/audit").json()
    failures = admin.get("/api/v1/audit", params={"outcome": "unauthenticated"}).json()
    by_ghost = admin.get("/api/v1/audit", params={"actor": "ghost"}).json()

    assert [e["action"] for e in everything["items"]][:3] == [
        "POST /api/v1/enterprises", "POST /api/v1/auth/login", "POST /api/v1/auth/login"]
    assert everything["total"] == 3
    assert [e["actor"] for e in failures["items"]] == ["ghost"]
    assert by_ghost["total"] == 1 and by_ghost["items"][0]["detail"]["reason"] == "unknown user"


def test_an_enterprise_officer_cannot_read_the_audit_log(users) -> None:
    assert users.login("someone", roles=("enterprise_officer",)).get("/api/v1/audit").status_code == 403


def test_anonymous_cannot_read_the_audit_log(client: TestClient) -> None:
    assert client.get("/api/v1/audit").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "dispatcher", "inspector"])
def test_the_audit_log_is_for_administrators_only(users, role: str) -> None:
    assert users.login("someone", roles=(role,)).get("/api/v1/audit").status_code == 403


def _actors(database: Database, principal: Principal) -> set[str]:
    with database.session() as s:
        rows, total = audit_service.list_entries(session=s, principal=principal)
    assert total == len(rows)
    return {r.actor for r in rows}


def test_outside_city_wide_roles_the_audit_is_scoped_to_the_callers_department(
    users, client: TestClient, database: Database
) -> None:
    users.login("pdisp", roles=("dispatcher",), department="police")
    users.login("fdisp", roles=("dispatcher",), department="fire")
    client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever-1"})
    police, fire = _dept(database, "police"), _dept(database, "fire")

    assert _actors(database, Principal(user_id=99, username="pa", roles=("dept_admin",), department_id=police)) == {
        "pdisp"}
    assert _actors(database, Principal(user_id=99, username="fa", roles=("dept_admin",), department_id=fire)) == {
        "fdisp"}
    assert _actors(database, Principal(user_id=99, username="duty", roles=("duty_officer",), department_id=fire)) == {
        "pdisp", "fdisp", "ghost"}


def test_a_caller_in_no_department_sees_no_audit_entries(users, client: TestClient, database: Database) -> None:
    users.login("pdisp", roles=("dispatcher",), department="police")
    client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever-1"})

    assert _actors(database, Principal(user_id=99, username="nd", roles=("dept_admin",), department_id=None)) == set()
