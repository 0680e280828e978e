"""The seasonal detector: drift against a daily cycle, without echoes of earlier faults."""

from __future__ import annotations

import json
import math
import random

from citybrain.warning.detectors import make
from citybrain.warning.detectors.seasonal import Seasonal

STEP = 300.0  # 5-minute readings
DAY = 288
MONDAY = 4 * 86400.0 - 8 * 3600.0  # 1970-01-05 00:00 in Shanghai


def demand(i: int, rng: random.Random) -> float:
    """Water pressure with a morning and an evening peak far larger than the noise."""
    h = (i % DAY) / 12
    peaks = 0.05 * math.exp(-0.5 * ((h - 7.5) / 1.2) ** 2) + 0.04 * math.exp(-0.5 * ((h - 19) / 1.5) ** 2)
    return 0.30 - peaks + rng.gauss(0, 0.003)


def feed(det: Seasonal | object, values: list[float], start: int = 0) -> list[float]:
    return [det.process_one(v, MONDAY + STEP * (start + i)) for i, v in enumerate(values)]  # type: ignore[attr-defined]


def weekdays(n_days: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [demand(i, rng) for i in range(DAY * n_days)]


def test_a_drift_within_the_daily_swing_is_caught_early_and_quiet_days_stay_quiet() -> None:
    base = weekdays(5)
    det = make("seasonal")
    quiet = feed(det, base[: DAY * 4])
    assert max(quiet) < Seasonal.shipped_threshold and max(quiet[DAY * 2:]) > 0  # scored from day 3, no alarm
    # Friday: a drift of 0.01 MPa an hour for 4 hours, from 06:00 (through the morning peak, whose own swing
    # is 0.05 MPa): still inside the range every day has shown when it is caught
    day5 = base[DAY * 4:]
    start = 6 * 12
    drifted = [v + (0.01 * (i - start) / 12 if start <= i < start + 48 else 0.0) for i, v in enumerate(day5)]
    scores = feed(det, drifted, DAY * 4)
    first = next(i for i, s in enumerate(scores) if s >= Seasonal.shipped_threshold)
    assert start <= first < start + 24  # within two hours, when it has reached at most 0.02 MPa
    assert min(base) < drifted[first] < max(base)

    gaussian = make("gaussian", window=288, step=12, warmup=36)  # the recent-past view misses it
    g = feed(gaussian, base[: DAY * 4] + drifted)
    assert max(g[DAY * 4 + start: DAY * 4 + first + 1]) < gaussian.shipped_threshold


def test_a_fault_on_one_day_is_not_echoed_the_next_day() -> None:
    base = weekdays(6, seed=2)
    faulty = list(base)
    for i in range(DAY * 2 + 60, DAY * 2 + 100):  # Wednesday 05:00-08:20, 0.04 high, while the detector settles
        faulty[i] += 0.04
    det = make("seasonal")
    scores = feed(det, faulty)
    same_time_later = [s for d in (3, 4, 5) for s in scores[DAY * d + 60: DAY * d + 100]]
    assert max(same_time_later) < Seasonal.shipped_threshold


def test_weekends_have_their_own_profile() -> None:
    rng = random.Random(3)
    det = make("seasonal")
    values = []
    for i in range(DAY * 14):
        weekend = (i // DAY) % 7 >= 5
        values.append(demand(i + (36 if weekend else 0), rng))  # weekends: everything 3 hours later
    scores = feed(det, values)
    assert max(scores[DAY * 12:]) < Seasonal.shipped_threshold  # the second weekend is not a fault
    assert max(scores[DAY * 7: DAY * 12]) < Seasonal.shipped_threshold


def test_state_is_small_and_restores() -> None:
    det = make("seasonal")
    values = weekdays(10, seed=4)
    feed(det, values[: DAY * 9])
    state = json.loads(json.dumps(det.state()))
    assert len(json.dumps(state)) < 4096
    twin = Seasonal.restore(state)
    rest = values[DAY * 9:]
    assert feed(det, rest, DAY * 9) == feed(twin, rest, DAY * 9)


def test_nothing_is_scored_without_two_earlier_days() -> None:
    det = make("seasonal")
    scores = feed(det, [v + 1.0 if i > DAY * 1.5 else v for i, v in enumerate(weekdays(2, seed=5))])
    assert max(scores) == 0.0
