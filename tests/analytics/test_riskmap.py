"""The risk map core: incremental changes equal a full rebuild; colours, caps, baselines, explanations."""

from __future__ import annotations

import random

import pytest

from citybrain.analytics.evidence import Evidence
from citybrain.analytics.grid import SHANGHAI
from citybrain.analytics.riskmap import Bands, RiskMap

KINDS = ("assessment", "hazard", "warning", "incident", "near_miss", "sensing_gap")


def ev(ref: str, lon: float = 121.47, lat: float = 31.23, weight: float = 10.0, kind: str = "hazard",
       district: str | None = "310101") -> Evidence:
    return Evidence(kind=kind, ref=ref, lon=lon, lat=lat, weight=weight, label_zh=f"证据 {ref}",
                    label_en=f"evidence {ref}", district_code=district)


def random_item(rng: random.Random, ref: str) -> Evidence:
    # a small box so cells hold many items each
    return ev(ref, rng.uniform(121.46, 121.48), rng.uniform(31.22, 31.235), round(rng.uniform(0.5, 40), 3),
              rng.choice(KINDS), rng.choice(["310101", "310104", None]))


def same(a: RiskMap, b: RiskMap) -> None:
    assert sorted(a.cell_ids()) == sorted(b.cell_ids())
    for cell in a.cell_ids():
        assert a.cell_snapshot(cell) == b.cell_snapshot(cell), cell
    assert sorted(a.district_codes()) == sorted(b.district_codes())
    for code in a.district_codes():
        assert a.district_snapshot(code) == b.district_snapshot(code), code
        assert a.district_score(code) == b.district_score(code)


def test_random_adds_removes_and_replaces_equal_a_full_rebuild() -> None:
    rng = random.Random(42)
    live: dict[str, Evidence] = {}
    m = RiskMap.build([])
    for step in range(1500):
        op = rng.random()
        if op < 0.5 or not live:
            e = random_item(rng, f"x:{step}")
            m.add(e)
            live[e.ref] = e
        elif op < 0.75:
            ref = rng.choice(sorted(live))
            assert m.remove(ref) == live.pop(ref)
        else:
            ref = rng.choice(sorted(live))
            e = random_item(rng, ref)  # moved, reweighted, maybe another kind and district
            m.replace(e)
            live[ref] = e
        if step % 300 == 299:
            same(m, RiskMap.build(live.values()))
    same(m, RiskMap.build(live.values()))
    assert len(m) == len(live)


def test_build_keeps_the_last_item_of_a_ref() -> None:
    far = ev("a", 121.6, 31.3, 5)
    m = RiskMap.build([ev("a", weight=50), far])
    assert m.score(m.cell_of(121.47, 31.23)) == 0
    assert m.score(m.cell_of(121.6, 31.3)) == 5
    assert m.district_snapshot("310101")["total"] == 5


def test_remove_unknown_ref_is_a_no_op() -> None:
    m = RiskMap.build([ev("a")])
    assert m.remove("nope") is None and len(m) == 1


@pytest.mark.parametrize(("weight", "colour"), [(60, "red"), (59.9, "orange"), (30, "orange"), (10, "yellow"),
                                                (9.99, "blue"), (0.1, "blue")])
def test_default_colour_bands(weight: float, colour: str) -> None:
    m = RiskMap.build([ev("a", weight=weight)])
    assert m.colour(m.cell_of(121.47, 31.23)) == colour


def test_bands_are_configurable_and_empty_cells_are_none() -> None:
    m = RiskMap.build([ev("a", weight=12)], bands=Bands(red=12, orange=6, yellow=2))
    assert m.colour(m.cell_of(121.47, 31.23)) == "red"
    assert m.colour(m.cell_of(121.9, 31.0)) == "none"


def test_sensing_gaps_are_capped_per_cell() -> None:
    gaps = [ev(f"device:{i}", 121.47 + i * 1e-5, kind="sensing_gap", weight=2) for i in range(20)]
    m = RiskMap.build(gaps)
    cell = m.cell_of(121.47, 31.23)
    assert m.score(cell) == 10  # 20 silent devices × 2, capped at 10: blue-yellow, never red by itself
    explained = m.explain_cell(cell)
    assert explained["contributions"][0] | {"weight": 40.0, "counted": 10.0, "capped": True, "count": 20} == \
        explained["contributions"][0]
    m2 = RiskMap.build(gaps, caps={})
    assert m2.score(cell) == 40


def test_baseline_is_assessment_only_and_live_evidence_raises_it() -> None:
    m = RiskMap.build([ev("risk_point:1", kind="assessment", weight=20), ev("warning:1", kind="warning", weight=25),
                       ev("hazard:1", kind="hazard", weight=30)])
    cell = m.cell_of(121.47, 31.23)
    assert (m.colour(cell), m.baseline_colour(cell)) == ("red", "yellow")
    x = m.explain_cell(cell, top=2)
    assert x["score"] == 75 and x["baseline_score"] == 20 and x["dynamic_added"] == 55
    assert x["raised_by_live_evidence"] is True
    assert [c["kind"] for c in x["contributions"]] == ["hazard", "warning", "assessment"]
    assert [t["ref"] for t in x["top"]] == ["hazard:1", "warning:1"]
    assert x["top"][0]["label_zh"] == "证据 hazard:1" and x["top"][0]["label_en"] == "evidence hazard:1"
    assert x["band_zh"] == "重大风险" and x["band_en"] == "major risk"
    assert "隐患 30" in x["summary_zh"] and "hazards 30" in x["summary_en"]
    assert x["polygon"] == SHANGHAI.polygon(cell) and x["items"] == 3


def test_empty_cell_explains_itself_and_bad_id_is_refused() -> None:
    m = RiskMap.build([])
    x = m.explain_cell("r1c1")
    assert x["colour"] == "none" and x["contributions"] == [] and x["top"] == []
    with pytest.raises(ValueError):
        m.explain_cell("nonsense")


def test_district_totals_and_scores() -> None:
    items = [ev("a", weight=30), ev("b", 121.5, 31.25, weight=20), ev("c", 121.44, 31.19, 15, "incident", "310104"),
             ev("d", weight=7, district=None)]
    m = RiskMap.build(items, district_cells={"310101": 10.0})
    assert m.district_snapshot("310101")["total"] == 50
    assert m.district_score("310101") == 5.0  # 50 over 10 cells of area
    assert m.district_colour("310101") == "orange"
    # without a known area the score is per cell holding evidence
    assert m.district_score("310104") == 15.0 and m.district_colour("310104") == "red"
    assert sorted(m.district_codes()) == ["310101", "310104"]
    x = m.explain_district("310101")
    assert x["total"] == 50 and x["score"] == 5.0 and x["area_cells"] == 10.0
    assert [t["ref"] for t in x["top"]] == ["a", "b"]
    m.remove("a")
    m.remove("b")
    assert "310101" not in m.district_codes() and m.district_score("310101") == 0


def test_cells_filter_by_bbox_and_min_colour_and_summary() -> None:
    m = RiskMap.build([ev("a", weight=70), ev("b", 121.6, 31.3, 35), ev("c", 121.3, 31.1, 2)])
    assert {c["colour"] for c in m.cells()} == {"red", "orange", "blue"}
    assert [c["colour"] for c in m.cells(min_colour="orange")] in (["red", "orange"], ["orange", "red"])
    inside = list(m.cells(bbox=(121.46, 31.22, 121.48, 31.24)))
    assert [c["score"] for c in inside] == [70.0] and inside[0]["counts"] == {"hazard": 1}
    s = m.summary(top=2)
    assert s["cells_by_colour"] == {"blue": 1, "yellow": 0, "orange": 1, "red": 1}
    assert [t["score"] for t in s["top"]] == [70.0, 35.0] and s["items"] == 3
    with pytest.raises(ValueError):
        list(m.cells(min_colour="purple"))
