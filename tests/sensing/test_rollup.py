"""The roll-up worker: exact under replays, crashes and restarts; charts exact on both sides of its watermark."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.sensing import rollup, service
from citybrain.sensing.models import Device, Reading, ReadingRollup
from citybrain.sensing.pipeline import Pipeline
from citybrain.sensing.retention import prune
from citybrain.sensing.types import DEVICE_TYPES
from tests.sensing.conftest import reading


def expected(database: Database, device_id: int) -> dict[tuple[str, datetime], tuple[Any, ...]]:
    """Roll-ups computed directly from the raw rows: (bucket, start) → (min, max, sum, count, last, last_ts)."""
    with database.session() as s:
        raw = s.execute(sa.select(Reading.ts, Reading.value).where(Reading.device_id == device_id)).all()
    out: dict[tuple[str, datetime], list[Any]] = {}
    for bucket, seconds in rollup.BUCKETS:
        for ts, v in raw:
            key = (bucket, datetime.fromtimestamp(int(ts.timestamp()) // seconds * seconds, UTC))
            a = out.setdefault(key, [v, v, 0.0, 0, v, ts])
            a[0], a[1], a[2], a[3] = min(a[0], v), max(a[1], v), a[2] + v, a[3] + 1
            if ts >= a[5]:
                a[4], a[5] = v, ts
    return {k: tuple(v) for k, v in out.items()}


def stored(database: Database, device_id: int) -> dict[tuple[str, datetime], tuple[Any, ...]]:
    r = ReadingRollup
    with database.session() as s:
        rows = s.execute(sa.select(r.bucket, r.bucket_start, r.min, r.max, r.sum, r.count, r.last, r.last_ts)
                         .where(r.device_id == device_id)).all()
    return {(b, t): (mn, mx, sm, n, last, lts) for b, t, mn, mx, sm, n, last, lts in rows}


def assert_exact(database: Database, device_id: int) -> None:
    want, got = expected(database, device_id), stored(database, device_id)
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g[0], g[1], g[3], g[4], g[5]) == (w[0], w[1], w[3], w[4], w[5]), key
        assert g[2] == pytest.approx(w[2]), key


def series_of(base: datetime, n: int, every_s: int, device: str = "STR-1") -> list[dict[str, Any]]:
    return [reading(device, base + timedelta(seconds=every_s * i), float((i * 37) % 101) / 3) for i in range(n)]


@pytest.fixture
def plain(database: Database, clock: ManualClock, fleet: dict[str, int]) -> Pipeline:
    """The pipeline alone: nothing is folded until a test runs the worker."""
    return Pipeline(database, clock)


def test_nothing_is_folded_until_the_worker_runs(plain: Pipeline, database: Database, fleet: dict[str, int],
                                                 t0: datetime) -> None:
    plain.ingest(series_of(t0, 30, 60), source="t")
    assert stored(database, fleet["STR-1"]) == {}
    assert rollup.catch_up(database) > 0
    assert_exact(database, fleet["STR-1"])
    assert rollup.catch_up(database) == 0  # caught up: a further step folds nothing


def test_replays_and_duplicates_never_count(plain: Pipeline, database: Database, fleet: dict[str, int],
                                            t0: datetime) -> None:
    items = series_of(t0 - timedelta(hours=2), 300, 23)
    plain.ingest(items[:200], source="t")
    rollup.catch_up(database)
    plain.ingest(items[100:] + items[:50], source="t")  # half replayed across a step, some inside the batch
    plain.ingest(items, source="t")  # all of it again, before the worker ran
    rollup.catch_up(database)
    assert_exact(database, fleet["STR-1"])
    assert sum(v[3] for (b, _), v in stored(database, fleet["STR-1"]).items() if b == "10m") == 300


def test_a_step_that_fails_changes_nothing_and_the_next_one_is_exact(
        plain: Pipeline, database: Database, fleet: dict[str, int], t0: datetime,
        monkeypatch: pytest.MonkeyPatch) -> None:
    plain.ingest(series_of(t0 - timedelta(hours=1), 100, 30), source="t")
    rollup.catch_up(database)
    before = stored(database, fleet["STR-1"])
    with database.session() as s:
        mark = rollup.watermark(s)
    plain.ingest(series_of(t0, 50, 30), source="t")
    # the crash comes after the roll-ups were merged, before the commit
    monkeypatch.setitem(rollup._SEEN, database.dialect, "SELECT no_such_column FROM device")  # noqa: SLF001
    with pytest.raises(sa.exc.DBAPIError):
        rollup.step(database.engine)
    assert stored(database, fleet["STR-1"]) == before
    with database.session() as s:
        assert rollup.watermark(s) == mark
    monkeypatch.undo()
    rollup.catch_up(database)
    assert_exact(database, fleet["STR-1"])


def test_a_restarted_worker_resumes_at_the_persisted_watermark(
        plain: Pipeline, database: Database, clock: ManualClock, fleet: dict[str, int], t0: datetime) -> None:
    items = series_of(t0 - timedelta(hours=3), 400, 25)
    plain.ingest(items[:150], source="t")
    worker = rollup.RollupWorker(database, clock, limit=3)  # small steps: stops half-way through
    worker.run_once()
    assert worker.behind > 0
    plain.ingest(items[150:], source="t")
    again = Database(database.url)  # a new process: nothing but the database carries over
    try:
        rollup.catch_up(again)
    finally:
        again.dispose()
    assert_exact(database, fleet["STR-1"])


def test_workers_racing_each_other_and_ingest_stay_exact(database: Database, clock: ManualClock,
                                                         fleet: dict[str, int], t0: datetime) -> None:
    pipe = Pipeline(database, clock)
    items = series_of(t0 - timedelta(hours=4), 600, 20) + series_of(t0 - timedelta(hours=4), 300, 40, "WPR-1")
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                rollup.step(database.engine, limit=40)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        for k in range(0, len(items), 45):
            pipe.ingest(items[k:k + 45], source="t")
            pipe.ingest(items[max(0, k - 20):k + 5], source="t")  # replays interleaved
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    assert not errors
    rollup.catch_up(database)
    assert_exact(database, fleet["STR-1"])
    assert_exact(database, fleet["WPR-1"])


def same_points(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert [{k: v for k, v in p.items() if k != "avg"} for p in a] == [{k: v for k, v in p.items() if k != "avg"}
                                                                       for p in b]
    assert [p["avg"] for p in a] == pytest.approx([p["avg"] for p in b])  # sums added in another order


@pytest.mark.parametrize(("points", "days", "source"), [(30, 3, "1h"), (100, 2, "10m"), (2000, 8, "10m")])
def test_series_is_exact_across_the_watermark(database: Database, clock: ManualClock, fleet: dict[str, int],
                                              points: int, days: int, source: str) -> None:
    pipe = Pipeline(database, clock)
    start = (clock.now() - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    n = days * 1440
    items = series_of(start, n, 60)
    late = [reading("STR-1", start + timedelta(seconds=60 * i + 30), 999.0) for i in range(0, n, 97)]
    pipe.ingest(items[:n // 2], source="t")
    rollup.catch_up(database)
    pipe.ingest(items[n // 2:] + late, source="t")  # newest rows, and late ones inside folded buckets: pending

    def chart() -> dict[str, Any]:
        with database.session() as s:
            dev = s.get(Device, fleet["STR-1"])
            return service.series(session=s, now=clock.now(), device=dev, start=start + timedelta(minutes=7),  # type: ignore[arg-type]
                                  end=clock.now(), points=points)

    before = chart()
    assert before["source"] == source
    rollup.catch_up(database)
    after = chart()
    same_points(before["points"], after["points"])
    assert sum(p["count"] for p in after["points"]) == len(items) + len(late)  # whole buckets from start's
    assert max(p["max"] for p in after["points"]) == 999.0


def test_retention_deletes_only_folded_rows_and_rowids_reused_after_it_are_folded(
        plain: Pipeline, database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    now = clock.now()
    plain.ingest(series_of(now - timedelta(days=5), 10, 60, "GAS-1"), source="t")
    plain.ingest(series_of(now - timedelta(days=400), 10, 60, "GAS-1"), source="t")  # the newest rowids
    types = {**DEVICE_TYPES}
    with database.session() as s:
        out = prune(s, now, types=types)  # folds first, then deletes the old rows (the newest rowids)
    assert out["reading"]["gas_methane"] == 10
    plain.ingest(series_of(now - timedelta(days=1), 10, 60, "GAS-1"), source="t")  # may reuse their rowids
    rollup.catch_up(database)
    got = stored(database, fleet["GAS-1"])
    assert sum(v[3] for (b, t), v in got.items() if b == "10m" and t > now - timedelta(days=2)) == 10
    assert sum(v[3] for (b, t), v in got.items() if b == "10m" and t > now - timedelta(days=6)) == 20


def test_last_seen_can_be_left_to_the_worker(database: Database, clock: ManualClock, fleet: dict[str, int],
                                             t0: datetime) -> None:
    pipe = Pipeline(database, clock, last_seen_inline=False)
    pipe.ingest([reading("GAS-1", t0, 1.0)], source="t")
    with database.session() as s:
        assert s.get(Device, fleet["GAS-1"]).last_seen_at is None  # type: ignore[union-attr]
    rollup.catch_up(database)
    clock.advance(minutes=1)
    pipe.ingest([reading("GAS-1", t0 - timedelta(minutes=5), 1.0)], source="t")  # older reading, later receipt
    rollup.catch_up(database)
    with database.session() as s:
        assert s.get(Device, fleet["GAS-1"]).last_seen_at == clock.now()  # type: ignore[union-attr]
        assert s.get(Device, fleet["GAS-2"]).last_seen_at is None  # type: ignore[union-attr]


def test_the_horizon_waits_for_raw_inserts_in_flight(database: Database, fleet: dict[str, int],
                                                      t0: datetime) -> None:
    """PostgreSQL: the step waits on the advisory lock; SQLite: the open row is not yet visible, so not folded."""
    rollup.catch_up(database)
    with database.engine.connect() as held:  # an ingest transaction that drew its number and has not committed
        rollup.hold_back_horizon(held)
        held.execute(sa.insert(Reading), {"device_id": fleet["GAS-1"], "quantity": "methane", "ts": t0,
                                          "value": 4.0, "msg_id": None, "received_at": t0})
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(rollup.catch_up(database)))
        worker.start()
        time.sleep(0.5)
        if database.dialect == "postgresql":
            assert not done, "the worker finished a step while a raw insert was still open"
        else:
            worker.join(30)
            assert done == [0]
        held.commit()
    worker.join(30)
    rollup.catch_up(database)
    assert_exact(database, fleet["GAS-1"])
    assert sum(v[3] for (b, _), v in stored(database, fleet["GAS-1"]).items() if b == "10m") == 1
