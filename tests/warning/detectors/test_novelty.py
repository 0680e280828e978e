"""Novelty alarms on what the stream has not done before, once per event, in a few KB of state."""

from __future__ import annotations

import json
import math
import random

import pytest

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


def test_an_event_that_keeps_unfolding_raises_one_alarm() -> None:
    det = Novelty()
    feed(det, daily(288 * 5))
    ramp = feed(det, [150.0 + 5 * i for i in range(100)], start=288 * 5)  # every value a new high
    assert sum(s >= Novelty.shipped_threshold for s in ramp) == 1  # the rest lasts while the event does
    assert 0 < det.quiet <= Novelty.REST_MORE  # still resting, long after the first 35 values


def test_a_flat_line_is_flagged_once_however_long_it_lasts() -> None:
    det = Novelty()
    feed(det, daily(288 * 5))
    flat = feed(det, [41.5] * 3000, start=288 * 5)
    assert sum(s >= Novelty.shipped_threshold for s in flat) == 1


def peaks(n: int, seed: int = 1) -> list[float]:
    """A quiet night (20) and a day plateau (80) at 5-minute steps, starting at midnight UTC."""
    rng = random.Random(seed)
    return [(80.0 if 96 <= i % 288 < 216 else 20.0) + rng.gauss(0, 1) for i in range(n)]


MIDNIGHT = 1_699_920_000.0


def test_a_missing_daily_peak_is_flagged_after_a_few_days() -> None:
    values = peaks(288 * 10)
    rng = random.Random(9)  # day 9: the plateau never comes
    values[288 * 9 + 96: 288 * 9 + 216] = [20.0 + rng.gauss(0, 1) for _ in range(120)]
    det = Novelty()
    scores = [det.process_one(v, MIDNIGHT + STEP * i) for i, v in enumerate(values)]
    assert max(scores[288 * 3: 288 * 9]) < Novelty.shipped_threshold
    assert max(scores[288 * 9 + 96: 288 * 9 + 216]) >= Novelty.shipped_threshold


def test_a_small_step_in_a_narrow_hour_is_not_news(monkeypatch: pytest.MonkeyPatch) -> None:
    values = peaks(288 * 8)
    values[300] = 300.0  # one early spike: the value range is now wide, each hour's range stays narrow
    for i in range(288 * 7 + 96, 288 * 7 + 216):
        values[i] += 6  # day 7: the plateau a little higher than ever, by a few hour widths
    def day7() -> float:
        det = Novelty()
        scores = [det.process_one(v, MIDNIGHT + STEP * i) for i, v in enumerate(values)]
        return max(scores[288 * 7 + 96: 288 * 7 + 216])
    assert day7() < Novelty.shipped_threshold
    monkeypatch.setattr(Novelty, "SEASON_FLOOR", 0.0)  # measured in hour widths alone, it would be news
    assert day7() >= Novelty.shipped_threshold
