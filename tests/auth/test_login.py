"""Password login, lockout, logout, session expiry and the CSRF rule for cookie-authenticated writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.auth import service as auth_service
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.deps import SESSION_COOKIE

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
PROBLEM = "application/problem+json"


def _count(database: Database, table: str, kind: str | None = None) -> int:
    t = sa.table(table, sa.column("kind"))
    stmt = sa.select(sa.func.count()).select_from(t)
    if kind is not None:
        stmt = stmt.where(t.c.kind == kind)
    with database.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_right_password_sets_a_httponly_lax_cookie_and_returns_csrf_and_department(client: TestClient, users) -> None:
    password = users.add("ana", roles=("dispatcher",), department="fire")

    r = client.post(LOGIN, json={"username": "ana", "password": password})

    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    attrs = {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attrs
    assert "samesite=lax" in cookie.lower().replace(" ", "")
    assert "secure" not in attrs  # plain http in the test env: "auto" must not set Secure
    body = r.json()
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 16
    assert body["user"]["username"] == "ana"
    assert body["user"]["department"]["code"] == "fire"
    assert body["permissions"] == ["*:act", "*:read", "token:write"]  # the dispatcher's grants
    assert "password" not in r.text and "argon2" not in r.text
    # the cookie alone now authenticates reads, and /me returns the same CSRF token
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "ana"
    assert me.json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient, users) -> None:
    users.add("ana")

    wrong = client.post(LOGIN, json={"username": "ana", "password": "not-her-password"})
    unknown = client.post(LOGIN, json={"username": "nobody", "password": "not-her-password"})

    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.headers["content-type"].startswith(PROBLEM)
        assert "set-cookie" not in r.headers
        assert "reason" not in r.json()  # the audit keeps the reason; the caller must not learn it
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == auth_service.BAD_CREDENTIALS


def test_account_locks_after_max_failures_until_the_lockout_passes(
    client: TestClient, users, clock: ManualClock, settings: Settings
) -> None:
    assert settings.login_max_failures == 5 and settings.login_lockout_minutes == 15
    password = users.add("ana")
    wrong = {"username": "ana", "password": "wrong-password"}
    right = {"username": "ana", "password": password}

    for _ in range(4):
        assert client.post(LOGIN, json=wrong).status_code == 401
    assert client.post(LOGIN, json=right).status_code == 200  # four failures do not lock; success resets the count

    for _ in range(5):
        assert client.post(LOGIN, json=wrong).status_code == 401
    locked = client.post(LOGIN, json=right)
    assert locked.status_code == 401
    assert locked.json()["detail"] == auth_service.BAD_CREDENTIALS  # a lock is not disclosed

    clock.advance(minutes=14, seconds=59)
    assert client.post(LOGIN, json=right).status_code == 401
    clock.advance(seconds=2)
    assert client.post(LOGIN, json=right).status_code == 200


def test_inactive_user_cannot_log_in_and_loses_open_sessions(
    client: TestClient, users, database: Database, clock: ManualClock
) -> None:
    password = users.add("ana")
    ana = users.client("ana", password)
    with database.session() as s:
        user = auth_service.get_by_username(session=s, username="ana")
        auth_service.update(session=s, now=clock.now(), user=user, is_active=False)

    r = client.post(LOGIN, json={"username": "ana", "password": password})
    assert r.status_code == 401
    assert r.json()["detail"] == auth_service.BAD_CREDENTIALS
    assert ana.get(ME).status_code == 401


def test_logout_revokes_the_session_on_the_server(app, users) -> None:
    ana = users.login("ana")
    token = ana.cookies[SESSION_COOKIE]

    r = ana.post("/api/v1/auth/logout")

    assert r.status_code == 204
    assert ana.get(ME).status_code == 401
    # replaying the old cookie from elsewhere fails too: the server revoked it, not just the browser
    replay = TestClient(app, base_url="http://testserver", cookies={SESSION_COOKIE: token})
    assert replay.get(ME).status_code == 401


def test_session_expires_after_session_ttl_hours(users, clock: ManualClock, settings: Settings) -> None:
    ana = users.login("ana")

    clock.advance(hours=settings.session_ttl_hours, minutes=-1)
    assert ana.get(ME).status_code == 200
    clock.advance(minutes=1)
    r = ana.get(ME)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)


def test_cookie_write_without_the_csrf_header_is_403(users, database: Database) -> None:
    ana = users.login("ana")
    csrf = ana.headers.pop("X-CSRF-Token")

    missing = ana.post("/api/v1/auth/tokens", json={"name": "x"})
    wrong = ana.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf[:-2] + "zz"})

    for r in (missing, wrong):
        assert r.status_code == 403
        assert r.headers["content-type"].startswith(PROBLEM)
        assert "X-CSRF-Token" in r.json()["detail"]
    assert _count(database, "auth_token", kind="api") == 0
    assert ana.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201


@pytest.mark.parametrize("kwargs", [
    {"content": b'{"username": "admin", "password": "x"}', "headers": {"content-type": "text/plain"}},
    {"data": {"username": "admin", "password": "x"}},
], ids=["text-plain", "form"])
def test_login_with_a_non_json_content_type_is_400(client: TestClient, database: Database, kwargs: dict) -> None:
    r = client.post(LOGIN, **kwargs)

    assert r.headers["content-type"].startswith(PROBLEM)
    assert _count(database, "auth_token") == 0
    assert r.status_code == 400


def test_login_with_a_non_json_content_type_is_refused(client: TestClient, database: Database) -> None:
    """Whatever the status, a cross-site form post must never start a session."""
    r = client.post(LOGIN, data={"username": "admin", "password": "x"})

    assert r.status_code in (400, 415, 422)
    assert "set-cookie" not in r.headers
    assert _count(database, "auth_token") == 0


def test_success_resets_the_failure_count_and_records_the_login(client: TestClient, users, database: Database,
                                                             clock: ManualClock) -> None:
    password = users.add("ana")
    client.post(LOGIN, json={"username": "ana", "password": "wrong-password"})
    clock.advance(minutes=3)

    assert client.post(LOGIN, json={"username": "ana", "password": password}).status_code == 200

    with database.session() as s:
        user = auth_service.get_by_username(session=s, username="ana")
        assert user.failed_logins == 0
        assert user.locked_until is None
        assert user.last_login_at == clock.now()
        assert user.last_login_at - user.created_at == timedelta(minutes=3)
