"""A device registered through the API and publishing over a real MQTT broker shows up in the API."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.core.clock import SystemClock
from citybrain.sensing.mqtt import bridge_for, publish_readings


@pytest.mark.parametrize("receiver", ["process", "thread"])
def test_a_new_device_publishing_over_mqtt_appears_in_the_api(receiver, broker_url, settings, database, users):
    prefix = f"cbtest/{uuid.uuid4().hex[:8]}"
    settings = settings.model_copy(update={"mqtt_url": broker_url, "mqtt_receiver": receiver})
    bridge = bridge_for(settings, client_id=f"cb-e2e-{uuid.uuid4().hex[:8]}", prefix=prefix, session_expiry_s=60)
    app = create_app(settings, database=database, clock=SystemClock(), services=[bridge])
    users.app = app
    with TestClient(app):
        steward = users.login("e2e-steward", roles=("data_steward",), department="ops")
        asset = steward.post("/api/v1/assets", json={
            "key": "E2E-PIT-1", "asset_class": "metro_pit", "department": "housing", "lon": 121.4737,
            "lat": 31.2304, "name_zh": "测试基坑", "risk_level": "red"})
        assert asset.status_code == 201, asset.text
        device = steward.post("/api/v1/devices", json={
            "key": "E2E-SETTLE-1", "type_key": "pit_settlement", "asset_id": asset.json()["id"]})
        assert device.status_code == 201, device.text
        device_id = device.json()["id"]

        # a new client id has no session yet: what is published before it subscribes is not kept for it
        assert bridge.subscribed.wait(20), bridge.stats()
        ts = datetime.now(UTC).replace(microsecond=0)
        sent = time.monotonic()
        publish_readings(broker_url, [{"device_id": "E2E-SETTLE-1", "ts": ts.isoformat().replace("+00:00", "Z"),
                                       "values": {"settlement": -3.2}, "msg_id": "e2e-1"}], prefix=prefix)
        rows = []
        while time.monotonic() - sent < 20 and not rows:
            rows = steward.get(f"/api/v1/devices/{device_id}/readings",
                               params={"quantity": "settlement"}).json().get("items", [])
            time.sleep(0.05)
        assert rows and rows[0]["value"] == -3.2
        while time.monotonic() - sent < 20 and bridge.stats()["stored"] != 1:  # the receiver's counts trail a little
            time.sleep(0.05)
        assert bridge.stats()["stored"] == 1
