"""A small hand-built city (one district, three stations, a road grid with one bridge) for unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from citybrain.geo.types import City, MetroNetwork, MetroStation, Region, RoadEdge, RoadNetwork

START = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, 08:00 in Shanghai
DISTRICT = "310101"
BOX = (121.460, 31.220, 121.490, 31.245)  # lon0, lat0, lon1, lat1


def _grid_roads() -> RoadNetwork:
    lon0, lat0, lon1, lat1 = BOX
    nodes: dict[int, tuple[float, float]] = {}
    edges: list[RoadEdge] = []
    lons = [lon0 + 0.002 + i * 0.0065 for i in range(5)]
    lats = [lat0 + 0.002 + j * 0.0052 for j in range(5)]
    for j, lat in enumerate(lats):
        for i, lon in enumerate(lons):
            nodes[j * 10 + i] = (lon, lat)
    way = 1
    for j in range(5):
        for i in range(4):
            a, b = j * 10 + i, j * 10 + i + 1
            mid = ((nodes[a][0] + nodes[b][0]) / 2, nodes[a][1])
            highway = "primary" if j == 2 else "residential"
            edges.append(
                RoadEdge(
                    a, b, way, highway, f"东西路{j}", 620.0, 40.0, (nodes[a], mid, nodes[b]), bridge=(j == 0 and i == 1)
                )
            )
            way += 1
    for i in range(5):
        for j in range(4):
            a, b = j * 10 + i, (j + 1) * 10 + i
            edges.append(
                RoadEdge(
                    a, b, way, "secondary" if i == 2 else "residential", f"南北路{i}", 580.0, 40.0, (nodes[a], nodes[b])
                )
            )
            way += 1
    return RoadNetwork(nodes, tuple(edges))


def make_city(*, roads: bool = True, bridges: bool = True) -> City:
    lon0, lat0, lon1, lat1 = BOX
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    district = Region(DISTRICT, "黄浦区", "Huangpu", "district", {"type": "Polygon", "coordinates": [ring]}, "310000")
    far = [[121.60, 31.30], [121.62, 31.30], [121.62, 31.32], [121.60, 31.32], [121.60, 31.30]]
    other = Region("310115", "浦东新区", "Pudong", "district", {"type": "Polygon", "coordinates": [far]}, "310000")
    stations = (
        MetroStation("1", "People's Square", 121.4727, 31.2331, ("Line 1", "Line 2", "Line 8"), "人民广场"),
        MetroStation("2", "East Nanjing Road", 121.4837, 31.2381, ("Line 2", "Line 10")),
        MetroStation("3", "Far Away", 121.61, 31.31, ("Line 9",)),
    )
    network = _grid_roads() if roads else RoadNetwork({}, ())
    if not bridges:
        network = RoadNetwork(network.nodes, tuple(replace(e, bridge=False) for e in network.edges))
    return City("310000", "上海", "Shanghai", (121.47, 31.23), (district, other), MetroNetwork(stations, ()), network)


@pytest.fixture(scope="session")
def city() -> City:
    return make_city()
