"""The rule engine in a process of its own (``CITYBRAIN_WARNING_ENGINE=process``, the embedded default).

On SQLite with the in-process bus the warning host meets each batch of readings in the transaction that
stores it (``warning.flows``). Evaluating the rules there too (``inline``) puts the engine's Python on the
same interpreter lock as ingest, so on a machine with two cores the rules cost ingest a third of its
throughput while the second core idles. Here the engine runs in a child interpreter instead: the host sends
each stored batch down a pipe without waiting, the child evaluates it, and the signals come back in order;
the host stores them under the database's write turn -- in the transaction of the next batch when one is
being stored, else in one of its own as soon as they arrive -- and publishes what changed.

``RemoteEngine`` is this process's side: ``observe`` and ``tick`` send, ``take`` hands over the results that
have arrived (in the order sent), ``call`` waits for an answer (rules, snapshot). Every result says how many
readings it covered, so the host counts a reading once it has been evaluated and its warnings stored.

- **The child crashes** (or is killed): the pipe closes here; another is started (with backoff) from the
  engine's last saved state, which the host supplies (``restore``). Batches it had not answered are
  counted in ``lost`` and logged: their readings are stored, their evaluation is not redone.
- **This process crashes**: the child sees the pipe close and exits.
- **A rule fails** inside the child: the engine isolates it as everywhere (``RuleEngine.errors``); the
  failures travel back with the results (``errors``).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from citybrain.core.child import spawn_module

log = logging.getLogger(__name__)

# what the host hands the child to build an engine: (rules, snapshot or None, known_types, units)
Init = tuple[list[Any], dict[str, Any] | None, dict[str, float], dict[str, str]]


class EngineGone(RuntimeError):
    """The engine process ended before it answered."""


class Result:
    """One observe or tick, evaluated: its signals, how many readings and observations it covered, the newest
    reading time it saw (seconds since the epoch, or None)."""

    __slots__ = ("signals", "readings", "observations", "newest")

    def __init__(self, signals: list[Any], readings: int, observations: int, newest: float | None) -> None:
        self.signals, self.readings, self.observations, self.newest = signals, readings, observations, newest


# -- the child ----------------------------------------------------------------------------------------------


class _Child:
    """The engine and the device contexts it was sent; one message in, one answer out, in order."""

    def __init__(self) -> None:
        from citybrain.warning.rules import RuleEngine

        self.engine = RuleEngine([])
        self.contexts: dict[str, Any] = {}
        self.kwargs: dict[str, Any] = {}
        self.error_mark: tuple[int, int] = (0, 0)

    def build(self, rules: list[Any], snapshot: Mapping[str, Any] | None) -> list[str]:
        from citybrain.warning.evaluation import resume_engine

        self.engine = resume_engine(rules, snapshot, **self.kwargs)
        return list(getattr(self.engine, "dropped", []) or [])

    def errors(self) -> dict[str, list[Any]] | None:
        """The engine's rule failures when they changed since the last answer (else None)."""
        errors = self.engine.errors
        mark = (len(errors), sum(f.count for f in errors.values()))
        if mark == self.error_mark:
            return None
        self.error_mark = mark
        return {k: [f.count, f.last_message, f.last_subject, f.last_at] for k, f in errors.items()}

    def handle(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        from citybrain.warning.evaluation import encode_state, observations

        kind, seq = message[0], message[1]
        if kind == "observe":
            readings, contexts = message[2], message[3]
            self.contexts.update(contexts)
            obs = observations(readings, self.contexts)
            signals = self.engine.observe(obs)
            newest = max(o.ts for o in obs).timestamp() if obs else None
            return ("result", seq, Result(signals, len(readings), len(obs), newest), self.errors())
        if kind == "tick":
            signals = self.engine.tick(datetime.fromtimestamp(message[2], UTC))
            return ("result", seq, Result(signals, 0, 0, None), self.errors())
        if kind == "init":
            rules, snapshot, known_types, units = message[2]
            self.kwargs = {"known_types": known_types, "units": units}
            return ("answer", seq, self.build(rules, snapshot))
        if kind == "rules":
            return ("answer", seq, self.build(message[2], self.engine.snapshot()))
        if kind == "snapshot":
            return ("answer", seq, encode_state(self.engine.snapshot()))
        raise ValueError(f"unknown request {kind!r}")


def _child_main(fd: int) -> None:
    """``python -m citybrain.warning.engine_process FD``: serve the pipe until it closes."""
    conn = Connection(fd)
    level = conn.recv()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    child = _Child()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the host is gone (or closed the pipe to stop us)
        if message[0] == "close":
            return
        try:
            answer = child.handle(message)
        except Exception as exc:  # noqa: BLE001 -- answered as a failure; the engine itself isolates rules
            log.exception("engine process: %s failed", message[0])
            answer = ("failed", message[1], f"{type(exc).__name__}: {exc}")
        conn.send(answer)


# -- this process ---------------------------------------------------------------------------------------------


class RemoteEngine:
    """The parent's side: sends without waiting, keeps results in order, restarts a child that died.

    ``restore()`` gives what a (re)started child is built from: the rules, the saved state and the engine's
    type and unit tables. ``on_result`` is called (from the reader thread) whenever results arrived;
    ``on_restart(dropped)`` once a restarted child is built, with the rules whose saved state it could not
    carry over (their warnings will not be cleared by it).
    """

    def __init__(self, restore: Callable[[], Init], on_result: Callable[[], None] | None = None, *,
                 on_restart: Callable[[list[str]], None] | None = None,
                 restart_min_s: float = 0.5, restart_max_s: float = 30.0, call_timeout_s: float = 60.0) -> None:
        self.restore, self.on_result, self.on_restart = restore, on_result, on_restart
        self.restart_min_s, self.restart_max_s, self.call_timeout_s = restart_min_s, restart_max_s, call_timeout_s
        self.results: deque[Result] = deque()
        self.errors: dict[str, list[Any]] = {}
        self.pid: int | None = None
        self.restarts = 0
        self.lost = 0  # observe / tick requests a dead child never answered
        self._answers: dict[int, tuple[str, Any]] = {}
        self._changed = threading.Condition()
        self._pending: dict[int, str] = {}  # sent, not yet answered: seq -> kind
        self._seq = 0
        self._sent_contexts: set[str] = set()
        self._send_lock = threading.RLock()  # one child, one order: what is sent, and to which child
        self._conn: Connection | None = None
        self._process: Any = None
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Start the child and build its engine; returns the rules whose saved state was not carried over."""
        self._stopping.clear()
        seq = self._spawn()
        self._reader = threading.Thread(target=self._read, name="warning-engine-pipe", daemon=True)
        self._reader.start()
        try:
            return self._answer(seq, "init")  # type: ignore[no-any-return]
        except BaseException:
            self.stop()  # not left restarting in the background
            raise

    def _spawn(self) -> int:
        """A new child, built from ``restore()`` before anything else can be sent to it (a batch sent to a child
        with no rules yet would be evaluated by none); returns the number of its ``init`` request."""
        with self._send_lock:
            init = self.restore()
            process, conn = spawn_module("citybrain.warning.engine_process")
            conn.send(logging.getLogger().getEffectiveLevel())
            self._seq += 1
            seq = self._seq
            with self._changed:
                self._pending[seq] = "init"
            conn.send(("init", seq, init))
            self._conn, self._process, self.pid = conn, process, process.pid
            self._sent_contexts = set()
        return seq

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        with self._send_lock:
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("close",))
        if self._reader is not None:
            self._reader.join(timeout)
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("engine process %s did not stop; killing it", process.pid)
                process.kill()
                process.wait(5)
        with self._changed:
            self._fail_pending()

    # -- requests --------------------------------------------------------------------------------------

    def _send(self, kind: str, *args: Any) -> int:
        with self._send_lock:
            self._seq += 1
            seq = self._seq
            conn = self._conn
            with self._changed:
                self._pending[seq] = kind
            try:
                if conn is None:
                    raise OSError("no engine process")
                conn.send((kind, seq, *args))
            except (OSError, ValueError):
                with self._changed:
                    self._pending.pop(seq, None)
                    if kind in ("observe", "tick"):
                        self.lost += 1
                    else:
                        self._answers[seq] = ("failed", "the engine process is not running")
                    self._changed.notify_all()
        return seq

    def observe(self, readings: list[dict[str, Any]], contexts: Mapping[str, Any]) -> int:
        """Send a stored batch, with the contexts (from ``contexts``, by device key) of its devices this child
        has not been sent yet; returns at once, with the request's number (``wait_answered``)."""
        with self._send_lock:
            new = {}
            for r in readings:
                key = r.get("device_id")
                if key not in self._sent_contexts and key in contexts:
                    new[key] = contexts[key]
                    self._sent_contexts.add(key)
            return self._send("observe", readings, new)

    def tick(self, now: datetime) -> int:
        return self._send("tick", now.timestamp())

    def call(self, kind: str, *args: Any) -> Any:
        """Send a request and wait for its answer (after the results of everything sent before it)."""
        return self._answer(self._send(kind, *args), kind)

    def _answer(self, seq: int, kind: str) -> Any:
        with self._changed:
            if not self._changed.wait_for(lambda: seq in self._answers, self.call_timeout_s):
                raise EngineGone(f"no answer to {kind!r} in {self.call_timeout_s:.0f} s")
            status, payload = self._answers.pop(seq)
        if status != "answer":
            raise EngineGone(f"{kind!r} failed in the engine process: {payload}")
        return payload

    def take(self) -> list[Result]:
        """The results that have arrived, in the order their requests were sent (each handed over once)."""
        out: list[Result] = []
        with self._changed:
            while self.results:
                out.append(self.results.popleft())
        return out

    def outstanding(self) -> int:
        """Requests sent whose answer has not arrived, plus results not yet taken."""
        with self._changed:
            return len(self._pending) + len(self.results)

    def wait_until_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending, timeout)

    def wait_answered(self, seq: int, timeout: float) -> bool:
        """Wait until request ``seq`` -- and so everything sent before it -- has been answered (or lost)."""
        with self._changed:
            return self._changed.wait_for(lambda: seq not in self._pending, timeout)

    # -- the reader ------------------------------------------------------------------------------------

    def _read(self) -> None:
        delay = self.restart_min_s
        while True:
            started = time.monotonic()
            self._read_one()
            with self._changed:
                self._fail_pending()
            if self._stopping.is_set():
                return
            self.restarts += 1
            if time.monotonic() - started > self.restart_max_s:
                delay = self.restart_min_s
            log.error("engine process %s ended unexpectedly (%d batches unanswered so far); starting another "
                      "in %g s from the last saved state", self.pid, self.lost, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.restart_max_s)
            try:
                seq = self._spawn()
            except Exception:  # noqa: BLE001 -- the old pipe is closed: the loop comes round, with backoff
                log.exception("starting the engine process failed")
                continue
            restored = threading.Thread(target=self._restarted, args=(seq,), name="warning-engine-restore",
                                        daemon=True)
            restored.start()  # its answer comes through this reader

    def _restarted(self, seq: int) -> None:
        try:
            dropped = self._answer(seq, "init")
            if self.on_restart is not None:
                self.on_restart(dropped)
        except Exception:  # noqa: BLE001 -- it died again: the reader starts another
            log.exception("restoring the engine process failed")

    def _read_one(self) -> None:
        conn = self._conn
        if conn is None:
            return
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # noqa: BLE001 -- unreadable: drop this child, start another
                log.exception("unreadable message from engine process %s", self.pid)
                with contextlib.suppress(Exception):
                    self._process.kill()
                break
            kind, seq = message[0], message[1]
            with self._changed:
                self._pending.pop(seq, None)
                if kind == "result":
                    self.results.append(message[2])
                    if message[3] is not None:
                        self.errors = message[3]
                else:
                    self._answers[seq] = (kind, message[2])
                self._changed.notify_all()
            if kind == "result" and self.on_result is not None:
                self.on_result()
        with contextlib.suppress(OSError):
            conn.close()
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)

    def _fail_pending(self) -> None:
        """Everything unanswered by a child that is gone (the caller holds ``_changed``): evaluations are
        counted in ``lost``, calls answered with a failure."""
        for seq, kind in self._pending.items():
            if kind in ("observe", "tick"):
                self.lost += 1
            else:
                self._answers[seq] = ("failed", "the engine process ended")
        self._pending.clear()
        self._changed.notify_all()


if __name__ == "__main__":
    # run as the imported module, so what it pickles (``Result``) names citybrain.warning.engine_process
    from citybrain.warning import engine_process

    engine_process._child_main(int(sys.argv[1]))
