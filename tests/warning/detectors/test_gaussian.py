"""The windowed Gaussian scores like NAB's baseline: tail mass of a normal fit to a stepped window."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from citybrain.warning.detectors.gaussian import Gaussian


def reference(values: list[float], window: int, step: int) -> list[float]:
    """NAB's windowed Gaussian written the plain way: raw values in a list, numpy mean/std, erf score."""
    data: list[float] = []
    buffer: list[float] = []
    mean, std = 0.0, 1.0
    out = []
    for x in values:
        out.append(math.erf(abs(x - mean) / (std * math.sqrt(2))) if data else 0.0)
        if len(data) < window:
            data.append(x)
            mean, std = float(np.mean(data)), float(np.std(data)) or 1e-6
        else:
            buffer.append(x)
            if len(buffer) == step:
                data = data[step:] + buffer
                buffer = []
                mean, std = float(np.mean(data)), float(np.std(data)) or 1e-6
    return out


def test_matches_the_plain_windowed_gaussian_while_filling_and_sliding() -> None:
    rng = random.Random(4)
    values = [rng.gauss(10, 2) + (25 if 300 < i < 340 else 0) for i in range(700)]
    det = Gaussian(window=120, step=20, warmup=1)
    got = [det.process_one(v, float(i)) for i, v in enumerate(values)]
    assert got == pytest.approx(reference(values, 120, 20), abs=1e-9)


def test_a_spike_scores_high_and_ordinary_values_low() -> None:
    rng = random.Random(5)
    det = Gaussian(warmup=30)
    for i in range(500):
        det.learn_one(rng.gauss(100, 5), float(i))
    assert det.score_one(100.0, 500) < 0.1
    assert det.score_one(104.0, 500) < 0.7
    assert det.score_one(160.0, 500) >= Gaussian.shipped_threshold
    assert det.score_one(40.0, 500) >= Gaussian.shipped_threshold  # two-sided


def test_the_window_forgets_an_old_level() -> None:
    det = Gaussian(window=200, step=50, warmup=10)
    for i in range(400):
        det.learn_one(10.0 + (i % 5) * 0.1, float(i))
    assert det.score_one(50.0, 400) > 0.999999
    for i in range(400, 700):  # the new level fills the whole window
        det.learn_one(50.0 + (i % 5) * 0.1, float(i))
    assert det.score_one(50.2, 700) < 0.9


def test_constant_input_and_bad_values() -> None:
    det = Gaussian(warmup=3)
    for i in range(10):
        assert det.process_one(7.0, float(i)) == 0.0  # no deviation from a constant
    assert det.score_one(7.5, 10) == 1.0  # any change from a constant is certain
    assert det.process_one(float("nan"), 11) == 0.0 and det.seen == 10  # skipped, not learned


def test_refuses_a_window_that_is_not_a_multiple_of_the_step() -> None:
    with pytest.raises(ValueError):
        Gaussian(window=100, step=30)
    with pytest.raises(ValueError):
        Gaussian(warmup=0)
