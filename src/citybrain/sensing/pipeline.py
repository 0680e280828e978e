"""Ingestion: device readings in, stored once, handed on to the warning engine.

The order reads as one line (``Pipeline.STAGES``): decode → validate → dedupe → store, then the
hand-off publishes what was stored on ``readings.accepted``. Every stage has the same signature
(``stage(batch) -> None``): it moves items from ``batch.items`` to ``batch.rejected`` (or counts
them as duplicates) and may fill the next stage's input, so each can be tested alone.

An item is a message (one device, one timestamp, one or more values) and is stored whole or not at
all. Good items of a batch are stored even when others are rejected. Storage is one statement per
table per batch; idempotency lives in the database (primary key device+quantity+ts, unique
device+quantity+msg_id), and the latest values are an SQL upsert, so concurrent or replayed batches
stay correct. The raw insert's RETURNING names the rows really inserted; only those reach the latest
values. Per value the database writes the raw row, plus one latest row per device and quantity, which
also counts how many readings in a row carried the latest value (``repeats``). The 10-minute and hour
roll-ups are folded from the raw rows after a watermark by ``sensing.rollup`` (off this path; only
rows really inserted ever count there too).

A consumer that must see every stored reading in the same transaction (the warning engine on the
embedded default, ``warning.flows.WarningHost``) registers a hook with ``on_stored``: it runs after
the stages, inside a savepoint, and may hand back work for after the commit (``IngestResult.after``,
run by ``publish``). A hook that raises is rolled back to its savepoint and logged; the readings are
stored all the same.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from citybrain.core.bus import Bus
from citybrain.core.clock import Clock
from citybrain.core.database import Database
from citybrain.sensing.models import DeadLetter, Device, DeviceTypeRow
from citybrain.sensing.rollup import hold_back_horizon
from citybrain.sensing.types import DEVICE_TYPES, DeviceType

log = logging.getLogger(__name__)
ACCEPTED_SUBJECT = "readings.accepted"
MAX_FUTURE = timedelta(minutes=5)
VALUE_KEY = ""  # a reading's single "value" before its type names the quantity

# Stable reason codes; the message of each rejection says more about the one item.
REASONS: dict[str, str] = {
    "malformed": "the item is not a reading object (device_id, ts, values|value)",
    "unknown_device": "no device with this id is registered",
    "inactive_device": "the device is inactive",
    "wrong_credentials": "the credentials used do not belong to this device",
    "unknown_quantity": "this device type does not report this quantity",
    "not_a_number": "the value is not a finite number",
    "out_of_range": "the value is outside the physical range of the quantity",
    "bad_timestamp": "the timestamp is not ISO 8601 with a UTC offset",
    "future_timestamp": "the timestamp is more than 5 minutes ahead of the platform clock",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    device_id: str | None
    msg_id: str | None
    reason: str
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "device_id": self.device_id, "msg_id": self.msg_id, "reason": self.reason,
                "field": self.field, "message": self.message}


AfterCommit = Callable[[], Awaitable[None]]
# ``hook(session, readings)`` in the transaction that stored ``readings`` (the hand-off's dicts)
StoredHook = Callable[[Session, list[dict[str, Any]]], AfterCommit | None]


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)  # what the hand-off publishes
    # what stored hooks (``on_stored``) left to do once the batch is committed; ``publish`` runs it
    after: list[AfterCommit] = field(default_factory=list, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": [r.as_dict() for r in self.rejected]}


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A line of a stream that was not JSON; decode turns it into a rejection naming the line."""

    line: int
    text: str
    error: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    key: str
    type_key: str
    status: str
    secret_hash: str | None
    department_id: int


@dataclass(slots=True)
class Item:
    index: int
    raw: Any
    device_key: str | None = None
    msg_id: str | None = None
    ts: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)
    device: DeviceInfo | None = None


Lookup = Callable[[Iterable[str]], dict[str, DeviceInfo]]


@dataclass(slots=True)
class Batch:
    """What flows between stages. ``lookup`` and ``types`` are the validate stage's neighbours."""

    raw: list[Any]
    source: str
    now: datetime
    device_key: str | None = None
    lookup: Lookup = lambda keys: {}
    types: dict[str, DeviceType] = field(default_factory=lambda: dict(DEVICE_TYPES))
    session: Session | None = None
    last_seen: bool = True  # store moves device.last_seen_at (else the roll-up worker does, from received_at)
    items: list[Item] = field(default_factory=list)
    rejected: list[tuple[Item, Rejection]] = field(default_factory=list)
    duplicates: int = 0
    accepted: list[Item] = field(default_factory=list)

    def reject(self, item: Item, reason: str, field_: str | None, message: str | None = None) -> None:
        self.rejected.append((item, Rejection(item.index, item.device_key, item.msg_id, reason, field_,
                                              message or REASONS[reason])))

    def result(self) -> IngestResult:
        iso: dict[datetime, str] = {}  # a batch has few distinct timestamps
        readings = []
        for i in self.accepted:
            ts = None
            if i.ts is not None:
                ts = iso.get(i.ts)
                if ts is None:
                    ts = iso[i.ts] = i.ts.isoformat().replace("+00:00", "Z")
            readings.append({
                "device_id": i.device_key, "device_pk": i.device.id if i.device else None,
                "type": i.device.type_key if i.device else None, "status": i.device.status if i.device else None,
                "ts": ts, "values": dict(i.values), "msg_id": i.msg_id})
        rejected = sorted((r for _, r in self.rejected), key=lambda r: r.index)
        return IngestResult(len(self.accepted), self.duplicates, rejected, readings)


Stage = Callable[[Batch], None]


# -- stages ------------------------------------------------------------------------------------------


def parse_ts(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 with ``Z`` or an offset; None when unparsable or naive."""
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    return ts.astimezone(UTC)


def decode(batch: Batch) -> None:
    """Wire dicts → items: device id, timestamp, values (numbers are checked by validate)."""
    parsed: dict[str, datetime | None] = {}  # a batch has few distinct timestamps
    for index, raw in enumerate(batch.raw):
        item = Item(index, raw)
        if isinstance(raw, Undecodable):
            batch.reject(item, "malformed", f"line {raw.line}", f"line {raw.line} is not JSON: {raw.error}")
            continue
        if not isinstance(raw, dict):
            batch.reject(item, "malformed", None, "the item is not a JSON object")
            continue
        key, msg_id = raw.get("device_id"), raw.get("msg_id")
        item.device_key = key if isinstance(key, str) and key else None
        item.msg_id = str(msg_id) if isinstance(msg_id, str | int) and not isinstance(msg_id, bool) else None
        if item.device_key is None:
            batch.reject(item, "malformed", "device_id", "device_id must be a non-empty string")
            continue
        if msg_id is not None and (item.msg_id is None or not item.msg_id or len(item.msg_id) > 120):
            batch.reject(item, "malformed", "msg_id", "msg_id must be a string of 1 to 120 characters")
            continue
        ts_raw = raw.get("ts")
        if isinstance(ts_raw, str):
            if ts_raw in parsed:
                item.ts = parsed[ts_raw]
            else:
                item.ts = parsed[ts_raw] = parse_ts(ts_raw)
        else:
            item.ts = None
        if item.ts is None:
            batch.reject(item, "bad_timestamp", "ts", f"ts {raw.get('ts')!r}: {REASONS['bad_timestamp']}")
            continue
        values, single = raw.get("values"), raw.get("value", None)
        if values is not None and "value" in raw:
            batch.reject(item, "malformed", "values", "send either values or value, not both")
            continue
        if values is not None:
            if not isinstance(values, dict) or not values or not all(isinstance(q, str) and q for q in values):
                batch.reject(item, "malformed", "values", "values must be a non-empty object of quantity: number")
                continue
            item.values = dict(values)
        elif "value" in raw:
            item.values = {VALUE_KEY: single}
        else:
            batch.reject(item, "malformed", "values", "a reading needs values or value")
            continue
        batch.items.append(item)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate(batch: Batch) -> None:
    """Credentials, device known and active, quantities of its type, numbers in range, time not ahead."""
    infos = batch.lookup({i.device_key for i in batch.items if i.device_key})
    horizon = batch.now + MAX_FUTURE
    keep: list[Item] = []
    for item in batch.items:
        if batch.device_key is not None and item.device_key != batch.device_key:
            batch.reject(item, "wrong_credentials", "device_id",
                         f"these credentials are for {batch.device_key}, not {item.device_key}")
            continue
        info = infos.get(item.device_key or "")
        if info is None:
            batch.reject(item, "unknown_device", "device_id", f"no device {item.device_key!r} is registered")
            continue
        item.device = info
        if info.status == "inactive":
            batch.reject(item, "inactive_device", "device_id", f"device {info.key} is inactive")
            continue
        assert item.ts is not None
        if item.ts > horizon:
            batch.reject(item, "future_timestamp", "ts", f"ts {item.ts.isoformat()} is ahead of "
                         f"{batch.now.isoformat()} by more than {int(MAX_FUTURE.total_seconds())} s")
            continue
        dtype = batch.types.get(info.type_key)
        problem = _check_values(item, dtype)
        if problem:
            batch.reject(item, *problem)
            continue
        keep.append(item)
    batch.items = keep


def _check_values(item: Item, dtype: DeviceType | None) -> tuple[str, str, str] | None:
    if dtype is None:
        return ("unknown_quantity", "values", f"device type {item.device.type_key if item.device else '?'} "
                "is not known")
    values: dict[str, float] = {}
    for q, v in item.values.items():
        quantity, field_ = (dtype.quantity, "value") if q == VALUE_KEY else (q, f"values.{q}")
        bounds = dtype.range_of(quantity)
        if bounds is None:
            return ("unknown_quantity", field_, f"{dtype.key} reports {', '.join(dtype.quantities)}, not {q!r}")
        if not _is_number(v):
            return ("not_a_number", field_, f"{field_} is {v!r}, not a finite number")
        if not bounds[0] <= v <= bounds[1]:
            unit = dtype.unit_of(quantity) or ""
            return ("out_of_range", field_, f"{field_} = {v} is outside [{bounds[0]}, {bounds[1]}] {unit}".rstrip())
        values[quantity] = float(v)
    item.values = values
    return None


def dedupe(batch: Batch) -> None:
    """Drop repeats inside the batch (same device+quantity+ts, or same device+quantity+msg_id)."""
    # quantities seen per device and instant, and per device and message: the first item's values dict
    # stands for its set of quantities until a second item collides (the rare case copies it to a set)
    by_ts: dict[tuple[int, datetime], Any] = {}
    by_msg: dict[tuple[int, str], Any] = {}
    keep: list[Item] = []
    for item in batch.items:
        assert item.device is not None and item.ts is not None
        d = item.device.id
        k1 = (d, item.ts)
        k2 = (d, item.msg_id) if item.msg_id else None
        if k1 not in by_ts and (k2 is None or k2 not in by_msg):  # the common case: a new message
            by_ts[k1] = item.values
            if k2 is not None:
                by_msg[k2] = item.values
            keep.append(item)
            continue
        seen1 = by_ts[k1] = set(by_ts.get(k1, ()))
        seen2 = set(by_msg.get(k2, ())) if k2 is not None else set()
        if k2 is not None:
            by_msg[k2] = seen2
        fresh = {q: v for q, v in item.values.items() if q not in seen1 and q not in seen2}
        seen1.update(fresh)
        seen2.update(fresh)
        if not fresh:
            batch.duplicates += 1
            continue
        item.values = fresh
        keep.append(item)
    batch.items = keep


def _table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


# The hot statements are written once per dialect and sent straight to the driver (SQLite: one prepared
# statement stepped per row, or multi-row VALUES; PostgreSQL: column arrays through unnest):
# SQLAlchemy's per-value bind processing cost more than the database's own work. Values are
# bound exactly as the ``UTCDateTime`` column type would bind them (naive UTC text on SQLite).

_READING_SQL_PLAIN = ("INSERT INTO reading (device_id, quantity, ts, value, msg_id, received_at) VALUES {values} "
                      "ON CONFLICT DO NOTHING")
_READING_SQL = _READING_SQL_PLAIN + " RETURNING device_id, quantity, ts"
# ``repeats`` of a batch's newest value is its trailing run in the batch; a run that fills the whole
# batch continues the stored one when the stored value is the same, a run after a change restarts it.
_LATEST_SQL = ("INSERT INTO reading_latest (device_id, quantity, ts, value, repeats) VALUES {values} "
               "ON CONFLICT (device_id, quantity) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
               "repeats = {repeats} WHERE reading_latest.ts < excluded.ts")
_LATEST_CONTINUES = _LATEST_SQL.replace("{repeats}", "CASE WHEN reading_latest.value = excluded.value "
                                        "THEN reading_latest.repeats + excluded.repeats ELSE excluded.repeats END")
_LATEST_RESTARTS = _LATEST_SQL.replace("{repeats}", "excluded.repeats")
_ROWS_PER_STATEMENT = 1000


@dataclass(frozen=True, slots=True)
class _Dialect:
    mark: str  # the driver's positional placeholder
    max_params: int
    least: str
    greatest: str
    text_ts: bool  # SQLite keeps timestamps as naive UTC text


_DIALECTS = {"sqlite": _Dialect("?", 32_766, "min", "max", True),
             "postgresql": _Dialect("%s", 65_535, "least", "greatest", False)}
_SQL_CACHE: dict[tuple[str, str, int, int], str] = {}


def _statement(template: str, dialect: _Dialect, rows: int, width: int) -> str:
    key = (template, dialect.mark, rows, width)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        one = "(" + ", ".join([dialect.mark] * width) + ")"
        sql = _SQL_CACHE[key] = template.format(values=", ".join([one] * rows), least=dialect.least,
                                                greatest=dialect.greatest)
    return sql


# PostgreSQL takes a batch as one array per column: one short statement, planned once, whatever the size.
_PG_TYPES = {"reading": ("integer", "varchar", "timestamptz", "float8", "varchar", "timestamptz"),
             "reading_latest": ("integer", "varchar", "timestamptz", "float8", "integer")}


def _unnest(template: str) -> str:
    sql = _SQL_CACHE.get((template, "unnest", 0, 0))
    if sql is None:
        table = template.split()[2]
        arrays = ", ".join(f"%s::{t}[]" for t in _PG_TYPES[table])
        sql = _SQL_CACHE[(template, "unnest", 0, 0)] = template.format(
            values="", least="least", greatest="greatest").replace(" VALUES ", f" SELECT * FROM unnest({arrays}) ")  # noqa: S608
    return sql


def _bulk(conn: Any, template: str, dialect: _Dialect, rows: list[tuple[Any, ...]], *,
          fetch: bool = False) -> list[Any]:
    """One statement per batch (SQLite: per chunk); returns the RETURNING rows if ``fetch``."""
    out: list[Any] = []
    if not rows:
        return out
    width = len(rows[0])
    if not dialect.text_ts:  # PostgreSQL: the rows as column arrays
        result = conn.exec_driver_sql(_unnest(template), tuple(list(c) for c in zip(*rows, strict=True)))
        return list(result.fetchall()) if fetch else out
    if not fetch:  # SQLite: one prepared statement, stepped per row
        conn.exec_driver_sql(_statement(template, dialect, 1, width), rows)
        return out
    per = max(1, min(_ROWS_PER_STATEMENT, dialect.max_params // width))
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        params = tuple([v for row in part for v in row])
        out.extend(conn.exec_driver_sql(_statement(template, dialect, len(part), width), params).fetchall())
    return out


class _Stamps:
    """Each distinct timestamp of a batch converted once to its bound value."""

    __slots__ = ("text", "bound")

    def __init__(self, text: bool) -> None:
        self.text = text
        self.bound: dict[datetime, Any] = {}

    def bind(self, ts: datetime) -> Any:
        b = self.bound.get(ts)
        if b is None:
            u = ts.astimezone(UTC) if ts.tzinfo is not None else ts
            b = f"{u:%Y-%m-%d %H:%M:%S}.{u.microsecond:06d}" if self.text else u.replace(tzinfo=UTC)
            self.bound[ts] = b
        return b


def store(batch: Batch) -> None:
    """Raw rows (conflicts ignored), then latest values from the rows really inserted (roll-ups: ``rollup``)."""
    session = batch.session
    assert session is not None, "store needs a session"
    if batch.rejected:
        session.execute(sa.insert(_table(DeadLetter)), [
            {"received_at": batch.now, "source": batch.source, "reason": r.reason,
             "device_id": item.device.id if item.device else None,
             "payload": (item.raw.text if isinstance(item.raw, Undecodable) else
                         json.dumps(item.raw, default=str, ensure_ascii=False))[:20_000]}
            for item, r in batch.rejected
        ])
    items = [i for i in batch.items if i.device and i.ts]
    if not items:
        return
    conn = session.connection()
    dialect = _DIALECTS.get(conn.dialect.name, _DIALECTS["sqlite"])
    stamps = _Stamps(dialect.text_ts)
    bind = stamps.bind
    received = bind(batch.now)
    rows: list[tuple[Any, ...]] = []
    for i in items:
        assert i.device is not None and i.ts is not None
        d, ts, m = i.device.id, bind(i.ts), i.msg_id
        for q, v in i.values.items():
            rows.append((d, q, ts, v, m, received))
    if batch.last_seen:
        _touch_devices(conn, dialect, sorted({i.device.id for i in items if i.device}), received)
    hold_back_horizon(conn)
    if dialect.text_ts and _insert_all_new(conn, rows):
        stored = rows
        batch.accepted.extend(items)
    else:
        stored = _insert_returning(conn, dialect, rows, batch, bind)
    if stored:
        _upsert_latest(conn, dialect, stored)


def _touch_devices(conn: Any, dialect: _Dialect, ids: list[int], at: Any) -> None:
    """``device.last_seen_at`` of the batch's devices, in one statement (SQLite: per chunk of ids)."""
    if not dialect.text_ts:
        conn.exec_driver_sql("UPDATE device SET last_seen_at = %s WHERE id = ANY(%s::integer[])", (at, ids))
        return
    per = dialect.max_params - 1
    for start in range(0, len(ids), per):
        part = ids[start:start + per]
        marks = ", ".join("?" * len(part))  # placeholders only: the ids are bound
        conn.exec_driver_sql(f"UPDATE device SET last_seen_at = ? WHERE id IN ({marks})", (at, *part))  # noqa: S608


def _insert_all_new(conn: Any, rows: list[tuple[Any, ...]]) -> bool:
    """SQLite's common case: one prepared insert stepped per row; True when every row was new.

    Otherwise the insert is undone (to a savepoint inside the open transaction) and nothing is stored.
    """
    conn.exec_driver_sql("SAVEPOINT raw_rows")
    if conn.exec_driver_sql(_statement(_READING_SQL_PLAIN, _DIALECTS["sqlite"], 1, 6), rows).rowcount == len(rows):
        conn.exec_driver_sql("RELEASE raw_rows")
        return True
    conn.exec_driver_sql("ROLLBACK TO raw_rows")
    conn.exec_driver_sql("RELEASE raw_rows")
    return False


def _insert_returning(conn: Any, dialect: _Dialect, rows: list[tuple[Any, ...]], batch: Batch,
                      bind: Callable[[datetime], Any]) -> list[tuple[Any, ...]]:
    """The database says which rows were new (primary key, or the same msg_id): only those count."""
    inserted = {(d, q, ts) for d, q, ts in _bulk(conn, _READING_SQL, dialect, rows, fetch=True)}
    if not dialect.text_ts:  # the driver answers in the session's time zone: compare as UTC instants
        inserted = {(d, q, ts.astimezone(UTC)) for d, q, ts in inserted}
    for item in batch.items:
        assert item.device is not None
        d, ts = item.device.id, bind(item.ts) if item.ts else None
        if any((d, q, ts) in inserted for q in item.values):
            batch.accepted.append(item)
        else:
            batch.duplicates += 1
    return [r for r in rows if (r[0], r[1], r[2]) in inserted]


def _upsert_latest(conn: Any, dialect: _Dialect, rows: list[tuple[Any, ...]]) -> None:
    """The newest stored value per device and quantity, with its run length; the row only moves forward.

    Readings older than the stored latest never move it; those arriving in one batch with newer ones are
    counted in time order with the rest of the batch.
    """
    groups: dict[tuple[int, str], Any] = {}
    for r in rows:
        k = (r[0], r[1])
        g = groups.get(k)
        if g is None:
            groups[k] = (r[2], r[3])  # most batches hold one reading per device and quantity
        elif type(g) is tuple:
            groups[k] = [g, (r[2], r[3])]
        else:
            g.append((r[2], r[3]))
    continues: list[tuple[Any, ...]] = []
    restarts: list[tuple[Any, ...]] = []
    for (d, q), g in groups.items():
        if type(g) is tuple:
            continues.append((d, q, g[0], g[1], 1))
            continue
        g.sort()  # bound timestamps order as the instants do (fixed-width UTC text); unique per key
        ts, v = g[-1]
        n = 1
        while n < len(g) and g[-1 - n][1] == v:
            n += 1
        (continues if n == len(g) else restarts).append((d, q, ts, v, n))
    _bulk(conn, _LATEST_CONTINUES, dialect, continues)
    _bulk(conn, _LATEST_RESTARTS, dialect, restarts)


# -- device and type caches --------------------------------------------------------------------------

_CACHES: weakref.WeakSet[DeviceCache] = weakref.WeakSet()


class DeviceCache:
    """Device key → (id, type, status, secret hash, department), loaded in one query per batch.

    Entries expire after ``ttl_s`` (changes made by other processes) and are dropped at once when this
    process changes a device (``invalidate_device``, called from the ORM hooks below).
    """

    def __init__(self, ttl_s: float = 60.0, max_size: int = 200_000) -> None:
        self.ttl_s, self.max_size = ttl_s, max_size
        self._entries: dict[str, tuple[DeviceInfo, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def lookup(self, session: Session, keys: Iterable[str]) -> dict[str, DeviceInfo]:
        now = time.monotonic()
        out: dict[str, DeviceInfo] = {}
        missing: list[str] = []
        with self._lock:
            for k in set(keys):
                hit = self._entries.get(k)
                if hit and now - hit[1] < self.ttl_s:
                    out[k] = hit[0]
                else:
                    missing.append(k)
        t = _table(Device)
        for start in range(0, len(missing), 1000):
            chunk = missing[start:start + 1000]
            q = sa.select(t.c.id, t.c.key, t.c.type_key, t.c.status, t.c.secret_hash, t.c.department_id)
            for row in session.execute(q.where(t.c.key.in_(chunk))):
                out[row.key] = DeviceInfo(*row)
        with self._lock:
            if len(self._entries) > self.max_size:
                self._entries.clear()
            for k in missing:
                if k in out:
                    self._entries[k] = (out[k], now)
        return out

    def invalidate(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


def invalidate_device(key: str) -> None:
    for cache in list(_CACHES):
        cache.invalidate(key)


@event.listens_for(Device, "after_update")
@event.listens_for(Device, "after_delete")
def _device_changed(_mapper: Any, _conn: Any, target: Device) -> None:
    invalidate_device(target.key)


def load_types(session: Session) -> dict[str, DeviceType]:
    """Built-in types overlaid by the ``device_type`` table (types added through the API win)."""
    types = dict(DEVICE_TYPES)
    for row in session.scalars(sa.select(DeviceTypeRow)):
        types[row.key] = DeviceType.from_row(row)
    return types


# -- stored hooks ------------------------------------------------------------------------------------

_STORED_HOOKS: weakref.WeakKeyDictionary[Database, list[StoredHook]] = weakref.WeakKeyDictionary()


def on_stored(database: Database, hook: StoredHook) -> Callable[[], None]:
    """Run ``hook`` in every transaction of this process's pipelines that stores readings in ``database``;
    returns the function that removes it."""
    hooks = _STORED_HOOKS.setdefault(database, [])
    hooks.append(hook)

    def remove() -> None:
        if hook in hooks:
            hooks.remove(hook)

    return remove


def _run_hooks(database: Database, session: Session, readings: list[dict[str, Any]]) -> list[AfterCommit]:
    after: list[AfterCommit] = []
    for hook in list(_STORED_HOOKS.get(database, ())):
        try:
            with session.begin_nested():
                then = hook(session, readings)
        except Exception:  # noqa: BLE001 -- rolled back to the savepoint; the readings are stored regardless
            log.exception("a stored-readings hook failed; the batch is stored without its work")
            continue
        if then is not None:
            after.append(then)
    return after


# -- the pipeline ------------------------------------------------------------------------------------


class Pipeline:
    """Ingest batches of device readings; one instance per process (it owns the device cache)."""

    STAGES: tuple[Stage, ...] = (decode, validate, dedupe, store)

    def __init__(self, database: Database, clock: Clock, bus: Bus | None = None, *, cache_ttl_s: float = 60.0,
                 last_seen_inline: bool = True) -> None:
        """``last_seen_inline=False`` leaves ``device.last_seen_at`` to the roll-up worker (``sensing.rollup``),
        a step later: at 100,000 devices rewriting a device row per message is a large share of each batch."""
        self.database, self.clock, self.bus = database, clock, bus
        self.last_seen_inline = last_seen_inline
        self.cache = DeviceCache(ttl_s=cache_ttl_s)
        self._types: tuple[dict[str, DeviceType], float] | None = None

    def types(self, session: Session) -> dict[str, DeviceType]:
        if self._types is None or time.monotonic() - self._types[1] > self.cache.ttl_s:
            self._types = (load_types(session), time.monotonic())
        return self._types[0]

    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> IngestResult:
        """Run the stages in one transaction; returns counts and one rejection per refused item."""
        with self.database.writing(), self.database.session() as session:
            batch = Batch(list(items), source, self.clock.now(), device_key,
                          lookup=partial(self.cache.lookup, session), types=self.types(session), session=session,
                          last_seen=self.last_seen_inline)
            for stage in self.STAGES:
                stage(batch)
            result = batch.result()
            if result.readings:
                result.after = _run_hooks(self.database, session, result.readings)
        return result

    async def publish(self, result: IngestResult) -> None:
        """The hand-off: stored readings go on the bus (after the commit, never before), then what stored hooks
        left for after the commit runs, in order; a failure there is logged and does not fail the batch."""
        if self.bus is not None and result.readings:
            await self.bus.publish(ACCEPTED_SUBJECT, result.readings)
        for after in result.after:
            try:
                await after()
            except Exception:  # noqa: BLE001 -- the batch is stored; the hook's owner has its own catch-up
                log.exception("work after storing a batch failed")

    async def submit(self, items: list[Any], *, source: str, device_key: str | None = None) -> IngestResult:
        """``ingest`` off the event loop, then ``publish``."""
        result = await anyio.to_thread.run_sync(partial(self.ingest, items, source=source, device_key=device_key))
        await self.publish(result)
        return result
