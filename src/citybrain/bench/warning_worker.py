"""The warning benchmark with the host in a worker process.

``--worker`` (``"mode": "worker"``) runs the same readings and rules with the warning host in a process
of its own (``citybrain worker --services warning``, started here with the bench's database and
``CITYBRAIN_NATS_URL``, default nats://127.0.0.1:4222): the pipeline publishes ``readings.accepted`` on
JetStream and latency ends when ``warnings.changed`` arrives back here over NATS. Each phase uses a
stream and prefix of its own (deleted afterwards), so runs never see each other's messages; "drained"
means the worker's durable consumer has nothing pending or unacknowledged. ``--backend postgresql``
creates a throwaway PostgreSQL database (``CITYBRAIN_BENCH_PG_URL``, default the local server's
``postgres`` database as the admin connection) and drops it afterwards; on SQLite the worker and the
bench write one file in turns (the file lock), which works on one machine and is what the figures show.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from citybrain.bench.spatial import bench_database
from citybrain.bench.warning import (
    Log,
    _abba,
    _cpu_s,
    _delta,
    _figures,
    _pace,
    _setup,
    _timer,
)
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.sensing.pipeline import Pipeline
from citybrain.warning.flows import CHANGED_SUBJECT

ENGINE_DURABLE = "warning-engine"  # the durable the warning host reads readings.accepted under
BUS_OPTIONS: dict[str, Any] = {"batch": 256}  # as the worker's own consumers (citybrain.worker)




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


def run_worker(*, log: Log, devices: int, seconds: int, backend: str | None, rate: float, size: int,
                nats_url: str, history: int = 0) -> dict[str, Any]:
    from citybrain.core.nats_bus import redact

    tag = uuid.uuid4().hex[:8]
    with (bench_database(backend) as db,
          tempfile.TemporaryDirectory(prefix="citybrain-bench-worker-") as tmp):
        workdir = Path(tmp)
        chunks, n_rules = _setup(db, devices, seconds, size, log, history)
        if db.dialect == "sqlite":
            log("SQLite: the bench and the worker process write one database file in turns (its lock)")
        log(f"latency run: {sum(map(len, chunks)):,} readings at {rate:,.0f}/s with {n_rules} rules, the warning "
            f"host in `citybrain worker` over {redact(nats_url)} …")
        paced = asyncio.run(_paced_worker(db, chunks, rate, nats_url, tag, workdir))
        log(f"{len(paced['latencies'])} warning changes timed; throughput runs (off, on, on, off) …")
        off, on = _abba(lambda c, rules, i: asyncio.run(_flat_out_worker(db, c, nats_url, f"{tag}{i}", workdir,
                                                                         with_rules=rules)),
                        chunks, seconds + 3600)
        return {"benchmark": "warning", "mode": "worker", "nats": redact(nats_url),
                **_figures(db, devices, n_rules, chunks, rate, paced, off, on, history),
                "worker_trailed_s": round(on["trailed"], 3)}  # from the last batch stored until the worker drained
