"""Liveness and readiness: /healthz checks only the process, /readyz the database and its schema version."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.core import migrate
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings

PROBLEM = "application/problem+json"


def test_healthz_answers_without_credentials(client: TestClient) -> None:
    r = client.get("/healthz")

    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_is_200_on_a_migrated_database(client: TestClient, database: Database) -> None:
    r = client.get("/readyz")

    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "database": database.dialect,
                        "migration": migrate.head_revision(database.engine)}


def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings, clock: ManualClock) -> None:
    down = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(settings, database=down, clock=clock)
    try:
        with TestClient(app) as c:
            ready = c.get("/readyz")
            alive = c.get("/healthz")
    finally:
        down.dispose()

    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith(PROBLEM)
    body = ready.json()
    assert body["status"] == 503 and body["database"] == "down"
    assert body["detail"].startswith("database unreachable")
    assert "nobody" not in ready.text  # no connection string in a public answer
    assert alive.status_code == 200  # liveness does not depend on the database


def test_readyz_is_503_when_the_schema_is_behind_and_recovers_after_upgrade(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    behind = Database(f"sqlite:///{tmp_path / 'behind.db'}")
    migrate.upgrade(behind.engine)
    migrate.downgrade(behind.engine, "base")
    head = migrate.head_revision(behind.engine)
    app = create_app(settings, database=behind, clock=clock)
    try:
        with TestClient(app) as c:
            stale = c.get("/readyz")
            migrate.upgrade(behind.engine)
            fresh = c.get("/readyz")
    finally:
        behind.dispose()

    assert stale.status_code == 503
    assert stale.headers["content-type"].startswith(PROBLEM)
    body = stale.json()
    assert (body["database"], body["migration"], body["head"]) == ("up", None, head)
    assert head in body["detail"] and "citybrain db upgrade" in body["detail"]
    assert fresh.status_code == 200 and fresh.json()["migration"] == head


def test_meta_is_public_and_names_the_city(client: TestClient, settings: Settings) -> None:
    r = client.get("/api/v1/meta")

    assert r.status_code == 200
    body = r.json()
    assert body["city"]["code"] == settings.city_code == "310000"
    assert body["timezone"] == "Asia/Shanghai" and body["env"] == "test"
    assert body["layers"] and all(layer["url"].startswith("/api/v1/geo/layers/") for layer in body["layers"])
