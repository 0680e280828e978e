"""The precursor methods on synthetic series: pyramids, CUSUM trend alarms and emerging hotspots."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

from citybrain.analytics import hotspots as hs
from citybrain.analytics import precursors as pc

START = date(2025, 1, 6)  # a Monday


def _at(week: int, i: int = 0) -> datetime:
    return datetime(START.year, START.month, START.day, 9) + timedelta(weeks=week, hours=i % 100)


def test_pyramid_counts_ratios_and_a_thin_base_per_group() -> None:
    recs = ([pc.Record(_at(0), "near_miss", district="A", type="gas")] * 30
            + [pc.Record(_at(0), "minor", district="A", type="gas")] * 3
            + [pc.Record(_at(0), "serious", district="A", type="gas")]
            + [pc.Record(_at(0), "near_miss", district="B", type="gas")] * 2
            + [pc.Record(_at(0), "minor", district="B", type="gas")] * 9
            + [pc.Record(_at(0), "serious", district="B", type="gas")] * 1)
    by_district = {p.key: p for p in pc.pyramids(recs, by=("district",))}
    a, b = by_district[("A",)], by_district[("B",)]
    assert (a.near_miss, a.minor, a.serious) == (30, 3, 1)
    assert a.near_per_minor == 10.0 and a.minor_per_serious == 3.0 and a.near_per_serious == 30.0
    assert not a.thin_base and not a.sparse
    assert b.thin_base and b.near_per_minor == round(2 / 9, 3)
    assert "unreported" in b.note_en and "漏报" in b.note_zh
    (everything,) = pc.pyramids(recs, by=())
    assert everything.total == len(recs)


def test_a_pyramid_with_no_accidents_has_no_ratio_and_is_not_thin() -> None:
    p = pc.pyramid_of(("A",), 4, 0, 0)
    assert p.near_per_minor is None and p.minor_per_serious is None and not p.thin_base and p.sparse


def test_weekly_series_bins_by_monday_and_drops_records_outside() -> None:
    recs = [pc.Record(_at(0), "minor", district="A"), pc.Record(_at(2), "minor", district="A"),
            pc.Record(_at(-1), "minor", district="A"), pc.Record(_at(5), "minor", district="A")]
    assert pc.weekly_series(recs, by=("district",), start=START, weeks=4) == {("A",): [1, 0, 1, 0]}


def test_the_cusum_limit_gives_the_in_control_run_length_asked_for() -> None:
    mu = 4.0
    k = pc.cusum_reference(mu, 1.5)
    h = pc.cusum_limit(mu, 1.5, 520.0)
    assert 520.0 <= pc.cusum_arl(mu, k, h) < 700.0
    assert pc.cusum_arl(mu, k, h * 0.8) < 520.0
    # a shifted series is caught far sooner than the steady one raises a false alarm
    assert pc.cusum_arl(mu * 1.5, k, h) < 15


def test_a_step_change_is_flagged_within_a_few_weeks() -> None:
    delays = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        counts = [int(v) for v in rng.poisson(4.0, 60)] + [int(v) for v in rng.poisson(10.0, 20)]
        fired = [a.week for a in pc.cusum_alarms(counts) if a.week >= 60]
        assert fired, f"seed {seed}: the step was never flagged"
        delays.append(fired[0] - 60)
    assert max(delays) <= 4
    assert sorted(delays)[len(delays) // 2] <= 2


def test_a_stationary_poisson_series_raises_few_false_alarms() -> None:
    rng = np.random.default_rng(7)
    counts = [int(v) for v in rng.poisson(3.0, 1040)]  # twenty years of weeks
    alarms = pc.cusum_alarms(counts)
    assert len(alarms) <= 6  # the design is one per ~520 weeks; an estimated baseline costs a little


def test_trend_alarms_name_the_group_the_week_and_the_evidence() -> None:
    quiet = [3] * 20
    rising = [3] * 16 + [9, 10, 12, 12]
    alarms = pc.trend_alarms({("A", "gas"): quiet, ("B", "gas"): rising}, start=START)
    assert {a.key for a in alarms} == {("B", "gas")}
    first = min(alarms, key=lambda a: a.week_start)
    assert first.week_start == START + timedelta(weeks=first.alarm.week)
    d = first.as_dict(("district", "type"))
    assert d["district"] == "B" and d["count"] >= 9 and d["baseline"] == 3.0 and d["cusum"] > d["limit"]
    assert d["run"][-1] == d["count"]


def test_mann_kendall_and_benjamini_hochberg() -> None:
    z, p = hs.mann_kendall([5, 4, 3, 3, 2, 1])
    assert z < 0 and p < 0.05
    assert hs.mann_kendall([1, 3, 2, 3, 1, 2])[1] > 0.2
    q = hs.benjamini_hochberg([0.001, 0.2, 0.01, 0.04])
    assert q == sorted(q, key=lambda _: 0) and q[0] == 0.004 and q[1] == 0.2 and abs(q[2] - 0.02) < 1e-12


def test_poisson_tail_matches_a_direct_sum() -> None:
    import math

    for x, mu in ((1, 0.3), (5, 2.0), (30, 10.0), (8, 12.0)):
        direct = 1 - sum(math.exp(-mu) * mu ** i / math.factorial(i) for i in range(x))
        assert abs(pc.poisson_sf(x, mu) - direct) < 1e-9


def _city(rng: np.random.Generator, weeks: int, cells: int, planted: dict[int, list[float]]) -> list[pc.Record]:
    grid = hs.Grid(lat0=31.2)
    recs = []
    for c in range(cells):
        lon = 121.0 + (c % 20) * grid.dlon + grid.dlon / 2
        lat = 31.0 + (c // 20) * grid.dlat + grid.dlat / 2
        for w in range(weeks):
            rate = planted.get(c, [0.3] * weeks)[w]
            recs.extend(pc.Record(_at(w, i), "near_miss", lon=lon, lat=lat) for i in range(rng.poisson(rate)))
    return recs


def test_a_planted_new_hotspot_is_found_and_nothing_else() -> None:
    rng = np.random.default_rng(3)
    weeks = 26
    planted = {57: [0.3] * 22 + [3.0] * 4}
    recs = _city(rng, weeks, 200, planted) + [pc.Record(_at(3), "minor")]  # one record without coordinates
    report = hs.emerging_hotspots(recs, grid=hs.Grid(lat0=31.2), start=START, weeks=weeks)
    assert report.skipped == 1 and report.weeks == weeks
    assert [h.cell for h in report.hotspots] == [hs.Grid(lat0=31.2).cell(121.0 + 17.5 * hs.Grid(31.2).dlon,
                                                                         31.0 + 2.5 * hs.Grid(31.2).dlat)]
    (hot,) = report.hotspots
    assert hot.emerging and report.emerging == [hot]
    assert hot.category in ("new", "consecutive") and hot.recent_count >= 8 and hot.q_emerging <= 0.05
    assert hot.series[-4:] == [int(v) for v in hot.series[-4:]] and sum(hot.series[-4:]) == hot.recent_count


def test_a_cell_hot_all_along_and_rising_is_intensifying_and_one_steady_hot_cell_persistent() -> None:
    rng = np.random.default_rng(11)
    weeks = 30
    planted = {10: [2.0 + 0.25 * w for w in range(weeks)], 90: [4.0] * weeks}
    report = hs.emerging_hotspots(_city(rng, weeks, 200, planted), grid=hs.Grid(lat0=31.2), start=START,
                                  weeks=weeks)
    classes = {h.cell: h.category for h in report.hotspots}
    emerging = {h.cell for h in report.emerging}
    grid = hs.Grid(lat0=31.2)
    rising = grid.cell(121.0 + 10.5 * grid.dlon, 31.0 + 0.5 * grid.dlat)
    steady = grid.cell(121.0 + 10.5 * grid.dlon, 31.0 + 4.5 * grid.dlat)
    assert classes.get(rising) == "intensifying"
    assert classes.get(steady) == "persistent"
    assert len(classes) == 2
    assert steady not in emerging  # hot, but no higher than it always was


def test_classification_rules() -> None:
    assert hs._classify([False, False, True], 0.0, 1.0, alpha=0.05) == "new"
    assert hs._classify([False, True, True], 0.0, 1.0, alpha=0.05) == "consecutive"
    assert hs._classify([True, False, True, True], 0.0, 1.0, alpha=0.05) == "sporadic"
    assert hs._classify([True] * 10, 3.0, 0.001, alpha=0.05) == "intensifying"
    assert hs._classify([True] * 10, 0.5, 0.6, alpha=0.05) == "persistent"


def test_one_sharp_week_fires_as_a_spike_without_waiting_for_the_cusum() -> None:
    counts = [2] * 20 + [10]
    (alarm,) = pc.cusum_alarms(counts)
    assert alarm.week == 20 and alarm.rule == "spike" and alarm.cusum < alarm.limit
    assert alarm.p_value is not None and alarm.p_value < 1e-4
    assert pc.cusum_alarms(counts, spike_p=0.0) == []  # the spike rule can be turned off
