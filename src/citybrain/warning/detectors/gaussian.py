"""Windowed Gaussian: how far into the tail of the recent values' normal fit is this value?

The baseline NAB calls "windowed gaussian" (and river's ``GaussianScorer``): fit a mean and standard
deviation to the last ``window`` values and score ``erf(|z| / sqrt 2)``, the two-sided probability
mass closer to the mean than ``x`` (0 at the mean, 0.9973 at 3 sigma, 1 far out). Once the window is
full it slides forward ``step`` values at a time, as NAB's baseline does. Each completed step is kept
as its (mean, M2) summary, never the raw values, so the state stays a few KB however long the window.

>>> det = Gaussian(warmup=5)
>>> scores = [det.process_one(v, t) for t, v in enumerate([10.0, 11.0, 9.0, 10.5, 9.5, 10.2, 9.8])]
>>> scores[:5]
[0.0, 0.0, 0.0, 0.0, 0.0]
>>> det.score_one(10.0, 7) < 0.2, det.score_one(30.0, 7) > 0.999
(True, True)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from citybrain.warning.detectors.base import Detector

_SQRT2 = math.sqrt(2.0)
_MIN_STD = 1e-6  # NAB's floor for a constant window


class Gaussian(Detector):
    """Two-sided Gaussian tail score over a sliding window of ``window`` values, stepped by ``step``."""

    name: ClassVar[str] = "gaussian"
    shipped_threshold: ClassVar[float] = 0.99999  # about 4.4 sigma (the demo rules rely on it; see docs/nab.md)

    def __init__(self, *, window: int = 6400, step: int = 100, warmup: int = 30) -> None:
        if step < 1 or window < step or window % step:
            raise ValueError("window must be a positive multiple of step")
        if warmup < 1:
            raise ValueError("warmup must be at least 1 (nothing to compare the first value with)")
        self.window = window
        self.step = step
        self.warmup = warmup
        self.seen = 0
        # the statistics scores are computed from (updated every value while filling, every step after)
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        # completed steps as [mean, M2] (each holds `step` values), and the step being filled
        self.blocks: list[list[float]] = []
        self.bn = 0
        self.bmean = 0.0
        self.bm2 = 0.0

    def score_one(self, x: float, t: float) -> float:
        if self.seen < self.warmup or self.n == 0 or not math.isfinite(x):
            return 0.0
        std = math.sqrt(self.m2 / self.n) or _MIN_STD
        return math.erf(abs(x - self.mean) / (std * _SQRT2))

    def learn_one(self, x: float, t: float) -> None:
        if not math.isfinite(x):
            return
        self.seen += 1
        filling = len(self.blocks) * self.step < self.window
        if filling:
            self.n += 1
            d = x - self.mean
            self.mean += d / self.n
            self.m2 += d * (x - self.mean)
        self.bn += 1
        d = x - self.bmean
        self.bmean += d / self.bn
        self.bm2 += d * (x - self.bmean)
        if self.bn < self.step:
            return
        self.blocks.append([self.bmean, self.bm2])
        self.bn, self.bmean, self.bm2 = 0, 0.0, 0.0
        if not filling:
            del self.blocks[0]
            self._recompute()

    def _recompute(self) -> None:
        """Pool the blocks' (mean, M2) into the window's (Chan et al.'s parallel variance)."""
        n, mean, m2 = 0, 0.0, 0.0
        k = self.step
        for bmean, bm2 in self.blocks:
            total = n + k
            d = bmean - mean
            mean += d * k / total
            m2 += bm2 + d * d * n * k / total
            n = total
        self.n, self.mean, self.m2 = n, mean, m2

    def state(self) -> dict[str, Any]:
        return {"detector": self.name, "window": self.window, "step": self.step, "warmup": self.warmup,
                "seen": self.seen, "n": self.n, "mean": self.mean, "m2": self.m2,
                "blocks": [list(b) for b in self.blocks], "block": [self.bn, self.bmean, self.bm2]}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Gaussian:
        det = cls(window=state["window"], step=state["step"], warmup=state["warmup"])
        det.seen, det.n, det.mean, det.m2 = state["seen"], state["n"], state["mean"], state["m2"]
        det.blocks = [[float(m), float(v)] for m, v in state["blocks"]]
        det.bn, det.bmean, det.bm2 = state["block"]
        return det
