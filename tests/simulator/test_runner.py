from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citybrain.core.clock import SystemClock
from citybrain.simulator import Simulator, run

from .conftest import START


def test_backfill_at_high_speed_delivers_every_batch(city) -> None:
    sim = Simulator(city, seed=1, start=START)
    got: list[list[dict[str, Any]]] = []

    async def sink(batch: list[dict[str, Any]]) -> None:
        got.append(batch)

    end = START + timedelta(hours=1)
    stats = asyncio.run(run(sim, sink, clock=SystemClock(), speed=1e7, stop=asyncio.Event(), end=end))
    assert got == list(sim.readings(START, end))
    assert stats.batches == 60 and stats.readings == sum(map(len, got)) and not stats.sink_errors


def test_stops_promptly_on_the_event(city) -> None:
    sim = Simulator(city, seed=1, start=START)
    got: list[int] = []

    async def sink(batch: list[dict[str, Any]]) -> None:
        got.append(len(batch))

    async def main() -> Any:
        stop = asyncio.Event()
        task = asyncio.create_task(run(sim, sink, clock=SystemClock(), speed=1.0, stop=stop))
        await asyncio.sleep(0.05)
        stop.set()
        return await asyncio.wait_for(task, timeout=2.0)

    stats = asyncio.run(main())
    assert stats.batches == 1 and len(got) == 1  # the first step is due at once, the next in 60 s


def test_survives_a_failing_sink_and_logs_once(city, caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator(city, seed=1, start=START)
    calls = 0

    async def sink(batch: list[dict[str, Any]]) -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise ConnectionError("broker down")

    caplog.set_level(logging.ERROR, logger="citybrain.simulator.runner")
    end = START + timedelta(minutes=10)
    stats = asyncio.run(run(sim, sink, clock=SystemClock(), speed=1e7, stop=asyncio.Event(), end=end))
    assert calls == 10 and stats.sink_errors == {"ConnectionError": 5} and stats.batches == 5
    assert len([r for r in caplog.records if "ConnectionError" in r.getMessage()]) == 1
    assert stats.last_ts == datetime(2026, 11, 30, 0, 9, tzinfo=UTC)


def test_rejects_a_non_positive_speed(city) -> None:
    with pytest.raises(ValueError):
        asyncio.run(run(Simulator(city), lambda b: None, clock=SystemClock(), speed=0, stop=asyncio.Event()))  # type: ignore[arg-type,return-value]


def test_large_fleets_tick_off_the_event_loop(city) -> None:
    sim = Simulator(city, seed=1, start=START, devices=10_000, faults=None)
    sizes: list[int] = []

    async def sink(batch: list[dict[str, Any]]) -> None:
        sizes.append(len(batch))

    end = START + timedelta(minutes=2)
    asyncio.run(run(sim, sink, clock=SystemClock(), speed=1e7, stop=asyncio.Event(), end=end))
    assert sizes[0] == 10_000 and len(sizes) == 2
