"""Novelty alarms on what the stream has not done before, once per event, in a few KB of state."""

from __future__ import annotations

import json
import math
import random

from citybrain.warning.detectors.novelty import Novelty

T0 = 1_700_000_000.0
STEP = 300.0  # five-minute readings


def daily(n: int, seed: int = 1, noise: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, noise) for i in range(n)]


def feed(det: Novelty, values: list[float], start: int = 0) -> list[float]:
    return [det.process_one(v, T0 + STEP * (start + i)) for i, v in enumerate(values)]


def test_a_periodic_signal_raises_nothing_once_learnt() -> None:
    det = Novelty()
    scores = feed(det, daily(288 * 10))
    assert max(scores[288 * 3:]) < Novelty.shipped_threshold


def test_a_spike_alarms_once_then_rests() -> None:
    det = Novelty()
    feed(det, daily(288 * 5))
    spike = det.process_one(150.0, T0 + STEP * 288 * 5)
    assert spike >= Novelty.shipped_threshold
    after = feed(det, [150.0] * 10 + daily(25, seed=2), start=288 * 5 + 1)
    assert after == [0.0] * len(after) and det.rest == 35  # one event, one alarm


def test_a_value_inside_the_range_but_stuck_is_flagged() -> None:
    det = Novelty()
    feed(det, daily(288 * 5))
    flat = feed(det, [41.5] * 60, start=288 * 5)
    assert max(flat) >= Novelty.shipped_threshold


def test_a_level_shift_within_the_old_range_is_flagged() -> None:
    det = Novelty()
    base = [50.0 + (i % 2) * 4 for i in range(1500)]  # 50, 54, 50, 54 ...
    feed(det, base)
    shifted = feed(det, [52.0 + (i % 2) * 0.2 for i in range(200)], start=1500)  # mid-range, but calm
    assert max(shifted) >= Novelty.shipped_threshold


def test_nothing_before_the_warmup_and_bad_values_are_skipped() -> None:
    det = Novelty(warmup=50, learn=100)
    scores = feed(det, [0.0, 1000.0] * 25)
    assert scores == [0.0] * 50
    assert det.process_one(float("inf"), T0) == 0.0 and det.n == 50


def test_state_stays_under_4_kb_on_a_long_noisy_stream() -> None:
    rng = random.Random(9)
    det = Novelty()
    feed(det, [rng.lognormvariate(3, 1) * (1 + (i // 5000)) for i in range(20_000)])
    assert len(json.dumps(det.state())) <= 4096
    assert len(det.state()["shapes"]) <= Novelty.MEMORY
