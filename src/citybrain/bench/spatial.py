"""Spatial queries at a million rows: the R*Tree (SQLite) or GiST (PostGIS) index against a full scan.

Rows are points spread over Shanghai's extent plus a 500 m grid of cells (polygons). Each query kind
runs against the indexed path (``citybrain.geo.spatial``) and against a plain scan of the same table
in the same run; ``ratio`` is scan time over indexed time (how much the index buys).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import box

from citybrain.core import migrate
from citybrain.core.database import Database
from citybrain.geo import spatial
from citybrain.geo.models import GeoFeature

EXTENT = (121.0, 30.7, 122.0, 31.5)  # most of Shanghai's land area
CELL_DEG = 0.005  # ~500 m


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def backend_url(backend: str | None) -> str | None:
    """``postgresql://`` (and ``postgres://``) as the app reads it: through psycopg 3, the driver installed."""
    if backend and backend.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + backend.split("://", 1)[1]
    return backend


def _database(backend: str | None) -> tuple[Database, Callable[[], None]]:
    """The bench's database and how to clean it up: a fresh SQLite file (default); for ``postgresql`` a
    throwaway database on the local server (``CITYBRAIN_BENCH_PG_URL``, default its ``postgres`` database
    as the admin connection), dropped afterwards; or the database at a full URL as it is."""
    if backend in ("postgresql", "postgres"):
        return _throwaway_pg()
    if backend and backend not in ("sqlite",):
        return Database(backend_url(backend) or backend), lambda: None
    tmp = tempfile.mkdtemp(prefix="citybrain-bench-")
    db = Database(f"sqlite:///{os.path.join(tmp, 'bench.db')}")

    def cleanup() -> None:
        db.dispose()
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)

    return db, cleanup


def _throwaway_pg() -> tuple[Database, Callable[[], None]]:
    url = backend_url(os.environ.get("CITYBRAIN_BENCH_PG_URL")) or PG_ADMIN
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"citybrain_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    db = Database(admin.url.set(database=name).render_as_string(hide_password=False))

    def cleanup() -> None:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return db, cleanup


@contextlib.contextmanager
def bench_database(backend: str | None) -> Iterator[Database]:
    """``_database`` as a context manager: cleaned up however the bench ends."""
    db, cleanup = _database(backend)
    try:
        yield db
    finally:
        cleanup()


def _fill(db: Database, rows: int, log: Callable[[str], None]) -> int:
    now = datetime.now(UTC)
    min_x, min_y, max_x, max_y = EXTENT
    with db.session() as s:
        s.execute(sa.delete(GeoFeature).where(GeoFeature.layer.in_(["bench_point", "bench_cell"])))
    cells = []
    x = min_x
    while x < max_x:
        y = min_y
        while y < max_y:
            cells.append(box(x, y, x + CELL_DEG, y + CELL_DEG))
            y += CELL_DEG
        x += CELL_DEG
    points = max(0, rows - len(cells))
    chunk, done = 20_000, 0
    with db.session() as s:
        for i in range(0, len(cells), chunk):
            s.execute(sa.insert(GeoFeature), [
                {"layer": "bench_cell", "key": f"c{i + j}", "props": {}, "name_zh": "", "name_en": "",
                 "updated_at": now, **spatial.spatial_values(c)} for j, c in enumerate(cells[i:i + chunk])])
    nprng = np.random.default_rng(42)
    table = GeoFeature.__table__
    while done < points:
        n = min(chunk, points - done)
        xs, ys = nprng.uniform(min_x, max_x, n), nprng.uniform(min_y, max_y, n)
        wkbs = shapely.to_wkb(shapely.points(xs, ys))
        with db.engine.begin() as conn:
            conn.execute(table.insert(), [
                {"layer": "bench_point", "key": f"p{done + j}", "props": {}, "name_zh": "", "name_en": "",
                 "updated_at": now, "geom": wkbs[j], "min_x": float(xs[j]), "min_y": float(ys[j]),
                 "max_x": float(xs[j]), "max_y": float(ys[j])}
                for j in range(n)])
        done += n
        if done % 200_000 < chunk:
            log(f"  inserted {done + len(cells):,} rows")
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE geo_feature")
    return len(cells) + points


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    out, last = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        last = fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out, last


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def run(*, log: Callable[[str], None], rows: int = 1_000_000, backend: str | None = None,
        queries: int = 40) -> dict[str, Any]:
    db, cleanup = _database(backend)
    try:
        migrate.upgrade(db.engine)
        log(f"filling {rows:,} rows on {db.dialect} …")
        t0 = time.perf_counter()
        total = _fill(db, rows, log)
        fill_s = time.perf_counter() - t0
        rng = random.Random(7)
        probes = [(rng.uniform(121.1, 121.9), rng.uniform(30.8, 31.4)) for _ in range(queries)]
        it = itertools.cycle(probes)
        results: dict[str, Any] = {"benchmark": "spatial", "backend": db.dialect, "rows_in_table": total,
                                   "fill_s": round(fill_s, 1)}
        t = GeoFeature.__table__

        def scan(where: Any) -> int:
            with db.session() as s:
                return len(s.execute(sa.select(t.c.id, t.c.geom).where(where)).all())

        def kinds() -> dict[str, tuple[Callable[[float, float], Any], Callable[[float, float], Any]]]:
            def bbox_idx(x: float, y: float) -> int:
                with db.session() as s:
                    return len(spatial.within_bbox(s, GeoFeature, (x, y, x + 0.005, y + 0.005),
                                                   where=[GeoFeature.layer == "bench_point"]))

            def bbox_scan(x: float, y: float) -> int:
                return scan(sa.and_(t.c.layer == "bench_point", t.c.max_x >= x, t.c.min_x <= x + 0.005,
                                    t.c.max_y >= y, t.c.min_y <= y + 0.005))

            def radius_idx(x: float, y: float) -> int:
                with db.session() as s:
                    return len(spatial.within_radius(s, GeoFeature, x, y, 300,
                                                     where=[GeoFeature.layer == "bench_point"]))

            def radius_scan(x: float, y: float) -> int:
                bx = spatial.radius_bbox(x, y, 300)
                return scan(sa.and_(t.c.layer == "bench_point", t.c.max_x >= bx[0], t.c.min_x <= bx[2],
                                    t.c.max_y >= bx[1], t.c.min_y <= bx[3]))

            def pip_idx(x: float, y: float) -> int:
                with db.session() as s:
                    return len(spatial.containing(s, GeoFeature, x, y, where=[GeoFeature.layer == "bench_cell"]))

            def pip_scan(x: float, y: float) -> int:
                return scan(sa.and_(t.c.layer == "bench_cell", t.c.min_x <= x, t.c.max_x >= x,
                                    t.c.min_y <= y, t.c.max_y >= y))

            return {"bbox": (bbox_idx, bbox_scan), "radius": (radius_idx, radius_scan),
                    "point_in_polygon": (pip_idx, pip_scan)}

        for name, (indexed, scanned) in kinds().items():
            idx_ms, _ = _timed(lambda f=indexed: f(*next(it)), queries)  # type: ignore[misc]
            scan_ms, _ = _timed(lambda f=scanned: f(*next(it)), max(3, queries // 8))  # type: ignore[misc]
            results[f"{name}_p50_ms"] = round(statistics.median(idx_ms), 3)
            results[f"{name}_p99_ms"] = round(_p(idx_ms, 0.99), 3)
            results[f"{name}_scan_p50_ms"] = round(statistics.median(scan_ms), 3)
            results[f"{name}_ratio"] = round(statistics.median(scan_ms) / max(statistics.median(idx_ms), 1e-6), 1)
        results["ratio"] = min(results[f"{k}_ratio"] for k in ("bbox", "radius", "point_in_polygon"))
        return results
    finally:
        if backend and backend != "sqlite":
            with db.session() as s:
                s.execute(sa.delete(GeoFeature).where(GeoFeature.layer.in_(["bench_point", "bench_cell"])))
        cleanup()
