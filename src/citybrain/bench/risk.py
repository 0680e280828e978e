"""`citybrain bench risk`: the dynamic risk map for the whole city, full and incremental, vs. a naive recomputation.

Synthetic evidence is drawn (seeded) inside Shanghai's district outlines: a sensor fleet of which a few
per cent are silent (sensing gaps), open hazards, a year of incidents, assessed risk points and active
warnings. ``full_ms`` is ``RiskMap.build`` over all of it (median of a few runs); ``incremental_ms`` the
time to apply one new warning to the built map (median and p99 over many trials, each trial's warning
withdrawn again afterwards); ``naive_full_ms`` the straightforward way to show that same new warning:
rebuild every cell from all the evidence plus the new item. ``ratio`` = naive / incremental median.
``agree`` checks that each sampled incremental result equals the full rebuild's, cell and district.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from citybrain.analytics.evidence import Evidence
from citybrain.analytics.riskmap import RiskMap
from citybrain.analytics.service import Districts
from citybrain.analytics.sources import incident_weight, warning_weight
from citybrain.bench.spatial import _p

Log = Callable[[str], None]
SCALE = {"devices": 100_000, "silent_share": 0.03, "hazards": 50_000, "incidents": 20_000, "risk_points": 10_000,
         "warnings": 2_000}
HAZARD_WEIGHTS = (30.0, 10.0, 5.0)  # major / general / ungraded, as hazard.evidence weighs them
RISK_WEIGHTS = (40.0, 20.0, 10.0, 3.0)  # red / orange / yellow / blue, as hazard.risk.evidence weighs them


def _points(rng: np.random.Generator, n: int, union: Any, box: tuple[float, float, float, float]
            ) -> tuple[list[float], list[float]]:
    """``n`` uniform points inside the union of the district outlines (rejection sampling)."""
    lons: list[float] = []
    lats: list[float] = []
    while len(lons) < n:
        want = max(1000, int((n - len(lons)) * 1.6))
        x = rng.uniform(box[0], box[2], want)
        y = rng.uniform(box[1], box[3], want)
        inside = shapely.contains_xy(union, x, y)
        lons += x[inside].tolist()
        lats += y[inside].tolist()
    return lons[:n], lats[:n]


def synthetic_evidence(scale: dict[str, Any], *, seed: int = 11) -> tuple[list[Evidence], Districts, Any, tuple]:
    """The whole city's evidence at ``scale``, with district codes, plus the districts and their union."""
    from datetime import timedelta

    from citybrain.geo.loaders import load_shanghai

    regions = load_shanghai().regions
    districts = Districts.from_geometries((r.code, r.name_zh, r.name_en, shape(r.geometry)) for r in regions)
    union = shapely.union_all(districts.geoms)
    shapely.prepare(union)
    box = union.bounds
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    out: list[Evidence] = []

    silent = int(scale["devices"] * scale["silent_share"])
    lons, lats = _points(rng, silent, union, box)
    out += [Evidence("sensing_gap", f"device:{i}", lons[i], lats[i], 2.0, f"设备离线 D{i}", f"device D{i} offline")
            for i in range(silent)]
    lons, lats = _points(rng, scale["hazards"], union, box)
    for i in range(scale["hazards"]):
        w = pick.choices(HAZARD_WEIGHTS, weights=(1, 6, 13))[0]
        out.append(Evidence("hazard", f"hazard:{i}", lons[i], lats[i], w, f"隐患 {i}", f"hazard {i}"))
    lons, lats = _points(rng, scale["incidents"], union, box)
    for i in range(scale["incidents"]):
        w = incident_weight(pick.choices((1, 2, 3, 4), weights=(1, 4, 25, 70))[0], timedelta(days=pick.uniform(0, 365)))
        out.append(Evidence("incident", f"incident:{i}", lons[i], lats[i], w, f"事件 {i}", f"incident {i}"))
    lons, lats = _points(rng, scale["risk_points"], union, box)
    for i in range(scale["risk_points"]):
        w = pick.choices(RISK_WEIGHTS, weights=(2, 8, 30, 60))[0]
        out.append(Evidence("assessment", f"risk_point:{i}", lons[i], lats[i], w, f"风险点 {i}", f"risk point {i}"))
    lons, lats = _points(rng, scale["warnings"], union, box)
    for i in range(scale["warnings"]):
        w = warning_weight(pick.choices((1, 2, 3, 4), weights=(1, 3, 10, 20))[0])
        out.append(Evidence("warning", f"warning:{i}", lons[i], lats[i], w, f"预警 {i}", f"warning {i}"))
    return districts.with_districts(out), districts, union, box


def run(*, log: Log, rows: int | None = None, devices: int | None = None, trials: int | None = None,
        runs: int | None = None, **_: Any) -> dict[str, Any]:
    """``rows`` scales the hazards (the other kinds in proportion); ``devices`` sets the fleet size."""
    scale = dict(SCALE)
    if rows:
        factor = rows / SCALE["hazards"]
        for k in ("hazards", "incidents", "risk_points", "warnings"):
            scale[k] = max(1, int(SCALE[k] * factor))
    if devices:
        scale["devices"] = devices
    n_trials = trials or 2000
    n_runs = runs or 3

    t0 = time.perf_counter()
    evidence, districts, union, box = synthetic_evidence(scale)
    log(f"{len(evidence):,} evidence items generated in {time.perf_counter() - t0:.1f} s "
        f"({scale['devices']:,} devices, {scale['hazards']:,} hazards, {scale['incidents']:,} incidents)")
    config = {"district_cells": districts.area_cells}

    full: list[float] = []
    rm = RiskMap.build([], **config)
    for _ in range(n_runs):
        t = time.perf_counter()
        rm = RiskMap.build(evidence, **config)
        full.append((time.perf_counter() - t) * 1000)
    log(f"full build: {statistics.median(full):.0f} ms median of {n_runs}, {len(rm.cell_ids()):,} cells with evidence")

    rng = np.random.default_rng(99)
    lons, lats = _points(rng, n_trials, union, box)
    codes = districts.locate_many(lons, lats)
    new = [Evidence("warning", f"warning:new{i}", lons[i], lats[i], warning_weight(1 + i % 4), "新预警", "new warning",
                    codes[i]) for i in range(n_trials)]
    incremental: list[float] = []
    sample_every = max(1, n_trials // max(1, n_runs))
    naive: list[float] = []
    agree = checked = 0
    for i, e in enumerate(new):
        t = time.perf_counter()
        cell = rm.add(e)
        incremental.append((time.perf_counter() - t) * 1000)
        if i % sample_every == 0 and len(naive) < n_runs:
            t = time.perf_counter()
            fresh = RiskMap.build([*evidence, e], **config)  # the naive way: every cell from all evidence
            naive.append((time.perf_counter() - t) * 1000)
            checked += 1
            same_cell = rm.cell_snapshot(cell) == fresh.cell_snapshot(cell)
            same_district = e.district_code is None or (
                rm.district_snapshot(e.district_code) == fresh.district_snapshot(e.district_code))
            agree += same_cell and same_district
        rm.remove(e.ref)
    inc50, inc99 = statistics.median(incremental), _p(incremental, 0.99)
    naive50 = statistics.median(naive)
    r0, c0, r1, c1 = rm.grid.index_range(box)
    return {
        "benchmark": "risk", "evidence_items": len(evidence), "cells": len(rm.cell_ids()),
        "grid_cells_in_bbox": (r1 - r0 + 1) * (c1 - c0 + 1), "districts": len(districts.codes),
        "devices": scale["devices"], "silent_devices": int(scale["devices"] * scale["silent_share"]),
        "hazards": scale["hazards"], "incidents": scale["incidents"], "risk_points": scale["risk_points"],
        "warnings": scale["warnings"],
        "full_ms": round(statistics.median(full), 1), "incremental_ms": round(inc50, 4),
        "incremental_p99_ms": round(inc99, 4), "incremental_trials": n_trials,
        "naive_full_ms": round(naive50, 1), "ratio": round(naive50 / inc50, 1) if inc50 else None,
        "agree": f"{agree}/{checked}", "targets": {"incremental_ms": 50, "full_ms": 5000},
        "meets_targets": inc50 <= 50 and statistics.median(full) <= 5000,
    }
