"""WGS84 / GCJ-02 / BD-09 conversions, haversine distance and GeoJSON geometry mapping."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from citybrain.geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    out_of_china,
    out_of_china_array,
    transform_geometry,
    transform_geometry_array,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    wgs84_to_gcj02_array,
)

try:  # the lead's helper, when it exists
    from tests.support import shared_data as _support_shared_data  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the checkout
    _support_shared_data = None


def shared_data() -> Path:
    """The shared data folder; skips (the lead's conftest turns this into a failure in CI) if absent."""
    if isinstance(_support_shared_data, str | os.PathLike):
        return Path(_support_shared_data)
    if callable(_support_shared_data):
        return Path(_support_shared_data())
    repo = Path(__file__).resolve().parents[2]
    for candidate in (Path("/work/shared/data"), repo.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    pytest.skip("shared data folder not found (/work/shared/data or ../shared/data)")


PEOPLES_SQUARE = (121.4737, 31.2304)


def _district_pairs(step: int = 97) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(gcj02, wgs84) vertex pairs from the same district polygons in both CRSs."""
    folder = shared_data() / "shanghai_districts"
    gcj_path, wgs_path = (
        folder / "shanghai_districts_gcj02.geojson",
        folder / "shanghai_districts_wgs84.geojson",
    )
    if not (gcj_path.exists() and wgs_path.exists()):
        pytest.skip(f"district files missing in {folder}")
    gcj = json.loads(gcj_path.read_text(encoding="utf-8"))["features"]
    wgs = json.loads(wgs_path.read_text(encoding="utf-8"))["features"]
    pairs = []
    for fg, fw in zip(gcj, wgs, strict=True):
        assert fg["properties"]["adcode"] == fw["properties"]["adcode"]
        ring_g = fg["geometry"]["coordinates"][0][0]
        ring_w = fw["geometry"]["coordinates"][0][0]
        pairs += [(tuple(ring_g[i]), tuple(ring_w[i])) for i in range(0, len(ring_g), step)]
    return pairs


@pytest.mark.shared_data
def test_known_pairs_from_district_files_agree_within_one_metre() -> None:
    pairs = _district_pairs()
    assert len(pairs) > 100
    for gcj, wgs in pairs:
        assert distance_m(gcj02_to_wgs84(*gcj), wgs) < 1.0
        assert distance_m(wgs84_to_gcj02(*wgs), gcj) < 1.0


@pytest.mark.shared_data
def test_array_variants_match_the_known_pairs() -> None:
    pairs = _district_pairs()
    g = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    lons, lats = gcj02_to_wgs84_array(g[:, 0], g[:, 1])
    worst = max(distance_m((lo, la), tuple(ref)) for lo, la, ref in zip(lons, lats, w, strict=True))
    assert worst < 1.0


def test_round_trip_is_exact_on_random_points_in_china() -> None:
    rng = np.random.default_rng(20240611)
    lons, lats = rng.uniform(75.0, 134.0, 500), rng.uniform(18.0, 53.0, 500)
    for lon, lat in zip(lons, lats, strict=True):
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
        assert abs(back[0] - lon) < 1e-7 and abs(back[1] - lat) < 1e-7


def test_array_round_trip_matches_scalar() -> None:
    rng = np.random.default_rng(7)
    lons, lats = rng.uniform(75.0, 134.0, 2000), rng.uniform(18.0, 53.0, 2000)
    g_lons, g_lats = wgs84_to_gcj02_array(lons, lats)
    w_lons, w_lats = gcj02_to_wgs84_array(g_lons, g_lats)
    assert np.max(np.abs(w_lons - lons)) < 1e-7 and np.max(np.abs(w_lats - lats)) < 1e-7
    for i in range(0, 2000, 199):
        assert (g_lons[i], g_lats[i]) == pytest.approx(wgs84_to_gcj02(lons[i], lats[i]), abs=1e-12)


def test_array_functions_do_not_mutate_their_input() -> None:
    lons, lats = np.array([121.47, 0.0]), np.array([31.23, 51.5])
    wgs84_to_gcj02_array(lons, lats)
    gcj02_to_wgs84_array(lons, lats)
    assert lons.tolist() == [121.47, 0.0] and lats.tolist() == [31.23, 51.5]


@pytest.mark.parametrize(
    "point", [(-0.1276, 51.5072), (151.2093, -33.8688), (-74.006, 40.7128), (139.0, 56.5)]
)
def test_points_outside_china_are_unchanged(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    lons, lats = wgs84_to_gcj02_array([point[0]], [point[1]])
    assert (lons[0], lats[0]) == point


def test_out_of_china_box() -> None:
    assert not out_of_china(*PEOPLES_SQUARE)
    assert not out_of_china(87.6, 43.8)  # Urumqi
    assert out_of_china(60.0, 30.0)
    assert out_of_china_array([121.0, 60.0], [31.0, 30.0]).tolist() == [False, True]


def test_shift_near_shanghai_is_a_few_hundred_metres() -> None:
    shift = distance_m(PEOPLES_SQUARE, wgs84_to_gcj02(*PEOPLES_SQUARE))
    assert 400.0 < shift < 600.0
    gcj = wgs84_to_gcj02(*PEOPLES_SQUARE)
    assert gcj[0] > PEOPLES_SQUARE[0] and gcj[1] < PEOPLES_SQUARE[1]  # east and south in Shanghai


def test_bd09_round_trips_and_is_offset_from_gcj02() -> None:
    gcj = wgs84_to_gcj02(*PEOPLES_SQUARE)
    bd = gcj02_to_bd09(*gcj)
    assert 500.0 < distance_m(gcj, bd) < 1500.0
    assert bd09_to_gcj02(*bd) == pytest.approx(gcj, abs=1e-8)
    assert bd09_to_wgs84(*wgs84_to_bd09(*PEOPLES_SQUARE)) == pytest.approx(PEOPLES_SQUARE, abs=1e-7)


def test_distance_m() -> None:
    assert distance_m((121.0, 31.0), (121.0, 31.0)) == 0.0
    one_degree_lat = distance_m((121.0, 30.0), (121.0, 31.0))
    assert one_degree_lat == pytest.approx(111_195, rel=1e-4)
    # a degree of longitude shrinks with cos(latitude)
    assert distance_m((121.0, 60.0), (122.0, 60.0)) == pytest.approx(one_degree_lat / 2, rel=1e-3)
    a, b = (121.4737, 31.2304), (121.5055, 31.2397)
    assert distance_m(a, b) == pytest.approx(distance_m(b, a))
    assert distance_m((0.0, 0.0), (180.0, 0.0)) == pytest.approx(math.pi * 6_371_008.8)


def _shift(lon: float, lat: float) -> tuple[float, float]:
    return lon + 1.0, lat + 2.0


GEOMETRIES = [
    {"type": "Point", "coordinates": [1.0, 2.0]},
    {"type": "MultiPoint", "coordinates": [[1.0, 2.0], [3.0, 4.0]]},
    {"type": "LineString", "coordinates": [[1.0, 2.0], [3.0, 4.0]]},
    {"type": "MultiLineString", "coordinates": [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]},
    {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]},
    {"type": "MultiPolygon", "coordinates": [[[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]]},
]


def _positions(geometry: dict) -> list[list[float]]:
    if geometry["type"] == "GeometryCollection":
        return [p for g in geometry["geometries"] for p in _positions(g)]
    out: list[list[float]] = []

    def walk(c: list) -> None:
        if isinstance(c[0], int | float):
            out.append(c)
        else:
            for x in c:
                walk(x)

    walk(geometry["coordinates"])
    return out


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[g["type"] for g in GEOMETRIES])
def test_transform_geometry_maps_every_position_without_mutating(geometry: dict) -> None:
    original = copy.deepcopy(geometry)
    result = transform_geometry(geometry, _shift)
    assert geometry == original
    assert result["type"] == geometry["type"]
    before, after = _positions(geometry), _positions(result)
    assert len(after) == len(before)
    assert all(a == [b[0] + 1.0, b[1] + 2.0] for a, b in zip(after, before, strict=True))


def test_transform_geometry_collection_keeps_altitude_and_drops_stale_bbox() -> None:
    collection = {
        "type": "GeometryCollection",
        "bbox": [0, 0, 1, 1],
        "geometries": [
            {"type": "Point", "coordinates": [1.0, 2.0, 30.0]},
            {"type": "GeometryCollection", "geometries": [GEOMETRIES[2]]},
        ],
    }
    original = copy.deepcopy(collection)
    result = transform_geometry(collection, _shift)
    assert collection == original
    assert "bbox" not in result
    assert result["geometries"][0]["coordinates"] == [2.0, 4.0, 30.0]
    assert result["geometries"][1]["geometries"][0]["coordinates"] == [[2.0, 4.0], [4.0, 6.0]]


def test_transform_geometry_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="Circle"):
        transform_geometry({"type": "Circle", "coordinates": [0, 0]}, _shift)


def test_transform_geometry_array_equals_scalar_version() -> None:
    polygon = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[121.40, 31.20], [121.50, 31.20], [121.50, 31.30], [121.40, 31.20]]],
            [[[121.60, 31.10], [121.70, 31.10], [121.70, 31.15], [121.60, 31.10]]],
        ],
    }
    collection = {
        "type": "GeometryCollection",
        "geometries": [polygon, {"type": "Point", "coordinates": [121.4, 31.2]}],
    }
    for geometry in (polygon, collection):
        original = copy.deepcopy(geometry)
        fast = transform_geometry_array(geometry, gcj02_to_wgs84_array)
        slow = transform_geometry(geometry, gcj02_to_wgs84)
        assert geometry == original
        for a, b in zip(_positions(fast), _positions(slow), strict=True):
            assert a == pytest.approx(b, abs=1e-9)
