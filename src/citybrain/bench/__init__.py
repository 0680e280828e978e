"""Benchmarks behind ``citybrain bench NAME --json`` (figures plus a ratio to a baseline from the same run).

Each benchmark is ``fn(*, log, **options) -> dict`` registered here with a one-line description; later
capabilities add theirs (ingest, query, warning, nab, dispatch, risk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from citybrain.bench import dispatch, ingest, nab, query, risk, spatial
from citybrain.bench import warning as warning_bench

Benchmark = Callable[..., dict[str, Any]]

BENCHMARKS: dict[str, tuple[str, Benchmark]] = {
    "dispatch": ("nearest available units by travel time for 200 units on the central road graph vs. per-unit "
                 "networkx Dijkstra", dispatch.run),
    "ingest": ("simulated fleet through the ingestion pipeline (in-process, HTTP or MQTT) vs. raw inserts",
               ingest.run),
    "nab": ("a streaming detector over the NAB corpus, scored by NAB's rules (optimised and shipped threshold)",
            nab.run),
    "query": ("chart series of one device's week at 10M rows vs. the series computed from raw rows", query.run),
    "warning": ("reading → visible warning latency at 10,000 readings/s with the demo rules; ingest cost of the "
                "rules", warning_bench.run),
    "risk": ("the whole city's dynamic risk map (500 m cells) with 100,000 devices, 50,000 open hazards and a year "
             "of incidents: full and incremental vs. a naive recomputation", risk.run),
    "spatial": ("bbox / radius / point-in-polygon queries at a million rows, indexed vs. full scan", spatial.run),
}
