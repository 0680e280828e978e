"""Routing and unit recommendation on the bundled central-Shanghai road graph."""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest

from citybrain.geo.coords import EARTH_RADIUS_M, distance_m
from citybrain.geo.graphs import road_graph
from citybrain.geo.loaders import load_shanghai
from citybrain.incident.dispatch import DEFAULT_OFFROAD_KPH, OffMap, Router, Unit

PEOPLES_SQUARE = (121.4737, 31.2304)


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return road_graph(load_shanghai().roads, strongly_connected=True)


@pytest.fixture(scope="module")
def router(graph: nx.DiGraph) -> Router:
    return Router(graph)


def xy(graph: nx.DiGraph, n: int) -> tuple[float, float]:
    return graph.nodes[n]["x"], graph.nodes[n]["y"]


def test_a_one_way_street_is_respected(graph: nx.DiGraph, router: Router) -> None:
    one_way = sorted((u, v) for u, v, d in graph.edges(data=True) if d["oneway"] and not graph.has_edge(v, u))
    assert len(one_way) > 100  # the centre has many one-way streets and split carriageways
    u, v = one_way[0]
    a, b = xy(graph, u), xy(graph, v)
    forward = router.route(a, b)
    backward = router.route(b, a)
    assert forward.nodes == (u, v) and forward.eta_s == pytest.approx(graph.edges[u, v]["travel_s"])
    assert len(backward.nodes) > 2 and backward.eta_s > forward.eta_s
    assert backward.eta_s == pytest.approx(nx.shortest_path_length(graph, v, u, weight="travel_s"))
    assert router.travel_time_s(b, a) == backward.eta_s


def test_route_geometry_follows_edges_from_point_to_point(graph: nx.DiGraph, router: Router) -> None:
    origin, dest = (121.4650, 31.2380), (121.4840, 31.2230)
    r = router.route(origin, dest)
    assert r.geometry[0] == origin and r.geometry[-1] == dest
    for p, q in zip(r.nodes, r.nodes[1:], strict=False):
        assert graph.has_edge(p, q)
    assert r.eta_s == pytest.approx(r.road_s + r.offroad_s)
    assert r.length_m >= distance_m(origin, dest)


def test_offroad_leg_is_covered_at_the_documented_speed(graph: nx.DiGraph, router: Router) -> None:
    node = next(iter(graph.nodes))
    lon, lat = xy(graph, node)
    snap = router.snap(lon, lat)
    assert snap.node == node and snap.distance_m == pytest.approx(0.0, abs=1e-6)
    r = router.route((lon, lat), (lon, lat))
    assert r.eta_s == pytest.approx(0.0, abs=1e-6)
    # a point 100 m due north of the most northerly node snaps to it and walks 100 m at 15 km/h
    top = max(graph.nodes, key=lambda n: graph.nodes[n]["y"])
    lon, lat = xy(graph, top)
    off = (lon, lat + math.degrees(100 / EARTH_RADIUS_M))
    r = router.route(off, (lon, lat))
    assert r.nodes == (top,) and r.offroad_s == pytest.approx(100 / (DEFAULT_OFFROAD_KPH / 3.6), rel=1e-3)


def test_points_outside_the_map_are_refused(router: Router) -> None:
    assert router.on_map(*PEOPLES_SQUARE)
    assert not router.on_map(121.60, 31.20)  # Pudong, beyond the bundled centre
    with pytest.raises(OffMap, match="from the nearest road"):
        router.snap(121.60, 31.20)
    with pytest.raises(OffMap):
        router.recommend([Unit("A", "fire_engine", *PEOPLES_SQUARE)], 121.60, 31.20)
    units = [Unit("far", "fire_engine", 121.60, 31.20), Unit("near", "fire_engine", 121.4700, 31.2350),
             Unit("lost", "fire_engine", math.nan, 31.2350)]
    assert [r.unit.key for r in router.recommend(units, *PEOPLES_SQUARE)] == ["near"]


def _brute_force(graph: nx.DiGraph, router: Router, units: list[Unit], lon: float, lat: float,
                 kinds: set[str] | None, k: int) -> list[tuple[float, str]]:
    """Per-unit plain networkx Dijkstra from scratch: the baseline the recommendation must equal."""
    target = router.snap(lon, lat)
    mps = DEFAULT_OFFROAD_KPH / 3.6
    out = []
    for u in units:
        if u.status != "available" or (kinds is not None and u.kind not in kinds) or not router.on_map(u.lon, u.lat):
            continue
        s = router.snap(u.lon, u.lat)
        road = nx.shortest_path_length(graph, s.node, target.node, weight="travel_s")
        out.append((road + (s.distance_m + target.distance_m) / mps, u.key))
    return sorted(out)[:k]


def test_recommendation_equals_brute_force_per_unit_shortest_paths(graph: nx.DiGraph, router: Router) -> None:
    rng = random.Random(20260601)
    lons = [graph.nodes[n]["x"] for n in graph]
    lats = [graph.nodes[n]["y"] for n in graph]
    box = (min(lons), max(lons), min(lats), max(lats))
    kinds = ("fire_engine", "police_car", "ambulance")
    statuses = ("available",) * 4 + ("en_route", "on_scene", "out_of_service")
    units = [Unit(f"U{i:03d}", rng.choice(kinds), rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3]),
                  rng.choice(statuses)) for i in range(60)]
    for _ in range(8):
        lon, lat = rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])
        for want, k in ((None, 3), ({"fire_engine"}, 3), ({"police_car", "ambulance"}, 5)):
            got = router.recommend(units, lon, lat, kinds=want, k=k)
            expected = _brute_force(graph, router, units, lon, lat, want, k)
            assert [r.unit.key for r in got] == [key for _, key in expected]
            assert [r.eta_s for r in got] == pytest.approx([eta for eta, _ in expected], abs=1e-6)
            for r in got:
                assert r.unit.status == "available" and (want is None or r.unit.kind in want)
                assert r.route.geometry[0] == (r.unit.lon, r.unit.lat) and r.route.geometry[-1] == (lon, lat)
                assert r.eta_s == pytest.approx(router.travel_time_s((r.unit.lon, r.unit.lat), (lon, lat)))


def test_recommend_edges(router: Router) -> None:
    here = Unit("B", "fire_engine", *PEOPLES_SQUARE)
    twin = Unit("A", "fire_engine", *PEOPLES_SQUARE)
    assert router.recommend([here, twin], *PEOPLES_SQUARE, k=0) == []
    assert [r.unit.key for r in router.recommend([here, twin], *PEOPLES_SQUARE, k=1)] == ["A"]  # ties: smaller key
    assert router.recommend([Unit("C", "fire_engine", *PEOPLES_SQUARE, status="on_scene")], *PEOPLES_SQUARE) == []
    assert len(router.recommend([here, twin], *PEOPLES_SQUARE, k=5)) == 2
