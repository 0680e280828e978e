"""Monthly partitions of ``reading``: PostgreSQL behaviour, and on SQLite the documented no-op (never a skip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.sensing import partitions
from citybrain.sensing.models import Reading
from citybrain.sensing.pipeline import Pipeline
from citybrain.sensing.retention import prune
from tests.sensing.conftest import reading
from tests.sensing.test_retention import TYPES


def pg(database: Database) -> bool:
    return database.engine.dialect.name == "postgresql"


def where_stored(database: Database) -> list[str]:
    with database.session() as s:
        return list(s.scalars(sa.text("SELECT tableoid::regclass::text FROM reading ORDER BY ts")))


def test_reading_is_partitioned_by_month(database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        partitions.ensure_partitions(s, clock.now())
        conn = s.connection()
        months = [p.name for p in partitions.monthly(conn)]
        if not pg(database):  # SQLite: a plain table, no partitions
            assert not partitions.is_partitioned(conn) and months == []
            assert s.scalar(sa.text("SELECT type FROM sqlite_master WHERE name = 'reading'")) == "table"
            return
        strategy = s.scalar(sa.text("SELECT p.partstrat FROM pg_partitioned_table p "
                                    "WHERE p.partrelid = 'reading'::regclass"))
        unique_msg = set(s.scalars(sa.text("SELECT tablename FROM pg_indexes WHERE indexname LIKE 'uq_reading_%_msg'")))
    assert strategy == "r"
    assert {"reading_y2026m11", "reading_y2026m12", "reading_y2027m01", "reading_y2027m02"} <= set(months)
    assert unique_msg == {*months, "reading_default"}  # msg_id idempotency, per partition


def test_a_reading_far_in_the_future_is_stored_in_the_default_partition(pipeline: Pipeline, database: Database,
                                                                        clock: ManualClock) -> None:
    clock.set(datetime(2040, 5, 10, 12, 0, tzinfo=UTC))  # years past any monthly partition
    t = clock.now()
    assert pipeline.ingest([reading("GAS-1", t, 1.0, msg_id="far-1")], source="t").accepted == 1
    again = pipeline.ingest([reading("GAS-1", t + timedelta(seconds=30), 1.0, msg_id="far-1")], source="t")
    assert (again.accepted, again.duplicates) == (0, 1)  # re-stamped copy: still one message
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Reading)) == 1
        created = partitions.ensure_partitions(s, t)
    if not pg(database):
        assert created == []
        return
    assert where_stored(database) == ["reading_default"]
    # the month the default partition already holds rows of is left alone (the rows stay where they are)
    assert created == ["reading_y2040m06", "reading_y2040m07", "reading_y2040m08"]
    clock.advance(days=30)
    assert pipeline.ingest([reading("GAS-1", clock.now(), 2.0)], source="t").accepted == 1
    assert where_stored(database) == ["reading_default", "reading_y2040m06"]


def test_ensure_partitions_creates_the_months_ahead_and_is_idempotent(database: Database) -> None:
    now = datetime(2031, 3, 15, tzinfo=UTC)
    with database.session() as s:
        first = partitions.ensure_partitions(s, now)
        second = partitions.ensure_partitions(s, now, months_ahead=3)
        names = {p.name: (p.start, p.end) for p in partitions.monthly(s.connection())}
    if not pg(database):  # SQLite: nothing to create, ever
        assert first == second == [] and names == {}
        return
    assert first == ["reading_y2031m03", "reading_y2031m04", "reading_y2031m05", "reading_y2031m06"]
    assert second == []
    assert names["reading_y2031m06"] == (datetime(2031, 6, 1, tzinfo=UTC), datetime(2031, 7, 1, tzinfo=UTC))


def test_prune_drops_whole_partitions_older_than_the_longest_retention(pipeline: Pipeline, database: Database,
                                                                       fleet: dict[str, int],
                                                                       clock: ManualClock) -> None:
    now = clock.now()  # 2026-11-30; the longest raw retention in TYPES is 365 days
    with database.session() as s:
        created = partitions.ensure_partitions(s, datetime(2025, 6, 15, tzinfo=UTC), months_ahead=1)
    old = [datetime(2025, 6, 20, tzinfo=UTC), datetime(2025, 7, 10, tzinfo=UTC)]
    recent = [now - timedelta(days=10), now - timedelta(days=20)]
    assert pipeline.ingest([reading("GAS-1", t, 1.0) for t in old + recent], source="t").accepted == 4
    with database.session() as s:
        dry = prune(s, now, types=TYPES, dry_run=True)
    with database.session() as s:
        real = prune(s, now, types=TYPES)
        left = sorted(s.scalars(sa.select(Reading.ts)))
        months = [p.name for p in partitions.monthly(s.connection())]
    assert left == sorted(recent)
    assert {k: v for k, v in dry.items() if k != "dry_run"} == {k: v for k, v in real.items() if k != "dry_run"}
    if not pg(database):  # SQLite: no partitions, the old rows go row by row
        assert created == [] and real["partitions_dropped"] == [] and real["reading"]["gas_methane"] == 2
        return
    assert created == ["reading_y2025m06", "reading_y2025m07"]
    assert real["partitions_dropped"] == created and real["reading"]["gas_methane"] == 0  # no row visited
    assert not set(created) & set(months) and "reading_y2026m11" in months
