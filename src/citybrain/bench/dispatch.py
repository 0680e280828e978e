"""Unit recommendation: the nearest available units by travel time on the central Shanghai road graph.

``Router.recommend`` (one bounded Dijkstra from the incident over the reversed graph) against the same
answer computed plainly: for every available unit of the wanted kinds, networkx's Dijkstra from the
unit's road node to the incident's, from scratch, plus the same off-road legs, then the k smallest.
Units and incidents are drawn (seeded) over the graph's extent; a fifth of the units are busy. The
baseline also checks the answer: ``agree`` is the share of incidents where both give the same units.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import networkx as nx

from citybrain.bench.spatial import _p

Log = Callable[[str], None]
KINDS = ("fire_engine", "police_car", "emergency_team")


def run(*, log: Log, rows: int | None = None, devices: int | None = None, **_: Any) -> dict[str, Any]:
    from citybrain.geo.graphs import road_graph
    from citybrain.geo.loaders import load_shanghai
    from citybrain.incident.dispatch import Router, Unit

    n_units = devices or 200
    n_incidents = rows or 300
    k = 3
    t0 = time.perf_counter()
    graph = road_graph(load_shanghai().roads, strongly_connected=True)
    router = Router(graph)
    build_ms = (time.perf_counter() - t0) * 1000
    rng = random.Random(7)
    lons = [graph.nodes[n]["x"] for n in graph]
    lats = [graph.nodes[n]["y"] for n in graph]
    box = (min(lons), max(lons), min(lats), max(lats))

    def place() -> tuple[float, float]:
        while True:
            lon, lat = rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])
            if router.snap(lon, lat).distance_m <= 300:  # on the road map, as real stations are
                return lon, lat

    units = []
    for i in range(n_units):
        lon, lat = place()
        units.append(Unit(f"U{i:03d}", rng.choice(KINDS), lon, lat, "available" if rng.random() < 0.8 else "on_scene"))
    incidents = [place() for _ in range(n_incidents)]
    log(f"{n_units} units, {n_incidents} incidents on {graph.number_of_nodes():,} road nodes")

    fast: list[float] = []
    answers = []
    for lon, lat in incidents:
        t = time.perf_counter()
        got = router.recommend(units, lon, lat, kinds=None, k=k)
        fast.append((time.perf_counter() - t) * 1000)
        answers.append([r.unit.key for r in got])

    snaps = {u.key: router.snap(u.lon, u.lat) for u in units}
    slow: list[float] = []
    agree = 0
    sample = incidents[: max(10, n_incidents // 10)]  # the baseline is slow: a tenth of the incidents
    for i, (lon, lat) in enumerate(sample):
        t = time.perf_counter()
        target = router.snap(lon, lat)
        scored = []
        for u in units:
            if u.status != "available":
                continue
            s = snaps[u.key]
            try:
                road = nx.shortest_path_length(graph, s.node, target.node, weight="travel_s")
            except nx.NetworkXNoPath:
                continue
            scored.append((road + (s.distance_m + target.distance_m) / router.offroad_mps, u.key))
        scored.sort()
        slow.append((time.perf_counter() - t) * 1000)
        agree += [key for _, key in scored[:k]] == answers[i]
    p50, p99 = statistics.median(fast), _p(fast, 0.99)
    base50 = statistics.median(slow)
    return {
        "benchmark": "dispatch", "units": n_units, "available": sum(u.status == "available" for u in units),
        "incidents": n_incidents, "k": k, "road_nodes": graph.number_of_nodes(), "router_build_ms": round(build_ms, 1),
        "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "max_ms": round(max(fast), 3),
        "baseline_p50_ms": round(base50, 2), "baseline_incidents": len(sample),
        "ratio": round(base50 / p50, 1) if p50 else None,
        "agree": f"{agree}/{len(sample)}",
    }
