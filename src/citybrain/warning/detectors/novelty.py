"""Novelty: alarm when the stream does something it has not done before (citybrain's default detector).

Six cheap views of one stream, each asking "is this new?":

* **value** - beyond the range of every value so far (by more than 1% of it);
* **level** - the mean of the last 32 values beyond the range of such means;
* **volatility** - the mean absolute step of the last 32 beyond the range of such (log, range-relative);
* **hour of day** - the mean of the last 8 beyond what that hour of the day has shown, measured in the
  hour's own width but never less than 15% of the value range (a narrow hour does not make a small step
  news); after 300 visits to the hour any such novelty counts, from 48 visits only one of 2 units or more
  (a daily peak that fails to come, in a short history);
* **stuck** - an unchanged value lasting 1.5 times longer than any run before (once per run);
* **shape** - the last 16 values (8 blocks of 2, spikes kept, 40 levels of the range) far from every
  remembered shape; a new shape is remembered (at most 32, least recently matched forgotten), a known
  one learnt; the distance is scored by its tail probability against the distances so far.

A novelty scores by how far it lies out (``0.5 + 0.5 e / (e + 0.1)`` for ``e`` range widths) times the
view's weight (value 1, level/volatility/stuck 0.9, hour 0.7, shape 0.58, so a shape alone alarms only
when its tail probability is about 1e-9 or less), and the strongest view wins. After a score of 0.53 or
more the detector rests for 35 values, and a score of 0.53 while resting keeps it resting for at least
20 more, so an event that goes on unfolding (a ramp, or every hour of the day meeting a new level in
turn) raises one alarm. The state is a few hundred numbers, quantised where exactness does not matter,
so it stays under 4 KB.

>>> import math
>>> det = Novelty()
>>> day = [10 + 5 * math.sin(2 * math.pi * i / 96) for i in range(2000)]
>>> scores = [det.process_one(v, 900.0 * i) for i, v in enumerate(day)]
>>> max(scores[: det.warmup]), max(scores[1000:]) < det.shipped_threshold
(0.0, True)
>>> det.process_one(40.0, 900.0 * 2000) >= det.shipped_threshold  # far above anything seen
True
"""

from __future__ import annotations

import math
from operator import sub
from typing import Any, ClassVar

import numpy as np

from citybrain.warning.detectors.base import Detector

_LOG_FLOOR = math.log(1e-10)  # a tail probability of 1e-10 scores 1


class Novelty(Detector):
    """Range novelty of the value, its level, volatility, hour of day, stuck runs and recent shape."""

    name: ClassVar[str] = "novelty"
    shipped_threshold: ClassVar[float] = 0.53  # = REST_AT: an alarm is what makes the detector rest

    # fixed design constants (chosen once for every stream; see docs/nab.md)
    LEVEL = 32  # values in the level/volatility window
    SEASON = 8  # values in the hour-of-day mean
    SEASON_MIN = 300  # visits before an hour's range is trusted (25 days of 5-minute readings)
    SEASON_GROSS, SEASON_EARLY = 2.0, 48  # before that, only a novelty of 2 units, from 48 visits (4 days)
    SEASON_FLOOR = 0.15  # the unit of an hour's novelty is at least this fraction of the value range
    BLOCK = 2  # values per shape block
    SHAPE = 8  # blocks per shape
    LEVELS = 40  # quantisation of a block within the range
    MEMORY = 32  # remembered shapes
    VIGILANCE = 0.08  # mean distance (range fraction) beyond which a shape is new
    RATE = 0.1  # how far a matched shape moves toward the new one
    DIST_RATE = 0.01  # forgetting of the shape-distance mean/variance
    TOL_VALUE = 0.01
    TOL_FEATURE = 0.05
    TOL_HOUR = 0.05
    GRADE = 0.1
    REST_AT = 0.53
    REST_MORE = 20  # a score of REST_AT while resting keeps the detector resting at least this long
    W_FEATURE, W_HOUR, W_STUCK, W_SHAPE = 0.9, 0.7, 0.9, 0.58  # the value itself weighs 1

    def __init__(self, *, warmup: int = 150, learn: int = 300, rest: int = 35) -> None:
        if not 1 <= warmup <= learn:
            raise ValueError("need 1 <= warmup <= learn")
        self.warmup = warmup
        self.learn = learn
        self.rest = rest
        self.n = 0
        self.quiet = 0
        self.lo: float | None = None
        self.hi: float | None = None
        self.recent: list[float] = []  # the last LEVEL + 1 values
        self.level: list[float] | None = None  # range [lo, hi] of the rolling level
        self.vol: list[float] | None = None  # range of the rolling log volatility
        self.hours: list[list[float] | None] = [None] * 24  # per hour of day: [lo, hi, visits]
        self.run = 0
        self.longest = 0
        self.run_alarmed = False  # the current run has already been flagged as stuck
        self.block: list[float] = []
        self.block_avg: float | None = None
        self.shape: list[int] = []  # quantised blocks, per mille of the range
        self._memory = np.zeros((self.MEMORY, self.SHAPE), dtype=np.int64)  # remembered shapes (rows)
        self.ages: list[int] = []  # per remembered shape, its recency rank (0 = least recently matched)
        self.dist_mean: float | None = None
        self.dist_var = 0.0

    # -- the one pass: what x would do to the state, then either report it or apply it ------------

    def _evaluate(self, x: float, t: float) -> tuple[float, dict[str, Any]]:
        n = self.n
        lo, hi = (x, x) if self.lo is None else (self.lo, self.hi)
        assert hi is not None
        score = 0.0
        width = hi - lo
        if width > 0:  # the value itself
            e = (x - hi) / width if x > hi + self.TOL_VALUE * width else (
                (lo - x) / width if x < lo - self.TOL_VALUE * width else 0.0)
            if e > 0:
                score = 0.5 + 0.5 * e / (e + self.GRADE)
        lo2, hi2 = min(lo, x), max(hi, x)
        span = (hi2 - lo2) or 1.0
        active = n >= self.learn
        recent = [*self.recent[-self.LEVEL:], x]  # the last LEVEL + 1 values, x included
        upd: dict[str, Any] = {"lo": lo2, "hi": hi2, "recent": recent}
        if len(recent) > self.LEVEL:
            level = sum(recent[1:]) / self.LEVEL
            steps = sum(map(abs, map(sub, recent[1:], recent[:-1])))
            vol = math.log(steps / self.LEVEL / span + 1e-3)
            e, upd["level"] = self._novel(self.level, level, self.TOL_FEATURE)
            e2, upd["vol"] = self._novel(self.vol, vol, self.TOL_FEATURE)
            if active:
                score = max(score, self._grade(e) * self.W_FEATURE, self._grade(e2) * self.W_FEATURE)
        if len(recent) >= self.SEASON:
            hour = int(t % 86400 // 3600)
            cell = self.hours[hour]
            mean = sum(recent[-self.SEASON:]) / self.SEASON
            e, rng = self._novel(None if cell is None else cell[:2], mean, self.TOL_HOUR)
            visits = 1 if cell is None else cell[2] + 1
            upd["hour"] = (hour, [rng[0], rng[1], visits])
            if active and e > 0 and visits > self.SEASON_EARLY:
                assert cell is not None
                w = cell[1] - cell[0]
                e *= w / max(w, self.SEASON_FLOOR * span)  # a narrow hour does not make a small step news
                if visits > self.SEASON_MIN or e >= self.SEASON_GROSS:
                    score = max(score, self._grade(e) * self.W_HOUR)
        run = self.run + 1 if self.recent and x == self.recent[-1] else 0
        longest, alarmed = self.longest, self.run_alarmed and run > 0
        if run > longest:
            stretched = run > 1.5 * longest
            if n >= self.learn and longest >= 3 and stretched and run - 1 <= 1.5 * longest and not alarmed:
                score = max(score, self.W_STUCK)  # once per run: a flat line stretching on is one event
                alarmed = True
            if n < self.learn or stretched:
                longest = run
        upd["run"] = (run, longest, alarmed)
        block = [*self.block, x]
        if len(block) == self.BLOCK:
            upd["shape"], s = self._shape_step(block, lo2, span)
            if active:
                score = max(score, self.W_SHAPE * s)
        else:
            upd["block"] = block
        return score, upd

    def _shape_step(self, block: list[float], lo: float, span: float) -> tuple[dict[str, Any], float]:
        mean = sum(block) / len(block)
        avg = mean if self.block_avg is None else (self.block_avg + mean) / 2
        top, bottom = max(block), min(block)
        v = bottom if abs(bottom - avg) > abs(top - avg) else top  # keep a spike, up or down
        shape = [*self.shape[-self.SHAPE + 1:], round((v - lo) / span * self.LEVELS) * (1000 // self.LEVELS)]
        upd: dict[str, Any] = {"block_avg": avg, "shape": shape}
        if len(shape) < self.SHAPE:
            return upd, 0.0
        if not self.ages:
            upd["match"] = -1
            return upd, 0.0
        dists = np.abs(self._memory[: len(self.ages)] - np.array(shape)).sum(axis=1)
        at = int(dists.argmin())
        upd["match"] = at
        best = int(dists[at])
        d = best / (self.SHAPE * 1000)
        upd["new"] = d > self.VIGILANCE
        mean_d = d if self.dist_mean is None else self.dist_mean
        z = (d - mean_d) / (math.sqrt(self.dist_var) + 1e-3)
        dd = d - mean_d
        upd["dist"] = (mean_d + self.DIST_RATE * dd, (1 - self.DIST_RATE) * (self.dist_var + self.DIST_RATE * dd * dd))
        if z <= 0:
            return upd, 0.0
        tail = 0.5 * math.erfc(z / math.sqrt(2))
        return upd, min(1.0, math.log(tail + 1e-10) / _LOG_FLOOR)

    def _novel(self, rng: list[float] | None, f: float, tol: float) -> tuple[float, list[float]]:
        """How many range widths ``f`` lies beyond ``rng`` (0 inside or within ``tol``), and the widened range."""
        if rng is None:
            return 0.0, [f, f]
        lo, hi = rng
        w = hi - lo
        e = 0.0
        if w > 0:
            if f > hi + tol * w:
                e = (f - hi) / w
            elif f < lo - tol * w:
                e = (lo - f) / w
        return e, [min(lo, f), max(hi, f)]

    def _grade(self, e: float) -> float:
        return 0.5 + 0.5 * e / (e + self.GRADE) if e > 0 else 0.0

    def _apply(self, upd: dict[str, Any]) -> None:
        self.n += 1
        self.lo, self.hi = upd["lo"], upd["hi"]
        self.recent = upd["recent"]
        if "level" in upd:
            self.level, self.vol = upd["level"], upd["vol"]
        if "hour" in upd:
            hour, cell = upd["hour"]
            self.hours[hour] = cell
        self.run, self.longest, self.run_alarmed = upd["run"]
        if "block" in upd:
            self.block = upd["block"]
            return
        self.block = []
        sh = upd["shape"]
        self.block_avg, self.shape = sh["block_avg"], sh["shape"]
        if "match" not in sh:
            return
        at = sh["match"]
        if (at < 0 or sh["new"]) and len(self.ages) < self.MEMORY:
            self._memory[len(self.ages)] = self.shape
            self.ages.append(len(self.ages))  # ranks: 0 = least recently matched, highest = just now
        else:
            if at < 0 or sh["new"]:
                at = self.ages.index(0)  # forget the least recently matched
                self._memory[at] = self.shape
            else:
                row = self._memory[at]
                row += np.rint(self.RATE * (np.array(self.shape) - row)).astype(np.int64)
            mine = self.ages[at]
            self.ages = [a - 1 if a > mine else a for a in self.ages]
            self.ages[at] = len(self.ages) - 1
        if "dist" in sh:
            self.dist_mean, self.dist_var = sh["dist"]

    def _report(self, raw: float) -> tuple[float, int]:
        """The score reported for ``raw`` given the warm-up and the rest after an alarm, and the next rest."""
        if self.n < self.warmup:
            return 0.0, self.quiet
        if self.quiet > 0:  # an event still unfolding (e.g. each hour in turn meeting a new level) extends the rest
            return 0.0, max(self.quiet - 1, self.REST_MORE) if raw >= self.REST_AT else self.quiet - 1
        return raw, self.rest if raw >= self.REST_AT else 0

    # -- the Detector interface --------------------------------------------------------------------

    def score_one(self, x: float, t: float) -> float:
        if not math.isfinite(x):
            return 0.0
        return self._report(self._evaluate(x, t)[0])[0]

    def learn_one(self, x: float, t: float) -> None:
        if not math.isfinite(x):
            return
        raw, upd = self._evaluate(x, t)
        self.quiet = self._report(raw)[1]
        self._apply(upd)

    def process_one(self, x: float, t: float) -> float:
        if not math.isfinite(x):
            return 0.0
        raw, upd = self._evaluate(x, t)
        s, self.quiet = self._report(raw)
        self._apply(upd)
        return s

    def state(self) -> dict[str, Any]:
        return {"detector": self.name, "warmup": self.warmup, "learn": self.learn, "rest": self.rest,
                "n": self.n, "quiet": self.quiet, "range": [self.lo, self.hi], "recent": list(self.recent),
                "level": self.level, "vol": self.vol, "hours": [None if c is None else list(c) for c in self.hours],
                "run": [self.run, self.longest, int(self.run_alarmed)], "block": list(self.block),
                "block_avg": self.block_avg, "shape": list(self.shape),
                "shapes": self._memory[: len(self.ages)].tolist(), "ages": list(self.ages),
                "dist": [self.dist_mean, self.dist_var]}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Novelty:
        det = cls(warmup=state["warmup"], learn=state["learn"], rest=state["rest"])
        det.n, det.quiet = state["n"], state["quiet"]
        det.lo, det.hi = state["range"]
        det.recent = [float(v) for v in state["recent"]]
        det.level, det.vol = state["level"], state["vol"]
        det.hours = [None if c is None else [float(c[0]), float(c[1]), int(c[2])] for c in state["hours"]]
        det.run, det.longest, *alarmed = state["run"]
        det.run_alarmed = bool(alarmed and alarmed[0])
        det.block, det.block_avg = [float(v) for v in state["block"]], state["block_avg"]
        det.shape = [int(v) for v in state["shape"]]
        det.ages = [int(a) for a in state["ages"]]
        if det.ages:
            det._memory[: len(det.ages)] = np.array(state["shapes"], dtype=np.int64)
        det.dist_mean, det.dist_var = state["dist"]
        return det
