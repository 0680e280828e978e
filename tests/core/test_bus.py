"""The in-memory bus: pattern subscriptions, per-subject order, isolation of failing subscribers, drain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from citybrain.core.bus import InMemoryBus


def run(scenario: Callable[[InMemoryBus], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        bus = InMemoryBus()
        try:
            return await scenario(bus)
        finally:
            await bus.close()

    return asyncio.run(main())


def recorder() -> tuple[list[tuple[str, Any]], Callable[[str, Any], Awaitable[None]]]:
    seen: list[tuple[str, Any]] = []

    async def handler(subject: str, message: Any) -> None:
        seen.append((subject, message))

    return seen, handler


def test_subscribers_receive_what_their_pattern_matches() -> None:
    async def scenario(bus: InMemoryBus) -> dict[str, list[str]]:
        got: dict[str, list] = {}
        for pattern in ("readings.*", "warnings.new", ">", "incidents.>"):
            got[pattern], handler = recorder()
            await bus.subscribe(pattern, handler)
        for subject in ("readings.water", "readings.gas", "warnings.new", "warnings.closed", "incidents.1",
                        "readings.water.level"):
            await bus.publish(subject, {"s": subject})
        await bus.drain()
        return {p: [s for s, _ in seen] for p, seen in got.items()}

    got = run(scenario)

    # NATS semantics, so the in-memory bus and JetStream agree: "*" is one token, ">" the rest.
    assert got["readings.*"] == ["readings.water", "readings.gas"]
    assert got["warnings.new"] == ["warnings.new"]
    assert got["incidents.>"] == ["incidents.1"]
    assert got[">"] == ["readings.water", "readings.gas", "warnings.new", "warnings.closed", "incidents.1",
                        "readings.water.level"]


def test_messages_arrive_in_publish_order() -> None:
    async def scenario(bus: InMemoryBus) -> list[int]:
        seen: list[int] = []

        async def slow(subject: str, message: int) -> None:
            await asyncio.sleep(0.001 if message % 7 == 0 else 0)  # uneven handling time must not reorder
            seen.append(message)

        await bus.subscribe("readings.*", slow)
        for i in range(200):
            await bus.publish("readings.water", i)
        await bus.drain()
        return seen

    assert run(scenario) == list(range(200))


def test_a_failing_subscriber_does_not_stop_the_others_or_itself(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(bus: InMemoryBus) -> tuple[list, list, dict]:
        good, good_handler = recorder()
        survived: list[int] = []

        async def flaky(subject: str, message: int) -> None:
            if message in (1, 3):
                raise RuntimeError(f"cannot handle {message}")
            survived.append(message)

        await bus.subscribe("x.*", flaky)
        await bus.subscribe("x.*", good_handler)
        for i in range(5):
            await bus.publish("x.y", i)
        await bus.drain()
        return good, survived, bus.stats()

    with caplog.at_level(logging.ERROR, logger="citybrain.core.bus"):
        good, survived, stats = run(scenario)

    assert [m for _, m in good] == [0, 1, 2, 3, 4]
    assert survived == [0, 2, 4]
    flaky_stats, good_stats = stats["subscriptions"]
    assert (flaky_stats["delivered"], flaky_stats["failed"]) == (3, 2)
    assert (good_stats["delivered"], good_stats["failed"]) == (5, 0)
    assert stats["published"] == 5
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1  # logged once, not per message


def test_drain_waits_until_every_queued_message_is_handled() -> None:
    async def scenario(bus: InMemoryBus) -> tuple[int, int, int]:
        handled: list[int] = []

        async def slow(subject: str, message: int) -> None:
            await asyncio.sleep(0.002)
            handled.append(message)

        await bus.subscribe("a", slow)
        await bus.subscribe("a", slow)
        for i in range(10):
            await bus.publish("a", i)
        before = len(handled)
        await bus.drain()
        return before, len(handled), sum(s["queued"] for s in bus.stats()["subscriptions"])

    before, after, queued = run(scenario)

    assert before < 20
    assert after == 20
    assert queued == 0


def test_a_late_subscriber_misses_earlier_messages_and_a_closed_one_gets_no_more() -> None:
    async def scenario(bus: InMemoryBus) -> tuple[list, list]:
        early, early_handler = recorder()
        late, late_handler = recorder()
        sub = await bus.subscribe("t", early_handler)
        await bus.publish("t", 1)
        await bus.subscribe("t", late_handler)
        await bus.publish("t", 2)
        await bus.drain()
        await sub.close()
        await bus.publish("t", 3)
        await bus.drain()
        return early, late

    early, late = run(scenario)

    assert [m for _, m in early] == [1, 2]
    assert [m for _, m in late] == [2, 3]


def test_the_same_message_object_reaches_every_subscriber() -> None:
    async def scenario(bus: InMemoryBus) -> tuple[list, list, dict]:
        a, ha = recorder()
        b, hb = recorder()
        await bus.subscribe("m", ha)
        await bus.subscribe("m", hb)
        message = {"id": 1}
        await bus.publish("m", message)
        await bus.drain()
        return a, b, message

    a, b, message = run(scenario)

    assert a == b == [("m", message)]
