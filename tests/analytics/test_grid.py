"""The 500 m grid: point → cell → polygon round trips, true sizes, bbox coverage."""

from __future__ import annotations

import random

import pytest
from shapely.geometry import Point, Polygon

from citybrain.analytics.grid import SHANGHAI, Grid
from citybrain.geo.spatial import haversine_m

# Shanghai's extent, Chongming to Jinshan
CITY = (120.85, 30.67, 122.2, 31.88)


def test_point_cell_polygon_round_trip() -> None:
    rng = random.Random(3)
    for _ in range(300):
        lon, lat = rng.uniform(CITY[0], CITY[2]), rng.uniform(CITY[1], CITY[3])
        cell = SHANGHAI.cell_of(lon, lat)
        ring = SHANGHAI.polygon(cell)
        assert ring[0] == ring[-1] and len(ring) == 5
        assert Polygon(ring).buffer(1e-7).contains(Point(lon, lat))
        assert SHANGHAI.contains(cell, lon, lat)
        clon, clat = SHANGHAI.centre(cell)
        assert SHANGHAI.cell_of(clon, clat) == cell


def test_cells_are_500_m_squares_across_the_city() -> None:
    for lon, lat in ((CITY[0], CITY[1]), (CITY[2], CITY[3]), (121.47, 31.23), (CITY[0], CITY[3])):
        ring = SHANGHAI.polygon(SHANGHAI.cell_of(lon, lat))
        for a, b in zip(ring, ring[1:], strict=False):
            assert haversine_m(*a, *b) == pytest.approx(500, rel=0.01)  # a sphere vs. the ellipsoid: ~0.3 %
        diagonal = haversine_m(*ring[0], *ring[2])
        assert diagonal == pytest.approx(500 * 2**0.5, rel=0.01)


def test_projection_inverts_exactly() -> None:
    g = Grid()
    for lon, lat in ((120.9, 30.7), (121.47, 31.23), (122.1, 31.85)):
        x, y = g.project(lon, lat)
        back = g.unproject(x, y)
        assert back == pytest.approx((lon, lat), abs=1e-9)


def test_neighbouring_points_500_m_apart_are_in_neighbouring_cells() -> None:
    row, col = SHANGHAI.index_of(121.47, 31.23)
    x, y = SHANGHAI.project(121.47, 31.23)
    east = SHANGHAI.unproject(x + 500, y)
    north = SHANGHAI.unproject(x, y + 500)
    assert SHANGHAI.index_of(*east) == (row, col + 1)
    assert SHANGHAI.index_of(*north) == (row + 1, col)


def test_city_cells_have_non_negative_indices() -> None:
    r0, c0, r1, c1 = SHANGHAI.index_range(CITY)
    assert r0 >= 0 and c0 >= 0
    assert 20_000 < (r1 - r0 + 1) * (c1 - c0 + 1) < 100_000


def test_cells_in_bbox_cover_every_point_in_it() -> None:
    box = (121.40, 31.20, 121.45, 31.24)
    cells = set(SHANGHAI.cells_in_bbox(box))
    rng = random.Random(5)
    for _ in range(200):
        cell = SHANGHAI.cell_of(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3]))
        assert cell in cells and SHANGHAI.in_bbox(cell, box)
    assert len(cells) < 160  # ~4.8 km × 4.4 km → about 10 × 10 cells, plus the edges
    assert not SHANGHAI.in_bbox(SHANGHAI.cell_of(121.6, 31.3), box)


@pytest.mark.parametrize("bad", ["", "r1", "c1r2", "r1c", "rXc2", "r1c2 "])
def test_parse_refuses_malformed_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        Grid.parse(bad)


def test_area_in_cells_of_a_known_square() -> None:
    ring = SHANGHAI.polygon("r100c100")
    assert SHANGHAI.area_cells(ring) == pytest.approx(1.0, rel=1e-4)


def test_project_array_matches_project() -> None:
    pts = [(120.9, 30.7), (121.47, 31.23), (122.1, 31.85)]
    got = SHANGHAI.project_array(pts)
    for (lon, lat), (x, y) in zip(pts, got.tolist(), strict=True):
        assert (x, y) == pytest.approx(SHANGHAI.project(lon, lat), abs=1e-6)
