"""Chart queries at ten million readings: one device's week at 2,000 points, from the roll-ups.

The table is filled in bulk (generated numpy data straight into ``reading``, in chunks; COPY on
PostgreSQL), the roll-ups and latest values are then computed in bulk by ``INSERT … SELECT … GROUP BY``
from the raw rows. One device has 7 days at a 10 s interval (60,480 rows); the others share the rest.
``sensing.service.series`` for that device is timed against the same series computed in Python from
its raw rows (the baseline); ``ratio`` is baseline time over chart time.

The chart is timed ``queries`` times warm after ``gc.freeze()`` (``chart_ms_p50``/``_p99``, what a
server that freezes its start-up objects sees), the same number of times before the freeze
(``*_no_freeze``: a full GC collection walks every live object and lands in about one chart in a
hundred), and once cold (``chart_ms_cold``: the first chart on a new connection).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import sqlalchemy as sa

from citybrain.bench.ingest import backend_url
from citybrain.bench.spatial import _database, _p, _timed
from citybrain.core import migrate
from citybrain.core.database import Database
from citybrain.sensing import rollup, service
from citybrain.sensing.models import Device, Reading, ReadingLatest, ReadingRollup
from citybrain.sensing.rollup import BUCKETS
from citybrain.sensing.types import DEVICE_TYPES

Log = Callable[[str], None]
WEEK_S = 7 * 86400
TARGET_INTERVAL_S = 10
FILLER_INTERVAL_S = 60
KIND = "bridge_strain"
PREFIX = "BENCHQ-"


def _register(db: Database, devices: int, now: datetime) -> list[int]:
    from citybrain.org import service as org_service

    migrate.upgrade(db.engine)
    assets = [{"asset_id": f"{PREFIX}A-{i // 10:05d}", "asset_class": "bridge", "lon": 121.4 + i * 1e-5,
               "lat": 31.2, "district": "310101"} for i in range(0, devices, 10)]
    catalogue = [{"device_id": f"{PREFIX}{i:06d}", "kind": KIND, "asset_id": f"{PREFIX}A-{i // 10:05d}",
                  "lon": 121.4 + i * 1e-5, "lat": 31.2} for i in range(devices)]
    with db.session() as s:
        org_service.seed_departments(session=s, now=now)
        service.register_catalogue(session=s, now=now, assets=assets, devices=catalogue)
    with db.session() as s:
        return list(s.scalars(sa.select(Device.id).where(Device.key.like(f"{PREFIX}%")).order_by(Device.key)))


def _clear(db: Database, ids: list[int]) -> None:
    with db.engine.begin() as conn:
        for model in (Reading, ReadingLatest, ReadingRollup):
            t = cast(sa.Table, model.__table__)
            conn.execute(sa.delete(t).where(t.c.device_id.in_(ids)))
    with db.session() as s:
        rollup.reset(s)


def _plan(rows: int, devices: int) -> list[tuple[int, int, int]]:
    """(device index, interval, count): the target device's week first, the rest spread over the others."""
    target = min(rows, WEEK_S // TARGET_INTERVAL_S)
    rest, fillers = rows - target, devices - 1
    plan = [(0, TARGET_INTERVAL_S, target)]
    for i in range(fillers):
        n = rest // fillers + (1 if i < rest % fillers else 0)
        if n:
            plan.append((i + 1, FILLER_INTERVAL_S, n))
    return plan


def _ts_strings(start_s: int, interval: int, n: int) -> list[str]:
    t = np.datetime64(start_s, "s") + np.arange(n, dtype=np.int64) * np.timedelta64(interval, "s")
    return [s.replace("T", " ") + ".000000" for s in np.datetime_as_string(t, unit="s").tolist()]


def _fill(db: Database, ids: list[int], plan: list[tuple[int, int, int]], end_s: int, quantity: str,
          log: Log) -> None:
    rng = np.random.default_rng(11)
    received = datetime.fromtimestamp(end_s, UTC)
    grids: dict[tuple[int, int], list[Any]] = {}

    def grid(interval: int, n: int) -> list[Any]:
        if (interval, n) not in grids:
            start_s = end_s - interval * n
            if db.dialect == "sqlite":
                grids[(interval, n)] = _ts_strings(start_s, interval, n)
            else:
                grids[(interval, n)] = [datetime.fromtimestamp(start_s + k * interval, UTC) for k in range(n)]
        return grids[(interval, n)]

    def rows_of(di: int, interval: int, n: int) -> Iterator[tuple[Any, ...]]:
        values = (50 + 10 * np.sin(np.arange(n) / 500) + rng.normal(0, 2, n)).tolist()
        rec = received.strftime("%Y-%m-%d %H:%M:%S.000000") if db.dialect == "sqlite" else received
        d = ids[di]
        return ((d, quantity, ts, v, None, rec) for ts, v in zip(grid(interval, n), values, strict=True))

    done, total, t0 = 0, sum(n for _, _, n in plan), time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        if db.dialect == "sqlite":
            cur = raw.cursor()
            sql = "INSERT INTO reading (device_id, quantity, ts, value, msg_id, received_at) VALUES (?, ?, ?, ?, ?, ?)"
            pending = 0
            for di, interval, n in plan:
                cur.executemany(sql, list(rows_of(di, interval, n)))
                pending += n
                done += n
                if pending >= 500_000:
                    raw.commit()
                    pending = 0
                    log(f"  {done:,} / {total:,} rows ({done / (time.perf_counter() - t0):,.0f}/s)")
            raw.commit()
        else:
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                for di, interval, n in plan:
                    with cur.copy("COPY reading (device_id, quantity, ts, value, msg_id, received_at) "
                                  "FROM STDIN") as copy:
                        for row in rows_of(di, interval, n):
                            copy.write_row(row)
                    done += n
                    if done % 500_000 < n:
                        raw.commit()
                        log(f"  {done:,} / {total:,} rows ({done / (time.perf_counter() - t0):,.0f}/s)")
            raw.commit()
    finally:
        raw.close()


_STARTS = {  # the bucket holding ``ts``
    "sqlite": {"10m": "substr(ts, 1, 15) || '0:00.000000'", "1h": "substr(ts, 1, 13) || ':00:00.000000'"},
    "postgresql": {"10m": "to_timestamp(floor(extract(epoch from ts) / 600) * 600)",
                   "1h": "date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"},
}


def _rollups_sql(dialect: str) -> list[str]:
    """Roll-ups and latest values from the raw rows, in bulk (the same numbers the pipeline keeps).

    Each bucket's (and each stream's) last value is found again through the primary key at its newest ts.
    """
    like = f"{PREFIX}%%" if dialect == "postgresql" else f"{PREFIX}%"  # psycopg reads % as a placeholder
    ours = f"device_id IN (SELECT id FROM device WHERE key LIKE '{like}')"  # noqa: S608 - a constant prefix
    out = []
    for bucket, _ in BUCKETS:
        start = _STARTS[dialect][bucket]
        out.append(f"INSERT INTO reading_rollup (device_id, quantity, bucket, bucket_start, min, max, sum, count, "  # noqa: S608
                   f"last, last_ts) SELECT g.device_id, g.quantity, '{bucket}', g.start, g.mn, g.mx, g.sm, g.n, "
                   f"r.value, g.last_ts FROM (SELECT device_id, quantity, {start} AS start, min(value) AS mn, "
                   f"max(value) AS mx, sum(value) AS sm, count(*) AS n, max(ts) AS last_ts FROM reading "
                   f"WHERE {ours} GROUP BY device_id, quantity, {start}) AS g JOIN reading r ON "
                   f"r.device_id = g.device_id AND r.quantity = g.quantity AND r.ts = g.last_ts")
    out.append("INSERT INTO reading_latest (device_id, quantity, ts, value) SELECT g.device_id, g.quantity, "  # noqa: S608
               f"g.ts, r.value FROM (SELECT device_id, quantity, max(ts) AS ts FROM reading WHERE {ours} "
               "GROUP BY device_id, quantity) AS g JOIN reading r ON r.device_id = g.device_id "
               "AND r.quantity = g.quantity AND r.ts = g.ts")
    return out


def python_series(rows: list[tuple[datetime, float]], start: datetime, end: datetime,
                  points: int) -> list[dict[str, Any]]:
    """The baseline: the same min/max/avg/last envelope computed from raw rows in Python."""
    base, step = start.timestamp(), (end - start).total_seconds() / points
    merged: dict[int, list[Any]] = {}
    for ts, v in rows:
        k = int((ts.timestamp() - base) // step)
        p = merged.get(k)
        if p is None:
            merged[k] = [v, v, v, 1, v, ts]
            continue
        p[0], p[1], p[2], p[3] = min(p[0], v), max(p[1], v), p[2] + v, p[3] + 1
        if ts >= p[5]:
            p[4], p[5] = v, ts
    return [{"t": base + k * step, "avg": p[2] / p[3], "min": p[0], "max": p[1], "last": p[4], "count": p[3]}
            for k, p in sorted(merged.items())]


class _GcPauses:
    """Counts full collections (and the longest) while active."""

    def __init__(self) -> None:
        self.full, self.full_max_ms, self._t = 0, 0.0, 0.0

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.full += 1
            self.full_max_ms = max(self.full_max_ms, (time.perf_counter() - self._t) * 1000)

    def __enter__(self) -> None:
        gc.callbacks.append(self._cb)

    def __exit__(self, *_: Any) -> None:
        gc.callbacks.remove(self._cb)


def run(*, log: Log, rows: int = 10_000_000, backend: str | None = None, devices: int = 1000, points: int = 2000,
        queries: int = 200, **_: Any) -> dict[str, Any]:
    rows = max(rows, 1000)
    devices = max(2, min(devices, rows // 100))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    end_s = int(now.timestamp())
    db, cleanup = _database(backend_url(backend))
    ids: list[int] = []
    try:
        ids = _register(db, devices, now)
        _clear(db, ids)
        quantity = DEVICE_TYPES[KIND].quantity
        plan = _plan(rows, devices)
        log(f"filling {rows:,} readings over {len(plan)} devices on {db.dialect} …")
        t0 = time.perf_counter()
        _fill(db, ids, plan, end_s, quantity, log)
        fill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            for sql in _rollups_sql(db.dialect):
                conn.exec_driver_sql(sql)
        with db.session() as s:  # the bulk roll-ups hold every raw row: the worker's watermark goes after them
            rollup.reset(s)
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("ANALYZE reading")
                conn.exec_driver_sql("ANALYZE reading_rollup")
        rollup_s = time.perf_counter() - t0
        log(f"filled in {fill_s:.0f} s, roll-ups in {rollup_s:.0f} s")

        target_n = plan[0][2]
        start = now - timedelta(seconds=TARGET_INTERVAL_S * target_n)
        with db.session() as s:
            total = s.scalar(sa.select(sa.func.count()).select_from(Reading)) or 0
            device = s.get(Device, ids[0])
            assert device is not None
            s.expunge(device)

        def chart() -> dict[str, Any]:
            with db.session() as s:
                return service.series(session=s, now=now, device=device, quantity=quantity, start=start, end=now,
                                      points=points)

        def fetch_raw() -> list[Any]:
            with db.session() as s:
                return list(s.execute(sa.select(Reading.ts, Reading.value).where(
                    Reading.device_id == device.id, Reading.quantity == quantity, Reading.ts >= start,
                    Reading.ts < now).order_by(Reading.ts)).all())

        def baseline() -> list[dict[str, Any]]:
            return python_series([(ts, v) for ts, v in fetch_raw()], start, now, points)

        # The first chart after start-up (cold: a new connection, nothing cached) is reported apart.
        db.engine.dispose()
        t0 = time.perf_counter()
        chart()
        cold_ms = (time.perf_counter() - t0) * 1000
        # Python's cyclic GC: a full (generation 2) collection walks every live object, ~80 ms in this
        # process, and lands in about one chart in a hundred. Timed as is, then after ``gc.freeze()``
        # (what a server does once started: start-up objects leave the collector's walk).
        gc.collect()
        pauses = _GcPauses()
        with pauses:
            unfrozen_ms, _ = _timed(chart, queries)
        gc.freeze()
        try:
            with pauses:
                chart_ms, series = _timed(chart, queries)
        finally:
            gc.unfreeze()
        raw_ms, raw_rows = _timed(fetch_raw, max(3, queries // 20))
        base_ms, base_series = _timed(baseline, max(3, queries // 20))
        chart_p50, base_p50 = statistics.median(chart_ms), statistics.median(base_ms)
        return {
            "benchmark": "query", "backend": db.dialect, "rows_in_table": total, "device_rows": len(raw_rows),
            "points": len(series["points"]), "source": series["source"], "step_s": series["step_s"],
            "fill_s": round(fill_s, 1), "rollup_s": round(rollup_s, 1),
            "fill_rows_per_s": round(rows / fill_s, 0) if fill_s else 0.0, "queries": queries,
            "chart_ms_p50": round(chart_p50, 2), "chart_ms_p99": round(_p(chart_ms, 0.99), 2),
            "chart_ms_max": round(max(chart_ms), 2), "chart_ms_cold": round(cold_ms, 2),
            "chart_ms_p50_no_freeze": round(statistics.median(unfrozen_ms), 2),
            "chart_ms_p99_no_freeze": round(_p(unfrozen_ms, 0.99), 2),
            "chart_ms_max_no_freeze": round(max(unfrozen_ms), 2),
            "gc_full_collections": pauses.full, "gc_full_max_ms": round(pauses.full_max_ms, 2),
            "timing": "chart_ms_*: after gc.freeze(), warm; *_no_freeze: same charts before it; cold: the first",
            "raw_fetch_ms": round(statistics.median(raw_ms), 2),
            "baseline_ms": round(base_p50, 2), "baseline_points": len(base_series),
            "ratio": round(base_p50 / chart_p50, 2) if chart_p50 else 0.0,
            "within_points": len(series["points"]) <= points and not math.isnan(chart_p50),
        }
    finally:
        if backend and backend != "sqlite" and ids:
            _clear(db, ids)
        db.dispose()
        cleanup()
