"""Every error is RFC 9457 problem+json that names the bad field; a refused write changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from tests.conftest import Users

ENTERPRISES = "/api/v1/enterprises"
PROBLEM = "application/problem+json"
LIMIT = 1024


def _count(database: Database, table: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one())


def _assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body


@pytest.fixture
def small(settings: Settings, database: Database, clock: ManualClock) -> FastAPI:
    """The app with a 1 KiB body limit."""
    return create_app(settings.model_copy(update={"max_body_bytes": LIMIT}), database=database, clock=clock)


@pytest.fixture
def small_root(small: FastAPI, database: Database, clock: ManualClock) -> TestClient:
    return Users(small, database, clock).login("root", roles=("admin",), department="ops")


def _oversized() -> dict[str, str]:
    return {"name": "x" * 150, "address": "y" * (LIMIT + 10), "supervising_department": "fire"}


def test_malformed_json_is_400_and_writes_nothing(admin: TestClient, database: Database) -> None:
    r = admin.post(ENTERPRISES, content=b'{"name": "x", "supervising_department": ',
                   headers={"content-type": "application/json"})

    body = _assert_problem(r, 400)
    assert body["type"].endswith("/malformed-json")
    assert _count(database, "enterprise") == 0


def test_a_wrong_type_is_422_naming_the_field(admin: TestClient, database: Database) -> None:
    r = admin.post(ENTERPRISES, json={"name": 42, "supervising_department": "fire", "lon": "east"})

    body = _assert_problem(r, 422)
    assert sorted(e["field"] for e in body["errors"]) == ["body.lon", "body.name"]
    assert "body.name" in body["detail"]
    assert _count(database, "enterprise") == 0


def test_a_missing_field_is_422_naming_it(admin: TestClient) -> None:
    body = _assert_problem(admin.post(ENTERPRISES, json={"name": "x"}), 422)

    assert [e["field"] for e in body["errors"]] == ["body.supervising_department"]


def test_an_unknown_field_is_422_naming_it(admin: TestClient, database: Database) -> None:
    r = admin.post(ENTERPRISES, json={"name": "x", "supervising_department": "fire", "colour": "red"})

    body = _assert_problem(r, 422)
    assert body["errors"] == [{"field": "body.colour", "message": "unknown field", "type": "extra_forbidden"}]
    assert _count(database, "enterprise") == 0


def test_a_bad_query_parameter_is_422_naming_it(admin: TestClient) -> None:
    body = _assert_problem(admin.get(ENTERPRISES, params={"limit": "many"}), 422)

    assert [e["field"] for e in body["errors"]] == ["query.limit"]


def test_a_body_over_the_limit_by_content_length_is_413(small_root: TestClient, database: Database) -> None:
    payload = json.dumps(_oversized()).encode()
    assert len(payload) > LIMIT

    r = small_root.post(ENTERPRISES, content=payload, headers={"content-type": "application/json"})

    body = _assert_problem(r, 413)
    assert str(LIMIT) in body["detail"]
    assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"
    assert _count(database, "enterprise") == 0
    # just under the limit is fine
    ok = small_root.post(ENTERPRISES, json={"name": "x" * 100, "supervising_department": "fire"})
    assert ok.status_code == 201


def _chunks() -> Iterator[bytes]:
    payload = json.dumps(_oversized()).encode()
    for i in range(0, len(payload), 100):
        yield payload[i:i + 100]


def test_an_oversized_chunked_body_is_refused_and_writes_nothing(small_root: TestClient, database: Database) -> None:
    r = small_root.post(ENTERPRISES, content=_chunks(), headers={"content-type": "application/json"})

    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith(PROBLEM)
    assert _count(database, "enterprise") == 0


def test_a_chunked_body_over_the_limit_is_413(small_root: TestClient) -> None:
    r = small_root.post(ENTERPRISES, content=_chunks(), headers={"content-type": "application/json"})

    _assert_problem(r, 413)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_audited_as_too_large(small_root: TestClient, database: Database,
                                                       chunked: bool) -> None:
    before = _count(database, "audit_log")
    content = _chunks() if chunked else json.dumps(_oversized()).encode()

    small_root.post(ENTERPRISES, content=content, headers={"content-type": "application/json"})

    assert _count(database, "audit_log") == before + 1
    with database.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT outcome, status_code FROM audit_log ORDER BY id DESC")).first()
    assert tuple(row) == ("too-large", 413)  # the body is refused before anyone is authenticated


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/api/v1/no-such-thing", {}, 404),
    ("GET", "/no-such-page", {}, 404),
    ("DELETE", "/api/v1/no-such-thing", {}, 404),
    ("PUT", "/api/v1/auth/me", {}, 405),
    ("GET", "/api/v1/users", {}, 401),
    ("POST", ENTERPRISES, {"json": {"name": "x", "supervising_department": "fire"}}, 401),
    ("POST", "/api/v1/auth/login", {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
    ("POST", "/api/v1/auth/login", {"json": {"username": ""}}, 422),
    ("GET", "/api/v1/enterprises/not-a-number", {}, 401),
])
def test_every_error_is_problem_json(client: TestClient, method: str, path: str, kwargs: dict, status: int) -> None:
    r = client.request(method, path, **kwargs)

    body = _assert_problem(r, status)
    assert body["instance"] == path
    assert r.headers["x-request-id"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_response_carries_a_fresh_request_id_and_security_headers(client: TestClient) -> None:
    responses = [client.get("/healthz"), client.get("/healthz"), client.get("/api/v1/nope")]

    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == 3 and all(len(i) == 26 for i in ids)
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"


def _boom_client(app: FastAPI) -> TestClient:
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/api/v1/test-boom", boom, methods=["GET"])
    return TestClient(app, base_url="http://testserver", raise_server_exceptions=False)


def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing(app: FastAPI) -> None:
    r = _boom_client(app).get("/api/v1/test-boom")

    _assert_problem(r, 500)
    assert "hunter2" not in r.text and "RuntimeError" not in r.text


def test_an_unexpected_error_still_carries_the_request_id_and_security_headers(app: FastAPI) -> None:
    r = _boom_client(app).get("/api/v1/test-boom")

    assert r.status_code == 500
    assert r.headers.get("x-request-id")
    assert r.headers.get("x-content-type-options") == "nosniff"


def test_file_uploads_have_their_own_larger_limit(settings: Settings, database: Database, clock: ManualClock) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": LIMIT, "max_upload_bytes": 4 * LIMIT}),
                     database=database, clock=clock)
    root = Users(app, database, clock).login("root", roles=("admin",), department="ops")
    inc = root.post("/api/v1/incidents", json={"incident_type": "fire", "lon": 121.47, "lat": 31.23}).json()
    files = f"/api/v1/incidents/{inc['id']}/files"
    pdf = b"%PDF-1.4\n" + b"0" * (2 * LIMIT)  # over the JSON limit, within the upload limit
    assert root.post(files, files={"file": ("a.pdf", pdf, "application/pdf")}).status_code == 201
    r = root.post(files, files={"file": ("b.pdf", pdf * 3, "application/pdf")})
    _assert_problem(r, 413)
    # the same size as JSON stays refused: only multipart bodies get the upload limit
    r = root.post(ENTERPRISES, content=b"{" + b" " * (2 * LIMIT) + b"}", headers={"content-type": "application/json"})
    _assert_problem(r, 413)


def test_too_many_requests_carries_retry_after(client: TestClient) -> None:
    for _ in range(30):
        r = client.post("/api/v1/public/subscriptions",
                        json={"district": "310101", "kind": "email", "target": "a@example.org"})
        if r.status_code == 429:
            break
    _assert_problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1
