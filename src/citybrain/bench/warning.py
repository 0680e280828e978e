"""Warning latency and cost: values at a fixed rate through ingest and the rule engine to ``warnings.changed``.

Rates count values (rows of ``reading``), as ``bench ingest`` does; a simulated reading carries about
2.2 (its quantity plus battery and signal strength).

The simulated fleet runs with the shipped demo rule set; a share of methane devices is pushed above
the alarm thresholds for a few readings (then back), so warnings open, change level and resolve all
through the run. Latency is measured per warning change, from the moment the batch holding the
triggering reading was handed to the pipeline to the moment the change arrives on the bus subject the
API's ``/stream/warnings`` forwards (the SSE hop itself adds the HTTP write only).

``ratio``: the same readings ingested as fast as possible with the warning host running (and drained:
every reading evaluated, every change stored and followed up) versus with no host — the cost of rules and
detectors on ingest throughput. The host runs as ``serve`` runs it (``--engine`` chooses on SQLite), and
``engine_mode`` says how: ``process`` (SQLite with the in-process bus: each stored batch evaluated by the
engine in a process of its own), ``inline`` (in the transaction that stored it) or ``subscriber`` (on the bus).

That ratio depends on what else the machine's cores do, so every mode also reports the CPU seconds of
the ingesting process (and of the engine process or the worker) during those runs, and
``ingest_cpu_ratio``: the ingesting process's CPU without the engine over its CPU with it.

Every mode must meet the same table. A reading's cost grows with the ``reading`` table's indexes until
each (device, quantity) series has leaf pages of its own (on this fleet about 300,000 rows, where it is
about twice what it is on an empty table), so before anything is timed the table is given four hours of
the fleet's history (``HISTORY_COPIES`` earlier copies of the readings, as rows), and the throughput runs
go off, on, on, off on consecutive spans (ABBA), so whatever growth is left falls on both alike.

The other modes live in ``warning_worker`` (``--worker``) and ``warning_mqtt`` (``--mqtt``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from citybrain.bench.ingest import _prepare
from citybrain.bench.spatial import _p, bench_database
from citybrain.core.bus import InMemoryBus
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.sensing.pipeline import Pipeline
from citybrain.warning.flows import CHANGED_SUBJECT, WarningHost
from citybrain.warning.rules import service as rules_service

Log = Callable[[str], None]
DEFAULT_NATS = "nats://127.0.0.1:4222"


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


def engine_mode(db: Database, engine: str | None) -> str | None:
    """The warning host's mode as ``serve`` would choose it: on SQLite (the in-process bus here) ``engine``, else
    ``CITYBRAIN_WARNING_ENGINE``, else the engine process; elsewhere the subscriber."""
    if db.dialect != "sqlite":
        return None
    return engine or os.environ.get("CITYBRAIN_WARNING_ENGINE") or "process"


def bench_host(db: Database, clock: SystemClock, bus: Any, engine: str | None) -> WarningHost:
    """The warning host of a benchmark run: no timer turns or snapshots while it is timed."""
    return WarningHost(db, clock, bus, tick_s=3600, snapshot_s=3600, deliver=False, mode=engine_mode(db, engine))


async def _paced(db: Database, chunks: list[list[dict[str, Any]]], rate: float, log: Log,
                 engine: str | None = None) -> dict[str, Any]:
    bus = InMemoryBus()
    clock = SystemClock()
    pipeline = Pipeline(db, clock, bus)
    host = bench_host(db, clock, bus, engine)
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
    status = host.status()
    return {"latencies": latencies, "elapsed": elapsed, "offered": values / elapsed, "max_lag_s": lag,
            "stats": status["stats"], "errors": {k: e["last_message"] for k, e in status["errors"].items()},
            "engine_mode": status["mode"]}


async def _flat_out(db: Database, chunks: list[list[dict[str, Any]]], with_rules: bool,
                    engine: str | None = None) -> dict[str, Any]:
    bus = InMemoryBus()
    clock = SystemClock()
    pipeline = Pipeline(db, clock, bus)
    host = None
    if with_rules:
        host = bench_host(db, clock, bus, engine)
        await host.start()
    gc.freeze()  # as the app does once its services have started
    total = sum(len(c) for c in chunks)
    cpu0, engine0 = _cpu_s(), engine_cpu_s(host)
    t0 = time.perf_counter()
    for chunk in chunks:
        await pipeline.submit(chunk, source="bench")
    if host is not None:
        while host.stats["readings"] < total:
            await asyncio.sleep(0.002)
        await host.idle()  # the last batch's warnings are stored and followed up
    elapsed = time.perf_counter() - t0
    cpu_s = {"wall": round(elapsed, 3), "bench": _delta(cpu0, _cpu_s()), **_engine_delta(engine0, host)}
    if host is not None:
        await host.stop()
    await bus.close()
    return {"rate": total / elapsed, "cpu_s": cpu_s}


def engine_cpu_s(host: WarningHost | None) -> float | None:
    """CPU seconds of the host's engine process so far (None without one)."""
    remote = host.remote if host is not None else None
    return _cpu_s(remote.pid) if remote is not None and remote.pid else None


def _engine_delta(before: float | None, host: WarningHost | None) -> dict[str, float | None]:
    """``{"engine": CPU seconds}`` spent by the host's engine process since ``before`` (nothing without one)."""
    return {} if before is None else {"engine": _delta(before, engine_cpu_s(host))}


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


HISTORY_COPIES = 8  # half-hour copies: four hours of the fleet's readings, about 300,000 rows for 1,000 devices


def _history(db: Database, chunks: list[list[dict[str, Any]]], span_s: int, copies: int, log: Log) -> int:
    """The ``reading`` table given ``copies`` earlier copies of the readings, ``span_s`` apart, as rows written
    straight to the table in time order (the pipeline's checks add nothing to the table's shape)."""
    from citybrain.sensing.models import Device, Reading

    with db.session() as s:
        ids = dict(s.execute(sa.select(Device.key, Device.id)).all())
    received = datetime.now(UTC)
    table = Reading.__table__
    written = 0
    t0 = time.perf_counter()
    for copy in range(copies, 0, -1):  # oldest first: in time order, as they would have arrived
        rows = [{"device_id": ids[r["device_id"]], "quantity": q, "value": float(v), "msg_id": r["msg_id"],
                 "ts": datetime.fromisoformat(r["ts"].replace("Z", "+00:00")), "received_at": received}
                for chunk in _shift(chunks, -copy * span_s, f"h{copy}") for r in chunk
                for q, v in (r.get("values") or {}).items()]
        with db.engine.begin() as conn:
            for i in range(0, len(rows), 20_000):
                conn.execute(sa.insert(table), rows[i:i + 20_000])
        written += len(rows)
    log(f"history: {written:,} earlier rows in the reading table ({time.perf_counter() - t0:.1f} s)")
    return written


def _abba(run_one: Callable[[list[list[dict[str, Any]]], bool, int], dict[str, Any]],
          chunks: list[list[dict[str, Any]]], span_s: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The throughput runs: off, on, on, off on consecutive later spans (fresh rows each); per mode, the
    readings per second over both of its runs and the CPU seconds summed. ``run_one(chunks, with_rules, i)``."""
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for i, with_rules in enumerate((False, True, True, False)):
        shifted = _shift(chunks, (i + 1) * span_s, f"{'on' if with_rules else 'off'}{i}")
        runs[with_rules].append(run_one(shifted, with_rules, i))
    return _merged(runs[False]), _merged(runs[True])


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs of the same readings as one: the rate over their summed time, their CPU seconds summed (any other
    figure, such as how long a worker trailed, the larger)."""
    cpu: dict[str, float | None] = {}
    for r in runs:
        for k, v in r["cpu_s"].items():
            cpu[k] = None if v is None or (k in cpu and cpu[k] is None) else round((cpu.get(k) or 0.0) + v, 3)
    out: dict[str, Any] = {"rate": len(runs) / sum(1 / r["rate"] for r in runs), "cpu_s": cpu,
                           "rates": [round(r["rate"], 1) for r in runs]}
    for k in runs[0].keys() - {"rate", "cpu_s"}:
        out[k] = max(r[k] for r in runs)
    return out


def run(*, log: Log, devices: int | None = None, seconds: int | None = None, backend: str | None = None,
        rows: int | None = None, batch: int | None = None, worker: bool = False, nats: str | None = None,
        mqtt: bool = False, mqtt_url: str | None = None, history: int | None = None, engine: str | None = None,
        **_: Any) -> dict[str, Any]:
    devices = devices or 1000
    seconds = seconds or 1800
    rate = float(rows or 10_000)  # values per second offered in the latency run (a reading carries ~2.2)
    size = batch or 200
    history = HISTORY_COPIES if history is None else history
    if history < 0:
        raise ValueError("--history counts earlier copies of the readings: 0 or more")
    if worker and mqtt:
        raise ValueError("--worker and --mqtt are separate modes; choose one")
    if engine not in (None, "process", "inline"):
        raise ValueError("--engine is process or inline (where the rules run on SQLite)")
    if mqtt:
        from citybrain.bench.warning_mqtt import run_mqtt

        return run_mqtt(log=log, devices=devices, seconds=seconds, backend=backend, rate=rate, size=size,
                         url=mqtt_url, history=history, engine=engine)
    if worker:
        from citybrain.bench.warning_worker import run_worker

        return run_worker(log=log, devices=devices, seconds=seconds, backend=backend, rate=rate, size=size,
                           nats_url=nats or os.environ.get("CITYBRAIN_NATS_URL") or DEFAULT_NATS, history=history)
    with bench_database(backend) as db:
        chunks, n_rules = _setup(db, devices, seconds, size, log, history)
        log(f"latency run: {sum(map(len, chunks)):,} readings at {rate:,.0f}/s with {n_rules} rules …")
        paced = asyncio.run(_paced(db, chunks, rate, log, engine))
        log(f"{len(paced['latencies'])} warning changes timed; throughput runs (off, on, on, off) …")
        off, on = _abba(lambda c, rules, _i: asyncio.run(_flat_out(db, c, with_rules=rules, engine=engine)), chunks,
                        seconds + 3600)
        return {"benchmark": "warning", "mode": "in-process",
                **_figures(db, devices, n_rules, chunks, rate, paced, off, on, history)}


def _delta(before: float | None, after: float | None) -> float | None:
    return round(after - before, 3) if before is not None and after is not None else None


def _figures(db: Database, devices: int, n_rules: int, chunks: list[list[dict[str, Any]]], rate: float,
             paced: dict[str, Any], off_run: dict[str, Any], on_run: dict[str, Any], history: int) -> dict[str, Any]:
    """The figures both modes report. ``ingest_cpu_ratio``: the ingesting process's CPU seconds without the
    engine over those with it, for the same readings (1.0: the engine costs the ingest process nothing),
    which, unlike ``ratio``, does not depend on what else the machine's cores are doing."""
    lat = paced["latencies"]
    off, on = off_run["rate"], on_run["rate"]
    cpu_off, cpu_on = off_run["cpu_s"]["bench"], on_run["cpu_s"]["bench"]
    return {
        "backend": db.dialect,
        "engine_mode": paced.get("engine_mode", "subscriber"),
        "history_copies": history,
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
        "runs_per_s": {"rules_off": off_run.get("rates"), "rules_on": on_run.get("rates")},
        "ratio": round(on / off, 3) if off else None,
        "ingest_cpu_ratio": round(cpu_off / cpu_on, 3) if cpu_off and cpu_on else None,
        "cpu_s_rules_off": off_run["cpu_s"],
        "cpu_s_rules_on": on_run["cpu_s"],
        "engine_errors": paced["errors"],
        "host": paced["stats"],
    }


def _setup(db: Database, devices: int, seconds: int, size: int, log: Log,
           history: int = 0) -> tuple[list[list[dict[str, Any]]], int]:
    """The fleet registered, the demo rules installed, ``history`` earlier copies of the readings in the table;
    the readings in chunks of ``size``."""
    now = datetime.now(UTC)
    sim, batches = _readings(devices, seconds, seed=7, log=log)
    _prepare(db, sim, now, log)
    with db.session() as s:
        rules_service.seed_demo(session=s, now=now)
        s.commit()
        n_rules = len(rules_service.list_rules(session=s))
    chunks = _chunks(batches, size)
    if history:
        _history(db, chunks, seconds + 3600, history, log)
    return chunks, n_rules


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
