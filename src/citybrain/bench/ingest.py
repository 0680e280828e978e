"""Ingestion throughput: the simulator's fleet through the one pipeline, against raw inserts of the same rows.

Readings are generated before timing. ``path`` is ``inprocess`` (``Pipeline.ingest`` in batches),
``http`` (the real app under uvicorn, JSON batches with a bearer token) or ``mqtt`` (QoS-1 publishes
to a broker while the bridge ingests, as ``serve`` runs it: its network half in a receiver process, or with
``CITYBRAIN_MQTT_RECEIVER=thread`` an ``MqttBridge`` in this process; stored rows are counted to check that
none were lost).
The baseline is a plain driver ``executemany`` of the very rows stored, into ``reading`` of the same
database in the same run, one transaction per batch: the database's own limit. Throughput counts
values (rows of ``reading``), not messages.

Roll-ups are on: a ``RollupWorker`` thread folds the stored rows while the path runs (as in the app),
and the clock stops only once the roll-ups hold every stored value (``rollup_catch_up_s`` is the part
after the last batch); ``rolled_up`` is the count the 10-minute roll-ups hold, checked against ``stored``.
``backend`` is ``sqlite`` (a temporary file) or a database URL (``postgresql://…`` is driven by psycopg).

Options may also come from ``CITYBRAIN_BENCH_DEVICES``, ``_SECONDS``, ``_PATH``, ``_BATCH``.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from pydantic import SecretStr

from citybrain.bench.spatial import _database, _p, backend_url
from citybrain.core import migrate
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.sensing import rollup
from citybrain.sensing.models import DeadLetter, Device, Reading, ReadingLatest, ReadingRollup
from citybrain.sensing.pipeline import Pipeline

Log = Callable[[str], None]


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and everything it references (sys.getsizeof, each object once)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(v, seen) for v in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    elif hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    return size


def _option(options: dict[str, Any], name: str, default: Any, cast: Callable[[str], Any]) -> Any:
    if options.get(name) is not None:
        return options[name]
    env = os.environ.get(f"CITYBRAIN_BENCH_{name.upper()}")
    return cast(env) if env else default


def _prepare(db: Database, sim: Any, now: datetime, log: Log) -> dict[str, int]:
    from citybrain.org import service as org_service
    from citybrain.sensing import service

    migrate.upgrade(db.engine)
    t0 = time.perf_counter()
    with db.session() as s:
        org_service.seed_departments(session=s, now=now)
        service.register_catalogue(session=s, now=now, assets=sim.asset_catalogue(), devices=sim.device_catalogue())
    with db.session() as s:
        keys = dict(s.execute(sa.select(Device.key, Device.id).where(Device.key.like("SIM-%"))).all())
    log(f"registered {len(keys):,} devices in {time.perf_counter() - t0:.1f} s")
    return keys


def _clear(db: Database, device_ids: list[int]) -> None:
    with db.engine.begin() as conn:
        for model in (Reading, ReadingLatest, ReadingRollup):
            t = cast(sa.Table, model.__table__)
            for i in range(0, len(device_ids), 5000):
                conn.execute(sa.delete(t).where(t.c.device_id.in_(device_ids[i:i + 5000])))
    with db.session() as s:  # raw rows deleted by hand: the watermark starts again after the newest left
        rollup.reset(s)


def _rolled_up(db: Database, device_ids: list[int]) -> int:
    r = ReadingRollup
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.coalesce(sa.func.sum(r.count), 0)).where(
            r.bucket == "10m", r.device_id.in_(device_ids))) or 0)


class _Rollups:
    """The roll-up worker beside a path, as the app runs it; ``finish`` catches up and times the rest."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.worker = rollup.RollupWorker(db, SystemClock(), interval_s=0.5)
        self.worker.start_thread()

    def finish(self) -> float:
        t0 = time.perf_counter()
        self.worker.stop_thread()
        rollup.catch_up(self.db)
        return time.perf_counter() - t0


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Reading)) or 0


def _raw_rows(chunks: list[list[dict[str, Any]]], keys: dict[str, int], dialect: str,
              received: datetime) -> list[list[tuple[Any, ...]]]:
    """The rows the pipeline stores, bound as the column types bind them (outside the timing)."""
    def bind(ts: datetime) -> Any:
        return ts.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else ts

    rec = bind(received)
    out = []
    cache: dict[str, Any] = {}
    for chunk in chunks:
        rows = []
        for r in chunk:
            ts = cache.get(r["ts"])
            if ts is None:
                ts = cache[r["ts"]] = bind(datetime.fromisoformat(r["ts"]).astimezone(UTC).replace(
                    tzinfo=None if dialect == "sqlite" else UTC))
            d = keys[r["device_id"]]
            for q, v in r["values"].items():
                rows.append((d, q, ts, float(v), r.get("msg_id"), rec))
        out.append(rows)
    return out


def _raw_insert(db: Database, batches: list[list[tuple[Any, ...]]]) -> tuple[float, int]:
    mark = "?" if db.dialect == "sqlite" else "%s"
    sql = f"INSERT INTO reading (device_id, quantity, ts, value, msg_id, received_at) VALUES ({', '.join([mark] * 6)})"  # noqa: S608, E501 - placeholders only
    t0 = time.perf_counter()
    n = 0
    for rows in batches:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(sql, rows)
        n += len(rows)
    return time.perf_counter() - t0, n


# -- paths ---------------------------------------------------------------------------------------------


def _inprocess(db: Database, chunks: list[list[dict[str, Any]]], log: Log) -> tuple[float, list[float], Pipeline]:
    pipeline = Pipeline(db, SystemClock())
    lat: list[float] = []
    t0 = time.perf_counter()
    for chunk in chunks:
        t = time.perf_counter()
        pipeline.ingest(chunk, source="bench")
        lat.append((time.perf_counter() - t) * 1000)
    return time.perf_counter() - t0, lat, pipeline


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_path(db: Database, chunks: list[list[dict[str, Any]]], log: Log) -> tuple[float, list[float], Pipeline]:
    import tempfile

    import httpx
    import uvicorn

    from citybrain.api import create_app
    from citybrain.auth import service as auth_service
    from citybrain.core.settings import Settings
    from citybrain.org import service as org_service

    now = datetime.now(UTC)
    username = f"bench-{uuid.uuid4().hex[:8]}"
    with db.session() as s:
        dept = org_service.department_id_for(session=s, code="ops", field="department")
        user = auth_service.create(session=s, now=now, username=username, password=uuid.uuid4().hex,
                                   roles=["data_steward"], department_id=dept, display_name="bench")
        _row, token = auth_service.create_api_token(session=s, now=now, user=user, name="bench",
                                                   expires_at=now + timedelta(hours=2), ip=None)
    settings = Settings(env="test", data_dir=Path(tempfile.mkdtemp(prefix="citybrain-bench-http-")),
                        database_url=db.url, admin_password=SecretStr(uuid.uuid4().hex))
    app = create_app(settings, database=db, clock=SystemClock())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.05)
    lat: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            t0 = time.perf_counter()
            for chunk in chunks:
                t = time.perf_counter()
                r = client.post("/api/v1/readings", json=chunk)
                lat.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"POST /api/v1/readings answered {r.status_code}: {r.text[:300]}")
            elapsed = time.perf_counter() - t0
        pipeline = app.state.cache.get("sensing.pipeline")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return elapsed, lat, pipeline


class _TimedPipeline:
    """The real pipeline, timing each bridge batch (receipt of the batch → committed)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.lat: list[float] = []
        self.publish = pipeline.publish

    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> Any:
        t = time.perf_counter()
        result = self.pipeline.ingest(items, source=source, device_key=device_key)
        self.lat.append((time.perf_counter() - t) * 1000)
        return result


# The broker side of the MQTT path: docs/mqtt.md's production settings. Mosquitto's defaults (an
# offline-or-busy queue of 1,000 messages per session) drop QoS-1 messages under a burst like this one.
BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
"""


def mqtt_broker(url: str | None = None) -> tuple[str, PrivateBroker | None]:
    """The broker a bench publishes to: ``url``, else ``CITYBRAIN_BENCH_MQTT_URL``, else a private Mosquitto
    (returned too: the caller closes it), else mqtt://127.0.0.1:1883."""
    url = url or os.environ.get("CITYBRAIN_BENCH_MQTT_URL")
    if url:
        return url, None
    if PrivateBroker.available():
        broker = PrivateBroker()
        return broker.url, broker
    return "mqtt://127.0.0.1:1883", None


class PrivateBroker:
    """A Mosquitto of the bench's own, configured as docs/mqtt.md says (None when there is no binary)."""

    def __init__(self) -> None:
        import shutil
        import subprocess
        import tempfile

        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.dir = tempfile.mkdtemp(prefix="citybrain-bench-mqtt-")
        self.port = _free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as fh:
            fh.write(BROKER_CONF.format(port=self.port))
        self.proc = subprocess.Popen([binary, "-c", conf],  # noqa: S603 - the mosquitto binary, our config
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("could not start a private mosquitto") from None
                time.sleep(0.05)
        self.url = f"mqtt://127.0.0.1:{self.port}"

    @staticmethod
    def available() -> bool:
        import shutil

        return bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))

    def close(self) -> None:
        import shutil

        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# The devices: QoS-1 PUBLISH packets written straight to a socket (MQTT 3.1.1), a window of unacknowledged
# ones, done when every PUBACK is back. A real fleet publishes from its own hardware; paho in one process
# would spend a whole core of this two-core machine emulating 1,000 devices. Given a rate (values a second),
# each message is sent when due and the moment it went to the socket (CLOCK_MONOTONIC, which every process
# shares) is written to a JSON file; without one, blocks of 200 go out as fast as the window allows.
_PUBLISHER = r"""
import json, os, socket, struct, sys, threading, time
from urllib.parse import urlsplit
url, path, prefix = sys.argv[1:4]
rate, times_path = (float(sys.argv[4]), sys.argv[5]) if len(sys.argv) > 5 else (0.0, None)
with open(path) as fh:
    readings = [line.rstrip("\n") for line in fh]
def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
def packet(head, body):
    return bytes([head]) + varint(len(body)) + body
def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b
parts = urlsplit(url)
sock = socket.create_connection((parts.hostname, parts.port or 1883))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
client_id = f"citybrain-bench-devices-{os.getpid()}"  # benches running side by side do not take over each other
sock.sendall(packet(0x10, utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + utf8(client_id)))
assert sock.recv(4)[3] == 0, "CONNACK refused"
packets, due, offered = [], [], 0
for i, line in enumerate(readings):
    reading = json.loads(line)
    device = reading["device_id"]
    packets.append(packet(0x32, utf8(f"{prefix}/devices/{device}/readings") + struct.pack("!H", i % 65535 + 1)
                          + line.encode()))
    due.append(offered / rate if rate else 0.0)
    offered += len(reading.get("values") or {}) or 1
print("ready", flush=True)
sys.stdin.readline()
acked, window, cond = [0], 2000, threading.Condition()
def read():
    pending = b""
    while acked[0] < len(packets):
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the broker closed the connection")
        pending += data
        n = len(pending) // 4  # the broker sends this client PUBACKs only (4 bytes each)
        pending = pending[n * 4:]
        with cond:
            acked[0] += n
            cond.notify_all()
reader = threading.Thread(target=read, daemon=True)
reader.start()
if not rate:
    for start in range(0, len(packets), 200):
        with cond:
            cond.wait_for(lambda: start - acked[0] < window)
        sock.sendall(b"".join(packets[start:start + 200]))
else:
    sent, lag, start, t0 = [0.0] * len(packets), 0.0, 0, time.monotonic()
    while start < len(packets):
        wait = t0 + due[start] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            continue
        end = start + 1
        now = time.monotonic() - t0
        while end < len(packets) and end - start < 200 and due[end] <= now:
            end += 1
        with cond:
            cond.wait_for(lambda: start - acked[0] < window)
        t = time.monotonic()
        lag = max(lag, t - t0 - due[start])
        sock.sendall(b"".join(packets[start:end]))
        sent[start:end] = [t] * (end - start)
        start = end
reader.join()
if times_path:
    with open(times_path, "w") as fh:
        json.dump({"start": t0, "sent": sent, "max_lag_s": lag}, fh)
sock.sendall(bytes([0xE0, 0]))
sock.close()
"""


class _Devices:
    """The fleet publishing over MQTT from a process of its own, as devices would: it does not share the
    bridge's interpreter lock. ``ready`` once it has loaded the readings, ``publish`` until all are acked.

    ``rate`` (values a second) paces the messages; ``publish`` then returns ``{"start", "sent", "max_lag_s"}``:
    ``time.monotonic()`` at the start and when each message was handed to the socket (readings' order)."""

    def __init__(self, url: str, readings: list[dict[str, Any]], prefix: str, rate: float | None = None) -> None:
        import json
        import subprocess
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as fh:
            fh.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in readings)
            self.path = fh.name
        self.times = self.path + ".times.json" if rate else None
        paced = [str(rate), self.times] if rate and self.times else []
        self.proc = subprocess.Popen([sys.executable, "-c", _PUBLISHER, url, self.path, prefix, *paced],  # noqa: S603
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ready(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the MQTT publisher process did not start")

    def publish(self) -> dict[str, Any] | None:
        import json

        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        code = self.proc.wait()
        try:
            if code != 0:
                raise RuntimeError(f"the MQTT publisher process failed (exit code {code})")
            if self.times is None:
                return None
            with open(self.times) as fh:
                return cast(dict[str, Any], json.load(fh))
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for path in (self.path, self.times):
            if path and os.path.exists(path):
                os.remove(path)


def _mqtt_path(db: Database, chunks: list[list[dict[str, Any]]], log: Log, url: str,
               expected: int) -> tuple[float, list[float], Pipeline]:
    from citybrain.sensing.mqtt import bridge_for

    clock = SystemClock()
    timed = _TimedPipeline(Pipeline(db, clock))
    prefix = f"citybrain-bench/{uuid.uuid4().hex[:8]}"
    client_id = f"citybrain-bench-{uuid.uuid4().hex[:8]}"

    async def main() -> float:
        bridge = bridge_for(None, receiver=os.environ.get("CITYBRAIN_MQTT_RECEIVER"), url=url, database=db,
                            clock=clock, pipeline=timed, client_id=client_id, prefix=prefix, batch_size=1000,
                            batch_ms=50, session_expiry_s=60)
        await bridge.start()
        try:
            if not await asyncio.to_thread(bridge.subscribed.wait, 10):
                raise RuntimeError(f"the MQTT bridge did not subscribe at {url}")
            readings = [r for chunk in chunks for r in chunk]
            devices = _Devices(url, readings, prefix)
            await asyncio.to_thread(devices.ready)
            t0 = time.perf_counter()
            await asyncio.to_thread(devices.publish)
            log(f"MQTT: the devices published {len(readings):,} messages in {time.perf_counter() - t0:.2f} s")
            deadline = time.monotonic() + 120
            last, idle_since, done_at = -1, time.monotonic(), time.perf_counter()
            while True:  # wait until every value is stored, or nothing moves for 10 s (a loss)
                n = await asyncio.to_thread(_count, db)
                if n != last:
                    last, idle_since, done_at = n, time.monotonic(), time.perf_counter()
                if n >= expected:
                    break
                if time.monotonic() - idle_since > 10 or time.monotonic() > deadline:
                    log(f"MQTT: only {n:,} of {expected:,} values stored (the broker dropped the rest?)")
                    break
                await asyncio.sleep(0.02)
            return done_at - t0  # until the last value was stored, not the idle wait
        finally:
            await bridge.stop()

    elapsed = asyncio.run(main())
    return elapsed, timed.lat, timed.pipeline


# -- the benchmark ---------------------------------------------------------------------------------------


def run(*, log: Log, devices: int | None = None, seconds: int | None = None, backend: str | None = None,
        path: str | None = None, batch: int | None = None, rows: int | None = None, seed: int = 7,
        mqtt_url: str | None = None, **_: Any) -> dict[str, Any]:
    """``rows`` caps the number of messages generated (tests use it to stay small)."""
    from citybrain.geo.loaders import load_shanghai
    from citybrain.simulator import Simulator

    opts = {"devices": devices, "seconds": seconds, "path": path, "batch": batch}
    devices = _option(opts, "devices", 1000, int)
    seconds = _option(opts, "seconds", 600, int)
    path = _option(opts, "path", "inprocess", str)
    batch = _option(opts, "batch", 2000, int)
    if path not in ("inprocess", "http", "mqtt"):
        raise ValueError(f"path must be inprocess, http or mqtt, not {path!r}")
    broker: PrivateBroker | None = None
    if path == "mqtt":
        mqtt_url, broker = mqtt_broker(mqtt_url)

    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=seconds + 120)  # in the past: nothing is "ahead of the clock"
    sim = Simulator(load_shanghai(), seed=seed, devices=devices, start=start, faults=None)
    db, cleanup = _database(backend_url(backend))
    try:
        keys = _prepare(db, sim, now, log)
        t0 = time.perf_counter()
        readings = [r for b in sim.readings(start, start + timedelta(seconds=seconds)) for r in b]
        if rows is not None:
            readings = readings[:rows]
        values = sum(len(r["values"]) for r in readings)
        chunks = [readings[i:i + batch] for i in range(0, len(readings), batch)]
        log(f"generated {len(readings):,} messages ({values:,} values) in {time.perf_counter() - t0:.1f} s; "
            f"{path} on {db.dialect} in batches of {batch}")
        device_ids = sorted(keys.values())
        _clear(db, device_ids)
        before = _count(db)
        rollups = _Rollups(db)
        try:
            if path == "inprocess":
                elapsed, lat, pipeline = _inprocess(db, chunks, log)
            elif path == "http":
                elapsed, lat, pipeline = _http_path(db, chunks, log)
            else:
                elapsed, lat, pipeline = _mqtt_path(db, chunks, log, mqtt_url, before + values)
        finally:
            catch_up_s = rollups.finish()
        elapsed += catch_up_s
        stored = _count(db) - before
        rolled_up = _rolled_up(db, device_ids)
        with db.session() as s:
            dead = s.scalar(sa.select(sa.func.count()).select_from(DeadLetter)) or 0
        state = deep_size(pipeline.cache._entries) if pipeline is not None else 0  # noqa: SLF001
        cached = len(pipeline.cache._entries) if pipeline is not None else 0  # noqa: SLF001
        # the limit: the same rows straight into the same table, same batches, same run
        _clear(db, device_ids)
        raw_batches = _raw_rows(chunks, keys, db.dialect, now)
        raw_s, raw_n = _raw_insert(db, raw_batches)
        readings_per_s = stored / elapsed if elapsed else 0.0
        raw_per_s = raw_n / raw_s if raw_s else 0.0
        result = {
            "benchmark": "ingest", "backend": db.dialect, "path": path, "devices": len(keys),
            "seconds": seconds, "batch": batch, "messages": len(readings), "values": values, "stored": stored,
            "lost": values - stored, "rolled_up": rolled_up, "dead_letters": dead,
            "counts": "values (rows of reading), not messages",
            "elapsed_s": round(elapsed, 3), "rollup_catch_up_s": round(catch_up_s, 3),
            "rollup_steps": rollups.worker.steps,
            "readings_per_s": round(readings_per_s, 1),
            "messages_per_s": round(len(readings) / elapsed, 1) if elapsed else 0.0,
            "raw_insert_per_s": round(raw_per_s, 1),
            "ratio": round(readings_per_s / raw_per_s, 3) if raw_per_s else 0.0,
            "p50_latency_ms": round(statistics.median(lat), 2) if lat else 0.0,
            "p99_latency_ms": round(_p(lat, 0.99), 2) if lat else 0.0,
            "latency": ("per pipeline batch of the bridge (received → committed)" if path == "mqtt"
                        else "per batch submit → committed"),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "state_bytes_per_device": round(state / cached, 1) if cached else 0.0,
        }
        if path == "mqtt":
            result["broker"] = ("a private mosquitto: " + BROKER_CONF.split("\n", 1)[1].strip().replace("\n", "; ")
                                if broker is not None else mqtt_url)
        if backend and backend != "sqlite":
            _clear(db, device_ids)
        return result
    finally:
        if broker is not None:
            broker.close()
        db.dispose()
        cleanup()
