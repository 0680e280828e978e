"""Migration 0017: both unique keys of ``reading`` put ``quantity`` last; rows, rowids and meaning unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.core import migrate
from citybrain.core.database import Database
from citybrain.org import service as org_service
from citybrain.sensing import partitions
from citybrain.sensing import service as sensing_service
from citybrain.sensing.models import Device, Reading
from tests.conftest import Backend, private_database
from tests.sensing.conftest import ASSETS, DEVICES

T0 = datetime(2031, 1, 10, tzinfo=UTC)  # a month the test partitions itself on PostgreSQL
FAR = datetime(2040, 5, 10, tzinfo=UTC)  # no monthly partition: PostgreSQL's default partition
QUANTITIES = ("methane", "battery", "rssi")
OLD = (["device_id", "quantity", "ts"], ["device_id", "quantity", "msg_id"])
NEW = (["device_id", "ts", "quantity"], ["device_id", "msg_id", "quantity"])


@pytest.fixture
def db_at_0016(backend: Backend, tmp_path: Path) -> Iterator[Database]:
    with private_database(backend, tmp_path, "m17") as db:
        migrate.upgrade(db.engine, "0016")
        yield db


def pg(db: Database) -> bool:
    return db.dialect == "postgresql"


def _tables(db: Database) -> list[str]:
    """Where reading rows live: the table on SQLite, the parent and every partition on PostgreSQL."""
    if not pg(db):
        return ["reading"]
    with db.engine.connect() as conn:
        return ["reading", partitions.DEFAULT, *(p.name for p in partitions.monthly(conn))]


def _keys(db: Database) -> dict[str, tuple[list[str], list[str] | None]]:
    """Per table of ``_tables``: the primary key's columns and the partial unique msg_id index's (if any)."""
    inspector = sa.inspect(db.engine)
    out: dict[str, tuple[list[str], list[str] | None]] = {}
    for table in _tables(db):
        msg = None
        for ix in inspector.get_indexes(table):
            if ix["name"] in ("uq_reading_msg", f"uq_{table}_msg"):
                where = ix["dialect_options"][f"{db.dialect}_where"]
                assert ix["unique"] and str(where).strip("()") == "msg_id IS NOT NULL"
                msg = ix["column_names"]
        out[table] = (inspector.get_pk_constraint(table)["constrained_columns"], msg)
    return out


def _expected(db: Database, order: tuple[list[str], list[str]]) -> dict[str, tuple[list[str], list[str] | None]]:
    """``_keys`` as it is when every table has ``order`` (on PostgreSQL the msg_id index is per partition)."""
    pk, msg = order
    return {table: (pk, None if pg(db) and table == "reading" else msg) for table in _tables(db)}


def _a_partition_of_t0(db: Database) -> None:
    """PostgreSQL: a monthly partition of T0 as revision 0016 makes one (its msg_id index in the old order)."""
    if not pg(db):
        return
    with db.engine.begin() as conn:
        for ddl in partitions.create_partition_ddl(T0, "device_id, quantity, msg_id"):
            conn.exec_driver_sql(ddl)


def _fill(db: Database) -> dict[str, int]:
    """Three devices, three values per reading, every other reading with a msg_id; then some rows deleted."""
    with db.session() as s:
        org_service.seed_departments(session=s, now=T0)
        sensing_service.register_catalogue(session=s, now=T0, assets=ASSETS, devices=DEVICES)
    _a_partition_of_t0(db)
    with db.session() as s:
        known = dict(s.execute(sa.select(Device.key, Device.id)).all())
    ids = {k: known[k] for k in ("GAS-1", "GAS-2", "WPR-1")}
    rows = [{"device_id": d, "quantity": q, "ts": start + timedelta(minutes=i), "value": float(n * 10 + i),
             "msg_id": f"{key}-{start:%Y}-{i}" if i % 2 == 0 else None, "received_at": start}
            for n, (key, d) in enumerate(ids.items()) for start in (T0, FAR) for i in range(5) for q in QUANTITIES]
    r = Reading.__table__.c
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Reading.__table__), rows)  # type: ignore[arg-type]
        # gaps in the rowids (SQLite) / seq numbers (PostgreSQL): a whole reading, and one value of another
        conn.execute(sa.delete(Reading.__table__).where(r.device_id == ids["GAS-1"], r.ts == T0 + timedelta(minutes=2)))
        conn.execute(sa.delete(Reading.__table__).where(r.device_id == ids["GAS-2"], r.quantity == "battery",
                                                        r.ts == T0 + timedelta(minutes=3)))
    return ids


def _rows(db: Database) -> dict[int, tuple[Any, ...]]:
    """Every row by its number: the rowid on SQLite (the roll-up watermark's position), ``seq`` on PostgreSQL."""
    number = "seq" if pg(db) else "rowid"
    with db.engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.exec_driver_sql(
            f"SELECT {number}, device_id, quantity, ts, value, msg_id, received_at FROM reading")}  # noqa: S608


def _refused(db: Database, **row: Any) -> bool:
    """Whether the database refuses ``row`` as a duplicate; nothing is kept either way."""
    values = {"value": 1.0, "msg_id": None, "received_at": T0} | row
    with db.engine.connect() as conn:
        try:
            conn.execute(sa.insert(Reading.__table__), [values])  # type: ignore[arg-type]
        except sa.exc.IntegrityError:
            return True
        finally:
            conn.rollback()
    return False


def _still_unique(db: Database, device: int, start: datetime, msg: str) -> None:
    """A stored reading at ``start`` with ``msg``: the same (device, quantity, ts) or (device, quantity, msg_id)
    is refused, the same ts or msg_id for another quantity is not."""
    assert _refused(db, device_id=device, quantity="methane", ts=start, value=99.0)  # a duplicate
    assert _refused(db, device_id=device, quantity="methane", ts=start + timedelta(days=1), msg_id=msg)  # a replay
    assert not _refused(db, device_id=device, quantity="pressure", ts=start)
    assert not _refused(db, device_id=device, quantity="pressure", ts=start + timedelta(days=1), msg_id=msg)


def test_upgrade_reorders_both_keys_and_keeps_every_row_with_its_number(db_at_0016: Database) -> None:
    db = db_at_0016
    ids = _fill(db)
    before = _rows(db)
    assert len(before) == 3 * 2 * 5 * 3 - 4
    assert _keys(db) == _expected(db, OLD)
    if pg(db):  # rows in a monthly partition and in the default one, both made before the upgrade
        assert {"reading_y2031m01", partitions.DEFAULT} <= set(_tables(db))

    migrate.upgrade(db.engine, "0017")

    assert _rows(db) == before
    assert _keys(db) == _expected(db, NEW)
    for start in (T0, FAR):
        _still_unique(db, ids["GAS-1"], start, f"GAS-1-{start:%Y}-0")
    with db.engine.begin() as conn:  # the next row is numbered after the kept ones (the watermark's order holds)
        conn.execute(sa.insert(Reading.__table__), [  # type: ignore[arg-type]
            {"device_id": ids["WPR-1"], "quantity": "rssi", "ts": T0 + timedelta(days=2), "value": 1.0,
             "msg_id": None, "received_at": T0}])
    (added,) = set(_rows(db)) - set(before)
    assert added > max(before) and (pg(db) or added == max(before) + 1)  # PostgreSQL: refused inserts drew seq

    if pg(db):  # a partition created after the upgrade has the new order too, and refuses a replay
        with db.session() as s:
            assert partitions.ensure_partitions(s, datetime(2032, 3, 1, tzinfo=UTC), months_ahead=0) == [
                "reading_y2032m03"]
        assert _keys(db)["reading_y2032m03"] == NEW
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Reading.__table__), [  # type: ignore[arg-type]
                {"device_id": ids["GAS-1"], "quantity": q, "ts": datetime(2032, 3, 5, tzinfo=UTC), "value": 1.0,
                 "msg_id": "GAS-1-2032-0", "received_at": T0} for q in QUANTITIES])
        _still_unique(db, ids["GAS-1"], datetime(2032, 3, 5, tzinfo=UTC), "GAS-1-2032-0")


def test_downgrade_restores_the_old_order_with_the_rows(db_at_0016: Database) -> None:
    db = db_at_0016
    ids = _fill(db)
    before = _rows(db)
    migrate.upgrade(db.engine, "0017")
    if pg(db):
        with db.session() as s:
            partitions.ensure_partitions(s, datetime(2032, 3, 1, tzinfo=UTC), months_ahead=0)

    migrate.downgrade(db.engine, "0016")

    assert migrate.current_revision(db.engine) == "0016"
    assert _rows(db) == before
    assert _keys(db) == _expected(db, OLD)
    assert not pg(db) or "reading_y2032m03" in _tables(db)  # the partition made after the upgrade too
    for start in (T0, FAR):
        _still_unique(db, ids["GAS-1"], start, f"GAS-1-{start:%Y}-0")
