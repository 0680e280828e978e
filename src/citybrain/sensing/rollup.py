"""Roll-ups off the ingest path: a worker folds new raw readings into 10-minute and hour buckets.

The ingest transaction writes raw rows and latest values (and by default ``device.last_seen_at``);
the worker also moves each device's ``last_seen_at`` forward to the receive time of its newest stored
row, so a pipeline built with ``last_seen_inline=False`` can leave that per-message device-row rewrite
to it. Raw rows carry a number that grows in
commit order (the rowid on SQLite, the column ``seq`` from the sequence ``reading_seq`` on
PostgreSQL), and the watermark row ``rollup_watermark('reading')`` says up to which number the
roll-ups hold. A ``step`` finds the horizon (the highest number below which every writer has
committed), aggregates the raw rows between watermark and horizon in SQL and, in one transaction,
merges them into ``reading_rollup`` by upsert and moves the watermark. A crash undoes that transaction
whole, so a restart carries on where the last committed step ended; a replayed or duplicate reading
never became a raw row, so it never counts.

Horizon. SQLite has one writer at a time and numbers a new row one above the largest rowid, so the
largest rowid seen under the write lock is safe. Deleting the newest rows would let their rowids be
handed out again below the watermark, so whatever deletes raw rows calls ``after_delete`` in the same
transaction (retention does; nothing else deletes raw readings; after deleting by hand, call it too). On PostgreSQL a transaction may commit after
one that drew a later number: the pipeline holds ``pg_advisory_xact_lock_shared(LOCK_KEY)`` from before
it draws numbers until it commits, and the worker takes the lock exclusively for an instant, so when it
holds it every drawn number is committed (or rolled back) and the sequence's last value is safe.

Readers (``service.series``) take roll-ups up to the watermark and raw rows after it, from one
consistent view (``consistent_read``), so a chart is exact whether or not the worker has caught up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from citybrain.core.clock import Clock
from citybrain.core.database import Database

log = logging.getLogger(__name__)

BUCKETS: tuple[tuple[str, int], ...] = (("10m", 600), ("1h", 3600))
WATERMARK = "reading"
LOCK_KEY = 0x63627275  # pg advisory lock between raw inserts (shared) and the worker's horizon (exclusive)
STEP_LIMIT = 200_000  # numbers per step: keeps each write transaction short

_START = {  # the bucket holding ``ts``, in SQL (SQLite keeps naive UTC text of fixed width)
    "sqlite": {"10m": "substr(ts, 1, 15) || '0:00.000000'", "1h": "substr(ts, 1, 13) || ':00:00.000000'"},
    "postgresql": {"10m": "to_timestamp(floor(extract(epoch from ts) / 600) * 600)",
                   "1h": "date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"},
}
_NUMBER = {"sqlite": "rowid", "postgresql": "seq"}
_MERGE = ("ON CONFLICT (device_id, quantity, bucket, bucket_start) DO UPDATE SET "
          "min = {least}(reading_rollup.min, excluded.min), max = {greatest}(reading_rollup.max, excluded.max), "
          "sum = reading_rollup.sum + excluded.sum, count = reading_rollup.count + excluded.count, "
          "last = CASE WHEN excluded.last_ts >= reading_rollup.last_ts THEN excluded.last "
          "ELSE reading_rollup.last END, "
          "last_ts = CASE WHEN excluded.last_ts >= reading_rollup.last_ts THEN excluded.last_ts "
          "ELSE reading_rollup.last_ts END")
# Each bucket's last value is found again through the primary key at its newest ts. ``WHERE true``
# keeps SQLite from reading ON CONFLICT as a join constraint.
_FOLD = ("INSERT INTO reading_rollup (device_id, quantity, bucket, bucket_start, min, max, sum, count, last, "
         "last_ts) SELECT g.device_id, g.quantity, '{bucket}', g.start, g.mn, g.mx, g.sm, g.n, r.value, g.last_ts "
         "FROM (SELECT device_id, quantity, {start} AS start, min(value) AS mn, max(value) AS mx, "
         "sum(value) AS sm, count(*) AS n, max(ts) AS last_ts FROM reading "
         "WHERE {number} > {lo} AND {number} <= {hi} GROUP BY device_id, quantity, {start}) AS g "
         "{join} reading AS r ON r.device_id = g.device_id AND r.quantity = g.quantity AND r.ts = g.last_ts "
         "WHERE true " + _MERGE)


def _dialect(conn: Any) -> str:
    name: str = conn.dialect.name
    return name if name in _NUMBER else "sqlite"


def _fold_sql(dialect: str, bucket: str) -> str:
    pg = dialect == "postgresql"
    return _FOLD.format(bucket=bucket, start=_START[dialect][bucket], number=_NUMBER[dialect],
                        lo="%(lo)s" if pg else ":lo", hi="%(hi)s" if pg else ":hi",
                        join="JOIN" if pg else "CROSS JOIN",  # SQLite: the groups drive the lookups
                        least="least" if pg else "min", greatest="greatest" if pg else "max")


def hold_back_horizon(conn: Any) -> None:
    """Called by the pipeline before it inserts raw rows (PostgreSQL): the worker's horizon waits for us."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({LOCK_KEY})")


def _lock_watermark(conn: Any, dialect: str) -> int:
    """The watermark, locked until the transaction ends (created at 0 if missing)."""
    if dialect == "postgresql":
        conn.exec_driver_sql("INSERT INTO rollup_watermark (name, position) VALUES (%(n)s, 0) "
                             "ON CONFLICT (name) DO NOTHING", {"n": WATERMARK})
        return int(conn.exec_driver_sql("SELECT position FROM rollup_watermark WHERE name = %(n)s FOR UPDATE",
                                        {"n": WATERMARK}).scalar_one())
    # a write first: SQLite takes its one write lock now, so no other writer runs until we commit
    conn.exec_driver_sql("INSERT INTO rollup_watermark (name, position) VALUES (?, 0) "
                         "ON CONFLICT (name) DO UPDATE SET position = position", (WATERMARK,))
    return int(conn.exec_driver_sql("SELECT position FROM rollup_watermark WHERE name = ?", (WATERMARK,)).scalar_one())


def _horizon(conn: Any, dialect: str) -> int:
    if dialect == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({LOCK_KEY})")  # waits for raw inserts in flight
        try:
            value = conn.exec_driver_sql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                                         "FROM reading_seq").scalar_one()
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_KEY})")
        return int(value)
    return int(conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM reading").scalar_one())


def _set(conn: Any, dialect: str, position: int) -> None:
    mark = "%(p)s" if dialect == "postgresql" else ":p"
    conn.exec_driver_sql(f"UPDATE rollup_watermark SET position = {mark} WHERE name = '{WATERMARK}'",
                         {"p": position})


def step(engine: Engine, *, limit: int = STEP_LIMIT) -> tuple[int, int]:
    """Fold the raw rows numbered after the watermark (at most ``limit`` numbers) into the roll-ups.

    Uses a connection of its own; returns (numbers consumed, numbers still behind).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return _step_postgresql(conn, limit)
        return _step_sqlite(conn, limit)


def _step_postgresql(conn: Connection, limit: int) -> tuple[int, int]:
    lo = _lock_watermark(conn, "postgresql")  # row lock: other workers wait; ingest is not held up
    horizon = _horizon(conn, "postgresql")
    hi = min(horizon, lo + limit)
    if hi > lo:
        for bucket, _seconds in BUCKETS:
            conn.exec_driver_sql(_fold_sql("postgresql", bucket), {"lo": lo, "hi": hi})
        conn.exec_driver_sql(_SEEN["postgresql"], {"lo": lo, "hi": hi})
        _set(conn, "postgresql", hi)
    conn.commit()
    return max(0, hi - lo), horizon - max(hi, lo)


# SQLite has one write lock for the whole database, so the expensive part (grouping the raw rows) runs
# in a read transaction into a temporary table of this connection, and only the merge into
# reading_rollup takes the write lock, after checking that no one moved the watermark meanwhile.
_DELTA = ("CREATE TEMP TABLE IF NOT EXISTS rollup_delta (device_id INTEGER NOT NULL, quantity TEXT NOT NULL, "
          "bucket TEXT NOT NULL, bucket_start TEXT NOT NULL, min REAL, max REAL, sum REAL, count INTEGER, last REAL, "
          "last_ts TEXT, seen TEXT, PRIMARY KEY (device_id, quantity, bucket, bucket_start)) WITHOUT ROWID")
_DELTA_10M = ("INSERT INTO temp.rollup_delta SELECT g.device_id, g.quantity, '10m', g.start, g.mn, g.mx, g.sm, g.n, "
              "r.value, g.last_ts, g.seen FROM (SELECT device_id, quantity, " + _START["sqlite"]["10m"] + " AS start, "
              "min(value) AS mn, max(value) AS mx, sum(value) AS sm, count(*) AS n, max(ts) AS last_ts, "
              "max(received_at) AS seen "
              "FROM main.reading WHERE rowid > :lo AND rowid <= :hi GROUP BY device_id, quantity, start) AS g "
              "CROSS JOIN main.reading AS r ON r.device_id = g.device_id AND r.quantity = g.quantity "
              "AND r.ts = g.last_ts")
# an hour's delta from its 10-minute deltas; its last value is the last of the 10 minutes holding last_ts
_DELTA_1H = ("INSERT INTO temp.rollup_delta SELECT h.device_id, h.quantity, '1h', h.start, h.mn, h.mx, h.sm, h.n, "
             "d.last, h.last_ts, NULL FROM (SELECT device_id, quantity, substr(bucket_start, 1, 13) || ':00:00.000000' "
             "AS start, min(min) AS mn, max(max) AS mx, sum(sum) AS sm, sum(count) AS n, max(last_ts) AS last_ts "
             "FROM temp.rollup_delta WHERE bucket = '10m' GROUP BY device_id, quantity, start) AS h "
             "CROSS JOIN temp.rollup_delta AS d ON d.device_id = h.device_id AND d.quantity = h.quantity "
             "AND d.bucket = '10m' AND d.bucket_start = " + _START["sqlite"]["10m"].replace("ts", "h.last_ts"))
_MERGE_DELTA = ("INSERT INTO reading_rollup (device_id, quantity, bucket, bucket_start, min, max, sum, count, last, "
                "last_ts) SELECT device_id, quantity, bucket, bucket_start, min, max, sum, count, last, last_ts "
                "FROM temp.rollup_delta WHERE true " + _MERGE.format(least="min", greatest="max"))
# a device's last_seen_at (the platform's receive time of its newest stored message) only moves forward
_SEEN = {
    "sqlite": ("UPDATE device SET last_seen_at = s.seen FROM (SELECT device_id, max(seen) AS seen FROM temp.rollup_delta "
               "WHERE bucket = '10m' GROUP BY device_id) AS s WHERE device.id = s.device_id "
               "AND (device.last_seen_at IS NULL OR device.last_seen_at < s.seen)"),
    "postgresql": ("UPDATE device SET last_seen_at = s.seen FROM (SELECT device_id, max(received_at) AS seen "
                   "FROM reading WHERE seq > %(lo)s AND seq <= %(hi)s GROUP BY device_id) AS s "
                   "WHERE device.id = s.device_id AND (device.last_seen_at IS NULL OR device.last_seen_at < s.seen)"),
}


def _step_sqlite(conn: Connection, limit: int) -> tuple[int, int]:
    conn.exec_driver_sql("PRAGMA temp_store = MEMORY")  # the grouping's sorter and the deltas stay in memory
    conn.exec_driver_sql(_DELTA)
    conn.commit()
    row = conn.exec_driver_sql("SELECT (SELECT position FROM rollup_watermark WHERE name = ?), "
                               "(SELECT coalesce(max(rowid), 0) FROM reading)", (WATERMARK,)).one()
    if row[0] is None:  # emptied by hand (tests): start at 0
        conn.exec_driver_sql("INSERT INTO rollup_watermark (name, position) VALUES (?, 0) ON CONFLICT DO NOTHING",
                             (WATERMARK,))
        conn.commit()
        return 0, int(row[1])
    lo, horizon = int(row[0]), int(row[1])
    hi = min(horizon, lo + limit)
    if hi <= lo:
        conn.rollback()
        return 0, max(0, horizon - lo)
    conn.exec_driver_sql("DELETE FROM temp.rollup_delta")  # begins the read transaction (one snapshot)
    conn.exec_driver_sql(_DELTA_10M, {"lo": lo, "hi": hi})
    conn.exec_driver_sql(_DELTA_1H)
    conn.commit()
    moved = conn.exec_driver_sql("UPDATE rollup_watermark SET position = ? WHERE name = ? AND position = ?",
                                 (hi, WATERMARK, lo)).rowcount  # takes the write lock
    if moved != 1:  # another worker (or retention) moved it first: nothing of ours is kept
        conn.rollback()
        return 0, max(0, horizon - lo)
    conn.exec_driver_sql(_MERGE_DELTA)
    conn.exec_driver_sql(_SEEN["sqlite"])
    conn.commit()
    return hi - lo, horizon - hi


def catch_up(bind: Database | Engine, *, limit: int = STEP_LIMIT) -> int:
    """Steps until nothing is behind; returns the numbers consumed."""
    engine = bind.engine if isinstance(bind, Database) else bind
    total = 0
    while True:
        done, behind = step(engine, limit=limit)
        total += done
        if not behind:
            return total


def watermark(session: Session) -> int:
    return int(session.execute(sa.text("SELECT position FROM rollup_watermark WHERE name = :n"),
                               {"n": WATERMARK}).scalar() or 0)


def horizon(session: Session) -> int:
    """The number below which every raw row is committed (where a caught-up watermark stands)."""
    conn = session.connection()
    return _horizon(conn, _dialect(conn))


def after_delete(session: Session) -> None:
    """SQLite: lower the watermark to the largest rowid left, so rowids handed out again come after it."""
    conn = session.connection()
    if _dialect(conn) == "sqlite":
        conn.exec_driver_sql("UPDATE rollup_watermark SET position = (SELECT coalesce(max(rowid), 0) FROM reading) "
                             "WHERE name = ? AND position > (SELECT coalesce(max(rowid), 0) FROM reading)",
                             (WATERMARK,))


def reset(session: Session) -> None:
    """Set the watermark to the newest raw row: for when roll-ups were rebuilt, or raw rows deleted, by hand."""
    conn = session.connection()
    dialect = _dialect(conn)
    _lock_watermark(conn, dialect)
    _set(conn, dialect, _horizon(conn, dialect))


@contextmanager
def consistent_read(session: Session) -> Iterator[int]:
    """The watermark, with roll-ups and raw rows read inside the block seen as of that same watermark.

    SQLite: a savepoint opens one read transaction (one snapshot) for the block. PostgreSQL (read
    committed, a snapshot per statement): a share lock on the watermark row keeps any step from
    committing until the session's transaction ends, and waits for a step in progress.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        yield int(conn.exec_driver_sql("SELECT position FROM rollup_watermark WHERE name = %(n)s FOR SHARE",
                                       {"n": WATERMARK}).scalar() or 0)
        return
    conn.exec_driver_sql("SAVEPOINT rollup_read")
    try:
        yield watermark(session)
    finally:
        conn.exec_driver_sql("RELEASE rollup_read")


def pending_filter(session: Session, position: int) -> tuple[str, str]:
    """(FROM clause, WHERE condition) selecting raw rows numbered after ``position`` for one device's range.

    On SQLite a short backlog is read along the rowid (``NOT INDEXED``: only the rows after the watermark
    are visited); a long one (the worker stopped) through the primary key, filtered by rowid.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return "reading", f"seq > {int(position)}"
    newest = int(conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM reading").scalar_one())
    if newest - position <= 100_000:
        return "reading NOT INDEXED", f"rowid > {int(position)}"
    return "reading", f"rowid > {int(position)}"


class RollupWorker:
    """Background service: ``step`` every ``interval_s`` in a thread, sooner while behind.

    The service protocol of the app (``name``, ``start(app)``, ``stop()``); ``run_forever`` for a
    process of its own. Several workers on one database are safe (the watermark lock serialises them).
    """

    name = "rollup"

    def __init__(self, database: Database | None = None, clock: Clock | None = None, *, interval_s: float = 1.0,
                 limit: int = STEP_LIMIT) -> None:
        self.database, self.clock = database, clock
        self.interval_s, self.limit = interval_s, limit
        self.steps = 0
        self.folded = 0
        self.behind = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: set[str] = set()

    async def start(self, app: Any = None) -> None:
        state = getattr(app, "state", None)
        self.database = self.database or getattr(state, "db", None)
        self.clock = self.clock or getattr(state, "clock", None)
        self.start_thread()

    def start_thread(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="rollup", daemon=True)
        self._thread.start()

    def run_once(self) -> int:
        assert self.database is not None, "RollupWorker needs a database"
        done, self.behind = step(self.database.engine, limit=self.limit)
        self.steps += 1
        self.folded += done
        return done

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self._failed.clear()
            except Exception as exc:  # transient (locked, connection lost): logged once per kind, retried
                kind = type(exc).__name__
                if kind not in self._failed:
                    self._failed.add(kind)
                    log.exception("roll-up step failed; retrying every %.1f s", self.interval_s)
                self.behind = 0
            if not self.behind:
                self._stop.wait(self.interval_s)

    def stop_thread(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    async def stop(self) -> None:
        await anyio.to_thread.run_sync(self.stop_thread)

    def stats(self) -> dict[str, Any]:
        return {"steps": self.steps, "folded": self.folded, "behind": self.behind,
                "running": self._thread is not None and self._thread.is_alive()}
