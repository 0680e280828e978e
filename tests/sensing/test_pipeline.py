"""The ingestion pipeline: each stage alone with fake neighbours, then all of it against the database."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.core.bus import InMemoryBus
from citybrain.core.database import Database
from citybrain.sensing import rollup
from citybrain.sensing.models import DeadLetter, Device, Reading, ReadingLatest, ReadingRollup
from citybrain.sensing.pipeline import (
    ACCEPTED_SUBJECT,
    REASONS,
    Batch,
    DeviceInfo,
    Pipeline,
    Undecodable,
    decode,
    dedupe,
    on_stored,
    parse_ts,
    validate,
)
from tests.sensing.conftest import iso, reading

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
GAS = DeviceInfo(1, "GAS-1", "gas_methane", "active", None, 1)
OFF = DeviceInfo(2, "GAS-OFF", "gas_methane", "inactive", None, 1)


def fake_lookup(keys: Any) -> dict[str, DeviceInfo]:
    return {k: d for d in (GAS, OFF) for k in keys if k == d.key}


def run(raw: list[Any], *stages: Any, device_key: str | None = None) -> Batch:
    batch = Batch(raw, "test", NOW, device_key, lookup=fake_lookup)
    for stage in stages:
        stage(batch)
    return batch


def reasons(batch: Batch) -> list[tuple[int, str, str | None]]:
    return [(r.index, r.reason, r.field) for _, r in batch.rejected]


# -- stages alone -------------------------------------------------------------------------------------


def test_parse_ts_needs_an_offset() -> None:
    assert parse_ts("2026-11-30T07:00:00Z") == datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert parse_ts("2026-11-30T15:00:00+08:00") == datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert parse_ts("2026-11-30T07:00:00") is None
    assert parse_ts("yesterday") is None
    assert parse_ts(1764486000) is None


def test_decode_rejects_malformed_items_and_keeps_the_rest() -> None:
    t = iso(NOW)
    raw = [
        {"device_id": "GAS-1", "ts": t, "values": {"methane": 1.0}},
        "not an object",
        {"ts": t, "value": 1.0},
        {"device_id": "GAS-1", "ts": "soon", "value": 1.0},
        {"device_id": "GAS-1", "ts": t},
        {"device_id": "GAS-1", "ts": t, "values": {}},
        {"device_id": "GAS-1", "ts": t, "value": 1, "values": {"methane": 1}},
        Undecodable(8, "{oops", "Expecting property name"),
        {"device_id": "GAS-1", "ts": t, "value": 2.0},
    ]
    batch = run(raw, decode)
    assert [i.index for i in batch.items] == [0, 8]
    assert reasons(batch) == [(1, "malformed", None), (2, "malformed", "device_id"), (3, "bad_timestamp", "ts"),
                              (4, "malformed", "values"), (5, "malformed", "values"), (6, "malformed", "values"),
                              (7, "malformed", "line 8")]


@pytest.mark.parametrize(
    ("item", "reason", "field"),
    [
        ({"device_id": "NOPE", "value": 1.0}, "unknown_device", "device_id"),
        ({"device_id": "GAS-OFF", "value": 1.0}, "inactive_device", "device_id"),
        ({"device_id": "GAS-1", "values": {"pressure": 0.3}}, "unknown_quantity", "values.pressure"),
        ({"device_id": "GAS-1", "value": "1.0"}, "not_a_number", "value"),
        ({"device_id": "GAS-1", "value": True}, "not_a_number", "value"),
        ({"device_id": "GAS-1", "value": math.nan}, "not_a_number", "value"),
        ({"device_id": "GAS-1", "value": math.inf}, "not_a_number", "value"),
        ({"device_id": "GAS-1", "value": 100.5}, "out_of_range", "value"),
        ({"device_id": "GAS-1", "value": -0.1}, "out_of_range", "value"),
        ({"device_id": "GAS-1", "values": {"methane": 1.0, "battery": 101}}, "out_of_range", "values.battery"),
        ({"device_id": "GAS-1", "values": {"methane": 1.0, "rssi": -20}}, "out_of_range", "values.rssi"),
        ({"device_id": "GAS-1", "value": 1.0, "ts": iso(NOW + timedelta(minutes=5, seconds=1))},
         "future_timestamp", "ts"),
    ],
)
def test_validate_rejects_each_reason(item: dict[str, Any], reason: str, field: str) -> None:
    item = {"ts": iso(NOW), **item}
    batch = run([item, {"device_id": "GAS-1", "ts": iso(NOW), "value": 1.0}], decode, validate)
    assert reasons(batch) == [(0, reason, field)]
    assert [i.index for i in batch.items] == [1]
    assert batch.rejected[0][1].message and reason in REASONS


def test_validate_accepts_the_edges_of_the_range_and_five_minutes_ahead() -> None:
    raw = [{"device_id": "GAS-1", "ts": iso(NOW + timedelta(minutes=5)), "values": {"methane": 100, "battery": 0,
                                                                                        "rssi": -130}},
           {"device_id": "GAS-1", "ts": iso(NOW), "value": 0}]
    batch = run(raw, decode, validate)
    assert not batch.rejected
    assert batch.items[0].values == {"methane": 100.0, "battery": 0.0, "rssi": -130.0}
    assert batch.items[1].values == {"methane": 0.0}  # "value" became the type's quantity


def test_device_credentials_may_only_write_their_own_device() -> None:
    raw = [{"device_id": "GAS-1", "ts": iso(NOW), "value": 1.0},
           {"device_id": "GAS-OFF", "ts": iso(NOW), "value": 1.0},
           {"device_id": "NOPE", "ts": iso(NOW), "value": 1.0}]
    batch = run(raw, decode, validate, device_key="GAS-1")
    assert [i.index for i in batch.items] == [0]
    # an unknown device is reported as a credential problem too: a device cannot probe the registry
    assert reasons(batch) == [(1, "wrong_credentials", "device_id"), (2, "wrong_credentials", "device_id")]


def test_dedupe_within_a_batch_by_timestamp_and_by_message_id() -> None:
    t1, t2 = iso(NOW), iso(NOW - timedelta(minutes=1))
    raw = [{"device_id": "GAS-1", "ts": t1, "value": 1.0, "msg_id": "m1"},
           {"device_id": "GAS-1", "ts": t1, "value": 9.0},                   # same device+ts
           {"device_id": "GAS-1", "ts": t2, "value": 9.0, "msg_id": "m1"},   # same msg_id, re-stamped
           {"device_id": "GAS-1", "ts": t2, "value": 2.0, "msg_id": "m2"}]
    batch = run(raw, decode, validate, dedupe)
    assert [i.index for i in batch.items] == [0, 3]
    assert batch.duplicates == 2


# -- the whole pipeline against the database -----------------------------------------------------------


def count(database: Database, model: Any) -> int:
    with database.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_partial_acceptance_stores_the_good_items(pipeline: Pipeline, database: Database, t0: datetime) -> None:
    items = [reading("GAS-1", t0, 1.5), reading("NOPE", t0, 1.0), reading("GAS-1", t0 + timedelta(minutes=1), 250.0),
             reading("WPR-1", t0, None, pressure=0.31, battery=90, rssi=-80)]
    result = pipeline.ingest(items, source="test")
    assert (result.accepted, result.duplicates) == (2, 0)
    assert [(r.index, r.reason) for r in result.rejected] == [(1, "unknown_device"), (2, "out_of_range")]
    assert count(database, Reading) == 4  # 1 gas + 3 water values
    with database.session() as s:
        dead = s.execute(sa.select(DeadLetter.reason, DeadLetter.source, DeadLetter.payload)
                         .order_by(DeadLetter.id)).all()
    assert [(d.reason, d.source) for d in dead] == [("unknown_device", "test"), ("out_of_range", "test")]
    assert '"NOPE"' in dead[0].payload


def test_replaying_a_batch_stores_it_once(pipeline: Pipeline, database: Database, t0: datetime) -> None:
    items = [reading("GAS-1", t0 + timedelta(minutes=i), methane=1.0 + i, battery=90) for i in range(5)]
    first = pipeline.ingest(items, source="test")
    again = pipeline.ingest(items, source="test")
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (0, 5)
    assert count(database, Reading) == 10
    rollup.catch_up(database)
    with database.session() as s:
        c = s.scalar(sa.select(ReadingRollup.count).where(ReadingRollup.bucket == "1h",
                                                           ReadingRollup.quantity == "methane"))
    assert c == 5  # a replay does not inflate the roll-ups


def test_same_message_id_restamped_is_a_duplicate(pipeline: Pipeline, database: Database, t0: datetime) -> None:
    assert pipeline.ingest([reading("GAS-1", t0, 1.0, msg_id="m-1")], source="test").accepted == 1
    result = pipeline.ingest([reading("GAS-1", t0 + timedelta(seconds=30), 1.0, msg_id="m-1")], source="test")
    assert (result.accepted, result.duplicates) == (0, 1)
    # the same msg_id on another device is another message
    assert pipeline.ingest([reading("GAS-2", t0, 1.0, msg_id="m-1")], source="test").accepted == 1
    assert count(database, Reading) == 2


def test_same_timestamp_without_message_id_is_a_duplicate(pipeline: Pipeline, t0: datetime) -> None:
    assert pipeline.ingest([reading("GAS-1", t0, 1.0, msg_id=None)], source="t").accepted == 1
    result = pipeline.ingest([reading("GAS-1", t0, 7.0, msg_id=None)], source="t")
    assert (result.accepted, result.duplicates) == (0, 1)


def latest(database: Database, device_id: int) -> dict[str, tuple[datetime, float]]:
    with database.session() as s:
        rows = s.execute(sa.select(ReadingLatest).where(ReadingLatest.device_id == device_id)).scalars()
        return {r.quantity: (r.ts, r.value) for r in rows}


def test_latest_only_moves_forward(pipeline: Pipeline, database: Database, fleet: dict[str, int],
                                   t0: datetime) -> None:
    pipeline.ingest([reading("GAS-1", t0 + timedelta(minutes=10), 5.0)], source="t")
    pipeline.ingest([reading("GAS-1", t0, 1.0)], source="t")  # late arrival: stored, but not the latest
    assert latest(database, fleet["GAS-1"]) == {"methane": (t0 + timedelta(minutes=10), 5.0)}
    pipeline.ingest([reading("GAS-1", t0 + timedelta(minutes=20), 2.0),
                     reading("GAS-1", t0 + timedelta(minutes=15), 9.0)], source="t")
    assert latest(database, fleet["GAS-1"]) == {"methane": (t0 + timedelta(minutes=20), 2.0)}


def repeats(database: Database, device_id: int, quantity: str = "methane") -> tuple[float, int]:
    with database.session() as s:
        row = s.execute(sa.select(ReadingLatest.value, ReadingLatest.repeats).where(
            ReadingLatest.device_id == device_id, ReadingLatest.quantity == quantity)).one()
        return row.value, row.repeats


def test_repeats_counts_the_run_of_the_latest_value(pipeline: Pipeline, database: Database, fleet: dict[str, int],
                                                    t0: datetime) -> None:
    def at(*minutes_values: tuple[int, float]) -> list[dict[str, Any]]:
        return [reading("GAS-1", t0 + timedelta(minutes=m), v) for m, v in minutes_values]

    gas = fleet["GAS-1"]
    pipeline.ingest(at((0, 1.0), (1, 2.0), (2, 2.0)), source="t")  # a new row: the batch's trailing run
    assert repeats(database, gas) == (2.0, 2)
    pipeline.ingest(at((4, 2.0), (3, 2.0)), source="t")  # the whole batch equals the stored value: it continues
    assert repeats(database, gas) == (2.0, 4)
    pipeline.ingest(at((5, 2.0), (6, 3.0), (7, 3.0)), source="t")  # the batch ends in a new run: it restarts
    assert repeats(database, gas) == (3.0, 2)
    pipeline.ingest(at((8, 5.0), (9, 5.0)), source="t")  # a whole batch of another value: only the batch
    assert repeats(database, gas) == (5.0, 2)
    pipeline.ingest(at((1, 7.0), (2, 7.0)), source="t")  # older than the latest (new msg_ids): nothing moves
    assert repeats(database, gas) == (5.0, 2)
    pipeline.ingest(at((8, 5.0), (9, 5.0)), source="t")  # a replay is not a repeat
    assert repeats(database, gas) == (5.0, 2)
    for m in range(10, 13):  # one reading per batch, as devices send them
        pipeline.ingest(at((m, 5.0)), source="t")
    assert repeats(database, gas) == (5.0, 5)
    pipeline.ingest(at((13, 5.5)), source="t")
    assert repeats(database, gas) == (5.5, 1)


def test_rollups_equal_a_direct_computation(pipeline: Pipeline, database: Database, fleet: dict[str, int],
                                            t0: datetime) -> None:
    base = (t0 - timedelta(hours=2)).replace(minute=0, second=0)
    values = [((i * 37) % 101) / 3.0 for i in range(400)]
    items = [reading("STR-1", base + timedelta(seconds=17 * i), v) for i, v in enumerate(values)]
    # out of order, over several batches, some replayed: the roll-ups must not care
    for chunk in (items[200:], items[:150], items[100:250]):
        pipeline.ingest(chunk, source="t")
        rollup.catch_up(database)  # the worker between batches, and once after a replay
    with database.session() as s:
        raw = s.execute(sa.select(Reading.ts, Reading.value).where(Reading.device_id == fleet["STR-1"])).all()
        rollups = s.execute(sa.select(ReadingRollup).where(ReadingRollup.device_id == fleet["STR-1"])).scalars().all()
    assert len(raw) == 400
    for bucket, seconds in (("10m", 600), ("1h", 3600)):
        expect: dict[datetime, list[tuple[datetime, float]]] = {}
        for ts, v in raw:
            start = datetime.fromtimestamp(int(ts.timestamp()) // seconds * seconds, UTC)
            expect.setdefault(start, []).append((ts, v))
        got = {r.bucket_start: r for r in rollups if r.bucket == bucket}
        assert set(got) == set(expect)
        for start, pts in expect.items():
            r = got[start]
            vals = [v for _, v in pts]
            assert (r.min, r.max, r.count) == (min(vals), max(vals), len(vals))
            assert r.sum == pytest.approx(sum(vals))
            assert (r.last_ts, r.last) == max(pts)


def test_maintenance_devices_are_accepted_and_marked(pipeline: Pipeline, database: Database,
                                                     fleet: dict[str, int], t0: datetime) -> None:
    with database.session() as s:
        s.get(Device, fleet["GAS-1"]).status = "maintenance"  # type: ignore[union-attr]
    result = pipeline.ingest([reading("GAS-1", t0, 1.0)], source="t")
    assert result.accepted == 1 and result.readings[0]["status"] == "maintenance"


def test_a_device_change_reaches_the_cache_at_once(pipeline: Pipeline, database: Database,
                                                   fleet: dict[str, int], t0: datetime) -> None:
    assert pipeline.ingest([reading("GAS-1", t0, 1.0)], source="t").accepted == 1  # cached as active
    with database.session() as s:
        s.get(Device, fleet["GAS-1"]).status = "inactive"  # type: ignore[union-attr]
    result = pipeline.ingest([reading("GAS-1", t0 + timedelta(minutes=1), 1.0)], source="t")
    assert [r.reason for r in result.rejected] == ["inactive_device"]


def test_last_seen_is_set(pipeline: Pipeline, database: Database, fleet: dict[str, int], t0: datetime) -> None:
    pipeline.ingest([reading("GAS-1", t0, 1.0)], source="t")
    with database.session() as s:
        assert s.get(Device, fleet["GAS-1"]).last_seen_at == pipeline.clock.now()  # type: ignore[union-attr]
        assert s.get(Device, fleet["GAS-2"]).last_seen_at is None  # type: ignore[union-attr]


def test_accepted_readings_are_published(database: Database, clock: Any, fleet: dict[str, int],
                                         t0: datetime) -> None:
    asyncio.run(_publish_scenario(database, clock, t0))


async def _publish_scenario(database: Database, clock: Any, t0: datetime) -> None:
    bus = InMemoryBus()
    got: list[Any] = []

    async def handler(subject: str, message: Any) -> None:
        got.append((subject, message))

    await bus.subscribe("readings.*", handler)
    pipe = Pipeline(database, clock, bus)
    await pipe.submit([reading("GAS-1", t0, 1.0), reading("GAS-1", t0, 1.0), reading("NOPE", t0, 1.0)], source="t")
    await pipe.submit([reading("GAS-1", t0, 1.0)], source="t")  # only duplicates: nothing to hand on
    await bus.close()
    assert len(got) == 1
    subject, message = got[0]
    assert subject == ACCEPTED_SUBJECT
    assert [(m["device_id"], m["values"], m["type"]) for m in message] == [("GAS-1", {"methane": 1.0},
                                                                             "gas_methane")]


def _notes(session: Any) -> list[str]:
    return list(session.scalars(sa.select(DeadLetter.reason).where(DeadLetter.source == "hook")
                                .order_by(DeadLetter.id)))


def test_stored_hooks_run_in_the_batchs_transaction_and_their_follow_up_after_it(
        database: Database, clock: Any, fleet: dict[str, int], t0: datetime) -> None:
    seen: list[Any] = []
    done: list[str] = []

    def note(session: Any, readings: list[dict[str, Any]]) -> Any:
        # what the hook writes shares the batch's transaction: the batch's rows are visible to it
        stored = session.scalar(sa.select(sa.func.count()).select_from(Reading))
        seen.append(([r["device_id"] for r in readings], stored))
        session.add(DeadLetter(received_at=clock.now(), source="hook", reason=f"saw {stored}", payload="{}"))

        async def then() -> None:
            done.append("first")

        return then

    def broken(session: Any, readings: list[dict[str, Any]]) -> Any:
        session.add(DeadLetter(received_at=clock.now(), source="hook", reason="broken", payload="{}"))
        session.flush()
        raise RuntimeError("this hook fails after writing")

    def last(session: Any, readings: list[dict[str, Any]]) -> Any:
        async def then() -> None:
            done.append("last")

        return then

    removers = [on_stored(database, h) for h in (note, broken, last)]
    try:
        pipe = Pipeline(database, clock, InMemoryBus())
        result = pipe.ingest([reading("GAS-1", t0, 1.0), reading("NOPE", t0, 1.0)], source="t")
        assert (result.accepted, seen) == (1, [(["GAS-1"], 1)])
        with database.session() as s:
            # the failing hook's write is rolled back to its savepoint; the readings and the others' stay
            assert _notes(s) == ["saw 1"]
            assert s.scalar(sa.select(sa.func.count()).select_from(Reading)) == 1
        assert done == []  # follow-ups wait for the hand-off, after the commit
        asyncio.run(pipe.publish(result))
        assert done == ["first", "last"]

        assert pipe.ingest([reading("GAS-1", t0, 1.0)], source="t").after == []  # a duplicate: no hook runs
        removers[0]()
        pipe.ingest([reading("GAS-1", t0 + timedelta(minutes=1), 2.0)], source="t")
        assert len(seen) == 1  # removed
    finally:
        for remove in removers:
            remove()


def test_a_failing_follow_up_does_not_fail_the_hand_off(database: Database, clock: Any, fleet: dict[str, int],
                                                         t0: datetime) -> None:
    def hook(session: Any, readings: list[dict[str, Any]]) -> Any:
        async def then() -> None:
            raise RuntimeError("publishing failed")

        return then

    remove = on_stored(database, hook)
    try:
        got: list[Any] = []

        async def scenario() -> None:
            bus = InMemoryBus()

            async def handler(subject: str, message: Any) -> None:
                got.append(subject)

            await bus.subscribe("readings.*", handler)
            result = await Pipeline(database, clock, bus).submit([reading("GAS-1", t0, 1.0)], source="t")
            await bus.close()
            assert result.accepted == 1

        asyncio.run(scenario())
        assert got == [ACCEPTED_SUBJECT]
    finally:
        remove()
