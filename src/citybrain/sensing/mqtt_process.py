"""The MQTT bridge with its network half in a process of its own (``CITYBRAIN_MQTT_RECEIVER=process``).

Receiving device traffic costs the interpreter about as much per message as storing it: paho's network
loop parses every packet in Python, and every PUBACK is a packet of its own. In the app's process that work
competes with the pipeline and the rule engine for one interpreter lock. Here a child process runs an
ordinary ``MqttBridge`` (paho, the batching worker, decoding, the acknowledgements); only its *store* is
remote: each batch of decoded readings comes over a pipe to this process, which runs the real pipeline and
answers with the counts. The child acknowledges a batch to the broker only after that answer, so the
guarantee is the bridge's own: a PUBACK means stored (or dead-lettered), never lost.

- **This process crashes**: the child sees the pipe close and exits at once, acknowledging nothing more;
  the broker keeps the session and redelivers to the next run.
- **The child crashes** (or is killed): the pipe closes here; the child is started again with backoff,
  under the same client id, so it resumes the session and the broker redelivers what was not
  acknowledged. A batch stored here whose acknowledgement was lost comes again and is recognised as a
  duplicate by the pipeline.
- **stop()**: the child is asked to stop; it finishes and acknowledges its current batch (stored here
  meanwhile), disconnects keeping the session, and exits.

Counts and state come from the child every ``STATUS_S`` and with each batch; ``stats()`` adds the child's
pid and how often it was restarted. Configuration, topic scheme and broker settings: docs/mqtt.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from citybrain.core.child import spawn_module
from citybrain.sensing.mqtt import (
    SOURCE,
    BrokerUrl,
    DeadLetterWriter,
    IngestPipeline,
    MqttBridge,
    client_id_for,
    fill_from_app,
    hand_off,
)

log = logging.getLogger(__name__)

STATUS_S = 0.05  # how often the child reports its state and counts (when they changed)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the child's bridge reads from a pipeline's result."""

    accepted: int
    duplicates: int
    rejected: list[Any] = field(default_factory=list)


class RemoteStoreError(RuntimeError):
    """The parent's pipeline (or dead-letter writer) failed; the child keeps the batch and retries."""


# -- the child ----------------------------------------------------------------------------------------------


class _Parent:
    """The child's side of the pipe: requests wait for their answer (one at a time, in order); a reader
    thread takes answers and the parent's ``close``; a closed pipe (the parent is gone) ends the process."""

    def __init__(self, conn: Connection, closing: threading.Event) -> None:
        self.conn, self.closing = conn, closing
        self.send_lock = threading.Lock()
        self.request_lock = threading.Lock()
        self.answers: list[Any] = []
        self.answered = threading.Condition()
        threading.Thread(target=self._read, name="mqtt-receiver-pipe", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                if self.closing.is_set():
                    return  # stopping as asked: the parent closed its end after our last word
                log.error("mqtt receiver: the app process is gone; exiting without acknowledging more")
                os._exit(3)
            if message[0] == "close":
                self.closing.set()
            else:
                with self.answered:
                    self.answers.append(message)
                    self.answered.notify_all()

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def request(self, message: tuple[Any, ...]) -> Any:
        with self.request_lock:
            self.send(message)
            with self.answered:
                self.answered.wait_for(lambda: bool(self.answers))
                answer = self.answers.pop(0)
        if answer[0] == "error":
            raise RemoteStoreError(answer[1])
        return answer[1]

    # the bridge's pipeline and dead-letter writer
    def ingest(self, items: list[Any], *, source: str, device_key: str | None = None) -> _Stored:
        return self.request(("ingest", items))  # type: ignore[no-any-return]

    def dead_letter(self, source: str, payload: str, reason: str) -> None:
        self.request(("dead", source, payload, reason))


def _child_main(fd: int) -> None:
    """``python -m citybrain.sensing.mqtt_process FD``: the pipe's end is FD; the first message is the
    configuration (so a password in the URL never shows in the process list)."""
    conn = Connection(fd)
    _kind, url, options, level = conn.recv()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    asyncio.run(_child(conn, url, options))


async def _child(conn: Connection, url: str, options: dict[str, Any]) -> None:
    closing = threading.Event()
    parent = _Parent(conn, closing)
    bridge = MqttBridge(url=url, pipeline=parent, dead_letter=parent.dead_letter, **options)
    await bridge.start()
    last: Any = None
    try:
        while not closing.is_set():
            status = (bridge.stats(), bridge.subscribed.is_set())
            if status != last:
                parent.send(("status", *status))
                last = status
            await asyncio.sleep(STATUS_S)
    finally:
        await bridge.stop()
        parent.send(("status", bridge.stats(), False))
        parent.send(("bye",))


# -- this process ---------------------------------------------------------------------------------------------


class MqttProcessBridge:
    """``MqttBridge``'s interface (a background service: ``name``, ``start(app)``, ``stop()``, ``stats()``,
    ``subscribed``, ``state``, ``counts``) with paho and the batching in a child process."""

    name = "mqtt"

    def __init__(self, settings: Any = None, database: Any = None, clock: Any = None, *,
                 url: str | None = None, pipeline: IngestPipeline | None = None,
                 dead_letter: DeadLetterWriter | None = None, restart_min_s: float = 1.0,
                 restart_max_s: float = 30.0, startup_wait_s: float = 5.0, **options: Any) -> None:
        url = url or (settings.mqtt_url if settings is not None else None)
        if not url:
            raise ValueError("CITYBRAIN_MQTT_URL is not set; the MQTT bridge needs a broker")
        broker = BrokerUrl.parse(url)  # a bad URL is refused here, not in the child
        self.client_id = client_id_for(broker, options.get("client_id"), options.get("share"))
        self.url, self.options = url, {**options, "client_id": self.client_id}
        self.database, self.clock, self.pipeline, self.dead_letter = database, clock, pipeline, dead_letter
        self.restart_min_s, self.restart_max_s, self.startup_wait_s = restart_min_s, restart_max_s, startup_wait_s
        self.stop_timeout_s = float(options.get("stop_timeout_s", 10)) + 5
        self.subscribed = threading.Event()
        self.state = "stopped"
        self.counts: dict[str, int] = {}
        self.queued = 0
        self.restarts = 0
        self.pid: int | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._server: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, app: Any = None) -> None:
        fill_from_app(self, app)
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self.state = "connecting"
        await asyncio.to_thread(self._spawn)
        self._server = threading.Thread(target=self._serve, name=f"mqtt-receiver-host-{self.client_id}", daemon=True)
        self._server.start()
        # a fresh interpreter takes a moment: wait (a little) for its subscription, so what the app's own
        # devices (the demo's simulator) publish next finds it; a broker that is down is the child's business
        if await asyncio.to_thread(self.subscribed.wait, self.startup_wait_s):
            log.info("mqtt: bridge %s receiving in process %s", self.client_id, self.pid)
        else:
            log.info("mqtt: bridge %s still connecting in process %s", self.client_id, self.pid)

    def _spawn(self) -> None:
        """A fresh interpreter (not a fork of this threaded process, and not a re-import of its ``__main__``)
        with one end of a socket pair as its pipe."""
        process, conn = spawn_module("citybrain.sensing.mqtt_process")
        conn.send(("config", self.url, self.options, logging.getLogger().getEffectiveLevel()))
        self._process, self._conn, self.pid = process, conn, process.pid

    def _send(self, message: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            return
        with self._send_lock, contextlib.suppress(OSError, ValueError):  # the child is gone: nothing to tell it
            conn.send(message)

    def _serve(self) -> None:
        """Answer the child's requests in order; when it dies unexpectedly, start another (with backoff)."""
        delay = self.restart_min_s
        while True:
            started = time.monotonic()
            self._serve_one()
            if self._stopping.is_set():
                return
            self.restarts += 1
            self.subscribed.clear()
            self.state = "restarting"
            if time.monotonic() - started > self.restart_max_s:
                delay = self.restart_min_s  # it had been running a good while: not a crash loop
            log.error("mqtt: receiver process %s ended unexpectedly; starting another in %g s (its messages "
                      "not yet acknowledged are redelivered by the broker)", self.pid, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.restart_max_s)
            self._spawn()

    def _serve_one(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # a message that cannot be read: drop this child (it exits), start another
                log.exception("mqtt: unreadable message from receiver process %s", self.pid)
                break
            kind = message[0]
            if kind == "status":
                stats, subscribed = message[1], message[2]
                self.counts = {k: v for k, v in stats.items() if isinstance(v, int) and not isinstance(v, bool)}
                self.queued = stats.get("queued", 0)
                if self.state != "stopped":
                    self.state = stats.get("state", self.state)
                (self.subscribed.set if subscribed else self.subscribed.clear)()
            elif kind == "ingest":
                self._ingest(message[1])
            elif kind == "dead":
                self._dead(*message[1:])
            elif kind == "bye":
                break
        with contextlib.suppress(OSError):
            conn.close()
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)

    def _ingest(self, items: list[Any]) -> None:
        assert self.pipeline is not None
        try:
            result = self.pipeline.ingest(items, source=SOURCE)
        except Exception as exc:  # the child keeps the batch unacknowledged and retries with backoff
            log.debug("mqtt: storing a batch from the receiver failed", exc_info=True)
            self._send(("error", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"))
            return
        self._send(("ok", _Stored(result.accepted, result.duplicates, list(result.rejected))))
        self._hand_off(result)

    def _dead(self, source: str, payload: str, reason: str) -> None:
        assert self.dead_letter is not None
        try:
            self.dead_letter(source, payload, reason)
        except Exception as exc:
            self._send(("error", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"))
            return
        self._send(("ok", None))

    def _hand_off(self, result: Any) -> None:
        try:
            hand_off(self.pipeline, self._loop, result)
        except Exception:
            log.exception("mqtt: handing stored readings to the bus failed")

    async def stop(self) -> None:
        """Ask the child to stop (it stores and acknowledges its current batch through us), then wait for it."""
        self._stopping.set()
        self._send(("close",))
        if self._server is not None:
            await asyncio.to_thread(self._server.join, self.stop_timeout_s)
        process = self._process
        if process is not None and process.poll() is None:
            log.error("mqtt: receiver process %s did not stop in %.0f s; killing it (the broker redelivers what "
                      "it had not acknowledged)", process.pid, self.stop_timeout_s)
            process.kill()
            await asyncio.to_thread(process.wait, 5)
        self.state = "stopped"
        self.subscribed.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "connected": self.state == "connected", "state": self.state, "queued": self.queued,
                "receiver": "process", "receiver_pid": self.pid, "receiver_restarts": self.restarts}


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
