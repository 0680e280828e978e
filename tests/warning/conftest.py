"""Fixtures for the warning engine: an app with the warning host running and a small registered fleet."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.sensing import service as sensing
from citybrain.sensing.models import Device
from citybrain.warning.flows import WarningHost
from tests.sensing.conftest import ASSETS, DEVICES, iso, reading  # noqa: F401 - re-exported for tests

API = "/api/v1"

METHANE_RULE = {
    "key": "methane-lel",
    "name": {"zh": "可燃气体浓度", "en": "Methane"},
    "scope": {"device_type": ["gas_methane"]},
    "quantity": "methane",
    "when": {"kind": "threshold", "levels": {"blue": 10, "yellow": 25, "orange": 50, "red": 75}, "hysteresis": 2},
    "summary": {"zh": "{device} 甲烷 {value}%LEL", "en": "{device} methane {value} %LEL"},
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``engine_mode``: the host's default for the backend, and on SQLite also the engine in a process of its
    own (PostgreSQL refuses it: tests/warning/test_flows.py)."""
    if "engine_mode" in metafunc.fixturenames:
        sqlite = metafunc.config.getoption("--db") == "sqlite"
        metafunc.parametrize("engine_mode", [None, "process"] if sqlite else [None])


@pytest.fixture
def host(request: pytest.FixtureRequest, database: Any) -> WarningHost:
    """The app's warning host (its mode from the settings: the engine process on SQLite); parametrized
    indirectly with ``"in-process"``, one whose engine lives in this process (inline on SQLite)."""
    mode = None
    if getattr(request, "param", None) == "in-process" and database.dialect == "sqlite":
        mode = "inline"
    return WarningHost(tick_s=3600, snapshot_s=3600, deliver=False, mode=mode)


@pytest.fixture
def warning_app(settings, database, clock, host) -> Any:
    return create_app(settings, database=database, clock=clock, services=[host])


@pytest.fixture
def wclient(warning_app: Any) -> Iterator[TestClient]:
    with TestClient(warning_app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def wadmin(wclient: TestClient, warning_app: Any) -> TestClient:
    from tests.conftest import ADMIN_PASSWORD

    r = wclient.post(f"{API}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    wclient.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return wclient


@pytest.fixture
def fleet(database, clock) -> dict[str, int]:
    with database.session() as s:
        sensing.register_catalogue(session=s, now=clock.now(), assets=ASSETS, devices=DEVICES)
        s.commit()
        return dict(s.execute(sa.select(Device.key, Device.id)).all())


def wait_for(fetch: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    """Poll until ``fetch`` returns something truthy (the bus hands readings on asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.02)
