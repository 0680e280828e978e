"""Storage plumbing: the declarative base, portable column types, engines and sessions.

SQLite (WAL) is the embedded default; PostgreSQL + PostGIS is the production backend. Everything here
works on both; dialect differences stay in this module and in ``citybrain.geo.spatial``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from citybrain.core.clock import ensure_utc

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


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine tuned for the backend: WAL and foreign keys on SQLite, a checked pool on PostgreSQL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """An engine plus its session factory; the one handle services receive (via ``DbSession``)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; writers of this process queue here and wake at once, instead of
        # meeting in SQLite's busy handler, which sleeps up to 100 ms between tries.
        self._write_lock: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None

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
