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
import sqlalchemy as sa

from citybrain.bench import BENCHMARKS
from citybrain.bench.warning import _abba, _merged
from citybrain.core.database import Database
from citybrain.sensing.models import Reading
from tests.support import server_url

KEYS = {"benchmark", "mode", "backend", "readings", "warning_changes", "p50_ms", "p99_ms", "ingest_per_s_rules_off",
        "ingest_per_s_rules_on", "ratio", "ingest_cpu_ratio", "cpu_s_rules_off", "cpu_s_rules_on", "engine_errors",
        "host", "engine_mode"}
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
    result = run(backend=database.url, history=2)
    check(result)
    assert result["mode"] == "in-process" and result["history_copies"] == 2
    if database.dialect == "sqlite":  # as serve runs it: the rules in a process of their own
        assert result["engine_mode"] == "process" and result["cpu_s_rules_on"]["engine"] > 0
        assert "engine" not in result["cpu_s_rules_off"]
    else:
        assert result["engine_mode"] == "subscriber" and "engine" not in result["cpu_s_rules_on"]
    # off, on, on, off: two timed runs per mode
    assert [len(result["runs_per_s"][k]) for k in ("rules_off", "rules_on")] == [2, 2]
    with database.session() as s:  # each earlier copy holds every value of the readings, once
        copies = [s.scalar(sa.select(sa.func.count()).select_from(Reading).where(Reading.msg_id.like(f"%-h{c}")))
                  for c in (1, 2, 3)]
    assert copies[0] == copies[1] == result["host"]["observations"] and copies[2] == 0


def test_an_empty_table_and_a_negative_history() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        run(history=-1)


def test_the_rules_inline_on_sqlite() -> None:
    result = run(engine="inline", history=0)
    check(result)
    assert result["engine_mode"] == "inline" and "engine" not in result["cpu_s_rules_on"]
    with pytest.raises(ValueError, match="process or inline"):
        run(engine="elsewhere")


def test_runs_of_one_mode_merge_into_one_rate_and_summed_cpu() -> None:
    merged = _merged([{"rate": 100.0, "cpu_s": {"wall": 1.0, "bench": 0.5, "worker": None}, "trailed": 0.1},
                      {"rate": 50.0, "cpu_s": {"wall": 2.0, "bench": 1.5, "worker": None}, "trailed": 0.3}])
    assert merged["rate"] == pytest.approx(2 / (1 / 100 + 1 / 50))  # the same readings twice over the summed time
    assert merged["cpu_s"] == {"wall": 3.0, "bench": 2.0, "worker": None} and merged["trailed"] == 0.3
    assert merged["rates"] == [100.0, 50.0]


def test_the_throughput_runs_alternate_off_on_on_off_on_later_spans() -> None:
    seen: list[tuple[bool, str]] = []

    def one(chunks: list[list[dict[str, Any]]], with_rules: bool, _i: int) -> dict[str, Any]:
        seen.append((with_rules, chunks[0][0]["ts"]))
        return {"rate": 10.0, "cpu_s": {"wall": 1.0}}

    chunks = [[{"device_id": "D", "ts": "2026-01-05T00:00:00Z", "values": {"q": 1.0}, "msg_id": "m"}]]
    off, on = _abba(one, chunks, 3600)
    assert [rules for rules, _ in seen] == [False, True, True, False]
    assert [ts for _, ts in seen] == ["2026-01-05T01:00:00Z", "2026-01-05T02:00:00Z", "2026-01-05T03:00:00Z",
                                      "2026-01-05T04:00:00Z"]
    assert off["rate"] == on["rate"] == 10.0


def test_with_the_host_in_a_worker_process(database: Database) -> None:
    parts = urlsplit(NATS)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError:
        pytest.skip(f"no NATS server at {NATS}; CI's strict mode fails this skip")
    result = run(backend=database.url, worker=True, nats=NATS)
    check(result)
    assert result["mode"] == "worker" and result["worker_trailed_s"] >= 0 and result["engine_mode"] == "subscriber"
    assert result["cpu_s_rules_on"]["worker"] > 0  # the engine's work was done in the worker process


def test_with_the_readings_published_over_mqtt(database: Database) -> None:
    url = server_url(MQTT, 1883, "MQTT broker (Debian package 'mosquitto')")
    result = run(backend=database.url, mqtt=True, mqtt_url=url)
    check(result)
    assert result["mode"] == "mqtt" and result["broker"] == url
    assert result["engine_mode"] == ("process" if database.dialect == "sqlite" else "subscriber")
    bridge = result["bridge"]  # every reading of the latency run came in through the bridge, none refused
    assert bridge["received"] == bridge["stored"] == result["readings"] and bridge["rejected"] == 0


def test_mqtt_and_worker_are_separate_modes() -> None:
    with pytest.raises(ValueError, match="choose one"):
        run(worker=True, mqtt=True)
