"""Routing units on the road network and recommending the nearest available ones by travel time.

``Router`` wraps a directed road graph from ``citybrain.geo.graphs.road_graph`` (edges weighted by
``travel_s``: speeds by road class, one-way streets only in their direction; build it with
``strongly_connected=True`` so every node pair is routable). A point off the graph snaps to its nearest node
(a shapely ``STRtree`` over the nodes projected equirectangularly about their mean latitude: one C call
snaps a whole fleet) and the straight leg between the point and that node (haversine) is covered at
``offroad_kph`` (15 km/h by default: a vehicle leaving a yard or a campus lane that the drivable extract
does not hold, or a crew on foot at a brisk run). A point farther than
``max_snap_m`` (1 km by default) from any node is outside the map and refused with ``OffMap``.

``recommend`` answers "which available units reach the incident first" with one Dijkstra from the incident
over the reversed graph, stopped as soon as the k best are certain, instead of one search per unit.

>>> from citybrain.geo.loaders import load_shanghai
>>> from citybrain.geo.graphs import road_graph
>>> router = Router(road_graph(load_shanghai().roads, strongly_connected=True))
>>> units = [Unit("FE-1", "fire_engine", 121.4700, 31.2350), Unit("FE-2", "fire_engine", 121.4820, 31.2250),
...          Unit("PC-1", "police_car", 121.4740, 31.2300)]
>>> [r.unit.key for r in router.recommend(units, 121.4737, 31.2304, kinds={"fire_engine"}, k=2)]
['FE-1', 'FE-2']
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import networkx as nx
import numpy as np
import shapely

from citybrain.geo.coords import EARTH_RADIUS_M
from citybrain.geo.types import LonLat

__all__ = ["DEFAULT_MAX_SNAP_M", "DEFAULT_OFFROAD_KPH", "OffMap", "Recommendation", "Route", "Router", "Snap",
           "Unit", "UnitLike"]

DEFAULT_OFFROAD_KPH = 15.0
DEFAULT_MAX_SNAP_M = 1000.0


class OffMap(ValueError):
    """A position too far from the road network to route (outside the map)."""


class UnitLike(Protocol):
    """What routing reads of a unit (a table row or a ``Unit``)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Unit:
    key: str
    kind: str  # a key of taxonomy.RESOURCE_KINDS
    lon: float
    lat: float
    status: str = "available"
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Snap:
    node: Any
    distance_m: float  # straight line from the point to the node


@dataclass(frozen=True, slots=True)
class Route:
    """A trip: total seconds (road plus off-road legs), its parts, and the geometry as [lon, lat] points."""

    eta_s: float
    road_s: float
    offroad_s: float
    length_m: float
    nodes: tuple[Any, ...]
    geometry: tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class Recommendation:
    unit: Any  # the UnitLike given
    route: Route

    @property
    def eta_s(self) -> float:
        return self.route.eta_s


class Router:
    """Shortest travel times and routes on one road graph; build once, query many times (read-only)."""

    def __init__(self, graph: nx.DiGraph, *, offroad_kph: float = DEFAULT_OFFROAD_KPH,
                 max_snap_m: float = DEFAULT_MAX_SNAP_M) -> None:
        if graph.number_of_nodes() == 0:
            raise ValueError("Router needs a non-empty road graph")
        if offroad_kph <= 0:
            raise ValueError("offroad_kph must be positive")
        self.graph = graph
        self.offroad_mps = offroad_kph / 3.6
        self.max_snap_m = max_snap_m
        self._ids: list[Any] = list(graph.nodes)
        self._index = {n: i for i, n in enumerate(self._ids)}
        self._coords: list[LonLat] = [(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in self._ids]
        n = len(self._ids)
        self._fwd: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        self._rev: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for u, v, d in graph.edges(data=True):
            i, j = self._index[u], self._index[v]
            self._fwd[i].append((j, float(d["travel_s"])))
            self._rev[j].append((i, float(d["travel_s"])))
        xy = np.array(self._coords, dtype=float)
        self._lon, self._lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
        self._kx = math.cos(float(self._lat.mean()))  # equirectangular: metres per degree of lon vs of lat
        self._tree = shapely.STRtree(shapely.points(xy[:, 0] * self._kx, xy[:, 1]))

    # -- snapping ----------------------------------------------------------------------------------------

    def snap(self, lon: float, lat: float) -> Snap:
        """The nearest node to (lon, lat) and the distance to it; ``OffMap`` beyond ``max_snap_m``."""
        idx, dist = self._snap_many(np.array([lon], dtype=float), np.array([lat], dtype=float))
        d = float(dist[0])
        if d > self.max_snap_m:
            raise OffMap(f"({lon:.6f}, {lat:.6f}) is {d:.0f} m from the nearest road of the map "
                         f"(at most {self.max_snap_m:.0f} m)")
        return Snap(self._ids[idx[0]], d)

    def on_map(self, lon: float, lat: float) -> bool:
        """Whether a unit or incident at (lon, lat) can be routed (within ``max_snap_m`` of a road node)."""
        return float(self._snap_many(np.array([lon], dtype=float), np.array([lat], dtype=float))[1][0]) \
            <= self.max_snap_m

    def _snap_many(self, lons: np.ndarray, lats: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Node indices and haversine distances (m) for many points at once."""
        if not (np.all(np.isfinite(lons)) and np.all(np.isfinite(lats))):
            raise OffMap("a position has no finite longitude and latitude")
        pairs = self._tree.query_nearest(shapely.points(lons * self._kx, lats), all_matches=False)
        nearest = np.empty(len(lons), dtype=np.intp)
        nearest[pairs[0]] = pairs[1]
        idx = nearest.tolist()
        la1, lo1 = np.radians(lats), np.radians(lons)
        la2, lo2 = self._lat[idx], self._lon[idx]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        return idx, 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))

    # -- searches ----------------------------------------------------------------------------------------

    @staticmethod
    def _dijkstra(adj: list[list[tuple[int, float]]], source: int,
                  settle: Callable[[int, float], bool]) -> tuple[dict[int, float], dict[int, int]]:
        """Dijkstra from ``source`` over ``adj``; ``settle(node, dist)`` returning True stops the search.

        Returns settled distances and, for each reached node, the node it was reached from.
        """
        dist: dict[int, float] = {}
        prev: dict[int, int] = {}
        best = {source: 0.0}
        heap = [(0.0, source)]
        while heap:
            d, u = heapq.heappop(heap)
            if u in dist:
                continue
            dist[u] = d
            if settle(u, d):
                break
            for v, w in adj[u]:
                nd = d + w
                if v not in dist and nd < best.get(v, math.inf):
                    best[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        return dist, prev

    def _route(self, path: list[int], start: LonLat, end: LonLat, leg_start_m: float, leg_end_m: float) -> Route:
        road_s = length = 0.0
        for a, b in zip(path, path[1:], strict=False):
            data = self.graph.edges[self._ids[a], self._ids[b]]
            road_s += data["travel_s"]
            length += data["length_m"]
        geometry: list[LonLat] = [start]
        for p in [*(self._coords[i] for i in path), end]:
            if p != geometry[-1]:
                geometry.append(p)
        offroad_s = (leg_start_m + leg_end_m) / self.offroad_mps
        return Route(road_s + offroad_s, road_s, offroad_s, length + leg_start_m + leg_end_m,
                     tuple(self._ids[i] for i in path), tuple(geometry))

    def route(self, origin: LonLat, destination: LonLat) -> Route:
        """The fastest trip from ``origin`` to ``destination`` (lon, lat), off-road legs included."""
        a, b = self.snap(*origin), self.snap(*destination)
        s, t = self._index[a.node], self._index[b.node]
        _, prev = self._dijkstra(self._fwd, s, lambda u, _d: u == t)
        if t != s and t not in prev:
            raise nx.NetworkXNoPath(f"no road route from {origin} to {destination}")
        path = [t]
        while path[-1] != s:
            path.append(prev[path[-1]])
        return self._route(path[::-1], tuple(origin), tuple(destination), a.distance_m, b.distance_m)

    def travel_time_s(self, origin: LonLat, destination: LonLat) -> float:
        """Seconds of the fastest trip from ``origin`` to ``destination`` (lon, lat)."""
        return self.route(origin, destination).eta_s

    def recommend(self, units: Iterable[UnitLike], incident_lon: float, incident_lat: float, *,
                  kinds: Collection[str] | None = None, k: int = 3) -> list[Recommendation]:
        """The ``k`` available units (of ``kinds``, if given) that reach the incident first, fastest first.

        One Dijkstra from the incident's node over the reversed graph gives every node's time *to* the
        incident; it stops once the next node is no closer than the k-th best unit so far (off-road legs
        only add time). Units outside the map (or without a position) are skipped; ties go to the smaller
        unit key. ``OffMap`` if the incident itself is outside the map.
        """
        if k <= 0:
            return []
        target = self.snap(incident_lon, incident_lat)
        t = self._index[target.node]
        pool = [u for u in units if u.status == "available" and (kinds is None or u.kind in kinds)
                and math.isfinite(u.lon) and math.isfinite(u.lat)]
        if not pool:
            return []
        idx, snap_m = self._snap_many(np.array([u.lon for u in pool]), np.array([u.lat for u in pool]))
        waiting: dict[int, list[tuple[float, int]]] = {}  # node -> [(off-road seconds, position in pool)]
        for p, (i, m) in enumerate(zip(idx, snap_m.tolist(), strict=True)):
            if m <= self.max_snap_m:
                waiting.setdefault(i, []).append((m / self.offroad_mps, p))
        best: list[tuple[float, tuple[int, ...], int]] = []  # max-heap by (-total, key) of the k best so far
        remaining = len(waiting)

        def settle(node: int, d: float) -> bool:
            nonlocal remaining
            if len(best) == k and d > -best[0][0]:
                return True
            for leg_s, p in waiting.get(node, ()):
                item = (-(d + leg_s), _neg_key(pool[p].key), p)
                if len(best) < k:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
            if node in waiting:
                remaining -= 1
            return remaining == 0

        _, nxt = self._dijkstra(self._rev, t, settle)
        out = []
        for _neg_total, _key, p in sorted(best, key=lambda item: (-item[0], pool[item[2]].key)):
            path = [idx[p]]
            while path[-1] != t:
                path.append(nxt[path[-1]])
            unit = pool[p]
            route = self._route(path, (unit.lon, unit.lat), (incident_lon, incident_lat), float(snap_m[p]),
                                target.distance_m)
            out.append(Recommendation(unit, route))
        return out


def _neg_key(key: str) -> tuple[int, ...]:
    """Orders keys in reverse inside the max-heap, so that among equal times the smaller key is kept."""
    return tuple(-ord(c) for c in key) + (1,)
