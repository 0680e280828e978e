"""Road and metro graphs, nearest-node lookup, k-hop reach and line-aware metro routing."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from citybrain.geo.coords import distance_m
from citybrain.geo.graphs import NodeLocator, metro_graph, metro_k_hop, metro_route, road_graph
from citybrain.geo.loaders import load_shanghai
from citybrain.geo.types import MetroArc, MetroNetwork, MetroStation, RoadEdge, RoadNetwork

# --- roads --------------------------------------------------------------------------------------


def _edge(s: int, t: int, speed: float, length: float = 100.0, way: int = 1) -> RoadEdge:
    return RoadEdge(s, t, way, "primary", f"road {way}", length, speed, ((0.0, 0.0), (0.0, 0.0)))


def test_road_graph_keeps_the_fastest_parallel_edge() -> None:
    nodes = {1: (121.0, 31.0), 2: (121.001, 31.0), 3: (121.002, 31.0)}
    roads = RoadNetwork(
        nodes, (_edge(1, 2, 20, way=7), _edge(1, 2, 60, way=8), _edge(1, 2, 30, way=9), _edge(2, 3, 36))
    )
    graph = road_graph(roads)
    assert graph.nodes[1] == {"x": 121.0, "y": 31.0}
    assert graph.number_of_edges() == 2
    data = graph.edges[1, 2]
    assert data["way_id"] == 8
    assert data["travel_s"] == pytest.approx(6.0)
    assert data["length_m"] == 100.0 and data["highway"] == "primary" and data["name"] == "road 8"
    assert nx.shortest_path_length(graph, 1, 3, weight="travel_s") == pytest.approx(16.0)
    assert not graph.has_edge(2, 1)


def test_road_graph_strongly_connected_option() -> None:
    nodes = {i: (121.0 + i * 1e-3, 31.0) for i in range(1, 5)}
    edges = (
        _edge(1, 2, 30),
        _edge(2, 1, 30),
        _edge(2, 3, 30),
        _edge(3, 2, 30),
        _edge(3, 4, 30),
    )  # 4 is a sink
    assert set(road_graph(RoadNetwork(nodes, edges)).nodes) == {1, 2, 3, 4}
    assert set(road_graph(RoadNetwork(nodes, edges), strongly_connected=True).nodes) == {1, 2, 3}


def test_shanghai_road_graph_routes() -> None:
    graph = road_graph(load_shanghai().roads, strongly_connected=True)
    assert 1000 < graph.number_of_nodes() < 2454
    assert nx.is_strongly_connected(graph)
    locator = NodeLocator.from_graph(graph)
    a = locator.nearest(121.4737, 31.2304)  # People's Square
    b = locator.nearest(121.4680, 31.2230)  # towards Xintiandi
    seconds = nx.shortest_path_length(graph, a, b, weight="travel_s")
    crow = distance_m((graph.nodes[a]["x"], graph.nodes[a]["y"]), (graph.nodes[b]["x"], graph.nodes[b]["y"]))
    assert crow / (80 / 3.6) < seconds < 1800  # no faster than 80 km/h in a straight line, under 30 min


def _haversine_to_all(lon: float, lat: float, coords: np.ndarray) -> np.ndarray:
    lon1, lat1 = np.radians(lon), np.radians(lat)
    lon2, lat2 = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))


def test_node_locator_matches_brute_force_haversine() -> None:
    nodes = load_shanghai().roads.nodes
    locator = NodeLocator(nodes)
    assert len(locator) == len(nodes)
    ids = list(nodes)
    coords = np.array([nodes[n] for n in ids])
    rng = np.random.default_rng(42)
    lons, lats = rng.uniform(121.455, 121.492, 150), rng.uniform(31.215, 31.245, 150)
    many = locator.nearest_many(lons, lats, chunk=64)
    for lon, lat, fast in zip(lons, lats, many, strict=True):
        best = float(_haversine_to_all(lon, lat, coords).min())
        node, metres = locator.nearest_with_distance(lon, lat)
        assert metres == pytest.approx(best)
        assert distance_m((lon, lat), nodes[node]) == pytest.approx(best)
        assert distance_m((lon, lat), nodes[fast]) == pytest.approx(best, abs=0.05)


def test_node_locator_exact_hit_and_radius() -> None:
    nodes = {10: (121.0, 31.0), 11: (121.001, 31.0), 12: (121.01, 31.0)}
    locator = NodeLocator(nodes)
    assert locator.nearest_with_distance(121.001, 31.0) == (11, 0.0)
    assert locator.nearest(121.0004, 31.0) == 10
    hits = locator.within(121.0, 31.0, 200.0)
    assert [n for n, _ in hits] == [10, 11]
    assert hits[1][1] == pytest.approx(distance_m(nodes[10], nodes[11]))
    assert locator.within(121.0, 31.0, 50.0) == [(10, 0.0)]
    with pytest.raises(ValueError):
        NodeLocator({})


# --- metro --------------------------------------------------------------------------------------


def _station(code: str, lon: float, lines: tuple[str, ...] = ()) -> MetroStation:
    return MetroStation(code=code, name_en=f"Station {code}", lon=lon, lat=31.0, lines=lines)


def _both(a: str, b: str, minutes: float, category: str) -> list[MetroArc]:
    return [MetroArc(a, b, minutes, category), MetroArc(b, a, minutes, category)]


def _network(transfer_at_b: float) -> MetroNetwork:
    """A-B on line 1, B-C on line 2 (change at B), or A-D-C staying on line 1; C-E a walk; E-F line 3."""
    stations = tuple(
        _station(c, 121.0 + i * 0.01, lines)
        for i, (c, lines) in enumerate(
            [
                ("A", ("Line 1",)),
                ("B", ("Line 1", "Line 2")),
                ("C", ("Line 1", "Line 2")),
                ("D", ("Line 1",)),
                ("E", ("Line 3",)),
                ("F", ("Line 3",)),
                ("Z", ("Line 9",)),
            ]
        )
    )
    arcs = (
        _both("A", "B", 1, "Line 1")
        + _both("B", "C", 1, "Line 2")
        + _both("A", "D", 3, "Line 1")
        + _both("D", "C", 3, "Line 1")
        + _both("C", "E", 4, "transfer")
        + _both("E", "F", 2, "Line 3")
        + [MetroArc("B", "B", transfer_at_b, "transfer")]
    )
    return MetroNetwork(stations, tuple(arcs))


def test_metro_graph_merges_arcs_and_stores_transfer_time() -> None:
    graph = metro_graph(_network(transfer_at_b=5))
    assert graph.number_of_nodes() == 7
    assert not nx.is_isolate(graph, "A") and nx.is_isolate(graph, "Z")
    assert graph.nodes["B"]["transfer_minutes"] == 5 and graph.nodes["A"]["transfer_minutes"] == 0
    assert not graph.has_edge("B", "B")
    assert graph.edges["A", "B"]["category"] == "Line 1" and graph.edges["A", "B"]["minutes"] == 1
    assert graph.edges["C", "E"]["category"] == "transfer" and graph.edges["C", "E"]["lines"] == ()


def test_metro_graph_rejects_unknown_stations() -> None:
    network = MetroNetwork((_station("A", 121.0),), (MetroArc("A", "Q", 1, "Line 1"),))
    with pytest.raises(ValueError, match="'Q'"):
        metro_graph(network)


def test_metro_route_pays_for_changing_lines() -> None:
    expensive = metro_graph(_network(transfer_at_b=5))
    assert metro_route(expensive, "A", "C") == (6.0, ["A", "D", "C"])  # 1 + 1 + 5 change > 3 + 3
    cheap = metro_graph(_network(transfer_at_b=1))
    assert metro_route(cheap, "A", "C") == (3.0, ["A", "B", "C"])
    assert metro_route(cheap, "A", "F") == (9.0, ["A", "B", "C", "E", "F"])  # walk C-E, no extra change
    assert metro_route(cheap, "F", "F") == (0.0, ["F"])
    with pytest.raises(nx.NetworkXNoPath):
        metro_route(cheap, "A", "Z")
    with pytest.raises(nx.NodeNotFound):
        metro_route(cheap, "A", "nowhere")


def test_metro_k_hop_counts_rides_not_walks() -> None:
    graph = metro_graph(_network(transfer_at_b=1))
    assert metro_k_hop(graph, ["A"], 0) == {"A": 0}
    assert metro_k_hop(graph, ["A"], 1) == {"A": 0, "B": 1, "D": 1}
    assert metro_k_hop(graph, ["A"], 2) == {"A": 0, "B": 1, "D": 1, "C": 2, "E": 2}  # C-E is a walk
    assert metro_k_hop(graph, ["A"], 3)["F"] == 3
    assert metro_k_hop(graph, ["F", "A"], 1) == {"F": 0, "E": 1, "C": 1, "A": 0, "B": 1, "D": 1}
    with pytest.raises(ValueError):
        metro_k_hop(graph, ["A"], -1)
    with pytest.raises(nx.NodeNotFound):
        metro_k_hop(graph, ["nowhere"], 1)


def test_shanghai_metro_graph_and_queries() -> None:
    graph = metro_graph(load_shanghai().metro)
    assert graph.number_of_nodes() == 302
    assert nx.is_strongly_connected(graph)
    code = {d["name_en"]: n for n, d in graph.nodes(data=True)}
    # Lines 3 and 4 share their western track: one edge per direction, carrying both lines
    shared = graph.edges[code["Zhongshan Park"], code["West Yan'an Road"]]
    assert shared["line_minutes"].keys() == {"Line 3", "Line 4"}
    assert sum(len(d["lines"]) > 1 for _u, _v, d in graph.edges(data=True)) == 26
    assert set(shared["lines"]) == {"Line 3", "Line 4"}
    assert graph.nodes[code["People's Square"]]["transfer_minutes"] == 1

    square = code["People's Square"]
    one = metro_k_hop(graph, [square], 1)
    assert {n for n, h in one.items() if h == 1} == set(graph.successors(square))
    assert len(metro_k_hop(graph, [square], 2)) > len(one)

    minutes, path = metro_route(graph, code["Xinzhuang"], square)
    assert path[0] == code["Xinzhuang"] and path[-1] == square
    assert all(graph.has_edge(u, v) for u, v in zip(path, path[1:], strict=False))
    lower_bound = nx.shortest_path_length(graph, code["Xinzhuang"], square, weight="minutes")
    assert lower_bound <= minutes <= lower_bound + 5
    # Xinzhuang to People's Square is a single ride on Line 1
    assert minutes == pytest.approx(
        sum(graph.edges[u, v]["line_minutes"]["Line 1"] for u, v in zip(path, path[1:], strict=False))
    )
