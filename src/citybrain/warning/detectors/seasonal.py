"""Seasonal: a slow departure from what this time of day usually reads (drift on a daily-cycle signal).

Water pressure, drainage levels and people counts swing through the day by more than a failing sensor
drifts in hours, so a detector that compares a value with the recent past (``gaussian``) only sees such a
drift once it leaves the whole daily range. This one compares each value with the *daily profile*:

* the local day (``utc_offset_h``, Shanghai by default) is cut into ``slots`` (48: half hours), and
  every slot of a weekday and of a weekend day keeps its mean on the two latest such days; a value's
  reference is a Catmull-Rom curve through the slot means, so a sharp rush-hour peak keeps its height
  between slot centres;
* the residual (value - reference) is smoothed over ``tau_s`` (30 min), its slow bias (``bias_tau_s``,
  12 h) is taken off, so the sensor's slow wander and a changing season do not count, and the rest is
  measured in the stream's own noise (the mean step between readings over ``noise_tau_s``, 2 h), so a
  busy hour with larger swings is not taken for a fault;
* that deviation is scored as ``erf(|z| / sqrt 2)`` against its usual spread, measured against whichever
  of the two days lies farther (so the spread is not understated); the shipped threshold 0.999 is 3.3 of
  those sigmas.

Each slot keeps its two latest days, and a value is compared with the day that looks more like now, so a
fault on one day is not echoed at the same time the next day. Nothing is scored until the slots around
the time have two earlier days of their type (two weekdays, or two weekend days at a weekend), the
spread has ``warmup`` deviations and ``settle_s`` (12 h) behind it. Readings that score ``learn_below``
or more teach neither the bias nor the spread, so a drift does not become the usual spread while it is
being reported; a lasting change of level becomes the profile after two days. The state is two profiles
of ``slots`` x 2 numbers (kept to 6 significant digits) and a few sums: about 2.5 KB as JSON.

>>> import math
>>> det = Seasonal()
>>> def pressure(i):  # a reading every 5 minutes; the morning peak is far larger than the noise
...     return 0.30 + 0.05 * math.exp(-0.5 * ((i % 288) / 12 - 8) ** 2) + 0.002 * math.sin(i * 1.7)
>>> normal = [det.process_one(pressure(i), 300.0 * i) for i in range(288 * 8)]  # Thursday to Thursday
>>> 0 < max(normal) < det.shipped_threshold  # scored from the second Monday on, and quiet
True
>>> drift = [det.process_one(pressure(i) + 0.0004 * (i - 288 * 8), 300.0 * i) for i in range(288 * 8, 288 * 8 + 48)]
>>> next(k for k, s in enumerate(drift) if s >= det.shipped_threshold) < 36  # within 3 hours of 5-minute data
True
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from citybrain.warning.detectors.base import Detector

_SQRT2 = math.sqrt(2.0)
_DAY = 86400.0


class Seasonal(Detector):
    """Smoothed distance from the weekday/weekend daily profile, against its usual spread."""

    name: ClassVar[str] = "seasonal"
    shipped_threshold: ClassVar[float] = 0.999  # 3.3 sigma of a spread measured against the farther day

    def __init__(self, *, slots: int = 48, utc_offset_h: float = 8.0, tau_s: float = 1800.0,
                 bias_tau_s: float = 43200.0, noise_tau_s: float = 7200.0, spread_tau_s: float = 172800.0,
                 settle_s: float = 43200.0, learn_below: float = 0.99, weekly: bool = True, warmup: int = 24) -> None:
        if slots < 2 or slots > 288:
            raise ValueError("slots must be between 2 and 288")
        if min(tau_s, bias_tau_s, noise_tau_s, spread_tau_s) <= 0 or bias_tau_s <= tau_s:
            raise ValueError("time constants must be positive, and bias_tau_s longer than tau_s")
        if not 0 < learn_below <= 1:
            raise ValueError("learn_below must be in (0, 1]")
        if warmup < 1:
            raise ValueError("warmup must be at least 1")
        self.slots, self.offset = slots, utc_offset_h * 3600.0
        self.tau, self.bias_tau, self.noise_tau, self.spread_tau = tau_s, bias_tau_s, noise_tau_s, spread_tau_s
        self.learn_below, self.weekly, self.warmup, self.settle_s = learn_below, weekly, warmup, settle_s
        # per slot of a weekday and of a weekend day: [newest day's mean, the one before] (None: not seen yet)
        self.profiles: list[list[list[float] | None]] = [[None] * slots, [None] * slots]
        self.acc: list[float] | None = None  # the open slot: [day number, slot, sum, count, clean count]
        self.t: float | None = None  # time of the last value learnt
        self.smooth: list[float] | None = None  # smoothed residual against each of the two days
        self.bias: float | None = None  # its slow bias
        self.var = 0.0  # usual spread (mean square) of (smooth - bias) / noise
        self.last: float | None = None  # the previous value
        self.noise: float | None = None  # mean absolute step between readings (the local noise level)
        self.seen = 0  # deviations behind ``var``
        self.spread_since: float | None = None  # when the first deviation was measured

    # -- where in the week ``t`` is ---------------------------------------------------------------

    def _place(self, t: float) -> tuple[int, int, float]:
        """(local day number, profile 0 weekday / 1 weekend, position in slots from the day's start)."""
        local = t + self.offset
        day = math.floor(local / _DAY)
        weekend = 1 if self.weekly and (day + 3) % 7 >= 5 else 0  # day 0 (1970-01-01) was a Thursday
        return day, weekend, (local - day * _DAY) / _DAY * self.slots

    def _curve(self, kind: int, pos: float, gen: int) -> float | None:
        """Day ``gen`` (0 newest, 1 the one before; ``None`` until known) at ``pos``: a
        Catmull-Rom curve through the slot centres (k + 0.5), so a peak keeps its height between centres;
        linear where a further neighbour is not known yet."""
        c = pos - 0.5
        lo = math.floor(c)
        w = c - lo
        prof, n = self.profiles[kind], self.slots

        def at(k: int) -> float | None:
            days = prof[k % n]
            return None if days is None or len(days) <= gen else days[gen]

        a, b = at(lo), at(lo + 1)
        if a is None or b is None:
            return None
        p0, p3 = at(lo - 1), at(lo + 2)
        if p0 is None or p3 is None:
            return a + (b - a) * w
        return a + 0.5 * w * (b - p0 + w * (2 * p0 - 5 * a + 4 * b - p3 + w * (3 * (a - b) + p3 - p0)))

    # -- one pass: the score of x and the state it would leave ------------------------------------

    def _evaluate(self, x: float, t: float) -> tuple[float, tuple[Any, ...]]:
        day, kind, pos = self._place(t)
        refs = [self._curve(kind, pos, 0), self._curve(kind, pos, 1)]
        smooth, bias, var, seen, noise = self.smooth, self.bias, self.var, self.seen, self.noise
        dt = 0.0 if self.t is None else min(max(t - self.t, 0.0), 10 * self.bias_tau)
        step = None if self.last is None else abs(x - self.last)
        score = 0.0
        referenced = refs[0] is not None and refs[1] is not None
        if referenced and noise is not None and noise > 0:
            rs = [x - refs[0], x - refs[1]]  # type: ignore[operator]
            if smooth is None or bias is None:
                smooth, bias = rs, rs[0]
            else:
                k = 1.0 - math.exp(-dt / self.tau)
                smooth = [smooth[0] + k * (rs[0] - smooth[0]), smooth[1] + k * (rs[1] - smooth[1])]
            # the day that looks more like now speaks: a fault on one earlier day is not echoed the next
            g = 0 if abs(smooth[0] - bias) <= abs(smooth[1] - bias) else 1
            d = (smooth[g] - bias) / noise
            if seen >= self.warmup and self.spread_since is not None and t - self.spread_since >= self.settle_s:
                score = math.erf(abs(d) / math.sqrt(var) / _SQRT2) if var > 0 else float(d != 0)
            if score < self.learn_below:  # only what looks normal teaches the bias and the spread
                # the spread of the larger of the two deviations: choosing the nearer day must not make the
                # usual spread look smaller than it is
                far = max(abs(smooth[0] - bias), abs(smooth[1] - bias)) / noise
                bias += (1.0 - math.exp(-dt / self.bias_tau)) * (rs[g] - bias)
                rate = max(1.0 - math.exp(-dt / self.spread_tau), 1.0 / (seen + 1))
                var += rate * (far * far - var)
                seen += 1
        if step is not None and score < self.learn_below:
            noise = step if noise is None else noise + (1.0 - math.exp(-dt / self.noise_tau)) * (step - noise)
        return score, (day, kind, pos, smooth, bias, var, seen, noise, referenced)

    def _apply(self, x: float, t: float, upd: tuple[Any, ...]) -> None:
        day, kind, pos, self.smooth, self.bias, self.var, self.seen, self.noise, referenced = upd
        self.last = x
        if referenced and self.spread_since is None:
            self.spread_since = t
        slot = int(pos) % self.slots
        acc = self.acc
        if acc is not None and (acc[0] != day or acc[1] != slot):
            self._fold(acc)
            acc = None
        if acc is None:
            acc = self.acc = [float(day), float(slot), 0.0, 0.0]
        acc[2] += x
        acc[3] += 1
        self.t = t

    def _fold(self, acc: list[float]) -> None:
        """A finished slot of one day becomes that slot's newest day (faulty or not: the older day covers it)."""
        day, slot, total, count = acc
        if count == 0:
            return
        _d, kind, _p = self._place(day * _DAY - self.offset + 1.0)
        prof = self.profiles[kind]
        mean = float(f"{total / count:.6g}")
        old = prof[int(slot)]
        prof[int(slot)] = [mean] if old is None else [mean, old[0]]

    # -- the Detector interface --------------------------------------------------------------------

    def score_one(self, x: float, t: float) -> float:
        if not math.isfinite(x):
            return 0.0
        return self._evaluate(x, t)[0]

    def learn_one(self, x: float, t: float) -> None:
        if not math.isfinite(x):
            return
        self._apply(x, t, self._evaluate(x, t)[1])

    def process_one(self, x: float, t: float) -> float:
        if not math.isfinite(x):
            return 0.0
        score, upd = self._evaluate(x, t)
        self._apply(x, t, upd)
        return score

    def state(self) -> dict[str, Any]:
        return {"detector": self.name, "slots": self.slots, "utc_offset_h": self.offset / 3600.0, "tau_s": self.tau,
                "bias_tau_s": self.bias_tau, "noise_tau_s": self.noise_tau, "spread_tau_s": self.spread_tau,
                "settle_s": self.settle_s, "learn_below": self.learn_below, "weekly": self.weekly,
                "warmup": self.warmup,
                "profiles": [[None if v is None else list(v) for v in p] for p in self.profiles],
                "acc": None if self.acc is None else list(self.acc), "t": self.t,
                "smooth": None if self.smooth is None else list(self.smooth), "bias": self.bias, "var": self.var,
                "seen": self.seen, "last": self.last, "noise": self.noise, "spread_since": self.spread_since}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Seasonal:
        det = cls(slots=state["slots"], utc_offset_h=state["utc_offset_h"],
                  tau_s=state["tau_s"], bias_tau_s=state["bias_tau_s"], noise_tau_s=state["noise_tau_s"],
                  spread_tau_s=state["spread_tau_s"], settle_s=state["settle_s"],
                  learn_below=state["learn_below"], weekly=state["weekly"], warmup=state["warmup"])
        det.profiles = [[None if v is None else [float(x) for x in v] for v in p] for p in state["profiles"]]
        det.acc = None if state["acc"] is None else [float(v) for v in state["acc"]]
        det.t, det.bias = state["t"], state["bias"]
        det.smooth = None if state["smooth"] is None else [float(v) for v in state["smooth"]]
        det.var, det.seen = float(state["var"]), int(state["seen"])
        det.last, det.noise, det.spread_since = state["last"], state["noise"], state["spread_since"]
        return det
