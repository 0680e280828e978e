"""Metro incident impact: the stations and lines a closure touches, its k-hop reach, and the way around it.

A closure is a station (nothing stops at or runs through it) or a segment between two adjacent stations
(both directions; lines sharing that track are all stopped). The graph is ``geo.graphs.metro_graph``;
reach is ``geo.graphs.metro_k_hop`` (a hop is one ride, a walking transfer is free) and trips are
``geo.graphs.metro_route`` (line-aware: a change of line costs the station's transfer minutes), run on the
network with the closure taken out.

>>> from citybrain.geo.loaders import load_shanghai
>>> from citybrain.geo.graphs import metro_graph
>>> g = metro_graph(load_shanghai().metro)
>>> ps = find_station(g, "People's Square")
>>> impact(g, Closure(stations=(ps,))).lines
('Line 1', 'Line 2', 'Line 8')
>>> alt = alternative_route(g, find_station(g, "Xinzha Road"), find_station(g, "South Huangpi Road"),
...                         Closure(stations=(ps,)))
>>> ps in alt.path, alt.extra_minutes > 0
(False, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from citybrain.geo.graphs import metro_k_hop, metro_route
from citybrain.geo.loaders import line_sort_key

__all__ = ["Alternative", "Closure", "Impact", "alternative_route", "alternatives", "closed_graph", "find_station",
           "impact", "k_hop_impact", "through_pairs"]


@dataclass(frozen=True, slots=True)
class Closure:
    """Closed stations (codes) and closed segments (pairs of adjacent station codes, either order)."""

    stations: tuple[str, ...] = ()
    segments: tuple[tuple[str, str], ...] = ()

    def endpoints(self) -> tuple[str, ...]:
        """Every station the closure touches, in order, without repeats."""
        return tuple(dict.fromkeys([*self.stations, *(s for seg in self.segments for s in seg)]))


@dataclass(frozen=True, slots=True)
class Impact:
    stations: tuple[str, ...]  # closed stations and the ends of closed segments
    lines: tuple[str, ...]  # lines stopped at a closed station or running on a closed segment


@dataclass(frozen=True, slots=True)
class Alternative:
    """A trip normally and with the closure: minutes, station paths and the extra minutes (None: no way round)."""

    origin: str
    destination: str
    normal_minutes: float
    normal_path: tuple[str, ...]
    minutes: float | None
    path: tuple[str, ...]
    affected: bool  # whether the normal trip used the closure

    @property
    def extra_minutes(self) -> float | None:
        return None if self.minutes is None else self.minutes - self.normal_minutes


def find_station(graph: nx.DiGraph, name: str) -> str:
    """The code of the station called ``name`` (English or Chinese, case-insensitive) or with that code."""
    if name in graph:
        return name
    want = name.strip().casefold()
    for code, data in graph.nodes(data=True):
        if want in (str(data.get("name_en", "")).casefold(), str(data.get("name_zh", "")).casefold()):
            return str(code)
    raise KeyError(f"no metro station named {name!r}")


def _check(graph: nx.DiGraph, closure: Closure) -> None:
    for code in closure.stations:
        if code not in graph:
            raise nx.NodeNotFound(f"station {code!r} is not in the metro graph")
    for a, b in closure.segments:
        if not (graph.has_edge(a, b) or graph.has_edge(b, a)):
            raise ValueError(f"{a!r}-{b!r} is not a segment of the metro graph")


def impact(graph: nx.DiGraph, closure: Closure) -> Impact:
    """The stations and lines a closure stops."""
    _check(graph, closure)
    lines: set[str] = set()
    for code in closure.stations:
        lines.update(graph.nodes[code]["lines"])
    for a, b in closure.segments:
        for u, v in ((a, b), (b, a)):
            if graph.has_edge(u, v):
                lines.update(graph.edges[u, v]["lines"])
    return Impact(closure.endpoints(), tuple(sorted(lines, key=line_sort_key)))


def k_hop_impact(graph: nx.DiGraph, closure: Closure, k: int) -> dict[str, int]:
    """Stations within ``k`` rides of the closure, with their hop count (the closure's stations at 0)."""
    _check(graph, closure)
    return metro_k_hop(graph, closure.endpoints(), k)


def closed_graph(graph: nx.DiGraph, closure: Closure) -> nx.DiGraph:
    """A read-only view of the network without the closed stations and segments."""
    _check(graph, closure)
    gone_nodes = set(closure.stations)
    gone_edges = {e for a, b in closure.segments for e in ((a, b), (b, a))}
    return nx.subgraph_view(graph, filter_node=lambda n: n not in gone_nodes,
                            filter_edge=lambda u, v: (u, v) not in gone_edges)


def alternative_route(graph: nx.DiGraph, origin: str, destination: str, closure: Closure) -> Alternative:
    """The fastest trip between two stations with the closure in place, against the normal one.

    Raises ``ValueError`` when an end of the trip is itself a closed station.
    """
    if origin in closure.stations or destination in closure.stations:
        raise ValueError("a trip cannot start or end at a closed station; pick the stations either side")
    normal_min, normal_path = metro_route(graph, origin, destination)
    view = closed_graph(graph, closure)
    gone = set(closure.stations)
    gone_edges = {frozenset(s) for s in closure.segments}
    affected = any(s in gone for s in normal_path) or any(
        frozenset(p) in gone_edges for p in zip(normal_path, normal_path[1:], strict=False))
    try:
        minutes, path = metro_route(view, origin, destination)
    except nx.NetworkXNoPath:
        return Alternative(origin, destination, normal_min, tuple(normal_path), None, (), affected)
    return Alternative(origin, destination, normal_min, tuple(normal_path), minutes, tuple(path), affected)


def through_pairs(graph: nx.DiGraph, station: str) -> list[tuple[str, str, str]]:
    """(line, one neighbour, the other) for each line running through ``station``: the trips its closure cuts.

    These are the key station pairs to offer alternatives for (and to run shuttle buses between).
    """
    by_line: dict[str, set[str]] = {}
    for nb in set(graph.successors(station)) | set(graph.predecessors(station)):
        data = graph.edges[station, nb] if graph.has_edge(station, nb) else graph.edges[nb, station]
        for line in data["lines"]:
            by_line.setdefault(line, set()).add(nb)
    out = []
    for line in sorted(by_line, key=line_sort_key):
        nbs = sorted(by_line[line])
        out.extend((line, a, b) for i, a in enumerate(nbs) for b in nbs[i + 1:])
    return out


def alternatives(graph: nx.DiGraph, closure: Closure,
                 pairs: Iterable[tuple[str, str]] | None = None) -> list[Alternative]:
    """Alternatives for ``pairs`` of key stations (default: the through pairs of each closed station)."""
    if pairs is None:
        pairs = [(a, b) for s in closure.stations for _line, a, b in through_pairs(graph, s)
                 if a not in closure.stations and b not in closure.stations]
    return [alternative_route(graph, a, b, closure) for a, b in pairs]
