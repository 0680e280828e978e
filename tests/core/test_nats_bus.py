"""The JetStream bus against a real NATS server: the port's semantics, durability, shared durables, redelivery.

Each test gets its own stream and subject prefix and deletes the stream afterwards. Without a server at
``CITYBRAIN_TEST_NATS_URL`` (default nats://127.0.0.1:4222) the tests skip; CI's strict mode fails them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest

from citybrain.core.bus import InMemoryBus
from citybrain.core.errors import SettingsError, Unavailable
from citybrain.core.nats_bus import JetStreamBus, classify, make_bus, redact
from citybrain.core.settings import Settings
from tests.support import server_url

SERVER = os.environ.get("CITYBRAIN_TEST_NATS_URL", "nats://127.0.0.1:4222")
Scenario = Callable[[Callable[..., JetStreamBus]], Awaitable[Any]]


@pytest.fixture(scope="module")
def nats_url() -> str:
    return server_url(SERVER, 4222, "NATS server (Debian package 'nats-server', run with -js)")


@pytest.fixture
def run(nats_url: str) -> Iterator[Callable[[Scenario], Any]]:
    """Run a scenario with a factory of buses on a stream of its own; close them and delete the stream."""
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"TEST_{tag}", f"t{tag}"

    def runner(scenario: Scenario) -> Any:
        async def main() -> Any:
            buses: list[JetStreamBus] = []

            def factory(**options: Any) -> JetStreamBus:
                settings = {"stream": stream, "prefix": prefix, "fetch_timeout": 0.2, "retry_delay": 0.05,
                            "ack_wait": 5.0, "timeout": 5.0, **options}
                bus = JetStreamBus(nats_url, **settings)
                buses.append(bus)
                return bus

            try:
                return await scenario(factory)
            finally:
                for bus in buses:
                    await bus.close()

        return asyncio.run(main())

    yield runner

    async def cleanup() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(cleanup())


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll (a network round trip, not a clock) until ``condition`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def recorder() -> tuple[list[tuple[str, Any]], Callable[[str, Any], Awaitable[None]]]:
    seen: list[tuple[str, Any]] = []

    async def handler(subject: str, message: Any) -> None:
        seen.append((subject, message))

    return seen, handler


def test_a_message_goes_round_trip_as_json_with_iso_datetimes(run: Callable[[Scenario], Any]) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> list[tuple[str, Any]]:
        bus = make()
        seen, handler = recorder()
        await bus.subscribe("readings.in", handler)
        await bus.publish("readings.in", [{"device": "d-1", "ts": dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC),
                                           "values": {"level": 1.25}, "note": "黄浦江"}])
        await until(lambda: len(seen) == 1)
        return seen

    assert run(scenario) == [("readings.in", [{"device": "d-1", "ts": "2024-05-01T08:30:00+00:00",
                                               "values": {"level": 1.25}, "note": "黄浦江"}])]


def test_a_busy_consumer_pulls_again_as_soon_as_it_is_done_not_on_the_next_turn_of_the_clock(
        run: Callable[[Scenario], Any]) -> None:
    # The clock pulls once an hour here, a batch of 8 at a time: 200 messages arrive only if the consumer
    # asks for the next batch each time it has handled the last one (it once waited for the clock). Not a
    # durable: closing a durable waits for its last pull requests to expire on the server (3 x the clock).
    async def scenario(make: Callable[..., JetStreamBus]) -> list[int]:
        bus = make(fetch_timeout=3600.0, batch=8)
        seen, handler = recorder()
        await bus.subscribe("burst.in", handler)
        for i in range(200):
            await bus.publish("burst.in", {"i": i})
        await until(lambda: len(seen) >= 200)
        return [m["i"] for _s, m in seen]

    assert run(scenario) == list(range(200))


def test_patterns_match_exactly_what_they_match_on_the_in_memory_bus(run: Callable[[Scenario], Any]) -> None:
    patterns = ("readings.*", "warnings.new", ">", "incidents.>", "*.water.*")
    subjects = ("readings.water", "readings.gas", "warnings.new", "warnings.closed", "incidents.1",
                "readings.water.level", "incidents")

    async def collect(bus: Any, drain: Callable[[dict[str, list[tuple[str, Any]]]], Awaitable[None]]) -> dict:
        got: dict[str, list[tuple[str, Any]]] = {}
        for pattern in patterns:
            got[pattern], handler = recorder()
            await bus.subscribe(pattern, handler)
        for subject in subjects:
            await bus.publish(subject, {"s": subject})
        await drain(got)
        return {p: [s for s, _ in seen] for p, seen in got.items()}

    async def scenario(make: Callable[..., JetStreamBus]) -> tuple[dict, dict]:
        memory = InMemoryBus()
        try:
            expected = await collect(memory, lambda _got: memory.drain())
        finally:
            await memory.close()
        total = sum(len(v) for v in expected.values())
        jet = await collect(make(), lambda got: until(lambda: sum(len(v) for v in got.values()) >= total))
        await asyncio.sleep(0.3)  # one more fetch round: nothing unexpected arrives late
        return expected, jet

    expected, jet = run(scenario)

    assert expected["readings.*"] == ["readings.water", "readings.gas"]
    assert expected["incidents.>"] == ["incidents.1"]
    assert expected["*.water.*"] == ["readings.water.level"]
    assert jet == expected


def test_a_durable_worker_resumes_where_it_stopped_without_loss_or_repeats(run: Callable[[Scenario], Any]) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> tuple[list[int], list[int]]:
        publisher = make()
        for i in range(30):
            await publisher.publish("readings.in", i)
        first: list[int] = []
        second: list[int] = []

        async def slow(_subject: str, message: int) -> None:
            await asyncio.sleep(0.005)
            first.append(message)

        worker = make(batch=4)
        await worker.subscribe("readings.*", slow, durable="ingest")
        await until(lambda: len(first) >= 10)
        await worker.close()  # mid-stream: the batch in hand is finished and acked, the rest stays queued
        for i in range(30, 40):
            await publisher.publish("readings.in", i)

        async def record(_subject: str, message: int) -> None:
            second.append(message)

        restarted = make()
        await restarted.subscribe("readings.*", record, durable="ingest")
        await until(lambda: len(first) + len(second) >= 40)
        await asyncio.sleep(0.3)
        return first, second

    first, second = run(scenario)

    assert first == list(range(len(first)))
    assert second == list(range(len(first), 40))  # in order, nothing handled twice, nothing lost


@pytest.mark.parametrize("share", ["durable", "queue"])
def test_workers_sharing_a_durable_split_the_messages(run: Callable[[Scenario], Any], share: str) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> list[list[int]]:
        handled: list[list[int]] = [[], []]
        for n in range(2):  # two connections, as two worker processes would have
            async def handler(_subject: str, message: int, mine: list[int] = handled[n]) -> None:
                await asyncio.sleep(0.002)
                mine.append(message)

            await make(batch=4).subscribe("readings.accepted", handler, **{share: "workers"})
        publisher = make()
        for i in range(60):
            await publisher.publish("readings.accepted", i)
        await until(lambda: len(handled[0]) + len(handled[1]) >= 60)
        await asyncio.sleep(0.3)
        return handled

    a, b = run(scenario)

    assert sorted(a + b) == list(range(60))  # each message handled once in total
    assert a and b  # and both workers took a share


def test_a_failing_handler_gets_the_message_again_and_a_poison_one_is_dropped_once(
        run: Callable[[Scenario], Any], caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> tuple[list[str], dict[str, int], dict]:
        attempts: dict[str, int] = {}
        done: list[str] = []

        async def flaky(_subject: str, message: str) -> None:
            attempts[message] = attempts.get(message, 0) + 1
            if message == "poison" or (message == "flaky" and attempts[message] < 3):
                raise RuntimeError(f"cannot handle {message}")
            done.append(message)

        # Short redelivery delays (0.2, 0.4, 0.8 s) and a generous deadline: CI machines are shared.
        bus = make(max_deliver=4, retry_delay=0.2, max_retry_delay=1.0)
        await bus.subscribe("jobs", flaky)
        for message in ("a", "flaky", "poison", "b"):
            await bus.publish("jobs", message)
        await until(lambda: len(done) == 3 and attempts.get("poison") == 4, timeout=30.0)
        await asyncio.sleep(0.5)  # a terminated message is not delivered again
        return done, attempts, bus.stats()

    with caplog.at_level(logging.ERROR, logger="citybrain.core.nats_bus"):
        done, attempts, stats = run(scenario)

    assert done[:2] == ["a", "b"] and done[2] == "flaky"  # redelivered after a delay, behind the others
    assert attempts == {"a": 1, "flaky": 3, "poison": 4, "b": 1}
    sub = stats["subscriptions"][0]
    assert (sub["delivered"], sub["failed"], sub["terminated"]) == (3, 6, 1)
    assert len([r for r in caplog.records if "gave up" in r.getMessage()]) == 1


def test_what_publish_returned_for_is_on_the_server_for_a_new_connection(run: Callable[[Scenario], Any]) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> tuple[list[tuple[str, Any]], Any]:
        writer = make()
        await writer.publish("readings.in", {"n": 1})
        await writer.publish("readings.in", {"n": 2})
        await writer.close()

        nc = await nats.connect(writer.url)  # a plain client: the message is in the stream itself
        try:
            raw = await nc.jetstream().get_last_msg(writer.stream, f"{writer.prefix}.readings.in")
        finally:
            await nc.close()
        seen, handler = recorder()
        reader = make()
        await reader.subscribe("readings.in", handler, durable="late-reader")  # a new durable starts at the oldest
        await until(lambda: len(seen) == 2)
        return seen, raw

    seen, raw = run(scenario)

    assert seen == [("readings.in", {"n": 1}), ("readings.in", {"n": 2})]
    assert raw.data == b'{"n":2}'


def test_a_stream_configured_for_other_subjects_is_for_the_user_to_fix(run: Callable[[Scenario], Any]) -> None:
    async def scenario(make: Callable[..., JetStreamBus]) -> str:
        await make().connect()
        with pytest.raises(SettingsError) as err:
            await make(prefix="elsewhere").connect()
        return str(err.value)

    assert "CITYBRAIN_NATS_URL" in run(scenario)


def test_refused_credentials_are_for_the_user_and_an_absent_server_is_transient(tmp_path: Any) -> None:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.path.exists(binary):
        pytest.skip("the nats-server binary is not installed (Debian package 'nats-server')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "--user", "cb", "--pass", "right"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

        async def attempt(url: str) -> BaseException:
            bus = JetStreamBus(url, timeout=1.5)
            try:
                await bus.connect()
            except Exception as exc:
                return exc
            finally:
                await bus.close()
            raise AssertionError("connected")

        started = time.monotonic()
        refused = asyncio.run(attempt(f"nats://cb:wrong@127.0.0.1:{port}"))
        refused_after = time.monotonic() - started
        server.terminate()
        server.wait(5)
        absent = asyncio.run(attempt(f"nats://127.0.0.1:{port}"))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)

    assert isinstance(refused, SettingsError) and "CITYBRAIN_NATS_URL" in str(refused)
    assert "wrong" not in str(refused)  # the password is not echoed
    assert refused_after < 1.5  # no waiting out the timeout: retrying cannot fix credentials
    assert isinstance(absent, Unavailable)


def test_classify_redact_and_make_bus() -> None:
    assert classify(nats.errors.AuthorizationError()) == "user_must_act"
    assert classify(nats.errors.TimeoutError()) == "transient"
    assert redact("nats://cb:secret@nats.local:4222") == "nats://cb:***@nats.local:4222"
    assert isinstance(make_bus(Settings(nats_url=None)), InMemoryBus)
    bus = make_bus(Settings(nats_url="nats://127.0.0.1:4222"), stream="OTHER")
    assert isinstance(bus, JetStreamBus) and bus.stream == "OTHER" and bus.state == "new"  # connects on first use
    with pytest.raises(SettingsError):
        JetStreamBus("http://127.0.0.1:4222")
