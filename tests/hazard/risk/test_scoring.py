"""LEC and 5 × 5 matrix scoring: value sets, bands and their boundaries, refused factors, custom bands."""

from __future__ import annotations

import itertools

import pytest

from citybrain.hazard.risk import scoring
from citybrain.hazard.risk.scoring import Band, ScoringError


@pytest.mark.parametrize(("factors", "score", "level", "band"), [
    ({"L": 10, "E": 6, "C": 7}, 420.0, "red", "极其危险"),
    ({"L": 6, "E": 6, "C": 7}, 252.0, "orange", "高度危险"),
    ({"L": 3, "E": 6, "C": 7}, 126.0, "yellow", "显著危险"),
    ({"L": 10, "E": 1, "C": 7}, 70.0, "yellow", "显著危险"),  # a band holds its lower bound
    ({"L": 1, "E": 6, "C": 7}, 42.0, "blue", "一般危险"),
    ({"L": 0.5, "E": 2, "C": 3}, 3.0, "blue", "稍有危险"),
])
def test_lec_scores_fall_in_the_standard_bands(factors: dict[str, float], score: float, level: str,
                                               band: str) -> None:
    r = scoring.assess("lec", factors)
    assert (r.score, r.level, r.band.name_zh) == (score, level, band)


@pytest.mark.parametrize(("likelihood", "severity", "level", "band"), [
    (5, 5, "red", "重大"), (4, 5, "red", "重大"), (4, 4, "orange", "较大"), (3, 5, "orange", "较大"),
    (3, 3, "yellow", "一般"), (2, 5, "yellow", "一般"), (2, 4, "blue", "低"), (1, 1, "blue", "低"),
])
def test_matrix_scores_fall_in_the_default_bands(likelihood: int, severity: int, level: str, band: str) -> None:
    r = scoring.assess("matrix", {"likelihood": likelihood, "severity": severity})
    assert r.score == likelihood * severity
    assert (r.level, r.band.name_zh) == (level, band)


@pytest.mark.parametrize(("method", "factors", "field"), [
    ("lec", {"L": 4, "E": 6, "C": 7}, "L"),          # not in the value set
    ("lec", {"L": 3, "E": 7, "C": 7}, "E"),
    ("lec", {"L": 3, "E": 6, "C": 50}, "C"),
    ("lec", {"L": 3, "E": 6}, "C"),                  # missing
    ("lec", {"L": 3, "E": 6, "C": 7, "X": 1}, "X"),  # unknown
    ("matrix", {"likelihood": 6, "severity": 2}, "likelihood"),
    ("matrix", {"likelihood": 2, "severity": 0}, "severity"),
    ("matrix", {"likelihood": "high", "severity": 2}, "likelihood"),
    ("matrix", {"likelihood": True, "severity": 2}, "likelihood"),
])
def test_out_of_range_factors_are_refused_naming_the_factor(method: str, factors: dict[str, object],
                                                            field: str) -> None:
    with pytest.raises(ScoringError) as exc:
        scoring.assess(method, factors)
    assert field in [p.field for p in exc.value.problems]


def test_every_product_of_the_value_sets_lands_in_exactly_one_band() -> None:
    for method in scoring.METHODS:
        values = scoring.factor_values(method)
        names = list(values)
        lo, hi = scoring.score_range(method)
        for combo in itertools.product(*values.values()):
            r = scoring.assess(method, dict(zip(names, combo, strict=True)))
            assert lo <= r.score <= hi
            assert r.band.low <= r.score <= r.band.high


def test_custom_bands_change_the_level() -> None:
    bands = scoring.check_bands("matrix", [Band(1, 4, "blue", "低", "low"), Band(5, 11, "yellow", "一般", "moderate"),
                                           Band(12, 25, "red", "重大", "major")])
    assert scoring.assess("matrix", {"likelihood": 3, "severity": 4}, bands).level == "red"
    assert scoring.assess("matrix", {"likelihood": 3, "severity": 4}).level == "yellow"


@pytest.mark.parametrize(("method", "bands", "field", "fragment"), [
    ("matrix", [Band(1, 10, "blue", "低", "low"), Band(12, 25, "red", "高", "high")], "bands[1].low", "gap"),
    ("matrix", [Band(1, 10, "blue", "低", "low"), Band(9, 25, "red", "高", "high")], "bands[1].low", "overlaps"),
    ("matrix", [Band(2, 10, "blue", "低", "low"), Band(11, 25, "red", "高", "high")], "bands[0].low", "lowest"),
    ("matrix", [Band(1, 10, "blue", "低", "low"), Band(11, 24, "red", "高", "high")], "bands[1].high", "reach"),
    ("matrix", [Band(1, 10.5, "blue", "低", "low"), Band(11, 25, "red", "高", "high")], "bands[0].low", "whole"),
    ("lec", [Band(0, 100, "blue", "低", "low"), Band(90, 10000, "red", "高", "high")], "bands[1].low", "overlaps"),
    ("lec", [Band(0, 100, "blue", "低", "low"), Band(100, 10000, "pink", "高", "high")], "bands[1].level", "one of"),
    ("lec", [Band(0, 100, "blue", "", "low"), Band(100, 10000, "red", "高", "high")], "bands[0].name_zh", "name"),
    ("lec", [], "bands", "at least one"),
])
def test_band_sets_must_be_contiguous_non_overlapping_and_cover_the_range(
        method: str, bands: list[Band], field: str, fragment: str) -> None:
    with pytest.raises(ScoringError) as exc:
        scoring.check_bands(method, bands)
    problems = {p.field: p.message for p in exc.value.problems}
    assert field in problems
    assert fragment in problems[field]


def test_bands_are_sorted_and_round_trip_through_json() -> None:
    given = [Band(100, 10000, "red", "高", "high"), Band(0, 100, "blue", "低", "low")]
    checked = scoring.check_bands("lec", given)
    assert [b.low for b in checked] == [0, 100]
    assert scoring.bands_from_json(scoring.bands_to_json(checked)) == list(checked)
    with pytest.raises(ScoringError) as exc:
        scoring.bands_from_json([{"low": "x", "high": 3}])
    assert exc.value.problems[0].field == "bands[0].low"


def test_the_default_bands_pass_their_own_check() -> None:
    for method in scoring.METHODS:
        assert scoring.check_bands(method, scoring.DEFAULT_BANDS[method]) == scoring.DEFAULT_BANDS[method]
