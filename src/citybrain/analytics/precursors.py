"""Precursor analytics (未遂先兆分析): pure functions over plain records, no database.

Three readings of the same records (near misses, minor accidents, serious accidents):

* **The precursor pyramid** per group (district, type…): counts of near misses : minor : serious and their
  ratios, in the manner of Heinrich (300 : 29 : 1) and Bird (600 : 30 : 10 : 1). A *thin base* (fewer near
  misses than accidents) is reported as such; it usually means near misses go unreported, not that they
  do not happen. The functions report ratios and that flag, never a verdict.
* **Trend alarms**: a one-sided Poisson CUSUM (Lucas 1985) on each group's weekly counts against a trailing
  baseline (the mean of ``baseline_weeks`` weeks ending ``guard_weeks`` before the week judged, so a rise is not
  absorbed into its own baseline at once). It is tuned to catch a ``shift``-fold rise; the decision limit ``h`` is
  chosen so that a steady series raises one false alarm per ``arl0`` weeks on average (the in-control average run
  length, computed with the Brook–Evans Markov chain; an estimated baseline and over-dispersed real counts make
  the realised rate somewhat higher).
* **Emerging hotspots** over grid cells by week: ``analytics.hotspots``.

>>> from datetime import datetime
>>> recs = [Record(at=datetime(2026, 1, 5), kind=k, district="310101") for k in
...         ["near_miss"] * 6 + ["minor"] * 3 + ["serious"]]
>>> p = pyramids(recs, by=("district",))[0]
>>> p.near_miss, p.minor, p.serious, p.near_per_minor, p.thin_base
(6, 3, 1, 2.0, False)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

import numpy as np

KINDS = ("near_miss", "minor", "serious")
KIND_NAMES = {"near_miss": ("未遂", "near miss"), "minor": ("轻微事故", "minor accident"),
              "serious": ("较大及以上事故", "serious accident")}
HEINRICH = (300, 29, 1)  # near misses (no-injury accidents) : minor injuries : major injuries
BIRD = (600, 30, 10, 1)  # near misses : property damage : minor injuries : serious or disabling injuries
GroupKey = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Record:
    """One near miss or accident as the analytics see it; ``at`` naive means local time already."""

    at: datetime
    kind: str  # near_miss | minor | serious
    district: str | None = None
    type: str | None = None
    lon: float | None = None
    lat: float | None = None


def local_date(at: datetime, tz: tzinfo | None = None) -> date:
    """The calendar day of ``at`` where it happened (aware times converted to ``tz``)."""
    return (at.astimezone(tz) if tz is not None and at.tzinfo is not None else at).date()


def week_start(day: date) -> date:
    """The Monday of ``day``'s week.

    >>> week_start(date(2025, 1, 1))
    datetime.date(2024, 12, 30)
    """
    return day - timedelta(days=day.weekday())


def _key(rec: Record, by: Sequence[str]) -> GroupKey:
    return tuple(getattr(rec, name) for name in by)


# -- the pyramid -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pyramid:
    """Counts of one group's layers and the ratios between them (None where a layer is empty)."""

    key: GroupKey
    near_miss: int
    minor: int
    serious: int
    near_per_minor: float | None
    near_per_serious: float | None
    minor_per_serious: float | None
    base_share: float | None  # near misses / all records
    thin_base: bool  # fewer near misses than accidents (minor + serious)
    sparse: bool  # too few records to read the ratios at all
    note_zh: str
    note_en: str

    @property
    def total(self) -> int:
        return self.near_miss + self.minor + self.serious

    def as_dict(self, by: Sequence[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(by, self.key, strict=False))
        out.update(near_miss=self.near_miss, minor=self.minor, serious=self.serious, total=self.total,
                   near_per_minor=self.near_per_minor, near_per_serious=self.near_per_serious,
                   minor_per_serious=self.minor_per_serious, base_share=self.base_share,
                   thin_base=self.thin_base, sparse=self.sparse, note_zh=self.note_zh, note_en=self.note_en)
        return out


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 3)


def pyramid_of(key: GroupKey, near_miss: int, minor: int, serious: int, *, min_records: int = 10) -> Pyramid:
    """One group's pyramid from its three counts.

    >>> p = pyramid_of(("310101",), 2, 8, 1)
    >>> p.thin_base, p.near_per_minor, p.minor_per_serious
    (True, 0.25, 8.0)
    >>> pyramid_of((), 0, 0, 0).sparse
    True
    """
    total = near_miss + minor + serious
    accidents = minor + serious
    sparse = total < min_records
    thin = accidents > 0 and near_miss < accidents
    if sparse:
        zh, en = (f"记录仅 {total} 条，比例参考意义有限", f"only {total} records: the ratios say little yet")
    elif thin:
        zh = (f"底部偏薄：未遂 {near_miss} 起少于事故 {accidents} 起。海因里希（300:29:1）与伯德（600:30:10:1）"
              "金字塔中底部为上一层的十倍以上，底部偏薄通常意味着未遂事件漏报")
        en = (f"thin base: {near_miss} near misses against {accidents} accidents. In Heinrich's (300:29:1) and "
              "Bird's (600:30:10:1) pyramids the base is ten or more times the layer above; a thin base usually "
              "means near misses go unreported")
    else:
        zh = f"未遂 : 轻微 : 较大及以上 = {near_miss} : {minor} : {serious}"
        en = f"near miss : minor : serious = {near_miss} : {minor} : {serious}"
    return Pyramid(key=key, near_miss=near_miss, minor=minor, serious=serious,
                   near_per_minor=_ratio(near_miss, minor), near_per_serious=_ratio(near_miss, serious),
                   minor_per_serious=_ratio(minor, serious),
                   base_share=None if total == 0 else round(near_miss / total, 3),
                   thin_base=thin, sparse=sparse, note_zh=zh, note_en=en)


def pyramids(records: Iterable[Record], *, by: Sequence[str] = ("district", "type"),
             min_records: int = 10) -> list[Pyramid]:
    """The pyramid of every group of ``records`` by the fields ``by`` (``()``: one pyramid for all), by size."""
    counts: dict[GroupKey, list[int]] = defaultdict(lambda: [0, 0, 0])
    for rec in records:
        if rec.kind not in KINDS:
            raise ValueError(f"unknown kind {rec.kind!r}; expected one of {KINDS}")
        counts[_key(rec, by)][KINDS.index(rec.kind)] += 1
    out = [pyramid_of(k, *c, min_records=min_records) for k, c in counts.items()]
    return sorted(out, key=lambda p: (-p.total, tuple("" if x is None else str(x) for x in p.key)))


# -- weekly series -----------------------------------------------------------------------------------------------


def weekly_series(records: Iterable[Record], *, by: Sequence[str], start: date, weeks: int,
                  tz: tzinfo | None = None) -> dict[GroupKey, list[int]]:
    """Counts per group per week: week 0 begins on ``start``'s Monday; records outside are left out.

    >>> recs = [Record(datetime(2025, 1, d), "minor", district="A") for d in (6, 7, 14, 30)]
    >>> weekly_series(recs, by=("district",), start=date(2025, 1, 6), weeks=3)
    {('A',): [2, 1, 0]}
    """
    first = week_start(start)
    out: dict[GroupKey, list[int]] = {}
    for rec in records:
        w = (local_date(rec.at, tz) - first).days // 7
        if 0 <= w < weeks:
            out.setdefault(_key(rec, by), [0] * weeks)[w] += 1
    return out


# -- Poisson helpers ---------------------------------------------------------------------------------------------


def poisson_sf(x: int, mu: float) -> float:
    """P(X >= x) for X ~ Poisson(mu), summed on the short side so small tails keep their precision.

    >>> round(poisson_sf(3, 1.0), 6)
    0.080301
    >>> poisson_sf(0, 2.0)
    1.0
    """
    if x <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    log_mu = math.log(mu)

    def pmf(k: int) -> float:
        return math.exp(k * log_mu - mu - math.lgamma(k + 1))

    if x > mu:  # the upper tail directly
        total, k = 0.0, x
        while True:
            term = pmf(k)
            total += term
            if term < total * 1e-15 or k > x + 10_000:
                return min(1.0, total)
            k += 1
    return max(0.0, 1.0 - math.fsum(pmf(k) for k in range(x)))


def poisson_pmf(kmax: int, mu: float) -> np.ndarray:
    """P(X = k) for k = 0..kmax."""
    ks = np.arange(kmax + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, kmax + 1)))))
    out: np.ndarray = np.exp(ks * math.log(mu) - mu - log_fact)
    return out


# -- trend alarms (Poisson CUSUM) --------------------------------------------------------------------------------


def cusum_reference(mu0: float, shift: float) -> float:
    """Lucas's reference value k = (mu1 - mu0) / (ln mu1 - ln mu0) for a rise from mu0 to shift × mu0."""
    mu1 = mu0 * shift
    return (mu1 - mu0) / (math.log(mu1) - math.log(mu0))


def cusum_arl(mu: float, k: float, h: float, *, states: int = 60) -> float:
    """Average run length of the CUSUM S = max(0, S + x - k) until S > h, for Poisson(mu) counts (Brook–Evans).

    >>> arl = cusum_arl(5.0, cusum_reference(5.0, 2.0), 6.0)
    >>> 100 < arl < 1000
    True
    """
    width = h / states
    mids = (np.arange(states) + 0.5) * width  # bin midpoints; bin 0 also stands for S = 0
    mids[0] = 0.0
    edges = np.arange(states + 1) * width  # the upper edges: S' in bin j when edges[j] <= S' < edges[j+1]
    kmax = int(math.ceil(h + k + mu + 12 * math.sqrt(mu) + 10))
    cdf = np.cumsum(poisson_pmf(kmax, mu))

    def cdf_at(v: np.ndarray) -> np.ndarray:  # P(X <= v) for real v
        idx = np.floor(v).astype(int)
        out = np.where(idx < 0, 0.0, cdf[np.clip(idx, 0, kmax)])
        return np.where(idx > kmax, 1.0, out)

    # S' = max(0, s + X - k) lands at or below a bin's upper edge when X <= edge + k - s
    upper = cdf_at(edges[None, 1:] + k - mids[:, None] - 1e-12)
    trans = np.diff(upper, axis=1, prepend=0.0)  # bin 0 also takes every S' <= 0
    try:
        arl = np.linalg.solve(np.eye(states) - trans, np.ones(states))
    except np.linalg.LinAlgError:
        return math.inf
    return float(arl[0])


@lru_cache(maxsize=4096)
def cusum_limit(mu0: float, shift: float, arl0: float) -> float:
    """The smallest decision limit h whose in-control average run length reaches ``arl0`` weeks."""
    k = cusum_reference(mu0, shift)
    lo, hi = 0.0, 1.0
    while cusum_arl(mu0, k, hi) < arl0:
        lo, hi = hi, hi * 2
        if hi > 1e4:
            return hi
    for _ in range(30):
        mid = (lo + hi) / 2
        if cusum_arl(mu0, k, mid) < arl0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 0.01 * max(1.0, hi):
            break
    return round(hi, 3)


@dataclass(frozen=True, slots=True)
class Alarm:
    """A CUSUM alarm on one weekly series: the week it fired and what it rested on."""

    week: int  # index into the series
    count: int
    baseline: float  # the trailing weekly mean it was judged against
    reference: float  # Lucas's k
    cusum: float
    limit: float  # the decision limit h
    run: list[int] = field(default_factory=list)  # the counts since the CUSUM last stood at zero
    rule: str = "cusum"  # "cusum" (a sustained rise) or "spike" (one week far above the baseline)
    p_value: float | None = None  # the week's Poisson tail probability against the baseline


def cusum_alarms(counts: Sequence[int], *, baseline_weeks: int = 12, guard_weeks: int = 2, shift: float = 1.5,
                 arl0: float = 520.0, min_baseline: float = 0.25, spike_p: float | None = None) -> list[Alarm]:
    """Weeks in which a one-sided Poisson CUSUM on ``counts`` fires; it restarts from zero after each alarm.

    Weeks before ``baseline_weeks + guard_weeks`` are the warm-up. ``min_baseline`` keeps a quiet series
    (zero counts for weeks) from treating any single event as a doubling. A CUSUM is slow to react to one
    sharp week, so (Lucas's combined Shewhart–CUSUM) a week whose Poisson tail probability against the
    baseline is below ``spike_p`` (default ``1 / (10 × arl0)``, costing about a tenth of the false-alarm
    budget) fires at once as a "spike".

    >>> steady = [3, 4, 2, 3, 5, 3, 4, 3, 2, 4, 3, 3, 4, 3, 2, 3]
    >>> cusum_alarms(steady + [3, 4, 3], baseline_weeks=8)
    []
    >>> [(a.week, a.rule, a.run) for a in cusum_alarms(steady + [9, 11, 12], baseline_weeks=8)]
    [(17, 'cusum', [9, 11]), (18, 'spike', [12])]
    """
    spike = 1.0 / (10.0 * arl0) if spike_p is None else spike_p
    alarms: list[Alarm] = []
    s, run = 0.0, list[int]()
    for t in range(baseline_weeks + guard_weeks, len(counts)):
        base = counts[t - guard_weeks - baseline_weeks:t - guard_weeks]
        mu0 = max(min_baseline, sum(base) / baseline_weeks)
        k = cusum_reference(mu0, shift)
        h = cusum_limit(float(f"{mu0:.2g}"), shift, arl0)  # two digits keep the cache of limits small
        s = max(0.0, s + counts[t] - k)
        run = [*run, counts[t]] if s > 0 else []
        p = poisson_sf(int(counts[t]), mu0) if counts[t] > mu0 else 1.0
        if s > h or p < spike:
            alarms.append(Alarm(week=t, count=counts[t], baseline=round(mu0, 3), reference=round(k, 3),
                                cusum=round(s, 3), limit=h, run=run, rule="cusum" if s > h else "spike",
                                p_value=float(f"{p:.3g}")))
            s, run = 0.0, []
    return alarms


@dataclass(frozen=True, slots=True)
class TrendAlarm:
    """"Precursors are rising" for one group: the week it fired (its Monday) and the evidence."""

    key: GroupKey
    week_start: date
    alarm: Alarm
    recent: list[int]  # the group's counts over the last weeks up to the alarm

    def as_dict(self, by: Sequence[str] = ()) -> dict[str, Any]:
        a = self.alarm
        out: dict[str, Any] = dict(zip(by, self.key, strict=False))
        out.update(week=self.week_start.isoformat(), rule=a.rule, count=a.count, baseline=a.baseline,
                   reference=a.reference, cusum=a.cusum, limit=a.limit, p_value=a.p_value, run=a.run,
                   recent=self.recent,
                   note_zh=f"{self.week_start.isoformat()} 当周 {a.count} 起，基线每周 {a.baseline}：先兆上升",
                   note_en=f"week of {self.week_start.isoformat()}: {a.count} against a baseline of "
                           f"{a.baseline}/week: precursors are rising")
        return out


def trend_alarms(series: Mapping[GroupKey, Sequence[int]], *, start: date, baseline_weeks: int = 12,
                 guard_weeks: int = 2, shift: float = 1.5, arl0: float = 520.0,
                 min_baseline: float = 0.25, spike_p: float | None = None) -> list[TrendAlarm]:
    """CUSUM alarms of every group's weekly series (``weekly_series``), newest first."""
    first = week_start(start)
    out = []
    for key, counts in series.items():
        for a in cusum_alarms(counts, baseline_weeks=baseline_weeks, guard_weeks=guard_weeks, shift=shift,
                              arl0=arl0, min_baseline=min_baseline, spike_p=spike_p):
            out.append(TrendAlarm(key=key, week_start=first + timedelta(weeks=a.week), alarm=a,
                                  recent=list(counts[max(0, a.week - 7):a.week + 1])))
    return sorted(out, key=lambda x: (x.week_start, x.alarm.cusum), reverse=True)
