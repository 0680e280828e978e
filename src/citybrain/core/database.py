"""Storage plumbing: the declarative base, portable column types, engines and sessions.

SQLite (WAL) is the embedded default; PostgreSQL + PostGIS is the production backend. Everything here
works on both; dialect differences stay in this module and in ``citybrain.geo.spatial``.

On an SQLite file, WAL checkpoints run in a background thread (``Checkpointer``) instead of inside
whichever commit happens to cross SQLite's auto-checkpoint size: the commit that would have paid for
copying the WAL into the database (and syncing both) no longer waits for it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from citybrain.core.clock import ensure_utc

log = logging.getLogger(__name__)

#: Seconds between the background WAL checkpoints on an SQLite file.
CHECKPOINT_INTERVAL_S = 0.5
#: SQLite's own auto-checkpoint, kept as a backstop (pages; SQLite's default is 1,000) should the
#: background thread fall behind or stop; with the thread's restarts below it is not normally reached.
AUTOCHECKPOINT_BACKSTOP_PAGES = 40_000
#: WAL frames (pages) from which the background thread starts the WAL afresh (``Checkpointer``): 32 MB.
RESTART_FRAMES = 8_000

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[str]: JSONType}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def sqlite_file(url: str) -> str | None:
    """The file of an SQLite URL, or None (another backend, or an in-memory database).

    >>> sqlite_file("sqlite:////var/lib/citybrain/db.sqlite"), sqlite_file("sqlite://"), sqlite_file("postgresql://h/d")
    ('/var/lib/citybrain/db.sqlite', None, None)
    """
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    path = path.split("?", 1)[0]
    return path if path and path != ":memory:" else None


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine tuned for the backend: WAL and foreign keys on SQLite, a checked pool on PostgreSQL.

    SQLite connections are not pinged before use: a connection to a file cannot go stale, and the ping
    was one more statement in every unit of work.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Checkpointer:
    """Checkpoints an SQLite file's WAL every ``interval_s`` from a daemon thread, and keeps the WAL short.

    Each turn runs ``PRAGMA wal_checkpoint(PASSIVE)``, which never waits for readers or writers (what it
    cannot copy now it copies next time), so commits go on meanwhile. Under a steady stream of commits that
    alone never lets the WAL start again from its beginning: SQLite restarts it only for a transaction that
    begins after a complete checkpoint and before any further commit, and there is always a commit in
    between. The WAL would then grow until SQLite's own backstop checkpoint ran inside some commit (tens of
    milliseconds added to that one batch). So once the WAL holds ``RESTART_FRAMES`` and the passive pass has
    copied them all, the thread takes the process's write turn (``write_lock``, the lock ``Database.writing``
    holds; it waits for it at most ``RESTART_WAIT_S``) and runs ``PRAGMA wal_checkpoint(RESTART)``, which
    copies the few frames committed since and makes the next writer begin the WAL afresh. That holds the
    process's writers for the two syncs of a checkpoint (a few to some tens of milliseconds, on this kind of
    disk), so it is done only when the WAL has grown, not every turn. A reader still on an older snapshot
    (or a writer of another process) makes it return busy at once, to be tried next turn. Durability is unchanged:
    ``synchronous=NORMAL`` stays, each commit is in the WAL file (safe from a process crash) as before, and
    the WAL is synced at each checkpoint as before. The thread holds no reference to the ``Database``; it
    stops when that is disposed or collected.
    """

    RESTART_WAIT_S = 0.05

    def __init__(self, path: str, interval_s: float | None = None, write_lock: threading.Lock | None = None) -> None:
        self.path = path
        self.interval_s = CHECKPOINT_INTERVAL_S if interval_s is None else interval_s
        self.write_lock = write_lock
        self.runs = 0
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    if conn is None:  # read-write, never create: the app's own connections make the file
                        conn = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=0)
                    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                    if not busy and frames >= RESTART_FRAMES and copied == frames:
                        self._restart(conn)
                except sqlite3.Error as exc:  # busy (another checkpoint) or the file is gone: next turn
                    log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
        finally:
            if conn is not None:
                conn.close()

    def _restart(self, conn: sqlite3.Connection) -> None:
        """Copy what was committed since the passive pass and have the next writer start the WAL afresh."""
        lock = self.write_lock
        if lock is not None and not lock.acquire(timeout=self.RESTART_WAIT_S):
            return  # the process's writers are busy: next turn
        try:
            busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            if not busy:
                self.restarts += 1
        finally:
            if lock is not None:
                lock.release()

    def on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        """A new connection leaves checkpoints to this thread while it runs (SQLite's own as a backstop)."""
        if not self._stop.is_set():
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_BACKSTOP_PAGES}")

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


class Database:
    """An engine plus its session factory; the one handle services receive (via ``DbSession``)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; writers of this process queue here and wake at once, instead of
        # meeting in SQLite's busy handler, which sleeps up to 100 ms between tries.
        self._write_lock: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None
        self.checkpointer: Checkpointer | None = None
        path = sqlite_file(url)
        if path is not None:
            self.checkpointer = Checkpointer(path, write_lock=self._write_lock)
            event.listen(self.engine, "connect", self.checkpointer.on_connect)
            weakref.finalize(self, self.checkpointer.stop, 0)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the process's SQLite write turn around a writing unit of work (a no-op on PostgreSQL)."""
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        """Close the pool's connections and stop the checkpoint thread (connections opened after this use
        SQLite's own auto-checkpoint again)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def jsonable(v: Any, *, leaf: Callable[[Any], Any] | None = None) -> Any:
    """``v`` as plain JSON for a JSON column: mappings and sequences recursively, times as ISO 8601, anything
    else unknown as its ``str``. ``leaf`` may translate domain values first (return None to pass).

    >>> from datetime import UTC, datetime
    >>> jsonable({"at": datetime(2026, 1, 1, tzinfo=UTC), "ids": (1, 2), 3: None})
    {'at': '2026-01-01T00:00:00+00:00', 'ids': [1, 2], '3': None}
    """
    if leaf is not None and (out := leaf(v)) is not None:
        return out
    if isinstance(v, Mapping):
        return {str(k): jsonable(x, leaf=leaf) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [jsonable(x, leaf=leaf) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)
