"""Fixtures for sensing: a small registered fleet, a pipeline, and the router mounted on the test app."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.sensing import rollup, service
from citybrain.sensing.models import Device
from citybrain.sensing.pipeline import IngestResult, Pipeline
from tests.support import server_url

# Two gas devices (emergency), one water-pressure device (water), one bridge strain gauge (transport).
ASSETS = [
    {"asset_id": "A-GAS-1", "asset_class": "gas_space", "name_zh": "阀门井1", "name_en": "valve pit 1",
     "lon": 121.48, "lat": 31.23, "district": "310101"},
    {"asset_id": "A-WTR-1", "asset_class": "water_main", "name_zh": "供水1", "name_en": "water 1",
     "lon": 121.50, "lat": 31.24, "district": "310101"},
    {"asset_id": "A-BRG-1", "asset_class": "bridge", "name_zh": "桥1", "name_en": "bridge 1",
     "lon": 121.60, "lat": 31.30, "district": "310115"},
]
DEVICES = [
    {"device_id": "GAS-1", "kind": "gas_methane", "asset_id": "A-GAS-1", "lon": 121.48, "lat": 31.23},
    {"device_id": "GAS-2", "kind": "gas_methane", "asset_id": "A-GAS-1", "lon": 121.481, "lat": 31.231},
    {"device_id": "WPR-1", "kind": "water_pressure", "asset_id": "A-WTR-1", "lon": 121.50, "lat": 31.24},
    {"device_id": "STR-1", "kind": "bridge_strain", "asset_id": "A-BRG-1", "lon": 121.60, "lat": 31.30},
]


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def reading(device: str, t: datetime, value: float | None = None, *, msg_id: str | None = "auto",
            **values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"device_id": device, "ts": iso(t)}
    if value is not None:
        out["value"] = value
    if values:
        out["values"] = values
    if msg_id == "auto":
        out["msg_id"] = f"{device}-{t:%Y%m%dT%H%M%S%f}"
    elif msg_id is not None:
        out["msg_id"] = msg_id
    return out


BROKER = os.environ.get("CITYBRAIN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture(scope="module")
def broker_url() -> str:
    """The shared Mosquitto the MQTT tests use (each with a topic prefix and client id of its own)."""
    return server_url(BROKER, 1883, "MQTT broker (Debian package 'mosquitto')")


@pytest.fixture
def fleet(database: Database, clock: ManualClock) -> dict[str, int]:
    with database.session() as s:
        service.register_catalogue(session=s, now=clock.now(), assets=ASSETS, devices=DEVICES)
        return dict(s.execute(sa.select(Device.key, Device.id)).all())


class CaughtUpPipeline(Pipeline):
    """The pipeline with the roll-up worker caught up after every batch: the app a moment later.

    Roll-ups and ``device.last_seen_at`` are kept by ``sensing.rollup`` off the ingest path; tests of
    what readers see before the worker ran use ``Pipeline`` itself.
    """

    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> IngestResult:
        result = super().ingest(items, source=source, device_key=device_key)
        rollup.catch_up(self.database)
        return result


@pytest.fixture
def pipeline(database: Database, clock: ManualClock, fleet: dict[str, int]) -> Pipeline:
    return CaughtUpPipeline(database, clock)


@pytest.fixture
def sensing_app(app: Any) -> Any:
    return app  # api.py wires the sensing routes


@pytest.fixture
def t0(clock: ManualClock) -> datetime:
    return clock.now() - timedelta(hours=1)
