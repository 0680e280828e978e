"""Drive a simulator in (scaled) real time and hand each batch to an async sink.

The runner knows nothing of brokers: the sink may publish on the in-process bus, over MQTT or
HTTP. A failing sink is logged once per exception type and the loop goes on; setting ``stop``
ends the run promptly, even in the middle of a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from citybrain.core.clock import Clock

from .engine import Simulator
from .faults import first_due

log = logging.getLogger(__name__)

Sink = Callable[[list[dict[str, Any]]], Awaitable[Any]]
_MIN_WAIT_S = 0.001  # below this, don't sleep: just yield to the event loop (back-fill speeds)
_THREAD_ABOVE = 10_000  # devices; bigger ticks (~0.1 s+) run in a worker thread to keep the loop responsive


@dataclass(slots=True)
class RunStats:
    """What a run did: batches and readings handed to the sink, sink failures by exception type."""

    batches: int = 0
    readings: int = 0
    sink_errors: dict[str, int] = field(default_factory=dict)
    last_ts: datetime | None = None


async def run(
    sim: Simulator,
    sink: Sink,
    *,
    clock: Clock,
    speed: float = 1.0,
    stop: asyncio.Event,
    start: datetime | None = None,
    end: datetime | None = None,
) -> RunStats:
    """Walk simulated time from ``start`` (default ``sim.start``) at ``speed`` x the clock.

    Simulated instant ``start + (clock.now() - t0) * speed`` is due when reached; steps that are
    already due (a slow sink, a large speed for back-fill) run back to back. Stops when ``stop``
    is set or, if given, when simulated time reaches ``end``. Returns what it did.
    """
    if speed <= 0:
        raise ValueError("speed must be > 0")
    if start is not None and start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    stats = RunStats()
    threaded = len(sim.devices) >= _THREAD_ABOVE
    step = sim.step_s
    origin = start or sim.start
    t_s = first_due(int(origin.timestamp()), step)
    sim0 = t_s
    real0 = clock.now()
    end_s = None if end is None else int(end.timestamp())
    while not stop.is_set():
        if end_s is not None and t_s >= end_s:
            break
        due_at = real0 + timedelta(seconds=(t_s - sim0) / speed)
        wait = (due_at - clock.now()).total_seconds()
        if wait > _MIN_WAIT_S:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            continue  # re-read the clock: it is the authority, not the event loop's timer
        now_sim = datetime.fromtimestamp(t_s, UTC)
        batch = await asyncio.to_thread(sim.tick, now_sim) if threaded else sim.tick(now_sim)
        if batch:
            try:
                await sink(batch)
            except Exception as exc:  # noqa: BLE001 - the sink is foreign code; keep streaming
                name = type(exc).__name__
                if name not in stats.sink_errors:
                    log.exception("simulator sink failed (%s); further %s errors are counted, not logged", name, name)
                stats.sink_errors[name] = stats.sink_errors.get(name, 0) + 1
            else:
                stats.batches += 1
                stats.readings += len(batch)
        stats.last_ts = now_sim
        t_s += step
        await asyncio.sleep(0)
    return stats
