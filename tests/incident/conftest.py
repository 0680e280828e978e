"""Fixtures for incident command: the router on the test app, principals by department, a warning factory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import citybrain.incident.models  # noqa: F401 - the tables join the metadata (the PostgreSQL reset empties them)
from citybrain.auth.permissions import Principal
from citybrain.org.models import Department
from citybrain.warning.models import Warning

API = "/api/v1"
PEOPLES_SQUARE = (121.4737, 31.2304)


@pytest.fixture
def incident_app(app: Any) -> Any:
    return app  # api.py wires the incident routes


@pytest.fixture
def iclient(incident_app: Any) -> Any:
    with TestClient(incident_app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def iadmin(iclient: TestClient) -> TestClient:
    from tests.conftest import ADMIN_PASSWORD

    r = iclient.post(f"{API}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    iclient.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return iclient


def dept_id(session: Any, code: str) -> int:
    return session.scalar(sa.select(Department.id).where(Department.code == code))


def officer(session: Any, code: str, roles: tuple[str, ...] = ("dispatcher",), name: str | None = None) -> Principal:
    """A principal of department ``code``; ``ops`` is city-wide (the operations centre)."""
    dept = session.get(Department, dept_id(session, code))
    return Principal(1, name or f"officer-{code}", roles, department_id=dept.id, department_city_wide=dept.city_wide)


def make_warning(session: Any, now: datetime, *, rule: str = "gas-methane-high", level: int = 1,
                 lon: float = PEOPLES_SQUARE[0], lat: float = PEOPLES_SQUARE[1], state: str = "firing",
                 annotations: dict[str, Any] | None = None, labels: dict[str, Any] | None = None,
                 exercise: bool = False, fingerprint: str | None = None) -> Warning:
    """A warning row as the engine would have stored it."""
    w = Warning(fingerprint=fingerprint or f"fp-{rule}-{lon}-{lat}"[:32], rule_key=rule, source="rule",
                labels={"rule": rule, "department": "emergency", **(labels or {})}, state=state, level=level,
                peak_level=level, department_id=dept_id(session, "emergency"), district_code="310101", lon=lon,
                lat=lat, value=80.0, summary_zh="甲烷浓度超限", summary_en="Methane above limit",
                annotations=dict(annotations or {}), evidence={}, starts_at=now, since=now, fired_at=now,
                escalation_step=0, last_signal_at=now, exercise=exercise, updated_at=now)
    session.add(w)
    session.flush()
    return w
