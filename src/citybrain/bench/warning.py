"""Warning latency and cost: values at a fixed rate through ingest and the rule engine to ``warnings.changed``.

Rates count values (rows of ``reading``), as ``bench ingest`` does; a simulated reading carries about
2.2 (its quantity plus battery and signal strength).

The simulated fleet runs with the shipped demo rule set; a share of methane devices is pushed above
the alarm thresholds for a few readings (then back), so warnings open, change level and resolve all
through the run. Latency is measured per warning change, from the moment the batch holding the
triggering reading was handed to the pipeline to the moment the change arrives on the bus subject the
API's ``/stream/warnings`` forwards (the SSE hop itself adds the HTTP write only).

``ratio``: the same readings ingested as fast as possible with the warning host subscribed (and
drained: every reading evaluated, every change stored) versus with no host — the cost of rules and
detectors on ingest throughput. That ratio depends on what else the machine's cores do, so both modes
also report the CPU seconds of the ingesting process (and of the worker) during those two runs, and
``ingest_cpu_ratio``: the ingesting process's CPU without the engine over its CPU with it.

``--worker`` (``"mode": "worker"``) runs the same readings and rules with the warning host in a process
of its own (``citybrain worker --services warning``, started here with the bench's database and
``CITYBRAIN_NATS_URL``, default nats://127.0.0.1:4222): the pipeline publishes ``readings.accepted`` on
JetStream and latency ends when ``warnings.changed`` arrives back here over NATS. Each phase uses a
stream and prefix of its own (deleted afterwards), so runs never see each other's messages; "drained"
means the worker's durable consumer has nothing pending or unacknowledged. ``--backend postgresql``
creates a throwaway PostgreSQL database (``CITYBRAIN_BENCH_PG_URL``, default the local server's
``postgres`` database as the admin connection) and drops it afterwards; on SQLite the worker and the
bench write one file in turns (the file lock), which works on one machine and is what the figures show.

``--mqtt`` (``"mode": "mqtt"``): the same readings and rules, but each reading is one QoS-1 message a device
publishes (the ingest benchmark's publisher process, paced per message at the same rate) and an
``MqttBridge`` here, with its production batching (200 messages or 50 ms), takes them into the pipeline,
whose ``readings.accepted`` feeds the in-process host. Latency runs from the moment the reading's message
was handed to the device's socket to the change arriving on ``warnings.changed``: broker, bridge batching,
store, rules. The broker is the ingest benchmark's (``CITYBRAIN_BENCH_MQTT_URL``, else a private Mosquitto
configured as docs/mqtt.md says). ``ratio`` and the CPU figures come from the same readings published as fast
as the publisher's window allows, through the broker and the bridge, with and without the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citybrain.bench.ingest import _Devices, _prepare, backend_url, mqtt_broker
from citybrain.bench.spatial import _database, _p
from citybrain.core.bus import InMemoryBus
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.sensing.pipeline import Pipeline
from citybrain.warning.flows import CHANGED_SUBJECT, WarningHost
from citybrain.warning.rules import service as rules_service

Log = Callable[[str], None]
DEFAULT_NATS = "nats://127.0.0.1:4222"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ENGINE_DURABLE = "warning-engine"  # the durable the warning host reads readings.accepted under
BUS_OPTIONS: dict[str, Any] = {"batch": 256}  # as the worker's own consumers (citybrain.worker)


def _readings(devices: int, seconds: int, seed: int, log: Log) -> tuple[Any, list[list[dict[str, Any]]]]:
    from citybrain.geo.loaders import load_shanghai
    from citybrain.simulator import Simulator

    start = datetime(2026, 1, 5, tzinfo=UTC)
    sim = Simulator(load_shanghai(), seed=seed, devices=devices, start=start, faults=None)
    rng = random.Random(seed)
    gas = [d.device_id for d in sim.devices if d.kind == "gas_methane"]
    hot = set(rng.sample(gas, max(1, len(gas) // 20)))  # one gas space in twenty leaks now and then
    batches: list[list[dict[str, Any]]] = []
    seen: dict[str, int] = {}
    end = datetime.fromtimestamp(start.timestamp() + seconds, UTC)
    for batch in sim.readings(start, end):
        for r in batch:
            if r["device_id"] in hot:
                n = seen[r["device_id"]] = seen.get(r["device_id"], 0) + 1
                if n % 12 in (2, 3, 4):  # three readings high (yellow, orange, red), nine normal
                    r["values"] = {"methane": 30.0 + 25.0 * (n % 12 - 2)}
        batches.append(batch)
    total = sum(len(b) for b in batches)
    log(f"{total:,} readings from {len(sim.devices):,} devices, {len(hot)} leaking gas spaces")
    return sim, batches


def _chunks(batches: list[list[dict[str, Any]]], size: int) -> list[list[dict[str, Any]]]:
    flat = [r for b in batches for r in b]
    return [flat[i:i + size] for i in range(0, len(flat), size)]


async def _pace(pipeline: Pipeline, chunks: list[list[dict[str, Any]]], rate: float,
                entered: dict[tuple[str, str], float]) -> tuple[float, float]:
    """Hand the chunks to the pipeline at ``rate`` values a second, noting when each reading entered."""
    t_start = time.perf_counter()
    lag = 0.0
    sent_values = 0
    for chunk in chunks:
        due = t_start + sent_values / rate  # paced by values, as the ingest benchmark counts them
        sent_values += sum(len(r.get("values") or {}) for r in chunk)
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            lag = max(lag, -wait)
        t_in = time.perf_counter()
        for r in chunk:
            entered[(r["device_id"], r["ts"])] = t_in
        await pipeline.submit(chunk, source="bench")
    return t_start, lag


def _timer(entered: dict[tuple[str, str], float], latencies: list[float]) -> Callable[[str, Any], Any]:
    """A ``warnings.changed`` handler adding, per change, the time since its reading entered the pipeline."""

    async def on_change(_subject: str, message: Any) -> None:
        now = time.perf_counter()
        for w in message:
            key = (w.get("labels", {}).get("device", ""), w.get("last_signal_at") or "")
            t_in = entered.get(key)
            if t_in is not None:
                latencies.append((now - t_in) * 1000)

    return on_change


async def _paced(db: Database, chunks: list[list[dict[str, Any]]], rate: float, log: Log) -> dict[str, Any]:
    bus = InMemoryBus()
    clock = SystemClock()
    pipeline = Pipeline(db, clock, bus)
    host = WarningHost(db, clock, bus, tick_s=3600, snapshot_s=3600, deliver=False)
    await host.start()
    gc.freeze()  # as the app does once its services have started
    entered: dict[tuple[str, str], float] = {}
    latencies: list[float] = []
    sub = await bus.subscribe(CHANGED_SUBJECT, _timer(entered, latencies))
    t_start, lag = await _pace(pipeline, chunks, rate, entered)
    deadline = time.perf_counter() + 60
    total = sum(len(c) for c in chunks)
    while host.stats["readings"] < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - t_start
    values = sum(len(r.get("values") or {}) for c in chunks for r in c)
    await sub.close()
    await host.stop()
    await bus.close()
    return {"latencies": latencies, "elapsed": elapsed, "offered": values / elapsed, "max_lag_s": lag,
            "stats": dict(host.stats), "errors": {k: v.last_message for k, v in host.engine.errors.items()}}


async def _flat_out(db: Database, chunks: list[list[dict[str, Any]]], with_rules: bool) -> dict[str, Any]:
    bus = InMemoryBus()
    clock = SystemClock()
    pipeline = Pipeline(db, clock, bus)
    host = None
    if with_rules:
        host = WarningHost(db, clock, bus, tick_s=3600, snapshot_s=3600, deliver=False)
        await host.start()
    total = sum(len(c) for c in chunks)
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    for chunk in chunks:
        await pipeline.submit(chunk, source="bench")
    if host is not None:
        while host.stats["readings"] < total:
            await asyncio.sleep(0.002)
        async with host.lock:  # the last batch's warnings are stored
            pass
    elapsed = time.perf_counter() - t0
    cpu1 = _cpu_s()
    if host is not None:
        await host.stop()
    await bus.close()
    return {"rate": total / elapsed, "cpu_s": {"wall": round(elapsed, 3), "bench": _delta(cpu0, cpu1)}}


def _shift(chunks: list[list[dict[str, Any]]], offset_s: int, tag: str) -> list[list[dict[str, Any]]]:
    """The same readings later in time (fresh rows, same shape) so a second run stores as much as the first."""
    out = []
    for chunk in chunks:
        new = []
        for r in chunk:
            ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp() + offset_s
            iso = datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
            new.append({**r, "ts": iso, "msg_id": f"{r.get('msg_id')}-{tag}"})
        out.append(new)
    return out


def run(*, log: Log, devices: int | None = None, seconds: int | None = None, backend: str | None = None,
        rows: int | None = None, batch: int | None = None, worker: bool = False, nats: str | None = None,
        mqtt: bool = False, mqtt_url: str | None = None, **_: Any) -> dict[str, Any]:
    devices = devices or 1000
    seconds = seconds or 1800
    rate = float(rows or 10_000)  # values per second offered in the latency run (a reading carries ~2.2)
    size = batch or 200
    if worker and mqtt:
        raise ValueError("--worker and --mqtt are separate modes; choose one")
    if mqtt:
        return _run_mqtt(log=log, devices=devices, seconds=seconds, backend=backend, rate=rate, size=size,
                         url=mqtt_url)
    if worker:
        return _run_worker(log=log, devices=devices, seconds=seconds, backend=backend, rate=rate, size=size,
                           nats_url=nats or os.environ.get("CITYBRAIN_NATS_URL") or DEFAULT_NATS)
    with _bench_database(backend) as db:
        chunks, n_rules = _setup(db, devices, seconds, size, log)
        log(f"latency run: {sum(map(len, chunks)):,} readings at {rate:,.0f}/s with {n_rules} rules …")
        paced = asyncio.run(_paced(db, chunks, rate, log))
        log(f"{len(paced['latencies'])} warning changes timed; throughput runs …")
        span = seconds + 3600
        off = asyncio.run(_flat_out(db, _shift(chunks, span, "off"), with_rules=False))
        on = asyncio.run(_flat_out(db, _shift(chunks, 2 * span, "on"), with_rules=True))
        return {"benchmark": "warning", "mode": "in-process",
                **_figures(db, devices, n_rules, chunks, rate, paced, off, on)}


def _delta(before: float | None, after: float | None) -> float | None:
    return round(after - before, 3) if before is not None and after is not None else None


def _figures(db: Database, devices: int, n_rules: int, chunks: list[list[dict[str, Any]]], rate: float,
             paced: dict[str, Any], off_run: dict[str, Any], on_run: dict[str, Any]) -> dict[str, Any]:
    """The figures both modes report. ``ingest_cpu_ratio``: the ingesting process's CPU seconds without the
    engine over those with it, for the same readings (1.0: the engine costs the ingest process nothing),
    which, unlike ``ratio``, does not depend on what else the machine's cores are doing."""
    lat = paced["latencies"]
    off, on = off_run["rate"], on_run["rate"]
    cpu_off, cpu_on = off_run["cpu_s"]["bench"], on_run["cpu_s"]["bench"]
    return {
        "backend": db.dialect,
        "devices": devices,
        "rules": n_rules,
        "readings": sum(map(len, chunks)),
        "offered_values_per_s": round(paced["offered"], 1),
        "target_rate_per_s": rate,
        "max_lag_s": round(paced["max_lag_s"], 3),
        "warning_changes": len(lat),
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": round(_p(lat, 0.99), 2) if lat else None,
        "max_ms": round(max(lat), 2) if lat else None,
        "ingest_per_s_rules_off": round(off, 1),
        "ingest_per_s_rules_on": round(on, 1),
        "ratio": round(on / off, 3) if off else None,
        "ingest_cpu_ratio": round(cpu_off / cpu_on, 3) if cpu_off and cpu_on else None,
        "cpu_s_rules_off": off_run["cpu_s"],
        "cpu_s_rules_on": on_run["cpu_s"],
        "engine_errors": paced["errors"],
        "host": paced["stats"],
    }


def _setup(db: Database, devices: int, seconds: int, size: int, log: Log) -> tuple[list[list[dict[str, Any]]], int]:
    """The fleet registered, the demo rules installed; the readings in chunks of ``size``."""
    now = datetime.now(UTC)
    sim, batches = _readings(devices, seconds, seed=7, log=log)
    _prepare(db, sim, now, log)
    with db.session() as s:
        rules_service.seed_demo(session=s, now=now)
        s.commit()
        n_rules = len(rules_service.list_rules(session=s))
    return _chunks(batches, size), n_rules


@contextlib.contextmanager
def _bench_database(backend: str | None) -> Iterator[Database]:
    """``postgresql``: a throwaway database on the local server (dropped after); else as the other benches."""
    if backend in ("postgresql", "postgres"):
        import sqlalchemy as sa

        admin = sa.create_engine(backend_url(os.environ.get("CITYBRAIN_BENCH_PG_URL") or PG_ADMIN) or PG_ADMIN,
                                 isolation_level="AUTOCOMMIT")
        name = f"citybrain_bench_warning_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        db = Database(admin.url.set(database=name).render_as_string(hide_password=False))
        try:
            yield db
        finally:
            db.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
        return
    db, cleanup = _database(backend_url(backend))
    try:
        yield db
    finally:
        cleanup()


# -- the warning host in a worker process --------------------------------------------------------------


class _WorkerProcess:
    """``citybrain worker --services warning`` on the bench's database and a stream of its own."""

    def __init__(self, db: Database, nats_url: str, stream: str, prefix: str, workdir: Path) -> None:
        env = {**os.environ, "CITYBRAIN_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
               "CITYBRAIN_NATS_URL": nats_url, "CITYBRAIN_DATA_DIR": str(workdir), "CITYBRAIN_LOG_LEVEL": "WARNING"}
        self.stream = stream
        self.log_path = workdir / f"worker-{stream}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "citybrain.cli", "worker", "--services", "warning", "--stream", stream,
             "--prefix", prefix, "--json"], env=env, stdout=subprocess.PIPE, stderr=self._log)

    def failure(self) -> str:
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
        return f"the worker exited with {self.proc.returncode}: " + " | ".join(tail)

    async def ready(self, js: Any, timeout_s: float = 120.0) -> None:
        """Until the worker's engine has subscribed (its durable consumer exists on our stream)."""
        import nats.js.errors

        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(self.failure())
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.consumer_info(self.stream, ENGINE_DURABLE)
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not subscribe within {timeout_s:g} s")
            await asyncio.sleep(0.05)

    def stop(self) -> dict[str, Any]:
        """SIGTERM, as an operator stops it; the figures it prints on the way out."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self._log.close()
        if self.proc.returncode != 0:
            raise RuntimeError(self.failure())
        lines = out.decode("utf-8", errors="replace").strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


async def _drained(js: Any, stream: str, consumer: str, timeout_s: float) -> None:
    """Until ``consumer`` has been handed and has acknowledged every message on the stream."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = await js.consumer_info(stream, consumer)
        if not info.num_pending and not info.num_ack_pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer {consumer} still has {info.num_pending} pending and "
                               f"{info.num_ack_pending} unacknowledged messages after {timeout_s:g} s")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _jetstream(db: Database, nats_url: str, tag: str, phase: str, workdir: Path,
                     with_worker: bool) -> Any:
    """A stream of this phase's own, the bench's bus on it, and (optionally) a worker; all gone after."""
    import nats

    from citybrain.core.nats_bus import JetStreamBus

    stream, prefix = f"BENCH_WARNING_{tag}_{phase}", f"benchwarning{tag}{phase.lower()}"
    bus = JetStreamBus(nats_url, stream=stream, prefix=prefix, name=f"citybrain-bench-{phase}", **BUS_OPTIONS)
    await bus.connect()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    proc = _WorkerProcess(db, nats_url, stream, prefix, workdir) if with_worker else None
    result: dict[str, Any] = {"bus": bus, "js": js, "stream": stream, "worker": {},
                              "pid": proc.proc.pid if proc is not None else None}
    failed = False
    try:
        if proc is not None:
            await proc.ready(js)
        yield result
    except BaseException:
        failed = True
        raise
    finally:
        if proc is not None:
            try:
                result["worker"] = await asyncio.to_thread(proc.stop)
            except Exception:
                if not failed:  # else the first failure is the one to report
                    raise
        await bus.close()
        with contextlib.suppress(Exception):
            await js.delete_stream(stream)
        await nc.close()


def _engine_figures(worker: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = (worker.get("services") or {}).get(ENGINE_DURABLE) or {}
    service = engine.get("service") or {}
    return service, service.pop("engine_errors", {}) if isinstance(service, dict) else {}


async def _paced_worker(db: Database, chunks: list[list[dict[str, Any]]], rate: float, nats_url: str, tag: str,
                        workdir: Path) -> dict[str, Any]:
    from citybrain.core.nats_bus import JetStreamBus

    async with _jetstream(db, nats_url, tag, "P", workdir, with_worker=True) as js:
        bus: JetStreamBus = js["bus"]
        pipeline = Pipeline(db, SystemClock(), bus)
        entered: dict[tuple[str, str], float] = {}
        latencies: list[float] = []
        sub = await bus.subscribe(CHANGED_SUBJECT, _timer(entered, latencies))
        gc.freeze()
        t_start, lag = await _pace(pipeline, chunks, rate, entered)
        await _drained(js["js"], js["stream"], ENGINE_DURABLE, 120)  # every reading evaluated, changes published
        await _drained(js["js"], js["stream"], sub.consumer, 30)  # … and every change arrived here
        elapsed = time.perf_counter() - t_start
        await sub.close()
    values = sum(len(r.get("values") or {}) for c in chunks for r in c)
    stats, errors = _engine_figures(js["worker"])
    return {"latencies": latencies, "elapsed": elapsed, "offered": values / elapsed, "max_lag_s": lag,
            "stats": stats, "errors": errors}


def _cpu_s(pid: int | None = None) -> float | None:
    """CPU seconds (user + system) of this process (all its threads) or of ``pid`` (Linux /proc), else None."""
    if pid is None:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _flat_out_worker(db: Database, chunks: list[list[dict[str, Any]]], nats_url: str, tag: str,
                           workdir: Path, with_rules: bool) -> dict[str, Any]:
    """Readings per second through the pipeline (and, with rules, the worker), the seconds the worker trailed,
    and the CPU seconds each process spent meanwhile (on two cores, their sum over the wall time is the load)."""
    async with _jetstream(db, nats_url, tag, "N" if with_rules else "O", workdir, with_worker=with_rules) as js:
        pipeline = Pipeline(db, SystemClock(), js["bus"])
        total = sum(len(c) for c in chunks)
        cpu0, worker0 = _cpu_s(), _cpu_s(js["pid"]) if js["pid"] else None
        t0 = time.perf_counter()
        for chunk in chunks:
            await pipeline.submit(chunk, source="bench")
        t_sent = time.perf_counter()
        if with_rules:  # every reading evaluated and every change stored (the message is acked after that)
            await _drained(js["js"], js["stream"], ENGINE_DURABLE, 300)
        t_end = time.perf_counter()
        cpu1, worker1 = _cpu_s(), _cpu_s(js["pid"]) if js["pid"] else None
    cpu = {"wall": round(t_end - t0, 3), "bench": _delta(cpu0, cpu1)}
    if with_rules:
        cpu["worker"] = _delta(worker0, worker1)
    return {"rate": total / (t_end - t0), "trailed": t_end - t_sent, "cpu_s": cpu}


def _run_worker(*, log: Log, devices: int, seconds: int, backend: str | None, rate: float, size: int,
                nats_url: str) -> dict[str, Any]:
    from citybrain.core.nats_bus import redact

    tag = uuid.uuid4().hex[:8]
    with _bench_database(backend) as db, tempfile.TemporaryDirectory(prefix="citybrain-bench-worker-") as tmp:
        workdir = Path(tmp)
        chunks, n_rules = _setup(db, devices, seconds, size, log)
        if db.dialect == "sqlite":
            log("SQLite: the bench and the worker process write one database file in turns (its lock)")
        log(f"latency run: {sum(map(len, chunks)):,} readings at {rate:,.0f}/s with {n_rules} rules, the warning "
            f"host in `citybrain worker` over {redact(nats_url)} …")
        paced = asyncio.run(_paced_worker(db, chunks, rate, nats_url, tag, workdir))
        log(f"{len(paced['latencies'])} warning changes timed; throughput runs …")
        span = seconds + 3600
        off = asyncio.run(_flat_out_worker(db, _shift(chunks, span, "off"), nats_url, tag, workdir,
                                           with_rules=False))
        on = asyncio.run(_flat_out_worker(db, _shift(chunks, 2 * span, "on"), nats_url, tag, workdir,
                                          with_rules=True))
        return {"benchmark": "warning", "mode": "worker", "nats": redact(nats_url),
                **_figures(db, devices, n_rules, chunks, rate, paced, off, on),
                "worker_trailed_s": round(on["trailed"], 3)}  # from the last batch stored until the worker drained


# -- readings over MQTT --------------------------------------------------------------------------------


@dataclass
class _Bridged:
    bridge: Any  # citybrain.sensing.mqtt.MqttBridge
    bus: InMemoryBus
    host: WarningHost | None
    prefix: str


@contextlib.asynccontextmanager
async def _bridged(db: Database, url: str, with_host: bool) -> AsyncIterator[_Bridged]:
    """The app side as ``serve`` runs it: an ``MqttBridge`` (default batching) into the pipeline, whose
    ``readings.accepted`` feeds the in-process host; a topic prefix and client id of its own."""
    from citybrain.sensing.mqtt import MqttBridge

    bus = InMemoryBus()
    clock = SystemClock()
    host = WarningHost(db, clock, bus, tick_s=3600, snapshot_s=3600, deliver=False) if with_host else None
    if host is not None:
        await host.start()
    tag = uuid.uuid4().hex[:8]
    prefix = f"citybrain-bench/{tag}"
    bridge = MqttBridge(url=url, database=db, clock=clock, pipeline=Pipeline(db, clock, bus),
                        client_id=f"citybrain-bench-warning-{tag}", prefix=prefix, session_expiry_s=60)
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
    async with host.lock:  # the last batch's warnings are stored
        pass


async def _paced_mqtt(db: Database, chunks: list[list[dict[str, Any]]], rate: float, url: str) -> dict[str, Any]:
    readings = [r for c in chunks for r in c]
    arrived: list[tuple[tuple[str, str], float]] = []

    async def on_change(_subject: str, message: Any) -> None:
        now = time.monotonic()  # the clock the publisher process stamps its sends with (CLOCK_MONOTONIC)
        arrived.extend(((w.get("labels", {}).get("device", ""), w.get("last_signal_at") or ""), now)
                       for w in message)

    async with _bridged(db, url, with_host=True) as rig:
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
        stats = dict(rig.host.stats)
        errors = {k: v.last_message for k, v in rig.host.engine.errors.items()}
        bridge = rig.bridge.stats()
    entered = {(r["device_id"], r["ts"]): t for r, t in zip(readings, sent["sent"], strict=True)}
    latencies = [(t - entered[key]) * 1000 for key, t in arrived if key in entered]
    values = sum(len(r.get("values") or {}) for r in readings)
    return {"latencies": latencies, "elapsed": elapsed, "offered": values / elapsed, "max_lag_s": sent["max_lag_s"],
            "stats": stats, "errors": errors, "bridge": bridge}


async def _flat_out_mqtt(db: Database, chunks: list[list[dict[str, Any]]], url: str,
                         with_rules: bool) -> dict[str, Any]:
    """Readings per second published as fast as the publisher's window allows, until the bridge has stored
    every one and, with rules, the host has evaluated it; the bench process's CPU (bridge, pipeline, host)."""
    readings = [r for c in chunks for r in c]
    async with _bridged(db, url, with_host=with_rules) as rig:
        devices = _Devices(url, readings, rig.prefix)
        await asyncio.to_thread(devices.ready)
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        await asyncio.to_thread(devices.publish)  # the broker's PUBACKs: received there, not yet stored here
        if rig.host is not None:
            await _evaluated(rig.host, len(readings), 300)
        else:
            deadline = time.monotonic() + 300
            while rig.bridge.counts["stored"] < len(readings) and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - t0
        cpu1 = _cpu_s()
    return {"rate": len(readings) / elapsed, "cpu_s": {"wall": round(elapsed, 3), "bench": _delta(cpu0, cpu1)}}


def _run_mqtt(*, log: Log, devices: int, seconds: int, backend: str | None, rate: float, size: int,
              url: str | None) -> dict[str, Any]:
    from citybrain.bench.ingest import BROKER_CONF
    from citybrain.core.nats_bus import redact

    url, broker = mqtt_broker(url)
    try:
        with _bench_database(backend) as db:
            chunks, n_rules = _setup(db, devices, seconds, size, log)
            log(f"latency run: {sum(map(len, chunks)):,} readings published one message each at {rate:,.0f} "
                f"values/s to {redact(url)}, {n_rules} rules …")
            paced = asyncio.run(_paced_mqtt(db, chunks, rate, url))
            log(f"{len(paced['latencies'])} warning changes timed; throughput runs …")
            span = seconds + 3600
            off = asyncio.run(_flat_out_mqtt(db, _shift(chunks, span, "off"), url, with_rules=False))
            on = asyncio.run(_flat_out_mqtt(db, _shift(chunks, 2 * span, "on"), url, with_rules=True))
            return {"benchmark": "warning", "mode": "mqtt",
                    "broker": ("a private mosquitto: " + BROKER_CONF.split("\n", 1)[1].strip().replace("\n", "; ")
                               if broker is not None else redact(url)),
                    **_figures(db, devices, n_rules, chunks, rate, paced, off, on), "bridge": paced["bridge"]}
    finally:
        if broker is not None:
            broker.close()
