"""Benchmarks behind ``citybrain bench NAME --json`` (figures plus a ratio to a baseline from the same run).

Each benchmark is ``fn(*, log, **options) -> dict`` registered here with a one-line description; later
capabilities add theirs (ingest, query, warning, nab, dispatch, risk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from citybrain.bench import spatial

Benchmark = Callable[..., dict[str, Any]]

BENCHMARKS: dict[str, tuple[str, Benchmark]] = {
    "spatial": ("bbox / radius / point-in-polygon queries at a million rows, indexed vs. full scan", spatial.run),
}
