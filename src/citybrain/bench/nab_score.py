"""The Numenta Anomaly Benchmark's scoring rules, re-implemented from NAB's published description.

Each file has labelled anomaly windows. Every row gets a *sweep weight*: inside a window, a detection
is worth ``tp * S(p) / S(-1)`` where ``p`` runs from -1 at the window's first row to just below 0 at
its last (``S`` is NAB's scaled sigmoid, ``S(p) = 2 / (1 + exp(5p)) - 1``, and -1 from ``p >= 3``);
outside, a detection costs ``fp * S(p)`` with ``p`` the distance past the previous window's right
edge in window widths (so a false alarm just after a window is nearly free, one far away costs
``fp``; with no preceding window it costs ``fp``). Only the best (= earliest) detection in a window
counts; a window with none costs ``fn``. Rows in the probationary period (the first
``min(floor(0.15 n), 750)`` of a file) are ignored. The corpus score is the sum over files;
normalised, ``100 * (raw - null) / (perfect - null)``, where the null detector never fires and the
perfect one fires on the first row of every window. The threshold is the one value, over the whole
corpus, that maximises the raw score of the profile (NAB's protocol); a row is a detection when its
score reaches it.

>>> layout = Layout.of(n=100, windows=[(40, 49)], probation=0.15)
>>> scores = [0.0] * 100
>>> raw(layout, scores, STANDARD, threshold=0.5)  # nothing detected: one missed window
-1.0
>>> scores[40] = 1.0
>>> raw(layout, scores, STANDARD, threshold=0.5)  # the window's first row: full credit
1.0
>>> scores[5], scores[90] = 1.0, 1.0  # probationary row ignored; a late false alarm costs fp
>>> round(raw(layout, scores, STANDARD, threshold=0.5), 4)
0.89
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION = 0.15
NOTHING = 1.1  # the threshold no score reaches: the null detector's row of the sweep


@dataclass(frozen=True, slots=True)
class Profile:
    """An application profile: weights of a true positive, a false positive and a false negative."""

    name: str
    tp: float
    fp: float
    fn: float


STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FP = Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
PROFILES = (STANDARD, LOW_FP, LOW_FN)


def load_profiles(path: Path) -> tuple[Profile, ...]:
    """Profiles from NAB's ``config/profiles.json`` (name → ``CostMatrix``)."""
    data = json.loads(path.read_text())
    return tuple(Profile(name, tp=float(p["CostMatrix"]["tpWeight"]), fp=float(p["CostMatrix"]["fpWeight"]),
                         fn=float(p["CostMatrix"]["fnWeight"])) for name, p in data.items())


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: ~0.987 at a window's left edge (-1), 0 at its right edge, -1 from 3 widths past.

    >>> [round(scaled_sigmoid(p), 5) for p in (-1.0, -0.5, 0.0, 1.0, 3.0)]
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    return np.where(position >= 3.0, -1.0, 2.0 / (1.0 + np.exp(np.minimum(5.0 * position, 50.0))) - 1.0)


def probationary_length(n: int, probation: float = PROBATION) -> int:
    return int(min(math.floor(probation * n), probation * 5000))


def window_rows(timestamps: Sequence[str], windows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Windows given as (first, last) timestamps → inclusive row ranges; both ends must be rows of the file."""
    from datetime import datetime

    index = {datetime.fromisoformat(ts): i for i, ts in enumerate(timestamps)}
    rows = []
    for start, end in windows:
        try:
            rows.append((index[datetime.fromisoformat(start)], index[datetime.fromisoformat(end)]))
        except KeyError as exc:
            raise ValueError(f"window edge {exc.args[0]} is not a timestamp of the file") from None
    return rows


@dataclass(frozen=True, slots=True)
class Layout:
    """One file's rows as the scorer sees them: the length, the windows (row ranges) and the probation."""

    n: int
    windows: tuple[tuple[int, int], ...]
    start: int  # first scored row (the end of the probationary period)

    @classmethod
    def of(cls, *, n: int, windows: Sequence[tuple[int, int]], probation: float = PROBATION) -> Layout:
        ws = tuple(sorted((int(a), int(b)) for a, b in windows))
        if any(not 0 <= a <= b < n for a, b in ws) or any(ws[i][1] >= ws[i + 1][0] for i in range(len(ws) - 1)):
            raise ValueError("windows must be disjoint row ranges inside the file")
        return cls(n=n, windows=ws, start=probationary_length(n, probation))

    def sweep(self, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the weight of a detection there, and its window (index, or -1 outside, -2 probationary)."""
        weight = np.full(self.n, -profile.fp)  # before any window: a full false positive
        window = np.full(self.n, -1, dtype=np.int64)
        max_tp = scaled_sigmoid(-1.0)
        nexts = [a for a, _b in self.windows[1:]] + [self.n]
        for k, ((a, b), nxt) in enumerate(zip(self.windows, nexts, strict=False)):
            width = b - a + 1
            i = np.arange(a, b + 1)
            weight[a:b + 1] = _scaled_sigmoid(-(b - i + 1) / width) * profile.tp / max_tp
            window[a:b + 1] = k
            after = np.arange(b + 1, nxt)  # past this window: cheap at first, a full false positive from 3 widths
            pos = (after - b) / (width - 1) if width > 1 else np.full(after.size, 3.0)
            weight[b + 1:nxt] = _scaled_sigmoid(pos) * profile.fp
        window[:self.start] = -2
        return weight, window

    def scored_windows(self) -> int:
        """Windows with at least one row after the probationary period (a missed one costs ``fn``)."""
        return sum(1 for _a, b in self.windows if b >= self.start)


@dataclass(frozen=True, slots=True)
class FileScore:
    raw: float
    tp: int  # detected rows inside windows
    fp: int  # detected rows outside windows
    windows: int
    detected: int  # windows with at least one detection


def score(layout: Layout, scores: Sequence[float] | np.ndarray, profile: Profile, threshold: float) -> FileScore:
    """One file's NAB score at ``threshold`` (a row is a detection when its score is ``>= threshold``)."""
    s = np.asarray(scores, dtype=float)
    if s.shape != (layout.n,):
        raise ValueError(f"{s.size} scores for a file of {layout.n} rows")
    weight, window = layout.sweep(profile)
    hit = (s >= threshold) & (window != -2)
    outside = hit & (window == -1)
    total = float(weight[outside].sum())
    detected = 0
    for a, b in layout.windows:
        if b < layout.start:
            continue
        rows = np.nonzero(hit[a:b + 1])[0]
        if rows.size:
            detected += 1
            total += float(weight[a + rows[0]])  # the earliest detection has the highest weight
        else:
            total -= profile.fn
    inside = int((hit & (window >= 0)).sum())
    return FileScore(raw=total, tp=inside, fp=int(outside.sum()), windows=layout.scored_windows(), detected=detected)


def raw(layout: Layout, scores: Sequence[float] | np.ndarray, profile: Profile, threshold: float) -> float:
    return score(layout, scores, profile, threshold).raw


def sweep_corpus(files: Sequence[tuple[Layout, Sequence[float] | np.ndarray]],
                 profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score at every candidate threshold: (thresholds descending from ``NOTHING``, totals).

    Candidates are ``NOTHING`` and every distinct score; the total at ``T`` counts rows with score ``>= T``.
    """
    ss, ws, wins, rows = [], [], [], []
    n_windows = 0
    offset_rows = 0
    missed = 0.0
    for layout, scores in files:
        s = np.asarray(scores, dtype=float)
        weight, window = layout.sweep(profile)
        keep = window != -2
        win = np.where(window >= 0, window + n_windows, -1)
        ss.append(s[keep])
        ws.append(weight[keep])
        wins.append(win[keep])
        rows.append(np.nonzero(keep)[0] + offset_rows)
        n_windows += len(layout.windows)
        offset_rows += layout.n
        missed -= profile.fn * layout.scored_windows()
    if not ss:
        return np.array([NOTHING]), np.array([0.0])
    s, w, win, row = (np.concatenate(a) for a in (ss, ws, wins, rows))
    order = np.argsort(-s, kind="stable")
    s, w, win, row = s[order], w[order], win[order], row[order]
    delta = np.where(win == -1, w, 0.0)
    inside = np.nonzero(win >= 0)[0]
    if inside.size:
        # per window, in score order: the best weight so far is that of the earliest row detected so far
        by = inside[np.lexsort((inside, win[inside]))]
        g = win[by]
        key = g * (offset_rows + 1) - row[by]  # rows of a later window always sort above earlier windows'
        earliest = g * (offset_rows + 1) - np.maximum.accumulate(key)
        row_weight = np.empty(offset_rows)
        row_weight[row] = w
        best = row_weight[earliest]
        first = np.ones(by.size, dtype=bool)
        first[1:] = g[1:] != g[:-1]
        prev = np.empty(by.size)
        prev[1:] = best[:-1]
        prev[first] = -profile.fn
        delta[by] = best - prev
    totals = missed + np.cumsum(delta)
    last = np.ones(s.size, dtype=bool)
    last[:-1] = s[:-1] != s[1:]
    return np.concatenate(([NOTHING], s[last])), np.concatenate(([missed], totals[last]))


def optimise(files: Sequence[tuple[Layout, Sequence[float] | np.ndarray]], profile: Profile) -> tuple[float, float]:
    """The corpus-wide threshold with the highest raw score (the highest such threshold on ties), and that score."""
    thresholds, totals = sweep_corpus(files, profile)
    best = int(np.argmax(totals))
    return float(thresholds[best]), float(totals[best])


def corpus(files: Sequence[tuple[Layout, Sequence[float] | np.ndarray]], profile: Profile,
           threshold: float) -> FileScore:
    """The corpus total at one threshold (sums of every file's :class:`FileScore`)."""
    parts = [score(layout, s, profile, threshold) for layout, s in files]
    return FileScore(raw=sum(p.raw for p in parts), tp=sum(p.tp for p in parts), fp=sum(p.fp for p in parts),
                     windows=sum(p.windows for p in parts), detected=sum(p.detected for p in parts))


def null_scores(layout: Layout) -> np.ndarray:
    return np.zeros(layout.n)


def perfect_scores(layout: Layout) -> np.ndarray:
    s = np.zeros(layout.n)
    for a, b in layout.windows:
        s[max(a, layout.start) if b >= layout.start else a] = 1.0
    return s


def normalise(raw_score: float, null: float, perfect: float) -> float:
    return 100.0 * (raw_score - null) / (perfect - null)
