"""Migration 0004: 1-minute roll-ups merged exactly into 10-minute ones, and ``repeats`` from the raw readings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from citybrain.core import migrate
from citybrain.core.database import Database, UTCDateTime
from citybrain.geo.spatial import Geometry
from citybrain.org import service as org_service
from citybrain.sensing.models import Reading, ReadingLatest, ReadingRollup
from tests.conftest import Backend, private_database

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@pytest.fixture
def db_at_0003(backend: Backend, tmp_path: Path) -> Iterator[Database]:
    with private_database(backend, tmp_path, "m4") as db:
        migrate.upgrade(db.engine, "0003")
        yield db


def _two_gas_devices_as_of_0003(db: Database) -> list[int]:
    """GAS-1 and GAS-2 written with the 0003 columns only: today's models have columns added later."""
    from shapely.geometry import Point

    from citybrain.geo.spatial import spatial_values

    def table(name: str, *cols: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(c) for c in cols))

    with db.engine.begin() as conn:
        dept = conn.execute(sa.text("SELECT id FROM department WHERE code = 'emergency'")).scalar_one()
        conn.execute(sa.insert(table("device_type", "key", "quantity", "unit", "valid_min", "valid_max", "interval_s",
                                     "asset_classes", "name_zh", "name_en", "extras", "created_at")),
                     [{"key": "gas_methane", "quantity": "methane", "unit": "%LEL", "valid_min": 0.0,
                       "valid_max": 100.0, "interval_s": 60, "asset_classes": '["gas_space"]', "name_zh": "甲烷",
                       "name_en": "Methane", "extras": "[]", "created_at": T0}])
        geo = {k: v for k, v in spatial_values(Point(121.47, 31.23)).items() if k != "geom"}
        asset_t = sa.table("asset", *(sa.column(c) for c in ("key", "asset_class", "name_zh", "name_en",
                                                             "department_id", "props", "created_at", "updated_at",
                                                             "min_x", "min_y", "max_x", "max_y")),
                           sa.column("geom", Geometry()))
        conn.execute(sa.insert(asset_t), [{"key": "GAS-SPACE-1", "asset_class": "gas_space", "name_zh": "",
                                           "name_en": "", "department_id": dept, "props": "{}", "created_at": T0,
                                           "updated_at": T0, "geom": Point(121.47, 31.23), **geo}])
        asset = conn.execute(sa.text("SELECT id FROM asset WHERE key = 'GAS-SPACE-1'")).scalar_one()
        conn.execute(sa.insert(table("device", "key", "type_key", "asset_id", "lon", "lat", "status",
                                     "department_id", "created_at", "updated_at")),
                     [{"key": k, "type_key": "gas_methane", "asset_id": asset, "lon": 121.47, "lat": 31.23,
                       "status": "active", "department_id": dept, "created_at": T0, "updated_at": T0}
                      for k in ("GAS-1", "GAS-2")])
        return [conn.execute(sa.text("SELECT id FROM device WHERE key = :k"), {"k": k}).scalar_one()
                for k in ("GAS-1", "GAS-2")]


def test_upgrade_merges_minutes_into_ten_minutes_and_counts_repeats(db_at_0003: Database) -> None:
    db = db_at_0003
    with db.session() as s:
        org_service.seed_departments(session=s, now=T0)
    ids = _two_gas_devices_as_of_0003(db)
    # 25 readings 40 s apart for GAS-1 (the last 4 equal), GAS-2 all equal; the 0003 schema by hand
    values = [float(i % 5) for i in range(21)] + [9.0] * 4
    rows = [(ids[0], T0 + timedelta(seconds=40 * i), v) for i, v in enumerate(values)]
    rows += [(ids[1], T0 + timedelta(seconds=40 * i), 3.0) for i in range(6)]
    rollup = ReadingRollup.__table__  # unchanged by 0004; reading_latest as 0003 left it:
    latest = sa.table("reading_latest", sa.column("device_id"), sa.column("quantity"), sa.column("ts", UTCDateTime()),
                      sa.column("value"))
    minutes: dict[tuple[int, datetime], list[tuple[datetime, float]]] = {}
    for d, ts, v in rows:
        minutes.setdefault((d, ts.replace(second=0)), []).append((ts, v))
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Reading.__table__), [  # type: ignore[arg-type]
            {"device_id": d, "quantity": "methane", "ts": ts, "value": v, "msg_id": None, "received_at": T0}
            for d, ts, v in rows])
        conn.execute(sa.insert(rollup), [  # type: ignore[arg-type]
            {"device_id": d, "quantity": "methane", "bucket": "1m", "bucket_start": m, "min": min(v for _, v in p),
             "max": max(v for _, v in p), "sum": sum(v for _, v in p), "count": len(p), "last": max(p)[1],
             "last_ts": max(p)[0]} for (d, m), p in minutes.items()])
        conn.execute(sa.insert(latest), [
            {"device_id": d, "quantity": "methane", "ts": max(t for dd, t, _ in rows if dd == d),
             "value": [v for dd, _, v in rows if dd == d][-1]} for d in ids])

    migrate.upgrade(db.engine)

    with db.session() as s:
        got = {(r.device_id, r.bucket_start): r for r in s.scalars(sa.select(ReadingRollup))}
        reps = dict(s.execute(sa.select(ReadingLatest.device_id, ReadingLatest.repeats)).all())
    assert {r.bucket for r in got.values()} == {"10m"}  # the 1-minute rows are gone
    expect: dict[tuple[int, datetime], list[tuple[datetime, float]]] = {}
    for d, ts, v in rows:
        expect.setdefault((d, ts.replace(minute=ts.minute // 10 * 10, second=0)), []).append((ts, v))
    assert set(got) == set(expect)
    for k, pts in expect.items():
        r = got[k]
        vals = [v for _, v in pts]
        assert (r.min, r.max, r.count, r.last_ts, r.last) == (min(vals), max(vals), len(vals), *max(pts))
        assert r.sum == pytest.approx(sum(vals))
    assert reps == {ids[0]: 4, ids[1]: 6}

    migrate.downgrade(db.engine, "0003")  # drops the 10-minute roll-ups and the column, keeps raw rows
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ReadingRollup)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(Reading)) == len(rows)
