"""API tokens: shown once, stored as a hash, bearer-authenticated, revocable, expiring, owned by one user."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.deps import SESSION_COOKIE

TOKENS = "/api/v1/auth/tokens"
ME = "/api/v1/auth/me"


def _bearer(app, secret: str) -> TestClient:
    """A client with no cookie and no CSRF header: only the token authenticates it."""
    return TestClient(app, base_url="http://testserver", headers={"Authorization": f"Bearer {secret}"})


def test_the_secret_is_shown_once_and_stored_only_as_a_hash(users, database: Database, clock: ManualClock) -> None:
    bot = users.login("bot")

    r = bot.post(TOKENS, json={"name": "sensor gateway"})

    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith("cbt_") and len(secret) > 40
    assert created["prefix"] == secret[:12]
    assert created["name"] == "sensor gateway"
    assert created["expires_at"].startswith((clock.now() + timedelta(days=90)).date().isoformat())
    listed = bot.get(TOKENS)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [created["id"]]
    assert "token" not in listed.json()[0]
    assert secret not in listed.text
    with database.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM auth_token WHERE id = :id"), {"id": created["id"]}).mappings().one()
    assert row["kind"] == "api"
    assert all(secret not in str(v) for v in row.values())


def test_bearer_authenticates_reads_and_writes_without_csrf(app, users) -> None:
    secret = users.login("bot").post(TOKENS, json={"name": "ci"}).json()["token"]
    machine = _bearer(app, secret)

    me = machine.get(ME)
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "bot"
    assert me.json()["csrf_token"] is None  # CSRF belongs to browser sessions only
    write = machine.post(TOKENS, json={"name": "second"})
    assert write.status_code == 201, write.text


def test_a_revoked_token_is_refused(app, users) -> None:
    bot = users.login("bot")
    created = bot.post(TOKENS, json={"name": "ci"}).json()
    machine = _bearer(app, created["token"])
    assert machine.get(ME).status_code == 200

    assert bot.delete(f"{TOKENS}/{created['id']}").status_code == 204

    r = machine.get(ME)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert bot.get(TOKENS).json()[0]["revoked_at"] is not None


def test_an_expired_token_is_refused(app, users, clock: ManualClock) -> None:
    secret = users.login("bot").post(TOKENS, json={"name": "ci", "expires_in_days": 1}).json()["token"]
    machine = _bearer(app, secret)

    clock.advance(days=1, seconds=-1)
    assert machine.get(ME).status_code == 200
    clock.advance(seconds=1)
    assert machine.get(ME).status_code == 401


@pytest.mark.parametrize("header", [
    "Basic Ym90OnB3LWJvdC0xMjM=",
    "Bearer",
    "Bearer    ",
    "Token cbt_abc",
    "Bearer cbt_not-a-real-token",
    "cbt_no-scheme-at-all",
])
def test_a_malformed_or_unknown_authorization_header_is_401(client: TestClient, header: str) -> None:
    r = client.get(ME, headers={"Authorization": header})

    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_bad_authorization_header_is_not_rescued_by_a_valid_cookie(users) -> None:
    ana = users.login("ana")

    assert ana.get(ME).status_code == 200
    assert ana.get(ME, headers={"Authorization": "Basic abc"}).status_code == 401


def test_session_and_api_credentials_are_not_interchangeable(app, users) -> None:
    bot = users.login("bot")
    cookie = bot.cookies[SESSION_COOKIE]
    secret = bot.post(TOKENS, json={"name": "ci"}).json()["token"]

    assert _bearer(app, cookie).get(ME).status_code == 401
    as_cookie = TestClient(app, base_url="http://testserver", cookies={SESSION_COOKIE: secret})
    assert as_cookie.get(ME).status_code == 401


def test_a_token_belongs_to_its_user(app, users) -> None:
    ana, bob = users.login("ana"), users.login("bob")
    created = ana.post(TOKENS, json={"name": "ana's"}).json()

    assert bob.get(TOKENS).json() == []
    r = bob.delete(f"{TOKENS}/{created['id']}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _bearer(app, created["token"]).get(ME).status_code == 200
    assert ana.get(TOKENS).json()[0]["revoked_at"] is None


def test_a_role_without_token_write_cannot_create_tokens(users, database: Database) -> None:
    viewer = users.login("vera", roles=("viewer",))

    r = viewer.post(TOKENS, json={"name": "x"})

    assert r.status_code == 403
    with database.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM auth_token WHERE kind = 'api'")).scalar_one() == 0


def test_a_token_stops_working_when_its_user_is_deactivated(app, users, admin: TestClient) -> None:
    bot = users.login("bot")
    secret = bot.post(TOKENS, json={"name": "ci"}).json()["token"]
    bot_id = bot.get(ME).json()["user"]["id"]

    assert admin.patch(f"/api/v1/users/{bot_id}", json={"is_active": False}).status_code == 200

    assert _bearer(app, secret).get(ME).status_code == 401
