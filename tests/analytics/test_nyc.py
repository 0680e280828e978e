"""The NYC validation on a fixture cut from the real crash file: pyramid counts against an independent count."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.analytics import nyc
from tests.support import shared_data

ROWS = 3000


@pytest.fixture(scope="module")
def fixture_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = nyc.locate(shared_data() / "nyc_collisions")
    out = tmp_path_factory.mktemp("nyc") / "first_rows.csv"
    with source.open(newline="", encoding="utf-8") as src, out.open("w", newline="", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i > ROWS:
                break
            dst.write(line)
    return out


def _independent_counts(path: Path) -> tuple[Counter[tuple[str, str]], int]:
    counts: Counter[tuple[str, str]] = Counter()
    no_coords = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            killed, injured = int(row["NUMBER OF PERSONS KILLED"]), int(row["NUMBER OF PERSONS INJURED"])
            layer = "fatal" if killed else "injury" if injured else "no_injury"
            counts[(row["BOROUGH"] or "UNKNOWN", layer)] += 1
            counts[("ALL", layer)] += 1
            lat, lon = float(row["LATITUDE"] or 0), float(row["LONGITUDE"] or 0)
            no_coords += not (40.45 <= lat <= 40.95 and -74.3 <= lon <= -73.65)
    return counts, no_coords


def test_pyramids_per_borough_match_an_independent_count(fixture_csv: Path) -> None:
    result = nyc.analyse(fixture_csv, baseline_weeks=1)
    expected, no_coords = _independent_counts(fixture_csv)
    assert result.crashes == ROWS
    assert result.without_coordinates == no_coords
    got = result.as_dict()["pyramids"]
    assert got[0]["borough"] == "ALL"
    for p in got:
        for layer in ("no_injury", "injury", "fatal"):
            assert p[layer] == expected[(p["borough"], layer)], (p["borough"], layer)
    assert {p["borough"] for p in got} == {b for b, _ in expected}


def test_the_whole_file_runs_fast_and_prints_json_last(fixture_csv: Path) -> None:
    from citybrain.cli import app

    full = nyc.locate(shared_data() / "nyc_collisions")
    r = CliRunner().invoke(app, ["analyze", "nyc", "--data", str(full), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["crashes"] == 19_344 and out["weeks"] == 12 and out["from_week"] == "2025-01-06"
    assert out["without_coordinates"] > 0 and out["hotspots"]["cells"] > 1000
    assert sum(p["total"] for p in out["pyramids"][1:]) == out["pyramids"][0]["total"] == 19_344
    assert all(a["count"] > a["baseline"] for a in out["alarms"])
    assert out["seconds"] < 30
    assert "pyramid" in r.output


def test_a_missing_file_is_an_error_naming_the_path(tmp_path: Path) -> None:
    from citybrain.cli import app

    r = CliRunner().invoke(app, ["analyze", "nyc", "--data", str(tmp_path / "none.csv"), "--json"])
    assert r.exit_code == 1
    assert "none.csv" in json.loads(r.output.strip().splitlines()[-1])["error"]
