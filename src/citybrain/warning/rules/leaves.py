"""Leaf conditions (threshold, rate, stuck, anomaly, no-data) and the node interface they share.

A rule's tree is compiled (``conditions.compile_tree``) into ``Node`` objects numbered in pre-order; a
subject's state is a list holding each node's state at the node's number. A leaf keeps one ``Stream`` per
device (an asset-level subject can have several devices of one quantity) and its level is the most severe
of them. Hysteresis lives in the leaves; the rule's ``for`` lives in the engine, above the tree.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from citybrain.warning.detectors import Detector, make, restore
from citybrain.warning.rules import schema as S
from citybrain.warning.types import Level

_LEVELS = {lv.value: lv for lv in Level}


def _lv(v: int | None) -> Level | None:
    return None if v is None else _LEVELS[v]


def most_severe(levels: Any) -> Level | None:
    best: Level | None = None
    for lv in levels:
        if lv is not None and (best is None or lv < best):
            best = lv
    return best


class Grader:
    """Grades a number into a level with hysteresis: up at once, down only past the clearing threshold.

    >>> g = Grader(S.Threshold(kind="threshold", levels={"blue": 10, "red": 50}, hysteresis=2))
    >>> g.grade(12, None), g.grade(60, Level.BLUE), g.grade(49, Level.RED), g.grade(47, Level.RED)
    (<Level.BLUE: 4>, <Level.RED: 1>, <Level.RED: 1>, <Level.BLUE: 4>)
    >>> g.grade(8.5, Level.BLUE), g.grade(7.9, Level.BLUE)
    (<Level.BLUE: 4>, None)
    """

    __slots__ = ("bands", "sign")

    def __init__(self, spec: S._Graded) -> None:
        self.sign = 1.0 if spec.direction == "above" else -1.0
        clearing = spec.clearing()
        # (level, enter, clear) most severe first, in "above" orientation (sign folded in)
        self.bands = [(lv, self.sign * thr, self.sign * clearing[lv]) for lv, thr in reversed(spec.levels.items())]

    def grade(self, value: float, current: Level | None) -> Level | None:
        x = self.sign * value
        if x != x:  # NaN: no verdict, keep what we had
            return current
        for lv, enter, clear in self.bands:
            if x >= enter:
                if current is None or lv <= current:
                    return lv
                break
            if current is not None and lv >= current and x >= clear:
                return lv
        if current is None:
            return None
        for lv, _, clear in self.bands:
            if lv >= current and x >= clear:
                return lv
        return None


class Stream:
    """One device's state in one leaf: its held level, last value and last graded measure."""

    __slots__ = ("level", "value", "measure", "ts", "extra")

    def __init__(self) -> None:
        self.level: Level | None = None
        self.value: float | None = None
        self.measure: float | None = None
        self.ts: float | None = None
        self.extra: Any = None

    def dump(self) -> list[Any]:
        return [None if self.level is None else int(self.level), self.value, self.measure, self.ts, self.extra]

    @classmethod
    def load(cls, data: list[Any]) -> Stream:
        s = cls()
        lv, s.value, s.measure, s.ts, s.extra = data
        s.level = _lv(lv)
        return s


class Node:
    """A compiled condition. ``idx`` is its slot in a subject's state list."""

    idx: int
    quantities: frozenset[str]
    timed = False  # whether ``tick`` can change its level

    def new_state(self) -> Any:
        return None

    def observe(self, st: list[Any], device: str, quantity: str, ts: float, value: float) -> None:
        raise NotImplementedError

    def level(self, st: list[Any]) -> Level | None:
        raise NotImplementedError

    def tick(self, st: list[Any], now: float) -> None:
        """Let time pass (window expiry, holds)."""

    def deadline(self, st: list[Any]) -> float | None:
        """The earliest time ``tick`` could change this node's level, if any."""
        return None

    def dump(self, state: Any) -> Any:
        return state

    def load(self, data: Any) -> Any:
        return data

    def leaves(self) -> list[Leaf]:
        return []


class Leaf(Node):
    """A condition on one quantity's readings; one ``Stream`` per device."""

    def __init__(self, quantity: str) -> None:
        self.quantity = quantity
        self.quantities = frozenset({quantity})

    def new_state(self) -> dict[str, Stream]:
        return {}

    def observe(self, st: list[Any], device: str, quantity: str, ts: float, value: float) -> None:
        if quantity != self.quantity:
            return
        streams: dict[str, Stream] = st[self.idx]
        s = streams.get(device)
        if s is None:
            s = streams[device] = self.new_stream()
        s.value = value
        s.ts = ts
        self.update(s, ts, value)

    def new_stream(self) -> Stream:
        return Stream()

    def update(self, s: Stream, ts: float, value: float) -> None:
        raise NotImplementedError

    def level(self, st: list[Any]) -> Level | None:
        streams: dict[str, Stream] = st[self.idx]
        if len(streams) == 1:
            for s in streams.values():
                return s.level
        return most_severe(s.level for s in streams.values())

    def dump(self, state: dict[str, Stream]) -> dict[str, Any]:
        return {d: self.dump_stream(s) for d, s in state.items()}

    def load(self, data: dict[str, Any]) -> dict[str, Stream]:
        return {d: self.load_stream(v) for d, v in data.items()}

    def dump_stream(self, s: Stream) -> list[Any]:
        return s.dump()

    def load_stream(self, data: list[Any]) -> Stream:
        return Stream.load(data)

    def leaves(self) -> list[Leaf]:
        return [self]

    def headline(self, s: Stream) -> float | None:
        """The number a signal reports: the reading itself unless the leaf grades a derived measure."""
        return s.value


class ThresholdLeaf(Leaf):
    def __init__(self, spec: S.Threshold, quantity: str) -> None:
        super().__init__(quantity)
        self.grader = Grader(spec)

    def update(self, s: Stream, ts: float, value: float) -> None:
        s.measure = value
        s.level = self.grader.grade(value, s.level)


class Fit:
    """Points of a sliding window with running least-squares sums (time measured from an anchor).

    Sums are recomputed from the points once as many points have left as the window holds, so
    rounding cannot accumulate.
    """

    __slots__ = ("pts", "t0", "n", "st", "sv", "stt", "stv", "dropped")

    def __init__(self) -> None:
        self.pts: deque[tuple[float, float]] = deque()
        self.t0 = 0.0
        self.n = 0
        self.st = self.sv = self.stt = self.stv = 0.0
        self.dropped = 0

    def __iter__(self) -> Any:
        return iter(self.pts)

    def add(self, t: float, v: float) -> None:
        if not self.pts:
            self.t0 = t
        self.pts.append((t, v))
        x = t - self.t0
        self.n += 1
        self.st += x
        self.sv += v
        self.stt += x * x
        self.stv += x * v

    def drop_before(self, cutoff: float) -> None:
        pts = self.pts
        while pts and pts[0][0] < cutoff:
            t, v = pts.popleft()
            x = t - self.t0
            self.n -= 1
            self.st -= x
            self.sv -= v
            self.stt -= x * x
            self.stv -= x * v
            self.dropped += 1
        if self.dropped > len(pts):
            self._recompute()

    def _recompute(self) -> None:
        pts = list(self.pts)
        self.pts.clear()
        self.n = 0
        self.st = self.sv = self.stt = self.stv = 0.0
        self.dropped = 0
        for t, v in pts:
            self.add(t, v)

    def slope(self) -> float | None:
        n = self.n
        den = n * self.stt - self.st * self.st
        if den <= 0:
            return None
        return (n * self.stv - self.st * self.sv) / den


class RateLeaf(Leaf):
    """Least-squares slope (or end-to-end delta) over the window, in units per ``per``."""

    def __init__(self, spec: S.Rate, quantity: str) -> None:
        super().__init__(quantity)
        self.grader = Grader(spec)
        self.per = S.duration_seconds(spec.per)
        self.window = S.duration_seconds(spec.window)
        self.min_span = S.duration_seconds(spec.min_span) if spec.min_span else self.window / 2
        self.slope = spec.method == "slope"

    def new_stream(self) -> Stream:
        s = Stream()
        s.extra = Fit()
        return s

    def update(self, s: Stream, ts: float, value: float) -> None:
        fit: Fit = s.extra
        fit.add(ts, value)
        fit.drop_before(ts - self.window)
        pts = fit.pts
        if len(pts) < (3 if self.slope else 2) or pts[-1][0] - pts[0][0] < self.min_span:
            return  # not enough history: no verdict yet
        rate = fit.slope() if self.slope else (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
        if rate is None:
            return
        s.measure = rate * self.per
        s.level = self.grader.grade(s.measure, s.level)

    def headline(self, s: Stream) -> float | None:
        return s.measure

    def dump_stream(self, s: Stream) -> list[Any]:
        out = s.dump()
        out[4] = [list(p) for p in s.extra]
        return out

    def load_stream(self, data: list[Any]) -> Stream:
        s = Stream.load(data)
        fit = Fit()
        for t, v in s.extra or []:
            fit.add(float(t), float(v))
        s.extra = fit
        return s


class StuckLeaf(Leaf):
    """``n`` consecutive readings within ``tolerance`` of the first of the run. Extra: [ref, run]."""

    def __init__(self, spec: S.Stuck, quantity: str) -> None:
        super().__init__(quantity)
        self.n = spec.n
        self.tol = spec.tolerance
        self.at = spec.level

    def update(self, s: Stream, ts: float, value: float) -> None:
        run = s.extra
        if run is None or abs(value - run[0]) > self.tol:
            s.extra = run = [value, 1]
        else:
            run[1] += 1
        s.measure = float(run[1])
        s.level = self.at if run[1] >= self.n else None


class AnomalyLeaf(Leaf):
    """A detector per device. Extra: [detector state, consecutive hits, last hit ts, previous value]."""

    def __init__(self, spec: S.Anomaly, quantity: str) -> None:
        super().__init__(quantity)
        self.spec = spec
        probe = make(spec.detector, **spec.params)
        self.threshold = spec.threshold if spec.threshold is not None else type(probe).shipped_threshold
        self.min_consecutive = spec.min_consecutive
        self.hold = S.duration_seconds(spec.hold) if spec.hold else 0.0
        self.diff = spec.transform == "diff"
        self.at = spec.level
        self.timed = self.hold > 0

    def new_stream(self) -> Stream:
        s = Stream()
        s.extra = [make(self.spec.detector, **self.spec.params), 0, None, None]
        return s

    def update(self, s: Stream, ts: float, value: float) -> None:
        ex = s.extra
        det: Detector = ex[0]
        x = value
        if self.diff:
            prev, ex[3] = ex[3], value
            if prev is None:
                return
            x = value - prev
        score = det.process_one(x, ts)
        s.measure = score
        if score >= self.threshold:
            ex[1] += 1
        else:
            ex[1] = 0
        if ex[1] >= self.min_consecutive:
            ex[2] = ts
            s.level = self.at
        elif s.level is not None and not (self.hold and ex[2] is not None and ts - ex[2] < self.hold):
            s.level = None

    def tick(self, st: list[Any], now: float) -> None:
        if not self.hold:
            return
        for s in st[self.idx].values():
            if s.level is not None and s.extra[1] < self.min_consecutive and now - s.extra[2] >= self.hold:
                s.level = None

    def deadline(self, st: list[Any]) -> float | None:
        if not self.hold:
            return None
        times = [s.extra[2] + self.hold for s in st[self.idx].values() if s.level is not None and s.extra[2]]
        return min(times) if times else None

    def dump_stream(self, s: Stream) -> list[Any]:
        out = s.dump()
        det, hits, last, prev = s.extra
        out[4] = [det.state(), hits, last, prev]
        return out

    def load_stream(self, data: list[Any]) -> Stream:
        s = Stream.load(data)
        det, hits, last, prev = s.extra
        s.extra = [restore(det), hits, last, prev]
        return s


class NoDataLeaf(Leaf):
    """Active once ``tick`` finds no reading for the timeout; any reading clears it."""

    timed = True

    def __init__(self, spec: S.NoData, quantity: str) -> None:
        super().__init__(quantity)
        self.after = S.duration_seconds(spec.after) if spec.after else None
        self.k = spec.k
        self.at = spec.level
        self.any = quantity == S.ANY_QUANTITY

    def observe(self, st: list[Any], device: str, quantity: str, ts: float, value: float) -> None:
        super().observe(st, device, self.quantity if self.any else quantity, ts, value)

    def update(self, s: Stream, ts: float, value: float) -> None:
        s.level = None
        s.measure = 0.0

    def headline(self, s: Stream) -> float | None:
        return s.measure
