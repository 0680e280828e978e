"""The warning benchmark at a tiny size: in-process, with the warning host in a `citybrain worker` process, and
with the readings published over MQTT."""

from __future__ import annotations

import json
import math
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from citybrain.bench import BENCHMARKS
from citybrain.core.database import Database
from tests.support import server_url

KEYS = {"benchmark", "mode", "backend", "readings", "warning_changes", "p50_ms", "p99_ms", "ingest_per_s_rules_off",
        "ingest_per_s_rules_on", "ratio", "ingest_cpu_ratio", "cpu_s_rules_off", "cpu_s_rules_on", "engine_errors",
        "host"}
NATS = os.environ.get("CITYBRAIN_TEST_NATS_URL", "nats://127.0.0.1:4222")
MQTT = os.environ.get("CITYBRAIN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def run(**options: Any) -> dict[str, Any]:
    result = BENCHMARKS["warning"][1](log=lambda _m: None, devices=120, seconds=600, rows=20_000, **options)
    json.dumps(result)
    return result


def check(result: dict[str, Any]) -> None:
    assert result.keys() >= KEYS
    for k in ("p50_ms", "p99_ms", "ingest_per_s_rules_off", "ingest_per_s_rules_on", "ratio", "ingest_cpu_ratio"):
        assert isinstance(result[k], float) and math.isfinite(result[k]) and result[k] > 0, (k, result[k])
    host = result["host"]
    assert host["readings"] == result["readings"] and host["errors"] == 0 and result["engine_errors"] == {}
    assert result["warning_changes"] >= host["warnings_changed"] > 0  # every change timed (escalations add more)


def test_in_process(database: Database) -> None:
    result = run(backend=database.url)
    check(result)
    assert result["mode"] == "in-process"


def test_with_the_host_in_a_worker_process(database: Database) -> None:
    parts = urlsplit(NATS)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError:
        pytest.skip(f"no NATS server at {NATS}; CI's strict mode fails this skip")
    result = run(backend=database.url, worker=True, nats=NATS)
    check(result)
    assert result["mode"] == "worker" and result["worker_trailed_s"] >= 0
    assert result["cpu_s_rules_on"]["worker"] > 0  # the engine's work was done in the worker process


def test_with_the_readings_published_over_mqtt(database: Database) -> None:
    url = server_url(MQTT, 1883, "MQTT broker (Debian package 'mosquitto')")
    result = run(backend=database.url, mqtt=True, mqtt_url=url)
    check(result)
    assert result["mode"] == "mqtt" and result["broker"] == url
    bridge = result["bridge"]  # every reading of the latency run came in through the bridge, none refused
    assert bridge["received"] == bridge["stored"] == result["readings"] and bridge["rejected"] == 0


def test_mqtt_and_worker_are_separate_modes() -> None:
    with pytest.raises(ValueError, match="choose one"):
        run(worker=True, mqtt=True)
