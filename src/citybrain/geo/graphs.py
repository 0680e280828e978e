"""networkx graphs of a city's roads and metro, and the fast queries dispatch and metro command use."""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike

from citybrain.geo.coords import EARTH_RADIUS_M, distance_m
from citybrain.geo.types import LonLat, MetroNetwork, RoadNetwork

__all__ = ["TRANSFER", "NodeLocator", "metro_graph", "metro_k_hop", "metro_route", "road_graph"]

TRANSFER = "transfer"  # category of a walking arc, as opposed to a "Line N" ride


# --- roads --------------------------------------------------------------------------------------


def road_graph(roads: RoadNetwork, *, strongly_connected: bool = False) -> nx.DiGraph:
    """A directed road graph: nodes carry ``x`` (lon) and ``y`` (lat); edges carry ``travel_s``,
    ``length_m``, ``speed_kph``, ``highway``, ``name``, ``way_id``, ``oneway``, ``bridge``, ``tunnel``.

    Route with ``weight="travel_s"``. Where two edges join the same node pair, the fastest is kept.
    A cropped extract has one-way stubs and islands at its edges from which some nodes cannot be
    reached; ``strongly_connected=True`` keeps only the largest strongly connected component, so
    that every node pair is routable (index that graph with :class:`NodeLocator` for dispatch).
    """
    graph = nx.DiGraph()
    for node, (lon, lat) in roads.nodes.items():
        graph.add_node(node, x=lon, y=lat)
    for edge in roads.edges:
        travel_s = edge.travel_s
        current = graph.get_edge_data(edge.source, edge.target)
        if current is not None and current["travel_s"] <= travel_s:
            continue
        graph.add_edge(
            edge.source,
            edge.target,
            travel_s=travel_s,
            length_m=edge.length_m,
            speed_kph=edge.speed_kph,
            highway=edge.highway,
            name=edge.name,
            way_id=edge.way_id,
            oneway=edge.oneway,
            bridge=edge.bridge,
            tunnel=edge.tunnel,
        )
    if strongly_connected and graph.number_of_nodes():
        keep = max(nx.strongly_connected_components(graph), key=len)
        graph = graph.subgraph(keep).copy()
    return graph


class NodeLocator:
    """Nearest graph node to a (lon, lat), by brute force over numpy arrays.

    Points are projected equirectangularly about the nodes' mean latitude; the few best candidates
    are then re-ranked by haversine, so the answer is exact for any city-sized extent. A query over
    a few thousand nodes takes tens of microseconds; no spatial index is needed at this scale.
    """

    _CANDIDATES = 8

    def __init__(self, nodes: Mapping[Any, LonLat]) -> None:
        if not nodes:
            raise ValueError("NodeLocator needs at least one node")
        self._ids = list(nodes)
        coords = np.array([nodes[n] for n in self._ids], dtype=float)
        self._lonlat = coords
        self._kx = math.cos(math.radians(float(coords[:, 1].mean()))) * math.radians(1.0) * EARTH_RADIUS_M
        self._ky = math.radians(1.0) * EARTH_RADIUS_M
        self._xy = np.column_stack((coords[:, 0] * self._kx, coords[:, 1] * self._ky))

    @classmethod
    def from_graph(cls, graph: nx.Graph) -> NodeLocator:
        """Index a graph whose nodes carry ``x`` (lon) and ``y`` (lat), as :func:`road_graph` makes."""
        return cls({n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)})

    def __len__(self) -> int:
        return len(self._ids)

    def _sq_dist(self, lon: float, lat: float) -> np.ndarray:
        dx = self._xy[:, 0] - lon * self._kx
        dy = self._xy[:, 1] - lat * self._ky
        return dx * dx + dy * dy

    def nearest_with_distance(self, lon: float, lat: float) -> tuple[Any, float]:
        """The nearest node and its great-circle distance in metres."""
        d2 = self._sq_dist(lon, lat)
        k = min(self._CANDIDATES, len(d2))
        candidates = np.argpartition(d2, k - 1)[:k] if len(d2) > k else np.arange(len(d2))
        best = min(
            (distance_m((lon, lat), (self._lonlat[i, 0], self._lonlat[i, 1])), int(i)) for i in candidates
        )
        return self._ids[best[1]], best[0]

    def nearest(self, lon: float, lat: float) -> Any:
        """The id of the node nearest to (lon, lat)."""
        return self.nearest_with_distance(lon, lat)[0]

    def nearest_many(self, lons: ArrayLike, lats: ArrayLike, *, chunk: int = 256) -> list[Any]:
        """Nearest node for each point (projected distance), vectorised in chunks to bound memory."""
        x = np.asarray(lons, dtype=float) * self._kx
        y = np.asarray(lats, dtype=float) * self._ky
        out: list[Any] = []
        for start in range(0, len(x), chunk):
            dx = x[start : start + chunk, None] - self._xy[None, :, 0]
            dy = y[start : start + chunk, None] - self._xy[None, :, 1]
            out.extend(self._ids[i] for i in np.argmin(dx * dx + dy * dy, axis=1))
        return out

    def within(self, lon: float, lat: float, radius_m: float) -> list[tuple[Any, float]]:
        """All nodes within ``radius_m`` metres, nearest first, with their distances."""
        d2 = self._sq_dist(lon, lat)
        margin = (radius_m * 1.01 + 1.0) ** 2  # projected distances are within ~1 % of haversine
        hits = []
        for i in np.flatnonzero(d2 <= margin):
            d = distance_m((lon, lat), (self._lonlat[i, 0], self._lonlat[i, 1]))
            if d <= radius_m:
                hits.append((self._ids[int(i)], d))
        hits.sort(key=lambda item: item[1])
        return hits


# --- metro --------------------------------------------------------------------------------------


def metro_graph(metro: MetroNetwork) -> nx.DiGraph:
    """A station-level metro graph.

    Nodes are station codes with ``name_en``, ``name_zh``, ``lon``, ``lat``, ``lines`` and
    ``transfer_minutes`` (the walk to change lines inside the station, 0 when unknown). Each edge
    merges every arc between its two stations: ``line_minutes`` maps each line (or ``"transfer"``
    for a walk) to its minutes; ``minutes`` and ``category`` are the fastest entry; ``lines`` lists
    the ride lines; ``capacity`` sums the rides' capacities (None if none given).
    """
    graph = nx.DiGraph()
    for station in metro.stations:
        graph.add_node(
            station.code,
            name_en=station.name_en,
            name_zh=station.name_zh,
            lon=station.lon,
            lat=station.lat,
            lines=station.lines,
            transfer_minutes=0.0,
        )
    for arc in metro.arcs:
        for code in (arc.origin, arc.destination):
            if code not in graph:
                raise ValueError(f"metro arc {arc.origin}->{arc.destination}: unknown station {code!r}")
        if arc.origin == arc.destination:
            if arc.is_transfer:
                graph.nodes[arc.origin]["transfer_minutes"] = arc.minutes
            continue
        key = TRANSFER if arc.is_transfer else arc.category
        if not graph.has_edge(arc.origin, arc.destination):
            graph.add_edge(arc.origin, arc.destination, line_minutes={}, capacities={})
        data = graph.edges[arc.origin, arc.destination]
        data["line_minutes"][key] = min(arc.minutes, data["line_minutes"].get(key, math.inf))
        if arc.capacity is not None and not arc.is_transfer:
            data["capacities"][key] = arc.capacity
    for _u, _v, data in graph.edges(data=True):
        category, minutes = min(data["line_minutes"].items(), key=lambda item: (item[1], item[0]))
        data["minutes"] = minutes
        data["category"] = category
        data["lines"] = tuple(k for k in data["line_minutes"] if k != TRANSFER)
        capacities = data.pop("capacities")
        data["capacity"] = sum(capacities.values()) if capacities else None
    return graph


def _require(graph: nx.Graph, codes: Iterable[str]) -> list[str]:
    codes = list(codes)
    for code in codes:
        if code not in graph:
            raise nx.NodeNotFound(f"station {code!r} is not in the metro graph")
    return codes


def metro_k_hop(graph: nx.DiGraph, station_codes: Iterable[str], k: int) -> dict[str, int]:
    """Stations within ``k`` ride hops of any of ``station_codes``, with their hop count.

    A hop is one ride between adjacent stations; a walking transfer between two stations costs no
    hop, because an incident's reach along the network is about trains, not corridors. Arcs are
    followed in both directions (the network is symmetric, and impact spreads both ways). The
    sources themselves are at 0.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    hops: dict[str, int] = {code: 0 for code in _require(graph, station_codes)}
    queue: deque[str] = deque(hops)
    while queue:  # 0-1 BFS: free transfer edges go to the front of the queue
        u = queue.popleft()
        for v in itertools.chain(graph.successors(u), graph.predecessors(u)):
            data = graph.edges[u, v] if graph.has_edge(u, v) else graph.edges[v, u]
            cost = 1 if data["lines"] else 0
            h = hops[u] + cost
            if h <= k and h < hops.get(v, k + 1):
                hops[v] = h
                if cost:
                    queue.append(v)
                else:
                    queue.appendleft(v)
    return hops


def metro_route(graph: nx.DiGraph, a: str, b: str) -> tuple[float, list[str]]:
    """Fastest trip from station ``a`` to ``b``: (minutes, station codes from a to b).

    Line-aware: staying on a line costs only ride minutes, changing lines at a station adds its
    ``transfer_minutes``; walking transfers between stations cost their minutes. Raises
    ``networkx.NodeNotFound`` for an unknown station and ``networkx.NetworkXNoPath`` when
    unreachable.
    """
    _require(graph, (a, b))
    if a == b:
        return 0.0, [a]
    start: tuple[str, str | None] = (a, None)
    best: dict[tuple[str, str | None], float] = {start: 0.0}
    previous: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    counter = itertools.count()  # tie-breaker so the heap never compares states
    heap: list[tuple[float, int, tuple[str, str | None]]] = [(0.0, next(counter), start)]
    while heap:
        cost, _, state = heapq.heappop(heap)
        if cost > best.get(state, math.inf):
            continue
        station, line = state
        if station == b:
            path = [station]
            while state in previous:
                state = previous[state]
                if state[0] != path[-1]:
                    path.append(state[0])
            return cost, path[::-1]
        change = graph.nodes[station]["transfer_minutes"]
        for nxt, data in graph.adj[station].items():
            for key, minutes in data["line_minutes"].items():
                if key == TRANSFER:
                    new_state: tuple[str, str | None] = (nxt, None)
                    new_cost = cost + minutes
                else:
                    new_state = (nxt, key)
                    new_cost = cost + minutes + (change if line not in (None, key) else 0.0)
                if new_cost < best.get(new_state, math.inf):
                    best[new_state] = new_cost
                    previous[new_state] = state
                    heapq.heappush(heap, (new_cost, next(counter), new_state))
    raise nx.NetworkXNoPath(f"no metro route from {a!r} to {b!r}")
