"""Retention: raw readings per device type, roll-ups longer, dead letters 30 days, dry run, the service."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.sensing import rollup
from citybrain.sensing.models import DeadLetter, Reading, ReadingRollup
from citybrain.sensing.pipeline import Pipeline
from citybrain.sensing.retention import RetentionService, prune
from citybrain.sensing.types import DEVICE_TYPES
from tests.sensing.conftest import reading

TYPES = {**DEVICE_TYPES,
         "gas_methane": replace(DEVICE_TYPES["gas_methane"], raw_retention_days=30),
         "bridge_strain": replace(DEVICE_TYPES["bridge_strain"], raw_retention_days=365)}
# device → (value, ages in days); water_pressure keeps the default 90 days
AGES = {"GAS-1": (5.0, [1, 29, 31, 200]), "WPR-1": (0.5, [29, 89, 91]), "STR-1": (10.0, [91, 364, 366])}
KEPT = {"GAS-1": [1, 29], "WPR-1": [29, 89], "STR-1": [91, 364]}


def fill(pipeline: Pipeline, now: datetime) -> None:
    for device, (value, ages) in AGES.items():
        result = pipeline.ingest([reading(device, now - timedelta(days=a), value) for a in ages], source="test")
        assert result.accepted == len(ages)


def ages_left(database: Database, fleet: dict[str, int], now: datetime) -> dict[str, list[int]]:
    with database.session() as s:
        rows = s.execute(sa.select(Reading.device_id, Reading.ts)).all()
    keys = {v: k for k, v in fleet.items()}
    out: dict[str, list[int]] = {}
    for d, ts in rows:
        out.setdefault(keys[d], []).append(round((now - ts) / timedelta(days=1)))
    return {k: sorted(v) for k, v in out.items()}


def test_prune_deletes_raw_readings_past_each_types_retention(pipeline: Pipeline, database: Database,
                                                              fleet: dict[str, int], clock: ManualClock) -> None:
    now = clock.now()
    fill(pipeline, now)
    rollup.catch_up(database)  # the roll-ups as the worker keeps them
    with database.session() as s:
        rollups = s.scalar(sa.select(sa.func.count()).select_from(ReadingRollup))
        out = prune(s, now, types=TYPES, batch_size=1)  # one row per batch: the loop must drain them all
    assert out["reading"]["gas_methane"] == 2
    assert out["reading"]["water_pressure"] == 1
    assert out["reading"]["bridge_strain"] == 1
    assert ages_left(database, fleet, now) == KEPT
    with database.session() as s:  # roll-ups of pruned raw rows are younger than theirs: all kept
        assert s.scalar(sa.select(sa.func.count()).select_from(ReadingRollup)) == rollups
    assert out["reading_rollup"] == {"10m": 0, "1h": 0}


def test_rollups_are_kept_longer_than_raw_and_pruned_at_their_own_age(pipeline: Pipeline, database: Database,
                                                                       fleet: dict[str, int],
                                                                       clock: ManualClock) -> None:
    now = clock.now()
    for age in (399, 401, 3651):
        assert pipeline.ingest([reading("STR-1", now - timedelta(days=age), 1.0)], source="t").accepted == 1
    with database.session() as s:
        out = prune(s, now, types=TYPES)
    assert out["reading_rollup"] == {"10m": 2, "1h": 1}  # 10m: 400 days, 1h: 3650 days
    with database.session() as s:
        left = s.execute(sa.select(ReadingRollup.bucket, ReadingRollup.bucket_start)).all()
    assert sorted((b, round((now - t) / timedelta(days=1))) for b, t in left) == [("10m", 399), ("1h", 399),
                                                                                   ("1h", 401)]


def test_dead_letters_are_pruned_after_thirty_days(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        s.add_all([DeadLetter(received_at=now - timedelta(days=d), source="t", payload="{}", reason="malformed")
                   for d in (1, 29, 31, 90)])
    with database.session() as s:
        assert prune(s, now, types=TYPES)["dead_letter"] == 2
    with database.session() as s:
        left = sorted(round((now - t) / timedelta(days=1)) for t in s.scalars(sa.select(DeadLetter.received_at)))
    assert left == [1, 29]


def test_dry_run_counts_what_a_real_run_removes_and_removes_nothing(pipeline: Pipeline, database: Database,
                                                                    fleet: dict[str, int],
                                                                    clock: ManualClock) -> None:
    now = clock.now()
    fill(pipeline, now)
    with database.session() as s:
        s.add(DeadLetter(received_at=now - timedelta(days=40), source="t", payload="{}", reason="malformed"))
    with database.session() as s:
        dry = prune(s, now, types=TYPES, dry_run=True)
    assert dry["dry_run"] is True
    assert ages_left(database, fleet, now) == {k: sorted(v[1]) for k, v in AGES.items()}  # nothing deleted
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DeadLetter)) == 1
        real = prune(s, now, types=TYPES)
    assert {k: v for k, v in dry.items() if k != "dry_run"} == {k: v for k, v in real.items() if k != "dry_run"}
    assert (real["reading"]["gas_methane"], real["dead_letter"]) == (2, 1)


def test_the_service_prunes_at_start_and_stops(pipeline: Pipeline, database: Database, fleet: dict[str, int],
                                               clock: ManualClock) -> None:
    fill(pipeline, clock.now())
    app = SimpleNamespace(state=SimpleNamespace(db=database, clock=clock))
    svc = RetentionService(interval_s=3600)

    async def run() -> None:
        await svc.start(app)  # type: ignore[arg-type]
        for _ in range(200):
            if svc.runs:
                break
            await asyncio.sleep(0.02)
        await svc.stop()

    asyncio.run(run())
    assert svc.runs == 1 and svc.last is not None
    # built-in types (as loaded from the database): 90 days for every type
    assert svc.last["reading"] == {**{k: 0 for k in DEVICE_TYPES}, "gas_methane": 1, "water_pressure": 1,
                                   "bridge_strain": 3}
    assert svc._thread is not None and not svc._thread.is_alive()
