"""The warning benchmark with the readings over MQTT.

``--mqtt`` (``"mode": "mqtt"``): the same readings and rules, but each reading is one QoS-1 message a device
publishes (the ingest benchmark's publisher process, paced per message at the same rate) and the bridge as
``serve`` runs it, with its production batching (up to 500 messages, none kept over 25 ms), takes them into
the pipeline, whose ``readings.accepted`` feeds the in-process host: by default its network half in a receiver
process (``sensing.mqtt_process``), with ``CITYBRAIN_MQTT_RECEIVER=thread`` all in this process. Latency runs
from the moment the reading's message was handed to the device's socket to the change arriving on
``warnings.changed``: broker, bridge batching, store, rules. The broker is the ingest benchmark's
(``CITYBRAIN_BENCH_MQTT_URL``, else a private Mosquitto configured as docs/mqtt.md says). ``ratio`` and the
CPU figures come from the same readings published as fast as the publisher's window allows, through the broker
and the bridge, with and without the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from citybrain.bench.ingest import _Devices, mqtt_broker
from citybrain.bench.spatial import bench_database
from citybrain.bench.warning import (
    Log,
    _abba,
    _cpu_s,
    _delta,
    _engine_delta,
    _figures,
    _setup,
    bench_host,
    engine_cpu_s,
)
from citybrain.core.bus import InMemoryBus
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.sensing.pipeline import Pipeline
from citybrain.warning.flows import CHANGED_SUBJECT, WarningHost


@dataclass
class _Bridged:
    bridge: Any  # MqttProcessBridge, as serve runs it (CITYBRAIN_MQTT_RECEIVER=thread: MqttBridge)
    bus: InMemoryBus
    host: WarningHost | None
    prefix: str


@contextlib.asynccontextmanager
async def _bridged(db: Database, url: str, with_host: bool, engine: str | None = None) -> AsyncIterator[_Bridged]:
    """The app side as ``serve`` runs it: the bridge (default batching) into the pipeline, whose
    ``readings.accepted`` feeds the in-process host; a topic prefix and client id of its own."""
    from citybrain.sensing.mqtt import bridge_for

    bus = InMemoryBus()
    clock = SystemClock()
    host = bench_host(db, clock, bus, engine) if with_host else None
    if host is not None:
        await host.start()
    tag = uuid.uuid4().hex[:8]
    prefix = f"citybrain-bench/{tag}"
    bridge = bridge_for(None, receiver=os.environ.get("CITYBRAIN_MQTT_RECEIVER"), url=url, database=db, clock=clock,
                        pipeline=Pipeline(db, clock, bus), client_id=f"citybrain-bench-warning-{tag}", prefix=prefix,
                        session_expiry_s=60)
    await bridge.start()
    try:
        if not await asyncio.to_thread(bridge.subscribed.wait, 10):
            raise RuntimeError(f"the MQTT bridge did not subscribe at {url}")
        yield _Bridged(bridge, bus, host, prefix)
    finally:
        await bridge.stop()
        if host is not None:
            await host.stop()
        await bus.close()


async def _evaluated(host: WarningHost, total: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while host.stats["readings"] < total and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    await host.idle()  # the last batch's warnings are stored and followed up


async def _paced_mqtt(db: Database, chunks: list[list[dict[str, Any]]], rate: float, url: str,
                      engine: str | None = None) -> dict[str, Any]:
    readings = [r for c in chunks for r in c]
    arrived: list[tuple[tuple[str, str], float]] = []

    async def on_change(_subject: str, message: Any) -> None:
        now = time.monotonic()  # the clock the publisher process stamps its sends with (CLOCK_MONOTONIC)
        arrived.extend(((w.get("labels", {}).get("device", ""), w.get("last_signal_at") or ""), now)
                       for w in message)

    async with _bridged(db, url, with_host=True, engine=engine) as rig:
        assert rig.host is not None
        sub = await rig.bus.subscribe(CHANGED_SUBJECT, on_change)
        devices = _Devices(url, readings, rig.prefix, rate=rate)
        await asyncio.to_thread(devices.ready)
        gc.freeze()
        sent = await asyncio.to_thread(devices.publish)
        assert sent is not None
        await _evaluated(rig.host, len(readings), 60)
        await asyncio.sleep(0.2)
        elapsed = time.monotonic() - sent["start"]
        await sub.close()
        status = rig.host.status()
        errors = {k: e["last_message"] for k, e in status["errors"].items()}
    bridge = rig.bridge.stats()  # once stopped: the receiver process's last counts are in
    entered = {(r["device_id"], r["ts"]): t for r, t in zip(readings, sent["sent"], strict=True)}
    latencies = [(t - entered[key]) * 1000 for key, t in arrived if key in entered]
    values = sum(len(r.get("values") or {}) for r in readings)
    return {"latencies": latencies, "elapsed": elapsed, "offered": values / elapsed, "max_lag_s": sent["max_lag_s"],
            "stats": status["stats"], "errors": errors, "bridge": bridge, "engine_mode": status["mode"]}


async def _flat_out_mqtt(db: Database, chunks: list[list[dict[str, Any]]], url: str,
                         with_rules: bool, engine: str | None = None) -> dict[str, Any]:
    """Readings per second published as fast as the publisher's window allows, until the bridge has stored
    every one and, with rules, the host has evaluated it; the bench process's CPU (bridge, pipeline, host)."""
    readings = [r for c in chunks for r in c]
    async with _bridged(db, url, with_host=with_rules, engine=engine) as rig:
        devices = _Devices(url, readings, rig.prefix)
        await asyncio.to_thread(devices.ready)
        gc.freeze()  # as the app does once its services have started
        cpu0, engine0 = _cpu_s(), engine_cpu_s(rig.host)
        t0 = time.perf_counter()
        await asyncio.to_thread(devices.publish)  # the broker's PUBACKs: received there, not yet stored here
        if rig.host is not None:
            await _evaluated(rig.host, len(readings), 300)
        else:
            deadline = time.monotonic() + 300
            while rig.bridge.counts["stored"] < len(readings) and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - t0
        cpu_s = {"wall": round(elapsed, 3), "bench": _delta(cpu0, _cpu_s()), **_engine_delta(engine0, rig.host)}
    return {"rate": len(readings) / elapsed, "cpu_s": cpu_s}


def run_mqtt(*, log: Log, devices: int, seconds: int, backend: str | None, rate: float, size: int,
              url: str | None, history: int = 0, engine: str | None = None) -> dict[str, Any]:
    from citybrain.bench.ingest import BROKER_CONF
    from citybrain.core.nats_bus import redact

    url, broker = mqtt_broker(url)
    try:
        with bench_database(backend) as db:
            chunks, n_rules = _setup(db, devices, seconds, size, log, history)
            log(f"latency run: {sum(map(len, chunks)):,} readings published one message each at {rate:,.0f} "
                f"values/s to {redact(url)}, {n_rules} rules …")
            paced = asyncio.run(_paced_mqtt(db, chunks, rate, url, engine))
            log(f"{len(paced['latencies'])} warning changes timed; throughput runs (off, on, on, off) …")
            off, on = _abba(lambda c, rules, _i: asyncio.run(_flat_out_mqtt(db, c, url, with_rules=rules,
                                                                            engine=engine)), chunks, seconds + 3600)
            return {"benchmark": "warning", "mode": "mqtt",
                    "broker": ("a private mosquitto: " + BROKER_CONF.split("\n", 1)[1].strip().replace("\n", "; ")
                               if broker is not None else redact(url)),
                    **_figures(db, devices, n_rules, chunks, rate, paced, off, on, history), "bridge": paced["bridge"]}
    finally:
        if broker is not None:
            broker.close()
