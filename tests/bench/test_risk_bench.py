"""`citybrain bench risk` at a tiny scale: the figures are there and incremental equals a full rebuild."""

from __future__ import annotations

import json
import math

from citybrain.analytics.riskmap import RiskMap
from citybrain.bench import BENCHMARKS
from citybrain.bench.risk import synthetic_evidence

KEYS = {"full_ms", "incremental_ms", "incremental_p99_ms", "naive_full_ms", "ratio", "cells", "evidence_items",
        "agree", "meets_targets"}


def test_tiny_run_reports_every_figure_and_agrees() -> None:
    lines: list[str] = []
    result = BENCHMARKS["risk"][1](log=lines.append, rows=400, devices=2_000, trials=40, runs=2)
    json.dumps(result)
    assert result.keys() >= KEYS and lines
    for k in ("full_ms", "incremental_ms", "naive_full_ms", "ratio"):
        assert isinstance(result[k], float) and math.isfinite(result[k]) and result[k] > 0, k
    # 60 silent devices + 400 hazards + 160 incidents + 80 risk points + 16 warnings
    assert result["evidence_items"] == 716 and 0 < result["cells"] <= 716
    assert result["agree"] == "2/2"


def test_synthetic_evidence_is_inside_the_city_and_incremental_matches_a_rebuild() -> None:
    scale = {"devices": 1_000, "silent_share": 0.05, "hazards": 300, "incidents": 100, "risk_points": 50,
             "warnings": 20}
    evidence, districts, _union, _box = synthetic_evidence(scale)
    assert len(evidence) == 520 and len({e.ref for e in evidence}) == 520
    assert sum(e.district_code is not None for e in evidence) >= 515  # inside the outlines (borders aside)
    config = {"district_cells": districts.area_cells}
    m = RiskMap.build(evidence[:-1], **config)
    cell = m.add(evidence[-1])
    fresh = RiskMap.build(evidence, **config)
    assert m.cell_snapshot(cell) == fresh.cell_snapshot(cell)
    code = evidence[-1].district_code
    assert code is None or m.district_snapshot(code) == fresh.district_snapshot(code)
