from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from citybrain.simulator import KINDS, Simulator
from citybrain.simulator.signals import local_hour_and_weekend, normal

from .conftest import START


def _values(sim: Simulator, kind: str, t: datetime) -> dict[str, float]:
    q = KINDS[kind].quantity
    wanted = {d.device_id for d in sim.devices if d.kind == kind}
    return {r["device_id"]: r["values"][q] for r in sim.tick(t) if r["device_id"] in wanted}


def test_noise_is_counter_based() -> None:
    keys = np.arange(1, 6, dtype=np.uint64)
    a = normal(keys, 123, 1)
    assert np.array_equal(a, normal(keys, 123, 1))
    assert np.array_equal(a[2:], normal(keys[2:], 123, 1))  # one device alone gives the same draw
    assert not np.array_equal(a, normal(keys, 124, 1))
    big = normal(np.arange(1, 50_001, dtype=np.uint64), 7, 1)
    assert abs(big.mean()) < 0.03 and abs(big.std() - 1) < 0.03


def test_local_time_is_shanghai() -> None:
    hour, weekend = local_hour_and_weekend(int(datetime(2026, 11, 30, 0, 30, tzinfo=UTC).timestamp()))
    assert hour == 8.5 and not weekend  # Monday 08:30 in Shanghai
    assert local_hour_and_weekend(int(datetime(2026, 11, 28, 16, 0, tzinfo=UTC).timestamp()))[1]  # Sunday 00:00


def test_values_stay_in_valid_range_without_faults(city) -> None:
    sim = Simulator(city, seed=4, faults=None, start=START)
    ranges = {d.device_id: KINDS[d.kind] for d in sim.devices}
    n = 0
    saturday = START - timedelta(days=2)
    for step in range(0, 2 * 86400, 600):  # every device reports at 10-minute marks
        for r in sim.tick(saturday + timedelta(seconds=step)):
            k = ranges[r["device_id"]]
            v = r["values"][k.quantity]
            assert k.valid_min <= v <= k.valid_max
            assert 0 <= r["values"].get("battery", 50) <= 100
            n += 1
    assert n == 288 * len(sim.devices)


def test_people_count_follows_the_daily_cycle(city) -> None:
    sim = Simulator(city, seed=1, faults=None, start=START)
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    rush = _values(sim, "crowd_people", monday + timedelta(minutes=30))  # 08:30 local
    night = _values(sim, "crowd_people", monday - timedelta(hours=5))  # 03:00 local
    evening = _values(sim, "crowd_people", monday + timedelta(hours=10))  # 18:00 local
    assert all(rush[d] > 3 * night[d] and evening[d] > 3 * night[d] for d in rush)
    saturday_rush = _values(sim, "crowd_people", monday - timedelta(days=2) + timedelta(minutes=30))
    assert sum(saturday_rush.values()) < 0.6 * sum(rush.values())  # no commuter peak at weekends


def test_water_pressure_dips_at_the_morning_peak(city) -> None:
    sim = Simulator(city, seed=1, faults=None, start=START)
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    peak = _values(sim, "water_pressure", monday - timedelta(minutes=30))  # 07:30 local
    night = _values(sim, "water_pressure", monday - timedelta(hours=5))  # 03:00 local
    assert np.mean([peak[d] - night[d] for d in peak]) < -0.03


def test_settlement_trends_down_and_battery_declines(city) -> None:
    sim = Simulator(city, seed=1, faults=None, start=START)
    later = START + timedelta(days=60)
    early = _values(sim, "pit_settlement", START)
    late = _values(sim, "pit_settlement", later)
    assert np.mean([late[d] - early[d] for d in early]) < -5.0
    gas = [d.device_id for d in sim.devices if d.kind == "gas_methane"]
    b0, b1 = (
        {r["device_id"]: r["values"]["battery"] for r in sim.tick(t) if r["device_id"] in gas}
        for t in (START, START + timedelta(days=200))
    )
    assert np.mean([b1[d] - b0[d] for d in gas]) < -5.0


def test_any_window_is_generated_independently(city) -> None:
    sim = Simulator(city, seed=9, start=START)
    t = START + timedelta(hours=1, minutes=10)
    streamed = [b for b in sim.readings(START, t + timedelta(minutes=1))][-1]
    fresh = Simulator(city, seed=9, start=START)
    assert fresh.tick(t) == streamed
