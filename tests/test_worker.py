"""``citybrain worker``: a real worker process on NATS turns published readings into warnings, a standby
engine takes over when it stops; the service selection ``serve`` honours; the refusal without NATS.

The process tests need a NATS server with JetStream at ``CITYBRAIN_TEST_NATS_URL`` (default
nats://127.0.0.1:4222); without one they skip, which CI's strict mode fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from citybrain.cli import app as cli
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.lease import LeasedService, ServiceLease
from citybrain.core.settings import SERVICE_NAMES, Settings, load_settings
from citybrain.sensing import service as sensing
from citybrain.sensing.pipeline import Pipeline
from citybrain.warning.flows import CHANGED_SUBJECT, WarningHost
from citybrain.warning.models import Warning
from citybrain.warning.rules import service as rules
from citybrain.worker import build_services
from tests.sensing.conftest import ASSETS, DEVICES, iso
from tests.support import server_url
from tests.warning.conftest import METHANE_RULE

NATS = os.environ.get("CITYBRAIN_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture(scope="module")
def nats_url() -> str:
    return server_url(NATS, 4222, "NATS server (Debian package 'nats-server', run with -js)")


@pytest.fixture
def stream(nats_url: str) -> Iterator[tuple[str, str]]:
    """A stream and subject prefix of this test's own, deleted afterwards."""
    import nats

    tag = uuid.uuid4().hex[:10]
    yield f"TEST_WORKER_{tag}", f"tw{tag}"

    async def cleanup() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(f"TEST_WORKER_{tag}")
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(cleanup())


def start_worker(database: Database, nats_url: str, stream: tuple[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYBRAIN_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
           "CITYBRAIN_NATS_URL": nats_url, "CITYBRAIN_DATA_DIR": str(tmp_path), "CITYBRAIN_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, "-m", "citybrain.cli", "worker", "--services", "warning", "--stream", stream[0],
         "--prefix", stream[1], "--lease-ttl", "3", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=(tmp_path / "worker.log").open("wb"))


async def until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}")
        await asyncio.sleep(0.02)


def warnings_of(database: Database) -> list[tuple[str, str, int]]:
    with database.session() as s:
        return [(w.labels.get("device", ""), w.state, w.peak_level) for w in s.scalars(sa.select(Warning))]


def test_a_worker_makes_warnings_and_a_standby_engine_takes_over_when_it_stops(
        database: Database, nats_url: str, stream: tuple[str, str], tmp_path: Path) -> None:
    from citybrain.core.nats_bus import JetStreamBus

    clock = SystemClock()
    with database.session() as s:
        sensing.register_catalogue(session=s, now=clock.now(), assets=ASSETS, devices=DEVICES)
        rules.create(session=s, now=clock.now(), principal=None, data=METHANE_RULE)
    proc = start_worker(database, nats_url, stream, tmp_path)

    async def scenario() -> dict[str, Any]:
        bus = JetStreamBus(nats_url, stream=stream[0], prefix=stream[1], fetch_timeout=0.2, retry_delay=0.05)
        pipeline = Pipeline(database, clock, bus)
        changed: list[dict[str, Any]] = []

        async def collect(_subject: str, message: Any) -> None:
            changed.extend(message)

        await bus.subscribe(CHANGED_SUBJECT, collect)
        standby = LeasedService(WarningHost(database, clock, bus, tick_s=3600, deliver=False), ttl_s=1.0,
                                database=database, clock=clock)
        try:
            def worker_holds_the_lease() -> bool:
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()
                with database.session() as s:
                    row = s.get(ServiceLease, "warning-engine")
                    return row is not None and row.holder.split(":")[1] == str(proc.pid)

            await until(worker_holds_the_lease, "the worker takes the lease")
            await standby.start(None)
            assert standby.state == "standby"

            t0 = clock.now()
            await pipeline.submit([{"device_id": "GAS-1", "ts": iso(t0), "values": {"methane": 90.0}}], source="test")
            await until(lambda: changed, "warnings.changed from the worker")
            assert [(w["labels"]["device"], w["state"], w["level"]) for w in changed] == [("GAS-1", "firing", "red")]
            [(device, state, red)] = warnings_of(database)
            assert (device, state) == ("GAS-1", "firing")

            proc.send_signal(signal.SIGTERM)  # the worker saves the engine's state and lets the lease go
            assert await asyncio.to_thread(proc.wait, 30) == 0
            # published while no engine runs: kept by the durable until the standby takes over
            await pipeline.submit([{"device_id": "GAS-1", "ts": iso(t0 + timedelta(seconds=1)),
                                    "values": {"methane": 0.0}}], source="test")
            await until(lambda: standby.state == "active", "the standby takes over")
            # it carries on from the saved state: GAS-1 was red, so a normal value resolves the warning
            await until(lambda: warnings_of(database) == [("GAS-1", "resolved", red)], "the warning resolves")
            assert standby.takeovers == 1 and standby.generation == 2
        finally:
            await standby.stop()
            await bus.close()
        out = proc.stdout.read() if proc.stdout else b""
        return json.loads(out.decode().strip().splitlines()[-1])

    try:
        figures = asyncio.run(scenario())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    engine = figures["services"]["warning-engine"]
    assert engine["state"] == "stopped" and engine["service"]["readings"] == 1
    assert engine["service"]["warnings_changed"] == 1 and engine["service"]["engine_errors"] == {}


def test_the_worker_refuses_without_nats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYBRAIN_NATS_URL", raising=False)
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")

    result = CliRunner().invoke(cli, ["worker"])

    assert result.exit_code == 2
    assert "CITYBRAIN_NATS_URL is not set" in " ".join(result.output.split())


def test_the_worker_refuses_unknown_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))

    result = CliRunner().invoke(cli, ["worker", "--services", "warning,rules"])

    assert result.exit_code == 2 and "unknown service 'rules'" in result.output


def names(services: list[Any]) -> list[str]:
    return [s.name for s in services]


def test_serve_runs_the_services_citybrain_services_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CITYBRAIN_MQTT_URL", raising=False)
    monkeypatch.delenv("CITYBRAIN_NATS_URL", raising=False)
    monkeypatch.delenv("CITYBRAIN_SERVICES", raising=False)
    everything = load_settings()
    assert everything.services == SERVICE_NAMES  # the default: all, as before the setting existed
    assert names(build_services(everything, everything.services)) == [
        "bus-ingest", "rollup", "retention", "warning-engine", "follow-up"]  # mqtt only with a broker

    monkeypatch.setenv("CITYBRAIN_SERVICES", "followup, ingest")
    api_node = load_settings()
    assert api_node.services == ("ingest", "followup")
    assert names(build_services(api_node, api_node.services)) == ["bus-ingest", "follow-up"]

    monkeypatch.setenv("CITYBRAIN_SERVICES", "none")
    assert build_services(load_settings(), load_settings().services) == []


def test_the_warning_engine_runs_under_the_lease_only_on_a_shared_bus(tmp_path: Path) -> None:
    alone = build_services(Settings(data_dir=tmp_path), ["warning"])
    shared = build_services(Settings(data_dir=tmp_path, nats_url="nats://127.0.0.1:4222"), ["warning"])

    assert isinstance(alone[0], WarningHost)
    assert isinstance(shared[0], LeasedService) and isinstance(shared[0].inner, WarningHost)


@pytest.mark.parametrize("value", ["warnings", "all,warning", ""])
def test_a_bad_services_setting_is_named(value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from citybrain.core.errors import SettingsError

    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_SERVICES", value)
    with pytest.raises(SettingsError, match="CITYBRAIN_SERVICES"):
        load_settings()
