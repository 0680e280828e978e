"""Retention: raw readings kept per device type, roll-ups longer, dead letters 30 days.

``prune`` deletes set-based, in batches of ``batch_size`` rows, each batch its own transaction, so a
large backlog never holds one huge transaction or lock. On PostgreSQL, whole monthly partitions of
``reading`` that end before the *longest* raw retention of all types are dropped instead (no row is
visited); the rows left in younger partitions are then deleted per type. Raw readings of devices
whose type is not in ``types`` are kept until their partition is dropped.

Raw rows are deleted only once the roll-up worker has folded them: ``prune`` (a dry run too) first
brings the roll-ups up to date (``rollup.catch_up``) and never deletes a raw row after the watermark;
each delete of raw rows lowers the SQLite watermark to the largest rowid left (``rollup.after_delete``)
in its own transaction, so a rowid handed out again is always after the watermark.

``RetentionService`` runs ``ensure_partitions`` and ``prune`` at start-up and then hourly, in a thread.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import Session

from citybrain.core.clock import Clock
from citybrain.core.database import Database
from citybrain.sensing import partitions, rollup
from citybrain.sensing.models import DeadLetter, Device, Reading, ReadingRollup
from citybrain.sensing.pipeline import load_types
from citybrain.sensing.types import DEFAULT_RAW_RETENTION_DAYS, DeviceType

log = logging.getLogger(__name__)

ROLLUP_RETENTION_DAYS: dict[str, int] = {"10m": 400, "1h": 3650}
DEAD_LETTER_RETENTION_DAYS = 30
BATCH_SIZE = 10_000

_reading: sa.Table = Reading.__table__  # type: ignore[assignment]
_rollup: sa.Table = ReadingRollup.__table__  # type: ignore[assignment]
_dead: sa.Table = DeadLetter.__table__  # type: ignore[assignment]
_device: sa.Table = Device.__table__  # type: ignore[assignment]


def _drain(session: Session, key: tuple[sa.ColumnElement[Any], ...], where: sa.ColumnElement[bool], *,
           table: sa.Table, dry_run: bool, batch_size: int, extra: sa.ColumnElement[bool] | None = None) -> int:
    """Delete the rows matching ``where`` batch by batch (committing each); with ``dry_run`` only count them."""
    if extra is not None:
        where = sa.and_(where, extra)
    if dry_run:
        return int(session.scalar(sa.select(sa.func.count()).select_from(table).where(where)) or 0)
    total = 0
    while True:
        chosen = sa.select(*key).where(where).limit(batch_size)
        result = session.execute(sa.delete(table).where(sa.tuple_(*key).in_(chosen)))
        n = int(result.rowcount)  # type: ignore[attr-defined]
        if table is _reading:
            rollup.after_delete(session)
        session.commit()
        total += n
        if n < batch_size:
            return total


def _folded(session: Session, position: int) -> sa.ColumnElement[bool]:
    """Raw rows numbered up to ``position``: what the roll-ups hold."""
    if session.get_bind().dialect.name == "postgresql":
        seq = sa.literal_column("reading.seq")
        return sa.or_(seq.is_(None), seq <= position)  # NULL: stored (and rolled up) before migration 0007
    return sa.literal_column("reading.rowid") <= position


def prune(session: Session, now: datetime, *, types: dict[str, DeviceType], dry_run: bool = False,
          batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Remove what is past retention; returns what was (or, dry run, would be) removed.

    ``{"reading": {type_key: rows}, "reading_rollup": {bucket: rows}, "dead_letter": rows,
    "partitions_dropped": [names], "dry_run": bool}``. Rows inside dropped partitions are not counted
    in ``reading`` (in a dry run neither), so a dry run reports exactly what a real run would.
    """
    out: dict[str, Any] = {"reading": {}, "reading_rollup": {}, "dead_letter": 0, "partitions_dropped": [],
                           "dry_run": dry_run}
    rollup.catch_up(session.get_bind())  # fold every raw row stored so far (a dry run too: it only adds roll-ups)
    folded = _folded(session, rollup.watermark(session))
    longest = max((t.raw_retention_days for t in types.values()), default=DEFAULT_RAW_RETENTION_DAYS)
    boundary = now - timedelta(days=longest)
    old = [p for p in partitions.monthly(session.connection()) if p.end <= boundary]
    out["partitions_dropped"] = [p.name for p in old]
    if old and not dry_run:
        for p in old:
            session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {p.name}")
            session.commit()  # one short lock on the parent per partition
            log.info("dropped partition %s (before %s)", p.name, boundary.date())
    skip = (sa.literal_column("reading.tableoid").cast(sa.BigInteger).notin_([p.oid for p in old])
            if old and dry_run else None)

    for key, dtype in sorted(types.items()):
        devices = sa.select(_device.c.id).where(_device.c.type_key == key).scalar_subquery()
        where = sa.and_(_reading.c.device_id.in_(devices),
                        _reading.c.ts < now - timedelta(days=dtype.raw_retention_days), folded)
        out["reading"][key] = _drain(session, (_reading.c.device_id, _reading.c.quantity, _reading.c.ts), where,
                                     table=_reading, dry_run=dry_run, batch_size=batch_size, extra=skip)
    for bucket, days in ROLLUP_RETENTION_DAYS.items():
        where = sa.and_(_rollup.c.bucket == bucket, _rollup.c.bucket_start < now - timedelta(days=days))
        out["reading_rollup"][bucket] = _drain(
            session, (_rollup.c.device_id, _rollup.c.quantity, _rollup.c.bucket, _rollup.c.bucket_start), where,
            table=_rollup, dry_run=dry_run, batch_size=batch_size)
    out["dead_letter"] = _drain(session, (_dead.c.id,),
                                _dead.c.received_at < now - timedelta(days=DEAD_LETTER_RETENTION_DAYS),
                                table=_dead, dry_run=dry_run, batch_size=batch_size)
    return out


class RetentionService:
    """Background service: future partitions at start-up, then ``ensure_partitions`` + ``prune`` hourly in a thread."""

    name = "retention"

    def __init__(self, interval_s: float = 3600.0) -> None:
        self.interval_s = interval_s
        self.runs = 0
        self.last: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self, app: FastAPI) -> None:
        self.database: Database = app.state.db
        self.clock: Clock = app.state.clock
        await anyio.to_thread.run_sync(self._partitions)  # before the first reading of a new month arrives
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def _partitions(self) -> None:
        with self.database.session() as s:
            created = partitions.ensure_partitions(s, self.clock.now())
        if created:
            log.info("created partitions %s", ", ".join(created))

    def run_once(self) -> dict[str, Any]:
        self._partitions()
        with self.database.session() as s:
            self.last = prune(s, self.clock.now(), types=load_types(s))
        self.runs += 1
        return self.last

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # logged once per run; the next run retries
                log.exception("retention run failed")
            self._stop.wait(self.interval_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._thread.join, 30.0)
