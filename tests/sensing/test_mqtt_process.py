"""The MQTT bridge with its network half in a receiver process, against a real Mosquitto.

The pipeline and the dead-letter writer stay in this process (the fakes of test_mqtt record what reaches
them); the child runs paho, the batching and the acknowledgements.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from types import SimpleNamespace
from typing import Any

from citybrain.sensing.mqtt import MqttBridge, bridge_for
from citybrain.sensing.mqtt_process import MqttProcessBridge
from tests.sensing.test_mqtt import Case, DeadLetters, FakePipeline, until, wire

OPTIONS = {"session_expiry_s": 300, "reconnect_min_s": 0.1, "reconnect_max_s": 1, "retry_min_s": 0.05,
           "retry_max_s": 0.2, "restart_min_s": 0.1, "restart_max_s": 0.5}


def receiver(case: Case, pipeline: Any, dead_letter: Any = None, **kw: Any) -> MqttProcessBridge:
    dead_letter = DeadLetters() if dead_letter is None else dead_letter
    return MqttProcessBridge(url=case.url, pipeline=pipeline, dead_letter=dead_letter, client_id=case.client_id,
                             prefix=case.prefix, **(OPTIONS | kw))


async def replaced(bridge: MqttProcessBridge, first: int | None) -> None:
    """Another receiver process took over from ``first`` and has subscribed."""
    await until(lambda: bridge.stats()["receiver_restarts"] == 1 and bridge.subscribed.is_set(),
                what="a new receiver")
    assert bridge.pid != first


def test_the_app_runs_the_receiver_process_unless_told_a_thread() -> None:
    url = "mqtt://127.0.0.1:1883"
    assert isinstance(bridge_for(SimpleNamespace(mqtt_url=url, mqtt_receiver="process")), MqttProcessBridge)
    assert isinstance(bridge_for(SimpleNamespace(mqtt_url=url, mqtt_receiver="thread")), MqttBridge)
    assert isinstance(bridge_for(None, receiver="thread", url=url), MqttBridge)
    assert isinstance(bridge_for(None, url=url), MqttProcessBridge)


def test_readings_and_dead_letters_come_here_from_the_receiver_process(broker_url: str) -> None:
    case, fake, dead = Case(broker_url), FakePipeline(), DeadLetters()
    bridge = receiver(case, fake, dead)

    async def scenario() -> None:
        async with case.running(bridge):
            assert bridge.pid is not None and bridge.pid != os.getpid()
            await case.send("DEV-A", b"not json")
            await case.send_readings([wire("DEV-B", n) for n in range(30)])
            await until(lambda: len(fake.stored) == 30, what="30 readings")
            await until(lambda: (bridge.stats()["received"], bridge.stats()["stored"]) == (31, 30),
                        what="the receiver's counts (reported every few tens of milliseconds)")
            assert {item["device_id"] for item in fake.stored.values()} == {"DEV-B"}
            assert dead == [("mqtt", "not json", "malformed")]
            stats = bridge.stats()
            assert stats["receiver"] == "process" and stats["connected"] and stats["state"] == "connected"
            assert (stats["stored"], stats["dead_lettered"], stats["receiver_restarts"]) == (30, 1, 0)
        assert bridge._process is not None and bridge._process.returncode == 0  # asked to stop, it stopped
        assert bridge.stats()["state"] == "stopped" and not bridge.subscribed.is_set()

    asyncio.run(scenario())


def test_start_returns_once_the_receiver_has_subscribed(broker_url: str) -> None:
    """So what the app's own devices publish right after start-up (the demo's simulator) finds a subscription."""
    bridge = receiver(Case(broker_url), FakePipeline())

    async def scenario() -> None:
        await bridge.start(None)
        try:
            assert bridge.subscribed.is_set() and bridge.stats()["state"] == "connected"
        finally:
            await bridge.stop()

    asyncio.run(scenario())


def test_a_failing_pipeline_here_leaves_the_batch_unacknowledged_there(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline(fail_first=3)
    sent = [wire("DEV-A", n) for n in range(5)]

    async def scenario() -> None:
        async with case.running(receiver(case, fake, batch_ms=300)) as bridge:
            await case.send_readings(sent)
            await until(lambda: len(fake.stored) == 5, what="the retried batch")
            await until(lambda: bridge.stats()["pipeline_errors"] == 3, what="the errors counted")
        assert {i["msg_id"] for i in fake.calls[0]} == {i["msg_id"] for i in fake.calls[3]}  # the same batch again

    asyncio.run(scenario())


def test_a_killed_receiver_is_started_again_and_loses_nothing(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()
    bridge = receiver(case, fake)

    async def scenario() -> None:
        async with case.running(bridge):
            first = bridge.pid
            await case.send_readings([wire(f"DEV-{n % 3}", n, "a-") for n in range(100)])
            assert first is not None
            os.kill(first, signal.SIGKILL)  # whatever it held unacknowledged stays with the broker's session
            await case.send_readings([wire(f"DEV-{n % 3}", n, "b-") for n in range(100)])
            await replaced(bridge, first)
            await until(lambda: len(fake.stored) == 200, what="all 200 readings", timeout=20)
        assert {i["msg_id"] for i in fake.seen()} == set(fake.stored)  # nothing else arrived

    asyncio.run(scenario())


def test_a_message_from_the_receiver_that_cannot_be_read_costs_that_receiver_not_the_bridge(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()
    bridge = receiver(case, fake)

    async def scenario() -> None:
        async with case.running(bridge):
            first, conn = bridge.pid, bridge._conn
            assert conn is not None

            def garbled() -> Any:
                raise ValueError("unpickling stack underflow")

            conn.recv = garbled  # type: ignore[method-assign]  # the next message from the child is unreadable
            await case.send_readings([wire("DEV-A", n, "garbled-") for n in range(10)])  # a message comes
            await replaced(bridge, first)
            await until(lambda: len(fake.stored) == 10, what="the readings, redelivered to the new receiver")

    asyncio.run(scenario())


def test_messages_sent_while_it_is_stopped_arrive_when_it_starts_again(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()

    async def scenario() -> None:
        async with case.running(receiver(case, fake)):
            pass  # the broker now holds the session and its subscription
        await case.send_readings([wire("DEV-A", n, "away-") for n in range(40)])
        async with case.running(receiver(case, fake)):
            await until(lambda: len(fake.stored) == 40, what="the 40 readings kept by the broker")

    asyncio.run(scenario())


def test_the_receiver_exits_when_this_process_is_gone(broker_url: str) -> None:
    case = Case(broker_url)
    bridge = receiver(case, FakePipeline())

    async def scenario() -> None:
        await bridge.start(None)
        await until(bridge.subscribed.is_set, what="the subscription")
        bridge._stopping.set()  # no new receiver: this stands for the app process dying
        assert bridge._conn is not None
        # what the kernel does to our end of the pipe when this process dies (a close() here would not reach
        # the child while our reader thread still waits on the socket)
        with socket.socket(fileno=os.dup(bridge._conn.fileno())) as ours:
            ours.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 10
        while bridge._process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert bridge._process.returncode == 3  # it left at once, acknowledging nothing more
        await bridge.stop()

    asyncio.run(scenario())
