"""Emerging hotspots (新兴热点) over grid cells by week, from the same plain records as ``analytics.precursors``.

A cell is *hot* in a week when its count over the last
``recent_weeks`` weeks is significantly above the city's typical cell in the same weeks (a Poisson test), and
*emerging* when it is also significantly above its own history (a Poisson test against its trailing rate,
shrunk towards the city's so an empty history is not "infinitely" exceeded; both must hold, so the larger
p-value is used). p-values are corrected across cells with Benjamini–Hochberg each week. Cells hot in the
last week are classified from their weekly hot/not-hot history with the vocabulary of ESRI's emerging hot
spot analysis (new, consecutive, intensifying, persistent, sporadic), using a Mann–Kendall trend test on
the cell's weekly series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

import numpy as np

from citybrain.analytics.precursors import Record, local_date, poisson_sf, week_start

# -- grid cells --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grid:
    """Square cells of ``size_m`` metres on an equirectangular projection around ``lat0`` (fine for a city).

    >>> g = Grid(lat0=31.2)
    >>> g.cell(121.4737, 31.2304)
    '23133:6953'
    >>> g.centre('23133:6953')
    (121.475, 31.232)
    """

    lat0: float
    size_m: float = 500.0

    @property
    def dlat(self) -> float:
        return self.size_m / 111_320.0

    @property
    def dlon(self) -> float:
        return self.size_m / (111_320.0 * math.cos(math.radians(self.lat0)))

    def cell(self, lon: float, lat: float) -> str:
        return f"{math.floor(lon / self.dlon)}:{math.floor(lat / self.dlat)}"

    def centre(self, cell: str) -> tuple[float, float]:
        i, j = (int(v) for v in cell.split(":"))
        return round((i + 0.5) * self.dlon, 4), round((j + 0.5) * self.dlat, 4)


# -- trend test and multiple testing -----------------------------------------------------------------------------


def mann_kendall(values: Sequence[float]) -> tuple[float, float]:
    """Mann–Kendall trend test with the tie correction: (Z, two-sided p). Z > 0 is a rising series.

    >>> z, p = mann_kendall([1, 2, 3, 4, 5, 6, 7, 8])
    >>> round(z, 2), p < 0.01
    (3.34, True)
    >>> mann_kendall([2, 2, 2])
    (0.0, 1.0)
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 3:
        return 0.0, 1.0
    diff = np.sign(x[None, :] - x[:, None])
    s = float(np.triu(diff, 1).sum())
    _, ties = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18.0
    if var <= 0 or s == 0:
        return 0.0, 1.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var)
    return z, math.erfc(abs(z) / math.sqrt(2))


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input's order.

    >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = running
    return q


# -- emerging hotspots -------------------------------------------------------------------------------------------

CATEGORIES = {
    "new": ("新热点", "new: hot in the last week only"),
    "consecutive": ("连续热点", "consecutive: hot for an unbroken run of recent weeks"),
    "intensifying": ("加剧热点", "intensifying: hot nearly every week and still rising"),
    "persistent": ("持续热点", "persistent: hot nearly every week, no clear trend"),
    "sporadic": ("间歇热点", "sporadic: hot now, on and off before"),
}


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A cell hot in the last week, with its class and the numbers behind it.

    ``hot`` means above the city's typical cell; ``emerging`` means also above the cell's own history.
    """

    cell: str
    lon: float
    lat: float
    category: str
    emerging: bool
    recent_count: int
    expected_own: float  # what its own history predicts for the recent window
    expected_city: float  # what the city's typical cell had in the same window
    q_city: float
    q_emerging: float
    hot_weeks: int
    evaluated_weeks: int
    mk_z: float
    mk_p: float
    series: list[int]

    def as_dict(self) -> dict[str, Any]:
        zh, en = CATEGORIES[self.category]
        return {"cell": self.cell, "lon": self.lon, "lat": self.lat, "category": self.category,
                "category_zh": zh, "category_en": en, "emerging": self.emerging, "recent_count": self.recent_count,
                "expected_own": round(self.expected_own, 3), "expected_city": round(self.expected_city, 3),
                "q_city": self.q_city, "q_emerging": self.q_emerging, "hot_weeks": self.hot_weeks,
                "evaluated_weeks": self.evaluated_weeks, "mk_z": round(self.mk_z, 3), "mk_p": round(self.mk_p, 4),
                "series": self.series}


@dataclass(frozen=True, slots=True)
class HotspotReport:
    hotspots: list[Hotspot]  # emerging ones first
    cells: int  # cells with at least one record
    weeks: int
    evaluated_weeks: int
    skipped: int  # records without coordinates

    @property
    def emerging(self) -> list[Hotspot]:
        return [h for h in self.hotspots if h.emerging]


@dataclass(frozen=True, slots=True)
class _Week:
    hot: np.ndarray  # above the city's typical cell (BH across cells)
    emerging: np.ndarray  # above the city's and the cell's own history (BH across cells)
    window: np.ndarray
    exp_own: np.ndarray
    exp_city: np.ndarray
    q_city: np.ndarray
    q_both: np.ndarray


def _week(matrix: np.ndarray, t: int, recent: int, prior_weeks: float, min_count: int, q: float) -> _Week:
    """Each cell's tests for the window of ``recent`` weeks ending in week ``t``."""
    n_cells = matrix.shape[0]
    window = matrix[:, t - recent + 1:t + 1].sum(axis=1)
    hist = matrix[:, :t - recent + 1]
    hist_weeks = hist.shape[1]
    city_hist = hist.sum() / (n_cells * hist_weeks)  # a typical cell's weekly count before the window
    own_rate = (hist.sum(axis=1) + prior_weeks * city_hist) / (hist_weeks + prior_weeks)
    exp_own = own_rate * recent
    exp_city = np.full(n_cells, window.sum() / n_cells)
    p_city, p_own = np.ones(n_cells), np.ones(n_cells)
    tested = np.flatnonzero(window >= min_count)
    for i in tested:
        x = int(window[i])
        p_city[i] = poisson_sf(x, float(exp_city[i]))
        p_own[i] = poisson_sf(x, float(exp_own[i]))
    # BH over every cell with records (untested ones count with p = 1): picking the family by the data would not
    # control the false discovery rate
    q_city = np.array(benjamini_hochberg(p_city.tolist()))
    q_both = np.array(benjamini_hochberg(np.maximum(p_city, p_own).tolist()))  # both must hold: the larger p
    hot = (q_city <= q) & (window >= min_count) & (window > exp_city)
    emerging = hot & (q_both <= q) & (window > exp_own)
    return _Week(hot, emerging, window, exp_own, exp_city, q_city, q_both)


def _classify(hot_history: Sequence[bool], mk_z: float, mk_p: float, *, alpha: float) -> str:
    """ESRI-style class of a cell hot in the last evaluated week (``hot_history`` ends with True)."""
    before = hot_history[:-1]
    if not any(before):
        return "new"
    share = sum(hot_history) / len(hot_history)
    if share >= 0.9:
        return "intensifying" if mk_z > 0 and mk_p < alpha else "persistent"
    first_cold = max(i for i, h in enumerate(hot_history) if not h)
    if not any(hot_history[:first_cold]):  # one unbroken run at the end, nothing hot before it
        return "consecutive"
    return "sporadic"


def emerging_hotspots(records: Iterable[Record], *, grid: Grid, start: date, weeks: int, tz: tzinfo | None = None,
                      recent_weeks: int = 4, min_history_weeks: int = 4, prior_weeks: float = 1.0,
                      min_count: int = 3, q: float = 0.05, alpha: float = 0.05) -> HotspotReport:
    """Cells hot in the last week, classified by their weekly history; ``emerging`` ones rose above their own past.

    Every week from ``min_history_weeks + recent_weeks - 1`` on is evaluated (its window of ``recent_weeks``
    weeks against the city's cells then, and against the cell's weeks before the window), so each cell has a
    hot / not-hot history; the class comes from that history and a Mann–Kendall test on the weekly counts.
    """
    first = week_start(start)
    cells: dict[str, list[int]] = {}
    skipped = 0
    for rec in records:
        if rec.lon is None or rec.lat is None:
            skipped += 1
            continue
        w = (local_date(rec.at, tz) - first).days // 7
        if 0 <= w < weeks:
            cells.setdefault(grid.cell(rec.lon, rec.lat), [0] * weeks)[w] += 1
    first_t = min_history_weeks + recent_weeks - 1
    if not cells or weeks <= first_t:
        return HotspotReport([], len(cells), weeks, 0, skipped)
    names = sorted(cells)
    matrix = np.array([cells[c] for c in names], dtype=float)
    history = np.zeros((len(names), weeks - first_t), dtype=bool)
    for j, t in enumerate(range(first_t, weeks)):
        last = _week(matrix, t, recent_weeks, prior_weeks, min_count, q)
        history[:, j] = last.hot
    out = []
    for i in np.flatnonzero(last.hot):
        series = [int(v) for v in matrix[i]]
        z, p = mann_kendall(series)
        lon, lat = grid.centre(names[i])
        out.append(Hotspot(cell=names[i], lon=lon, lat=lat,
                           category=_classify([bool(v) for v in history[i]], z, p, alpha=alpha),
                           emerging=bool(last.emerging[i]), recent_count=int(last.window[i]),
                           expected_own=float(last.exp_own[i]), expected_city=float(last.exp_city[i]),
                           q_city=float(f"{last.q_city[i]:.3g}"), q_emerging=float(f"{last.q_both[i]:.3g}"),
                           hot_weeks=int(history[i].sum()), evaluated_weeks=history.shape[1], mk_z=z, mk_p=p,
                           series=series))
    out.sort(key=lambda h: (not h.emerging, h.q_emerging if h.emerging else h.q_city, -h.recent_count))
    return HotspotReport(out, len(names), weeks, history.shape[1], skipped)
