"""The MQTT bridge against a real Mosquitto (127.0.0.1:1883, or CITYBRAIN_TEST_MQTT_URL).

Every test uses its own topic prefix and client id, so parallel runs do not see each other's messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.sensing.models import DeadLetter, Reading
from citybrain.sensing.mqtt import (
    DEFAULT_CLIENT_ID,
    BrokerUrl,
    MqttBridge,
    _Msg,
    decode_message,
    default_client_id,
    publish,
    publish_readings,
    readings_topic,
)
from citybrain.sensing.pipeline import IngestResult, Rejection
from tests.sensing.conftest import reading


class FakePipeline:
    """Records what it is given, dedupes by msg_id as the real one does, and fails when told to."""

    def __init__(self, fail_first: int = 0, fail_always: bool = False) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.fail_first, self.fail_always = fail_first, fail_always
        self.lock = threading.Lock()

    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> IngestResult:
        assert source == "mqtt"
        with self.lock:
            self.calls.append(list(items))
            if self.fail_always or len(self.calls) <= self.fail_first:
                raise RuntimeError("database is down")
            result = IngestResult()
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    result.rejected.append(Rejection(i, None, None, "malformed", None, "not an object"))
                elif item["msg_id"] in self.stored:
                    result.duplicates += 1
                else:
                    self.stored[item["msg_id"]] = item
                    result.accepted += 1
            return result

    def seen(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item for call in self.calls for item in call]


class DeadLetters(list[tuple[str, str, str]]):
    def __call__(self, source: str, payload: str, reason: str) -> None:
        self.append((source, payload, reason))


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class Case:
    """One test's namespace on the shared broker: a topic prefix and a client id nobody else uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:12]
        self.prefix, self.client_id = f"cbtest-{tag}/v1", f"cbtest-bridge-{tag}"

    def bridge(self, pipeline: Any, dead_letter: Any = None, **kw: Any) -> MqttBridge:
        opts: dict[str, Any] = {"client_id": self.client_id, "prefix": self.prefix, "session_expiry_s": 300,
                                "reconnect_min_s": 0.1, "reconnect_max_s": 1, "retry_min_s": 0.05,
                                "retry_max_s": 0.2}
        dead_letter = DeadLetters() if dead_letter is None else dead_letter
        return MqttBridge(url=self.url, pipeline=pipeline, dead_letter=dead_letter, **(opts | kw))

    @asynccontextmanager
    async def running(self, bridge: MqttBridge) -> AsyncIterator[MqttBridge]:
        await bridge.start(None)
        try:
            await until(bridge.subscribed.is_set, what="the subscription")
            yield bridge
        finally:
            await bridge.stop()

    async def send(self, device: str, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload)
        await asyncio.to_thread(publish, self.url, [(readings_topic(device, self.prefix), body)])

    async def send_readings(self, readings: list[dict[str, Any]], **kw: Any) -> None:
        await asyncio.to_thread(publish_readings, self.url, readings, prefix=self.prefix, **kw)


def wire(device: str, n: int, tag: str = "") -> dict[str, Any]:
    return {"device_id": device, "ts": f"2026-11-30T07:{n // 60:02d}:{n % 60:02d}Z", "values": {"methane": 0.4},
            "msg_id": f"{device}-{tag}{n}"}


# -- no broker needed ---------------------------------------------------------------------------------


def test_decode_takes_the_device_from_the_topic_and_refuses_what_the_pipeline_cannot_judge() -> None:
    topic = readings_topic("SIM-GAS-000001")
    items, refusal = decode_message(topic, b'{"ts": "2026-11-30T07:00:00Z", "value": 1}')
    assert refusal is None and items == [{"ts": "2026-11-30T07:00:00Z", "value": 1, "device_id": "SIM-GAS-000001"}]
    items, _ = decode_message(topic, b'[{"device_id": "SIM-GAS-000001", "value": 1}, 7]')
    assert items == [{"device_id": "SIM-GAS-000001", "value": 1}, 7]  # 7 is the pipeline's to reject
    assert decode_message(topic, b"{oops")[1][0] == "malformed"  # type: ignore[index]
    assert decode_message(topic, b"\xff\xfe")[1][0] == "malformed"  # type: ignore[index]
    assert decode_message(topic, b'"text"')[1] == ("malformed", "a JSON str, not an object or array")
    reason, detail = decode_message(topic, b'{"device_id": "SIM-GAS-000002", "value": 1}')[1]  # type: ignore[misc]
    assert reason == "topic_mismatch" and "topic/device mismatch" in detail
    assert decode_message("citybrain/v1/devices/x/other", b"{}")[1][0] == "malformed"  # type: ignore[index]


def test_a_batch_closes_once_its_oldest_message_has_waited_batch_ms() -> None:
    """Messages that queued while the last batch was being stored have used their wait already."""
    bridge = MqttBridge(url="mqtt://127.0.0.1:1883", pipeline=FakePipeline(), dead_letter=DeadLetters(),
                        batch_ms=60_000)
    waited_a_minute = time.monotonic() - 61
    for mid in range(3):
        bridge._queue.put(_Msg("t", b"{}", mid, 1, 0, waited_a_minute))
    started = time.monotonic()
    batch = bridge._gather()
    assert [m.mid for m in batch] == [0, 1, 2] and time.monotonic() - started < 30  # not another minute
    bridge._queue.put(_Msg("t", b"{}", 3, 1, 0, time.monotonic()))
    bridge.batch_size = 2
    threading.Timer(0.01, bridge._queue.put, [_Msg("t", b"{}", 4, 1, 0, time.monotonic())]).start()
    assert [m.mid for m in bridge._gather()] == [3, 4]  # a fresh one waits for company (here: till the batch is full)


def test_broker_url() -> None:
    b = BrokerUrl.parse("mqtts://dev%40ice:p%3Ass@broker.example:8884/?client_id=node-1&ca=/etc/ca.pem")
    assert (b.host, b.port, b.tls, b.username, b.password, b.client_id, b.ca_certs) == (
        "broker.example", 8884, True, "dev@ice", "p:ss", "node-1", "/etc/ca.pem")
    assert BrokerUrl.parse("mqtts://h").port == 8883 and BrokerUrl.parse("mqtt://h").port == 1883
    with pytest.raises(ValueError, match="CITYBRAIN_MQTT_URL"):
        BrokerUrl.parse("http://h")
    assert b.share is None and BrokerUrl.parse("mqtt://h/?share=ingest&client_id=n1").share == "ingest"
    with pytest.raises(ValueError, match="CITYBRAIN_MQTT_URL: share='a/b'"):
        BrokerUrl.parse("mqtt://h?share=a/b")


def test_a_share_group_gives_each_node_its_own_stable_client_id() -> None:
    assert default_client_id(None, "node-1") == DEFAULT_CLIENT_ID == "citybrain-bridge"
    assert default_client_id("ingest", "node-1.city.example") == "citybrain-bridge-node-1.city.example"
    assert default_client_id("ingest", "node 2") == "citybrain-bridge-node-2"
    opts: dict[str, Any] = {"pipeline": FakePipeline(), "dead_letter": DeadLetters()}
    assert MqttBridge(url="mqtt://h", **opts).client_id == "citybrain-bridge"  # as before
    shared = MqttBridge(url="mqtt://h?share=ingest", **opts)
    assert shared.share == "ingest" and shared.client_id == f"citybrain-bridge-{socket.gethostname()}"
    assert shared.client_id == MqttBridge(url="mqtt://h?share=ingest", **opts).client_id  # stable
    assert MqttBridge(url="mqtt://h?share=ingest&client_id=n1", **opts).client_id == "n1"
    assert MqttBridge(url="mqtt://h", share="other", client_id="n2", **opts).share == "other"


# -- against the broker -------------------------------------------------------------------------------


def test_readings_reach_the_pipeline_with_the_device_from_the_topic(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()

    async def scenario() -> None:
        async with case.running(case.bridge(fake)) as bridge:
            await case.send("DEV-A", {"ts": "2026-11-30T07:00:00Z", "value": 0.4, "msg_id": "m1"})  # no device_id
            await case.send_readings([wire("DEV-B", 1), wire("DEV-B", 2)])
            await until(lambda: len(fake.stored) == 3, what="3 readings")
            assert fake.stored["m1"]["device_id"] == "DEV-A"
            assert {fake.stored[k]["device_id"] for k in ("DEV-B-1", "DEV-B-2")} == {"DEV-B"}
            stats = bridge.stats()
            assert stats["connected"] and stats["received"] == 3 and stats["stored"] == 3 and stats["batches"] >= 1

    asyncio.run(scenario())


def test_an_array_is_a_batch(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()

    async def scenario() -> None:
        async with case.running(case.bridge(fake)) as bridge:
            await case.send_readings([wire("DEV-A", n) for n in range(50)], batch=True)
            await until(lambda: len(fake.stored) == 50, what="the batch")
            assert bridge.stats()["received"] == 1

    asyncio.run(scenario())


def test_malformed_messages_go_to_dead_letters_and_later_ones_still_arrive(broker_url: str) -> None:
    case, fake, dead = Case(broker_url), FakePipeline(), DeadLetters()

    async def scenario() -> None:
        async with case.running(case.bridge(fake, dead)) as bridge:
            for bad in (b"not json", b'"a string"', b"\xff\xfe", b"42"):
                await case.send("DEV-A", bad)
            await case.send("DEV-A", {**wire("DEV-B", 1), "device_id": "DEV-B"})  # topic says DEV-A
            await case.send("DEV-A", [wire("DEV-A", 2), "not an object"])  # the pipeline rejects the string
            await case.send_readings([wire("DEV-A", 3)])
            await until(lambda: "DEV-A-3" in fake.stored, what="the good reading after the bad ones")
            assert set(fake.stored) == {"DEV-A-2", "DEV-A-3"}
            assert [r for _s, _p, r in dead] == ["malformed"] * 4 + ["topic_mismatch"]
            assert {s for s, _p, _r in dead} == {"mqtt"} and dead[0][1] == "not json"
            stats = bridge.stats()
            assert (stats["dead_lettered"], stats["rejected"], stats["received"]) == (5, 6, 7)

    asyncio.run(scenario())


def test_no_loss_across_a_bridge_outage(broker_url: str) -> None:
    case, fake = Case(broker_url), FakePipeline()

    async def scenario() -> None:
        async with case.running(case.bridge(fake)):
            pass  # the broker now holds a persistent session with the subscription
        await case.send_readings([wire(f"DEV-{n % 7}", n, "outage-") for n in range(200)])
        again = case.bridge(fake)
        async with case.running(again):
            await until(lambda: len(fake.stored) == 200, what="200 readings", timeout=20)
            await case.send_readings([wire("DEV-Z", 0, "sentinel-")])  # in order after anything redelivered
            await until(lambda: "DEV-Z-sentinel-0" in fake.stored, what="the sentinel")
        assert len({i["msg_id"] for i in fake.seen()}) == 201
        assert len(fake.seen()) == 201  # a clean stop acked everything: nothing came twice

    asyncio.run(scenario())


def test_a_failing_pipeline_gets_the_same_messages_again(broker_url: str, caplog: pytest.LogCaptureFixture) -> None:
    case, fake = Case(broker_url), FakePipeline(fail_first=3)
    sent = [wire("DEV-A", n) for n in range(5)]

    async def scenario() -> None:
        async with case.running(case.bridge(fake, batch_ms=300)) as bridge:
            await case.send_readings(sent)
            await until(lambda: len(fake.stored) == 5, what="the retried batch")
            assert bridge.stats()["pipeline_errors"] == 3
        first_attempt = {i["msg_id"] for i in fake.calls[0]}
        assert first_attempt <= set(fake.stored) and {i["msg_id"] for i in fake.calls[1]} == first_attempt
        errors = [r for r in caplog.records if r.name == "citybrain.sensing.mqtt" and r.levelno == logging.ERROR]
        assert len(errors) == 1 and "RuntimeError" in errors[0].getMessage()

    asyncio.run(scenario())


def test_unacked_messages_are_redelivered_to_the_next_session(broker_url: str) -> None:
    """Mosquitto resends an unacknowledged QoS-1 message only when the session reconnects (as MQTT says)."""
    case, down, up = Case(broker_url), FakePipeline(fail_always=True), FakePipeline()

    async def scenario() -> None:
        async with case.running(case.bridge(down)):
            await case.send_readings([wire("DEV-A", n) for n in range(5)])
            await until(lambda: len(down.seen()) >= 5, what="the messages reaching the failing pipeline")
        assert not down.stored
        async with case.running(case.bridge(up)) as bridge:
            await until(lambda: len(up.stored) == 5, what="the redelivered messages")
            assert bridge.stats()["redelivered"] >= 1  # the broker set DUP: it had sent them before

    asyncio.run(scenario())


def shared(case: Case) -> Case:
    """The case with ``?share=`` (a group nobody else uses) in its URL."""
    case.url += ("&" if "?" in case.url else "?") + f"share=g-{case.client_id}"
    return case


async def burst(case: Case, n: int, tag: str) -> list[dict[str, Any]]:
    sent = [wire(f"DEV-{i % 5}", i, tag) for i in range(n)]
    await case.send_readings(sent)
    return sent


def test_bridges_in_one_share_group_split_the_messages(broker_url: str) -> None:
    case, n = shared(Case(broker_url)), 200
    fakes = [FakePipeline(), FakePipeline()]

    async def scenario() -> None:
        bridges = [case.bridge(f, client_id=f"{case.client_id}-{i}") for i, f in enumerate(fakes)]
        async with case.running(bridges[0]), case.running(bridges[1]):
            sent = await burst(case, n, "split-")
            await until(lambda: sum(len(f.stored) for f in fakes) >= n, what=f"{n} readings")
            await case.send_readings([wire("DEV-Z", 0, "sentinel-"), wire("DEV-Z", 1, "sentinel-")])
            await until(lambda: sum(len(f.stored) for f in fakes) >= n + 2, what="the sentinels")
            received = [b.stats()["received"] for b in bridges]
            assert sum(received) == n + 2 and min(received) > 0, received
        seen = [[i["msg_id"] for i in f.seen()] for f in fakes]
        assert not set(seen[0]) & set(seen[1])  # each message went to exactly one bridge, once
        assert set(seen[0]) | set(seen[1]) >= {r["msg_id"] for r in sent} and len(seen[0]) + len(seen[1]) == n + 2

    asyncio.run(scenario())


def test_without_a_share_group_every_bridge_gets_every_message(broker_url: str) -> None:
    case, n = Case(broker_url), 50
    fakes = [FakePipeline(), FakePipeline()]

    async def scenario() -> None:
        bridges = [case.bridge(f, client_id=f"{case.client_id}-{i}") for i, f in enumerate(fakes)]
        async with case.running(bridges[0]), case.running(bridges[1]):
            sent = await burst(case, n, "all-")
            await until(lambda: all(len(f.stored) == n for f in fakes), what=f"{n} readings at both")
            assert [b.stats()["received"] for b in bridges] == [n, n]
        assert all(set(f.stored) == {r["msg_id"] for r in sent} for f in fakes)

    asyncio.run(scenario())


def test_joining_a_share_group_drops_the_session_s_plain_subscription(broker_url: str) -> None:
    """A client id that ran without ``share`` keeps its plain subscription in its session unless told otherwise."""
    plain, n = Case(broker_url), 40
    group = shared(Case(broker_url))
    group.prefix, group.client_id = plain.prefix, plain.client_id
    fakes = [FakePipeline(), FakePipeline()]

    async def scenario() -> None:
        async with plain.running(plain.bridge(FakePipeline())):
            pass  # the session now holds {prefix}/devices/+/readings
        bridges = [group.bridge(fakes[0]), group.bridge(fakes[1], client_id=f"{group.client_id}-new")]
        async with group.running(bridges[0]), group.running(bridges[1]):
            await burst(group, n, "join-")
            await until(lambda: sum(len(f.stored) for f in fakes) >= n, what=f"{n} readings")
            await group.send_readings([wire("DEV-Z", 0, "sentinel-")])
            await until(lambda: sum(len(f.stored) for f in fakes) >= n + 1, what="the sentinel")
            assert sum(b.stats()["received"] for b in bridges) == n + 1

    asyncio.run(scenario())


def test_a_group_member_s_share_waits_in_its_session_while_it_is_away(broker_url: str) -> None:
    """Mosquitto keeps giving a disconnected member (persistent session) its turn: queued, not given to another."""
    case, n = shared(Case(broker_url)), 40
    fakes = [FakePipeline(), FakePipeline()]

    async def scenario() -> None:
        stays, leaves = (case.bridge(f, client_id=f"{case.client_id}-{i}") for i, f in enumerate(fakes))
        async with case.running(stays):
            async with case.running(leaves):
                pass  # joined the group, then gone (its session stays)
            sent = await burst(case, n, "away-")
            await until(lambda: len(fakes[0].stored) >= n // 2, what="the staying bridge's share")
            await asyncio.sleep(0.3)
            assert 0 < len(fakes[0].stored) < n and not fakes[1].stored
            back = case.bridge(fakes[1], client_id=f"{case.client_id}-1")
            async with case.running(back):
                await until(lambda: len(fakes[0].stored) + len(fakes[1].stored) == n, what="the rest, on return")
        assert set(fakes[0].stored) | set(fakes[1].stored) == {r["msg_id"] for r in sent}

    asyncio.run(scenario())


def test_stop_is_clean(broker_url: str) -> None:
    case = Case(broker_url)
    bridge = case.bridge(FakePipeline())

    async def scenario() -> None:
        async with case.running(bridge):
            assert bridge._worker is not None and bridge._worker.is_alive()
        assert not bridge._worker.is_alive()
        assert bridge._client is not None and bridge._client._thread is None
        assert bridge.stats()["state"] == "stopped" and not bridge.stats()["connected"]
        assert not [t for t in threading.enumerate() if case.client_id in t.name]

    asyncio.run(scenario())


def test_stored_through_the_real_pipeline_and_dead_letters(broker_url: str, database: Any, clock: Any,
                                                           pipeline: Any) -> None:
    case = Case(broker_url)
    t0 = clock.now() - timedelta(hours=1)

    async def scenario() -> None:
        bridge = MqttBridge(url=broker_url, database=database, clock=clock, pipeline=pipeline,
                            client_id=case.client_id, prefix=case.prefix, session_expiry_s=60)
        async with case.running(bridge):
            await case.send("GAS-1", b"{broken")
            await case.send_readings([reading("GAS-1", t0, 0.4), reading("GAS-1", t0 + timedelta(minutes=1), 500.0)])
            await until(lambda: bridge.stats()["rejected"] + bridge.stats()["stored"] == 3,
                        what=f"both ({bridge.stats()})")
            assert bridge.stats()["stored"] == 1

    asyncio.run(scenario())
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Reading)) == 1
        reasons = sorted(s.scalars(sa.select(DeadLetter.reason).where(DeadLetter.source == "mqtt")))
        assert reasons == ["malformed", "out_of_range"]


def test_an_unreachable_broker_is_transient_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens here
    bridge = MqttBridge(url=f"mqtt://127.0.0.1:{port}", pipeline=FakePipeline(), dead_letter=DeadLetters(),
                        client_id=f"cbtest-{uuid.uuid4().hex[:8]}", reconnect_min_s=0.05, reconnect_max_s=0.1)

    async def scenario() -> None:
        await bridge.start(None)
        try:
            await until(lambda: bridge.stats()["connect_failures"] >= 3, what="three failed attempts")
            assert bridge.stats()["state"] == "connecting"
        finally:
            await bridge.stop()

    with caplog.at_level(logging.WARNING, logger="citybrain.sensing.mqtt"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.name == "citybrain.sensing.mqtt" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "cannot reach the broker" in warnings[0].getMessage()


class PrivateBroker:
    """A Mosquitto of the test's own (its config, its port), which the test can stop and start again."""

    def __init__(self, tmp_path: Path, config: str) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.binary).exists():
            pytest.skip("the mosquitto binary is not installed (Debian package 'mosquitto')")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.conf = tmp_path / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\n{config.format(data=tmp_path)}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    pytest.fail("could not start a private mosquitto")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def private_broker(tmp_path: Path) -> Any:
    brokers: list[PrivateBroker] = []

    def make(config: str) -> PrivateBroker:
        brokers.append(PrivateBroker(tmp_path, config))
        brokers[-1].start()
        return brokers[-1]

    yield make
    for b in brokers:
        b.stop()


def test_a_broker_restart_is_a_transient_outage(private_broker: Any,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    broker = private_broker("allow_anonymous true\npersistence true\npersistence_location {data}/\n")
    url = f"mqtt://127.0.0.1:{broker.port}"
    case, fake = Case(url), FakePipeline()

    async def scenario() -> None:
        async with case.running(case.bridge(fake)) as bridge:
            await case.send_readings([wire("DEV-A", 0)])
            await until(lambda: len(fake.stored) == 1, what="the first reading")
            await asyncio.to_thread(broker.stop)  # saves the sessions to its persistence file
            await until(lambda: bridge.stats()["state"] == "reconnecting", what="noticing the outage")
            await asyncio.to_thread(broker.start)
            await until(bridge.subscribed.is_set, what="the new connection")
            await case.send_readings([wire("DEV-A", 1)])
            await until(lambda: len(fake.stored) == 2, what="the reading after the restart")
            assert bridge.stats()["reconnects"] == 1 and bridge.stats()["connected"]

    with caplog.at_level(logging.INFO, logger="citybrain.sensing.mqtt"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.name == "citybrain.sensing.mqtt" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "connection lost" in warnings[0].getMessage()


@pytest.fixture
def locked_broker(private_broker: Any) -> str:
    """A private Mosquitto that refuses everyone (no anonymous access, no password file)."""
    broker = private_broker("allow_anonymous false\npersistence false")
    return f"mqtt://someone:wrong-password@127.0.0.1:{broker.port}"


def test_refused_credentials_mean_the_user_must_act(locked_broker: str, caplog: pytest.LogCaptureFixture) -> None:
    bridge = MqttBridge(url=locked_broker, pipeline=FakePipeline(), dead_letter=DeadLetters(),
                        client_id=f"cbtest-{uuid.uuid4().hex[:8]}", reconnect_min_s=0.05, reconnect_max_s=0.1,
                        auth_attempts=3)

    async def scenario() -> None:
        await bridge.start(None)
        try:
            await until(lambda: bridge.stats()["state"] == "user_must_act", what="giving up")
            await until(lambda: bridge._client is not None and bridge._client._thread is None, what="the loop ending")
            assert bridge.stats()["connect_failures"] == 3
        finally:
            await bridge.stop()

    with caplog.at_level(logging.WARNING, logger="citybrain.sensing.mqtt"):
        asyncio.run(scenario())
    logged = [r for r in caplog.records if r.name == "citybrain.sensing.mqtt" and r.levelno >= logging.WARNING]
    assert [r.levelno for r in logged] == [logging.ERROR] and "refuses" in logged[0].getMessage()
