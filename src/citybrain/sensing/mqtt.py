"""MQTT ingestion: devices publish readings to a broker; the bridge stores them once, losing none.

What the bridge guarantees: a QoS-1 reading published to ``{prefix}/devices/{device_id}/readings``
is acknowledged to the broker (PUBACK) only after ``pipeline.ingest`` has committed it or it has been
written to the dead letters; the session is persistent (MQTT 5, ``clean_start=False``, a session
expiry), so what is published while the bridge is down or crashed is delivered when it returns.
Delivery is at least once; the pipeline's idempotency (device+quantity+ts, msg_id) makes it once.

Several bridges (``?share=GROUP``) subscribe to the readings through an MQTT 5 shared subscription, so the
broker hands each message to one of them; each needs a client id of its own (derived from the host name
unless given), and a member's queued and unacknowledged messages stay with its session (docs/mqtt.md).

Threads: paho's network loop receives into a bounded queue (the broker never has more unacknowledged
messages in flight than ``receive_maximum``, so the loop does not block); one worker gathers batches
(up to ``batch_size`` messages, none waiting longer than ``batch_ms`` since it arrived), stores them and
acks. A failing pipeline is retried with backoff while its messages stay unacknowledged. Topic scheme and
broker settings: docs/mqtt.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

SOURCE = "mqtt"
TOPIC_PREFIX = "citybrain/v1"
DEFAULT_CLIENT_ID = "citybrain-bridge"
# CONNACK reason codes a retry cannot fix: 133 client id not valid, 134 bad user name or password,
# 135 not authorised, 138 banned, 140 bad authentication method.
USER_MUST_ACT = frozenset({133, 134, 135, 138, 140})
MAX_PAYLOAD_KEPT = 20_000

DeadLetterWriter = Callable[[str, str, str], None]  # (source, payload, reason)


class IngestPipeline(Protocol):
    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    client_id: str | None
    ca_certs: str | None
    share: str | None = None  # an MQTT 5 shared-subscription group for the readings

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """``mqtt://user:pass@host:1883`` or ``mqtts://…`` (port 8883); ``?client_id=…&ca=/path.pem&share=…``."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"CITYBRAIN_MQTT_URL must be mqtt://host[:port] or mqtts://…, not {url!r}")
        query = parse_qs(parts.query)
        tls = parts.scheme == "mqtts"
        share = query.get("share", [None])[0]
        if share is not None and any(c in share for c in "/+#"):
            raise ValueError(f"CITYBRAIN_MQTT_URL: share={share!r} is not a shared-subscription group name "
                             "(no '/', '+' or '#')")
        return cls(
            host=parts.hostname, port=parts.port or (8883 if tls else 1883), tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            client_id=query.get("client_id", [None])[0], ca_certs=query.get("ca", [None])[0], share=share,
        )


def client_id_for(broker: BrokerUrl, client_id: str | None, share: str | None) -> str:
    """The bridge's client id: the one given, else the URL's ``?client_id=``, else ``default_client_id``."""
    return client_id or broker.client_id or default_client_id(share or broker.share)


def default_client_id(share: str | None, hostname: str | None = None) -> str:
    """``citybrain-bridge``, or with a share group ``citybrain-bridge-<host name>``: one id per node, the same
    after a restart, so a restarted node resumes its session and the messages queued in it."""
    if not share:
        return DEFAULT_CLIENT_ID
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", hostname if hostname is not None else socket.gethostname())
    return f"{DEFAULT_CLIENT_ID}-{host or 'host'}"


def fill_from_app(bridge: Any, app: Any) -> None:
    """A bridge's ``database``, ``clock``, ``pipeline`` and ``dead_letter``, where not given, from ``app.state``:
    the app's pipeline is shared (one device cache for HTTP, MQTT and the bus); dead letters go to the table."""
    state = getattr(app, "state", None)
    bridge.database = bridge.database or getattr(state, "db", None)
    bridge.clock = bridge.clock or getattr(state, "clock", None)
    if bridge.pipeline is None:
        from citybrain.sensing.pipeline import Pipeline

        shared = getattr(state, "cache", {}).get("sensing.pipeline") if state is not None else None
        bridge.pipeline = shared or Pipeline(bridge.database, bridge.clock, getattr(state, "bus", None))
    if bridge.dead_letter is None:
        bridge.dead_letter = database_dead_letter(bridge.database, bridge.clock)


def hand_off(pipeline: Any, loop: asyncio.AbstractEventLoop | None, result: Any) -> None:
    """Stored readings go on to the bus through the pipeline's async hand-off on ``loop``, in order (from a
    bridge's thread, which waits for it); raises what the hand-off raised."""
    publish = getattr(pipeline, "publish", None)
    if publish is None or loop is None or not getattr(result, "readings", None):
        return
    asyncio.run_coroutine_threadsafe(publish(result), loop).result(timeout=30)


def bridge_for(settings: Any, *, receiver: str | None = None, **options: Any) -> Any:
    """The bridge the app runs for ``settings``: with its network half (paho, batching, acknowledgements) in a
    process of its own (``sensing.mqtt_process``), or with ``CITYBRAIN_MQTT_RECEIVER=thread`` (``receiver``
    overrides the setting) in this one."""
    if (receiver or getattr(settings, "mqtt_receiver", "process")) == "thread":
        return MqttBridge(settings, **options)
    from citybrain.sensing.mqtt_process import MqttProcessBridge

    return MqttProcessBridge(settings, **options)


def make_client(broker: BrokerUrl, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=broker.ca_certs)
    return client


def readings_topic(device_id: str, prefix: str = TOPIC_PREFIX) -> str:
    return f"{prefix}/devices/{device_id}/readings"


def database_dead_letter(database: Any, clock: Any) -> DeadLetterWriter:
    """The default dead-letter writer: one ``DeadLetter`` row per refused message."""
    from citybrain.sensing.models import DeadLetter

    def write(source: str, payload: str, reason: str) -> None:
        with database.session() as session:
            session.add(DeadLetter(received_at=clock.now(), source=source, payload=payload[:MAX_PAYLOAD_KEPT],
                                   reason=reason[:40]))

    return write


@dataclass(slots=True)
class _Msg:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    arrived: float = 0.0  # time.monotonic() when paho handed it over
    items: list[dict[str, Any]] | None = None  # decoded readings, or None when refused
    refusal: tuple[str, str] | None = None  # (reason, detail) for the dead letters
    dead_lettered: bool = False


def decode_message(topic: str, payload: bytes, prefix: str = TOPIC_PREFIX) -> tuple[list[dict[str, Any]] | None,
                                                                                     tuple[str, str] | None]:
    """A readings message → wire dicts with the topic's device id, or (reason, detail) to dead-letter.

    Only what the pipeline cannot judge is refused here (not JSON, not an object or array, a device id
    that contradicts the topic); the pipeline rejects bad fields and values itself.
    """
    parts = topic[len(prefix) + 1:].split("/") if topic.startswith(prefix + "/") else []
    if len(parts) != 3 or parts[0] != "devices" or parts[2] != "readings" or not parts[1]:
        return None, ("malformed", f"unexpected topic {topic!r}")
    device_id = parts[1]
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, ("malformed", f"not JSON: {exc}")
    raw = body if isinstance(body, list) else [body] if isinstance(body, dict) else None
    if raw is None:
        return None, ("malformed", f"a JSON {type(body).__name__}, not an object or array")
    items: list[dict[str, Any]] = []
    for element in raw:
        if isinstance(element, dict):
            if "device_id" in element and element["device_id"] != device_id:
                return None, ("topic_mismatch", f"topic/device mismatch: topic {device_id!r}, "
                                                f"payload {element['device_id']!r}")
            element = {**element, "device_id": device_id}
        items.append(element)  # a non-object element is rejected (and dead-lettered) by the pipeline
    return items, None


class MqttBridge:
    """The MQTT adapter as a background service (``name``, ``start(app)``, ``stop()``)."""

    name = "mqtt"

    def __init__(self, settings: Any = None, database: Any = None, clock: Any = None, *,
                 url: str | None = None, pipeline: IngestPipeline | None = None,
                 dead_letter: DeadLetterWriter | None = None, client_id: str | None = None, share: str | None = None,
                 prefix: str = TOPIC_PREFIX, batch_size: int = 500, batch_ms: float = 25,
                 receive_maximum: int = 1000, session_expiry_s: int = 7 * 86400, keepalive_s: int = 30,
                 reconnect_min_s: float = 1, reconnect_max_s: float = 60, auth_attempts: int = 3,
                 retry_min_s: float = 0.5, retry_max_s: float = 30, stop_timeout_s: float = 10) -> None:
        url = url or (settings.mqtt_url if settings is not None else None)
        if not url:
            raise ValueError("CITYBRAIN_MQTT_URL is not set; the MQTT bridge needs a broker")
        self.broker = BrokerUrl.parse(url)
        self.share = share or self.broker.share
        self.client_id = client_id_for(self.broker, client_id, self.share)
        self.database, self.clock, self.pipeline, self.dead_letter = database, clock, pipeline, dead_letter
        self.prefix = prefix
        self.batch_size, self.batch_ms = batch_size, batch_ms
        self.receive_maximum, self.session_expiry_s, self.keepalive_s = receive_maximum, session_expiry_s, keepalive_s
        self.reconnect_min_s, self.reconnect_max_s, self.auth_attempts = reconnect_min_s, reconnect_max_s, auth_attempts
        self.retry_min_s, self.retry_max_s, self.stop_timeout_s = retry_min_s, retry_max_s, stop_timeout_s
        self._queue: queue.Queue[_Msg] = queue.Queue(maxsize=receive_maximum + 100)
        self._lock = threading.Lock()  # guards the generation against acks racing a reconnect
        self._generation = 0
        self._stop = threading.Event()
        self._closing = False
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outage_logged = False
        self._auth_failures = 0
        self._ever_connected = False  # per process: a restart of the bridge with start() is not a reconnect
        self._logged_errors: set[str] = set()
        self.subscribed = threading.Event()
        self._shared_subscribed = False
        self.state = "stopped"
        self.counts = dict.fromkeys(("received", "stored", "duplicates", "rejected", "dead_lettered", "batches",
                                     "reconnects", "redelivered", "status_messages", "pipeline_errors",
                                     "connect_failures"), 0)

    # -- service protocol ---------------------------------------------------------------------------

    async def start(self, app: Any = None) -> None:
        fill_from_app(self, app)
        self._loop = asyncio.get_running_loop()
        while not self._queue.empty():  # left by an earlier run: unacked, so the broker redelivers them
            self._queue.get_nowait()
        self._stop.clear()
        self._closing, self._ever_connected, self._outage_logged = False, False, False
        self._worker = threading.Thread(target=self._work, name=f"mqtt-worker-{self.client_id}", daemon=True)
        self._worker.start()
        client = self._client = make_client(self.broker, self.client_id)
        client.manual_ack_set(True)
        client.reconnect_delay_set(self.reconnect_min_s, self.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect, client.on_connect_fail = self._on_connect, self._on_connect_fail
        client.on_disconnect, client.on_message = self._on_disconnect, self._on_message
        client.on_subscribe, client.on_unsubscribe = self._on_subscribe, self._on_unsubscribe
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self.state = "connecting"
        client.connect_async(self.broker.host, self.broker.port, keepalive=self.keepalive_s, clean_start=False,
                             properties=props)
        client.loop_start()
        log.info("mqtt: bridge %s connecting to %s:%d%s", self.client_id, self.broker.host, self.broker.port,
                 f" (share group {self.share})" if self.share else "")

    async def stop(self) -> None:
        """Stop taking messages, store and ack what was received, then disconnect (the session stays)."""
        self._closing = True  # later deliveries stay unacknowledged: the broker redelivers them next time
        self._stop.set()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join, self.stop_timeout_s)
            if self._worker.is_alive():
                log.error("mqtt: worker still busy after %.0f s; its messages will be redelivered",
                          self.stop_timeout_s)
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)
        self.state = "stopped"
        self.subscribed.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "connected": self.state == "connected", "state": self.state,
                "queued": self._queue.qsize()}

    # -- network-loop callbacks (paho's thread) ----------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.counts["connect_failures"] += 1
            if reason.value in USER_MUST_ACT:
                self._auth_failures += 1
                if self._auth_failures >= self.auth_attempts:
                    self.state = "user_must_act"
                    log.error("mqtt: broker %s refuses bridge %s: %s; fix CITYBRAIN_MQTT_URL or the broker's "
                              "ACL (stopped retrying after %d attempts)", self.broker.host, self.client_id, reason,
                              self._auth_failures)
                    client.disconnect()
                return
            self._note_outage(f"broker refused the connection: {reason}")
            return
        with self._lock:
            self._generation += 1
        if self._outage_logged:
            log.info("mqtt: connected to %s again", self.broker.host)
        if self._ever_connected:
            self.counts["reconnects"] += 1
        self._ever_connected = True
        self._outage_logged, self._auth_failures, self.state = False, 0, "connected"
        self._shared_subscribed = False
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        readings = f"{self.prefix}/devices/+/readings"
        # Status messages are not shared: they are few, only counted, and a retained status is a per-device
        # state that every node may want whole (MQTT 5 does not send retained messages to a shared subscription).
        client.subscribe([(f"$share/{self.share}/{readings}" if self.share else readings, opts),
                          (f"{self.prefix}/devices/+/status", opts)])
        if self.share:  # a session that ran without the group keeps its plain subscription: every message twice
            client.unsubscribe(readings)  # after the shared one is in place, so no message finds neither
        log.debug("mqtt: connected (session present: %s)", flags.session_present)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[Any], _props: Any) -> None:
        bad = [r for r in reasons if r.is_failure]
        if bad:
            log.error("mqtt: broker refused the subscription of bridge %s: %s (check its ACL)", self.client_id, bad)
            return
        if self.share:
            self._shared_subscribed = True  # ready once the plain subscription is gone too (_on_unsubscribe)
        else:
            self.subscribed.set()

    def _on_unsubscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, _reasons: list[Any],
                        _props: Any) -> None:
        if self._shared_subscribed:
            self.subscribed.set()  # "no subscription existed" (17) is the usual answer, and fine

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self.counts["connect_failures"] += 1
        self._note_outage("cannot reach the broker")

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self._lock:
            self._generation += 1  # acks of messages from the old connection must not go out on a new one
        self.subscribed.clear()
        if self._closing or self.state != "connected":
            return  # a refused attempt was counted and logged by _on_connect
        self.state = "reconnecting"
        self._note_outage(f"connection lost: {reason}")

    def _note_outage(self, what: str) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            log.warning("mqtt: %s (%s:%d); retrying with backoff up to %g s, logged once per outage",
                        what, self.broker.host, self.broker.port, self.reconnect_max_s)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._closing:
            return  # not acked: redelivered when the bridge comes back
        if message.topic.endswith("/status"):
            self.counts["status_messages"] += 1
            log.debug("mqtt: %s says %r", message.topic, message.payload[:100])
            if message.qos:
                client.ack(message.mid, message.qos)
            return
        self.counts["received"] += 1
        if message.dup:
            self.counts["redelivered"] += 1
        msg = _Msg(message.topic, bytes(message.payload), message.mid, message.qos, self._generation, time.monotonic())
        while not self._closing:
            try:
                self._queue.put(msg, timeout=0.5)  # full only if the broker ignores receive-maximum
                return
            except queue.Full:
                continue

    # -- worker thread -----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            batch = self._gather()
            if batch:
                self._process(batch)
            elif self._stop.is_set():
                return

    def _gather(self) -> list[_Msg]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        # no message waits here longer than batch_ms: one that queued while the last batch was being stored
        # has used some of its time already
        deadline = first.arrived + self.batch_ms / 1000
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[_Msg]) -> None:
        for m in batch:
            m.items, m.refusal = decode_message(m.topic, m.payload, self.prefix)
        delay = self.retry_min_s
        while True:
            try:
                result = self._store(batch)
                break
            except Exception as exc:  # the pipeline or the database failed: keep the messages, unacked
                self.counts["pipeline_errors"] += 1
                kind = f"{type(exc).__module__}.{type(exc).__name__}"
                if kind not in self._logged_errors:
                    self._logged_errors.add(kind)
                    log.exception("mqtt: storing a batch of %d messages failed (%s); retrying with backoff, "
                                  "the messages stay unacknowledged", len(batch), kind)
                if self._stop.wait(delay):
                    return  # stopping: the broker redelivers them to the next session
                delay = min(delay * 2, self.retry_max_s)
        self._logged_errors.clear()
        self._ack(batch)
        self.counts["batches"] += 1
        if result is not None:
            self._hand_off(result)

    def _store(self, batch: list[_Msg]) -> Any:
        assert self.pipeline is not None and self.dead_letter is not None
        for m in batch:
            if m.refusal is not None and not m.dead_lettered:
                reason, detail = m.refusal
                self.dead_letter(SOURCE, m.payload.decode("utf-8", errors="replace"), reason)
                m.dead_lettered = True
                self.counts["dead_lettered"] += 1
                self.counts["rejected"] += 1
                log.debug("mqtt: dead letter from %s: %s", m.topic, detail)
        items = [item for m in batch if m.items for item in m.items]
        if not items:
            return None
        result = self.pipeline.ingest(items, source=SOURCE)
        self.counts["stored"] += result.accepted
        self.counts["duplicates"] += result.duplicates
        self.counts["rejected"] += len(result.rejected)
        return result

    def _ack(self, batch: Iterable[_Msg]) -> None:
        client = self._client
        if client is None:
            return
        with self._lock:
            for m in batch:
                if m.qos and m.generation == self._generation:
                    client.ack(m.mid, m.qos)

    def _hand_off(self, result: Any) -> None:
        try:
            hand_off(self.pipeline, self._loop, result)
        except Exception as exc:
            kind = f"hand-off {type(exc).__name__}"
            if kind not in self._logged_errors:
                self._logged_errors.add(kind)
                log.exception("mqtt: handing stored readings to the bus failed")


# -- publishing (simulator wiring, tests, operators) ----------------------------------------------------


def publish(url: str, messages: Iterable[tuple[str, bytes | str]], *, qos: int = 1, timeout_s: float = 30) -> int:
    """Publish (topic, payload) pairs and wait until the broker has acknowledged each; returns the count."""
    broker = BrokerUrl.parse(url)
    client = make_client(broker, f"citybrain-pub-{uuid.uuid4().hex[:12]}")
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError(f"the broker did not acknowledge message {info.mid} within {timeout_s:.0f} s")
        return len(infos)
    finally:
        client.disconnect()
        client.loop_stop()


def publish_readings(url: str, readings: Iterable[dict[str, Any]], *, qos: int = 1, batch: bool = False,
                     prefix: str = TOPIC_PREFIX) -> int:
    """Publish wire-format readings, each to its device's topic (``batch``: one array per device)."""
    if not batch:
        return publish(url, ((readings_topic(r["device_id"], prefix), json.dumps(r)) for r in readings), qos=qos)
    by_device: dict[str, list[dict[str, Any]]] = {}
    for r in readings:
        by_device.setdefault(r["device_id"], []).append(r)
    return publish(url, ((readings_topic(d, prefix), json.dumps(rs)) for d, rs in by_device.items()), qos=qos)
