"""The warning engine at work: accepted readings in, warnings out, timers, notifications, saved state.

``WarningHost`` is a background service of the app (and of the demo). The stream reads as one line:

    readings.accepted → observations → rules (RuleEngine) → lifecycle (apply_signals: dedupe by
    fingerprint, suppress, group) → warnings.changed on the bus → automatic incidents → outbox (plan)
    → notifiers (deliver)

Where readings meet the engine depends on the deployment (``mode``):

- **process** (the embedded default -- SQLite and the in-process bus -- unless
  ``CITYBRAIN_WARNING_ENGINE=inline``): the host sees each batch in the transaction that stores it
  (``sensing.pipeline.on_stored``) and sends it, without waiting, to the engine in a process of its own
  (``warning.engine_process``), so the rules run on another core. The signals come back in order and are
  stored under SQLite's write turn: in the transaction of the batch being stored when they arrive, else
  in one of their own at once (the drain thread).
- **inline** (SQLite, on request, and when the host runs without an app): the engine evaluates each batch
  in the transaction that stores it, so a batch's warnings are committed with its readings. SQLite has
  one writer at a time; a warning stored in a transaction of its own would wait behind the next batch.
- **subscriber** (PostgreSQL, or a shared bus such as NATS, where the engine may run in a worker of its
  own): the engine reads ``readings.accepted`` and stores what it finds in a transaction of its own.
  (The other two need SQLite's single writer: on PostgreSQL batches commit concurrently, in any order,
  and one consumer of the readings is what keeps a warning's changes in order.)

The rule engine is pure. In this process whatever touches it holds ``engine_lock`` (always the innermost
lock: nothing waits for the database's write turn while holding it); the engine process takes its
requests one at a time, in the order sent. Either way signals are stored in the order the engine produced
them. The host's own units of database work take turns (an asyncio lock). A timer loop lets time
pass for the rules (no-data, for-durations, windows), escalates unacknowledged warnings, re-decides
suppression as silences start and end, opens automatic incidents the stream's own step missed, plans and
delivers notifications, and saves the engine's state so a restart carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.bus import Bus, InMemoryBus, Subscription
from citybrain.core.clock import Clock
from citybrain.core.database import Database
from citybrain.incident import drills, tasks_service
from citybrain.incident.flows import auto_incident_from_warning, sweep_auto_incidents, wants_incident
from citybrain.org.models import Department
from citybrain.sensing.models import Asset, Device
from citybrain.sensing.pipeline import ACCEPTED_SUBJECT, AfterCommit, on_stored
from citybrain.warning import notify, outbox, service
from citybrain.warning.config import EngineConfig, load_config
from citybrain.warning.engine_process import Init, RemoteEngine, Result
from citybrain.warning.evaluation import decode_state, encode_state, observations, resume_engine
from citybrain.warning.models import EngineState, Warning
from citybrain.warning.notify.base import Notifier
from citybrain.warning.rules import RuleEngine
from citybrain.warning.rules import service as rules_service
from citybrain.warning.types import DeviceContext, Signal

log = logging.getLogger(__name__)
CHANGED_SUBJECT = "warnings.changed"
STATE_KEY = "rules"
MODES = ("process", "inline", "subscriber")


def _context_query() -> sa.Select[Any]:
    return (sa.select(Device.key, Device.id, Device.type_key, Department.code, Device.lon, Device.lat, Asset.key,
                      Asset.asset_class, Asset.name_zh, Asset.district_code)
            .join(Department, Department.id == Device.department_id)
            .outerjoin(Asset, Asset.id == Device.asset_id))


def load_contexts(session: Session, keys: Iterable[str] | None = None) -> dict[str, DeviceContext]:
    stmt = _context_query()
    if keys is not None:
        stmt = stmt.where(Device.key.in_(list(keys)))
    return {row[0]: DeviceContext(*row) for row in session.execute(stmt)}


def default_notifier_factory(bus: Bus | None, loop: asyncio.AbstractEventLoop | None
                             ) -> Callable[[str, Mapping[str, Any]], Notifier]:
    from citybrain.warning.notify.inapp import bus_sink

    def make(kind: str, config: Mapping[str, Any]) -> Notifier:
        if kind == "inapp":
            if bus is None or loop is None:
                return notify.make("inapp", {}, sink=lambda subject, message: None)
            return notify.make("inapp", {}, sink=bus_sink(bus, loop))
        return notify.make(kind, config)

    return make


class WarningHost:
    """Runs the rule engine beside the API (a ``BackgroundService``)."""

    name = "warning-engine"

    def __init__(self, database: Database | None = None, clock: Clock | None = None, bus: Bus | None = None, *,
                 tick_s: float = 1.0, snapshot_s: float = 30.0,
                 suppression_s: float = 5.0, deliver: bool = True, mode: str | None = None,
                 notifier_factory: Callable[[str, Mapping[str, Any]], Notifier] | None = None) -> None:
        """``mode``: where readings meet the engine (see the module docstring); by default, on SQLite with the
        in-process bus the app's ``CITYBRAIN_WARNING_ENGINE`` (``inline`` without an app), else ``subscriber``."""
        self.database: Database = database  # type: ignore[assignment]  # set by start(app) when None
        self.clock: Clock = clock  # type: ignore[assignment]
        self.bus: Bus = bus  # type: ignore[assignment]
        self.tick_s, self.snapshot_s, self.suppression_s = tick_s, snapshot_s, suppression_s
        self.deliver_enabled = deliver
        self.notifier_factory = notifier_factory
        self.engine = RuleEngine([])
        self.contexts: dict[str, DeviceContext] = {}
        self.directory = service.Directory()
        self.rules_revision: tuple[int, str] | None = None
        self.lock = asyncio.Lock()
        self.engine_lock = threading.RLock()
        self.mode = mode
        self.rules: list[Any] = []  # the enabled rules the engine runs
        self.dropped_rules: list[str] = []
        self.remote: RemoteEngine | None = None  # mode "process"
        self._stopped_remote: RemoteEngine | None = None
        self._arrived = threading.Event()  # the engine process answered
        self._drainer: threading.Thread | None = None
        self._draining = 0  # the drain thread is storing or announcing results
        self._loop: asyncio.AbstractEventLoop | None = None
        self.subscription: Subscription | None = None
        self._unhook: Callable[[], None] | None = None
        self.task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()  # automatic incidents of inline warnings
        self.stats = {"readings": 0, "observations": 0, "signals": 0, "warnings_changed": 0, "notifications": 0,
                      "ticks": 0, "errors": 0}
        self._last_snapshot = 0.0
        self._last_suppression = 0.0
        self.config: EngineConfig | None = None  # routing / inhibition / escalation, reloaded every tick
        self.codes: dict[int, str] = {}  # department id -> code
        self.event_time: datetime | None = None  # newest reading time seen
        self.event_seen_at: datetime | None = None  # wall-clock time when it was seen
        self._incidents_refused: set[int] = set()  # warnings the sweep found no incident for (not retried)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, app: Any = None) -> None:
        if app is not None:
            self.database = self.database or app.state.db
            self.clock = self.clock or app.state.clock
            self.bus = self.bus or app.state.bus
        embedded = self.database.dialect == "sqlite" and isinstance(self.bus, InMemoryBus)
        if self.mode is None:
            settings = getattr(getattr(app, "state", None), "settings", None)
            self.mode = (getattr(settings, "warning_engine", None) or "inline") if embedded else "subscriber"
        if self.mode not in MODES:
            raise ValueError(f"unknown warning engine mode {self.mode!r}; one of {', '.join(MODES)}")
        if self.mode != "subscriber" and self.database.dialect != "sqlite":
            # concurrent batches commit in any order there, so a batch's warnings could be stored from a
            # state another batch had not yet committed: one consumer of readings.accepted orders them
            raise ValueError(f"{self.mode} evaluation needs SQLite's single writer; on PostgreSQL the engine "
                             "subscribes")
        self._loop = loop = asyncio.get_running_loop()
        await anyio.to_thread.run_sync(self._load)
        if self.notifier_factory is None:
            self.notifier_factory = default_notifier_factory(self.bus, loop)
        if self.mode == "process":
            self.remote = RemoteEngine(self._init_args, on_result=self._arrived.set,
                                       on_restart=self._resolve_dropped_alone)
            dropped = await anyio.to_thread.run_sync(self.remote.start)
            await anyio.to_thread.run_sync(self._resolve_dropped_alone, dropped)
            self._drainer = threading.Thread(target=self._drain, name="warning-engine-drain", daemon=True)
            self._drainer.start()
        if self.mode != "subscriber":
            self._unhook = on_stored(self.database, self._on_stored)
        else:
            self.subscription = await self.bus.subscribe(ACCEPTED_SUBJECT, self.handle, durable="warning-engine")
        self.task = asyncio.create_task(self._timer(), name="warning-timer")
        if app is not None:
            app.state.cache["warning.host"] = self

    async def stop(self) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        if self.subscription is not None:
            await self.subscription.close()
            self.subscription = None
        await self.idle()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        async with self.lock:
            try:
                await self._snapshot_now()
            except Exception:  # noqa: BLE001 -- stopping regardless: the last saved state stands
                self.stats["errors"] += 1
                log.exception("saving the warning engine's state on stop failed")
        if self.remote is not None:
            remote, self.remote = self.remote, None
            self._stopped_remote = remote  # its last figures stay in status()
            self._arrived.set()  # the drain thread sees remote gone and ends
            if self._drainer is not None:
                await anyio.to_thread.run_sync(self._drainer.join, 10)
            await anyio.to_thread.run_sync(remote.stop)

    def _load(self) -> None:
        from citybrain.incident.plans import starter_plans

        starter_plans()  # parsed once here, not inside the first red warning's transaction
        with self.database.session() as session:
            self.contexts = load_contexts(session)
            self.config = load_config(session=session)
            self.codes = service.department_codes(session=session)
            if self.mode != "process":  # the engine process is built from _init_args
                with self.engine_lock:
                    self._rebuild(session, force=True)
        self._last_snapshot = time.monotonic()  # just loaded: the next snapshot is due a full interval on

    def _rebuild(self, session: Session, *, force: bool = False) -> bool:
        rev = rules_service.revision(session=session)
        if not force and rev == self.rules_revision:
            return False
        rules = rules_service.enabled_rules(session=session)
        if force:
            row = session.get(EngineState, STATE_KEY)
            snapshot = decode_state(row.snapshot) if row is not None else None
        else:
            snapshot = self.engine.snapshot()
        self.engine = resume_engine(rules, snapshot, known_types=rules_service.known_types(),
                                    units=rules_service.units())
        self.rules_revision, self.rules = rev, rules
        self._resolve_dropped(session, list(getattr(self.engine, "dropped", []) or []))
        log.info("warning engine running %d rules", len(rules))
        return True

    def _resolve_dropped(self, session: Session, dropped: list[str]) -> None:
        self.dropped_rules = dropped
        if dropped:
            # the engine no longer holds these rules' state, so it would never clear their warnings
            n = service.resolve_rules(session=session, now=self.clock.now(), rule_keys=dropped,
                                      reason="rule changed or removed")
            session.commit()
            log.info("rules %s restarted; %d of their open warnings resolved", dropped, n)

    def _resolve_dropped_alone(self, dropped: list[str]) -> None:
        with self.database.writing(), self.database.session() as session:
            self._resolve_dropped(session, dropped)

    def _init_args(self) -> Init:
        """What the engine process is built from (at start, and again should it have to be restarted): the
        enabled rules and the last saved state."""
        with self.database.session() as session:
            rev = rules_service.revision(session=session)
            rules = rules_service.enabled_rules(session=session)
            row = session.get(EngineState, STATE_KEY)
            snapshot = decode_state(row.snapshot) if row is not None else None
        self.rules_revision, self.rules = rev, rules
        log.info("warning engine process running %d rules", len(rules))
        return rules, snapshot, rules_service.known_types(), rules_service.units()

    async def _snapshot_now(self) -> None:
        """The engine's state taken under ``engine_lock`` (never half-updated), then stored without it, so
        readings' warnings are not held up while it is written."""
        snap = await anyio.to_thread.run_sync(self._take_snapshot)
        await anyio.to_thread.run_sync(self._write_snapshot, snap)

    def _take_snapshot(self) -> dict[str, Any]:
        if self.remote is not None:
            return self.remote.call("snapshot")  # type: ignore[no-any-return]  # encoded there
        with self.engine_lock:
            return encode_state(self.engine.snapshot())

    def _write_snapshot(self, snap: dict[str, Any]) -> None:
        now = self.clock.now()
        with self.database.writing(), self.database.session() as session:
            row = session.get(EngineState, STATE_KEY)
            if row is None:
                session.add(EngineState(key=STATE_KEY, snapshot=snap, saved_at=now))
            else:
                row.snapshot, row.saved_at = snap, now
            session.commit()
        self._last_snapshot = time.monotonic()

    # -- the stream --------------------------------------------------------------------------------

    async def handle(self, _subject: str, message: Any) -> None:
        """The subscriber's step: one batch of ``readings.accepted`` evaluated and its warnings stored in a
        transaction of the host's own, then published."""
        readings = [r for r in (message if isinstance(message, list) else [message]) if isinstance(r, dict)]
        async with self.lock:
            changed, due = await anyio.to_thread.run_sync(self._evaluate_alone, readings)
            await self._announce(changed, due)
        if self.remote is not None:  # the drain thread may have stored (some of) them: wait for their follow-ups
            await self._settled()
            await self._followed_up()

    def _evaluate_alone(self, readings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
        if self.remote is not None:
            with self.database.session() as session:
                seq = self._send(session, readings)
            return self._store_remote_alone(seq)
        with self.database.writing(), self.database.session() as session:
            out = self._evaluate(session, readings)
            session.commit()
        return out

    def _on_stored(self, session: Session, readings: list[dict[str, Any]]) -> AfterCommit | None:
        """In the transaction that stored ``readings``: inline, their warnings are stored there too; with the
        engine process, they are sent on, and what it has answered so far is stored there. What changed is
        published (and automatic incidents opened) once the transaction has committed."""
        if self.remote is not None:
            self._send(session, readings)
            changed, due = self._store_results(session, self.remote.take())
        else:
            changed, due = self._evaluate(session, readings)
        if not changed and not due:
            return None

        async def after() -> None:
            await self._announce(changed, due, wait=False)

        return after

    def _evaluate(self, session: Session, readings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
        """Readings → observations → rules → stored warnings, in ``session`` (the caller commits)."""
        with self.engine_lock:
            self._know(session, readings)
            obs = observations(readings, self.contexts)
            if obs:
                newest = max(o.ts for o in obs)
                if self.event_time is None or newest > self.event_time:
                    self.event_time, self.event_seen_at = newest, self.clock.now()
            self.stats["readings"] += len(readings)
            self.stats["observations"] += len(obs)
            signals = self.engine.observe(obs)
            return self._store(session, signals) if signals else ([], [])

    def _send(self, session: Session, readings: list[dict[str, Any]]) -> int:
        """Readings to the engine process, with the contexts of devices not seen before (looked up here); the
        request's number."""
        assert self.remote is not None
        with self.engine_lock:
            self._know(session, readings)
            return self.remote.observe(readings, self.contexts)

    def _know(self, session: Session, readings: list[dict[str, Any]]) -> None:
        """The contexts of the readings' devices not seen before, looked up (the caller holds ``engine_lock``)."""
        missing = {r.get("device_id") for r in readings} - self.contexts.keys()
        missing.discard(None)
        if missing:
            self.contexts.update(load_contexts(session, missing))

    def _store_results(self, session: Session, results: list[Result]) -> tuple[list[dict[str, Any]], list[int]]:
        """The engine process's results in ``session``, in the order they came (the caller holds the database's
        write turn, which keeps that order)."""
        if not results:
            return [], []
        with self.engine_lock:
            signals: list[Signal] = []
            for r in results:
                self.stats["readings"] += r.readings
                self.stats["observations"] += r.observations
                if r.newest is not None:
                    newest = datetime.fromtimestamp(r.newest, UTC)
                    if self.event_time is None or newest > self.event_time:
                        self.event_time, self.event_seen_at = newest, self.clock.now()
                signals.extend(r.signals)
            return self._store(session, signals) if signals else ([], [])

    def _store_remote_alone(self, seq: int) -> tuple[list[dict[str, Any]], list[int]]:
        """Wait for the engine process to answer request ``seq`` (and so all before it), and store what it
        answered in a transaction here (unless the drain thread or a batch being stored did already)."""
        assert self.remote is not None
        self.remote.wait_answered(seq, self.remote.call_timeout_s)
        with self.database.writing(), self.database.session() as session:
            out = self._store_results(session, self.remote.take())
            session.commit()
        return out

    def _drain(self) -> None:
        """Results that arrive between batches are stored at once, in a transaction of their own."""
        while True:
            self._arrived.wait()
            self._arrived.clear()
            remote = self.remote
            if remote is None:
                return
            self._draining += 1
            try:
                with self.database.writing():
                    results = remote.take()
                    if not results:
                        continue  # the batch being stored took them
                    with self.database.session() as session:
                        changed, due = self._store_results(session, results)
                        session.commit()
                if (changed or due) and self._loop is not None:
                    asyncio.run_coroutine_threadsafe(self._announce(changed, due, wait=False), self._loop).result(30)
            except Exception:  # noqa: BLE001 -- those results are lost; the next ones are stored
                self.stats["errors"] += 1
                log.exception("storing the engine process's results failed")
            finally:
                self._draining -= 1

    def _store(self, session: Session, signals: list[Signal]) -> tuple[list[dict[str, Any]], list[int]]:
        """The signals' effects in ``session`` (the caller holds ``engine_lock``, so signals are stored in the
        order the engine produced them): the changed warnings as sent, and those wanting an incident."""
        self.stats["signals"] += len(signals)
        applied = service.apply_signals(session=session, signals=signals, now=self.clock.now(),
                                        directory=self.directory, config=self.config)
        codes = self.codes or service.department_codes(session=session)
        changed = [_wire(service.as_dict(w, departments=codes)) for w in applied.warnings]
        return changed, [w.id for w in applied.warnings if wants_incident(w)]

    async def _announce(self, changed: list[dict[str, Any]], due: list[int], *, wait: bool = True) -> None:
        """Stored changes go out on ``warnings.changed``; then the incidents of warnings whose rule asks for one
        open, in a transaction of their own (the warning is not kept waiting for a plan's tasks; should that
        step not run, the timer's sweep catches up). ``wait=False`` (inline: the caller is storing readings)
        leaves the incidents to a task of their own, which takes the host's turn."""
        if changed:
            self.stats["warnings_changed"] += len(changed)
            await self.bus.publish(CHANGED_SUBJECT, changed)
        if not due:
            return
        if wait:
            await anyio.to_thread.run_sync(self._open_incidents, due)
            return
        task = asyncio.create_task(self._incidents_in_turn(due), name="warning-incidents")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _incidents_in_turn(self, due: list[int]) -> None:
        async with self.lock:
            await anyio.to_thread.run_sync(self._open_incidents, due)

    async def idle(self, timeout_s: float = 60.0) -> None:
        """Wait until the engine process has answered all it was sent and that is stored, every stored change's
        follow-up has run, and the host's current unit of work is done."""
        await self._settled(timeout_s)
        await self._followed_up()
        async with self.lock:
            pass

    async def _followed_up(self) -> None:
        """Every automatic-incident task started so far has run."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _settled(self, timeout_s: float = 60.0) -> None:
        """The engine process has answered all it was sent, and the drain thread has stored and announced it."""
        deadline = time.monotonic() + timeout_s
        while (self.remote is not None and (self.remote.outstanding() or self._draining)
               and time.monotonic() < deadline):
            await asyncio.sleep(0.002)

    def status(self) -> dict[str, Any]:
        """The engine as the status endpoint shows it (taken under ``engine_lock``)."""
        with self.engine_lock:
            remote = self.remote or self._stopped_remote
            if remote is not None:
                failures = [(key, *f) for key, f in remote.errors.items()]
            else:
                failures = [(key, f.count, f.last_message, f.last_subject, f.last_at)
                            for key, f in self.engine.errors.items()]
            out = {"mode": self.mode, "rules": len(self.rules), "stats": dict(self.stats),
                   "event_time": self.event_time, "rules_now": self.rules_now(),
                   "errors": {key: {"count": count, "last_message": message, "last_subject": subject,
                                    "last_at": at} for key, count, message, subject, at in failures},
                   "dropped_rules": list(self.dropped_rules)}
        if remote is not None:
            out["process"] = {"pid": remote.pid, "restarts": remote.restarts, "lost": remote.lost}
        return out

    def _open_incidents(self, warning_ids: list[int]) -> None:
        """Rules marked ``auto_incident`` open (or link) an incident for these warnings, in this order."""
        now = self.clock.now()
        try:
            with self.database.writing(), self.database.session() as session:
                rows = {w.id: w for w in session.scalars(sa.select(Warning).where(Warning.id.in_(warning_ids)))}
                for wid in warning_ids:
                    if wid in rows:
                        auto_incident_from_warning(session, rows[wid], now)
                session.commit()
        except Exception:  # the warnings are stored and published; the timer's sweep retries these
            self.stats["errors"] += 1
            log.exception("automatic incidents for warnings %s failed; the sweep will retry", warning_ids)

    # -- time --------------------------------------------------------------------------------------

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats["errors"] += 1
                if self.stats["errors"] == 1 or self.stats["errors"] % 100 == 0:
                    log.exception("warning timer failed (%d failures)", self.stats["errors"])

    async def tick(self) -> None:
        """One turn of the timer (tests call it directly with a manual clock)."""
        self.stats["ticks"] += 1
        async with self.lock:
            await anyio.to_thread.run_sync(self._maybe_rebuild)
            changed, due = await anyio.to_thread.run_sync(self._tick_engine)
            await self._announce(changed, due)
        async with self.lock:
            changed = await anyio.to_thread.run_sync(self._housekeeping)
        if changed:
            await self.bus.publish(CHANGED_SUBJECT, changed)
        # incidents' own timers touch no warning, so readings' warnings need not wait for them
        await anyio.to_thread.run_sync(self._incident_housekeeping)
        if self.deliver_enabled and self.notifier_factory is not None:
            counts = await anyio.to_thread.run_sync(self._deliver)
            self.stats["notifications"] += counts.get("sent", 0)
        if time.monotonic() - self._last_snapshot >= self.snapshot_s:
            await self._snapshot_now()

    def rules_now(self) -> datetime:
        """The time the rules' timers see: the newest reading's time, carried on by the wall clock since it
        arrived (never past the wall clock). Live, that is the wall clock; while history replays (the
        demo's back-fill, a broker backlog after an outage) it follows the replay, so history does not
        look like every device falling silent, while a device silent within that history still does; and
        if the stream stops altogether, time goes on and the no-data rules speak."""
        now = self.clock.now()
        if self.event_time is None or self.event_seen_at is None:
            return now
        return min(now, self.event_time + (now - self.event_seen_at))

    def _tick_engine(self) -> tuple[list[dict[str, Any]], list[int]]:
        """Time passes for the rules, and what that changes is stored, in one turn of the database's writers (so
        no batch's warnings can land between the two); with the engine process, in the order it answers."""
        if self.remote is not None:
            return self._store_remote_alone(self.remote.tick(self.rules_now()))
        with self.database.writing(), self.database.session() as session:
            with self.engine_lock:
                signals = self.engine.tick(self.rules_now())
                out = self._store(session, signals) if signals else ([], [])
            session.commit()
        return out

    def _maybe_rebuild(self) -> None:
        with self.database.session() as session:
            if rules_service.revision(session=session) == self.rules_revision:
                return
        with self.database.writing(), self.database.session() as session, self.engine_lock:
            if self.remote is None:
                self._rebuild(session)
                return
            rev = rules_service.revision(session=session)
            rules = rules_service.enabled_rules(session=session)
            dropped = self.remote.call("rules", rules)  # after everything sent before: the same order
            self.rules_revision, self.rules = rev, rules
            self._resolve_dropped(session, dropped)
            log.info("warning engine process running %d rules", len(rules))

    def _housekeeping(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        changed: list[dict[str, Any]] = []
        with self.database.writing(), self.database.session() as session:
            cfg = self.config = load_config(session=session)
            self.codes = service.department_codes(session=session)
            escalated = service.escalate_due(session=session, now=now)
            for w in escalated:
                outbox.plan_escalation(session=session, now=now, warning=w, targets=cfg.escalation_targets)
            if time.monotonic() - self._last_suppression >= self.suppression_s:
                service.refresh_suppression(session=session, now=now)
                self._last_suppression = time.monotonic()
            self._incidents_refused.update(sweep_auto_incidents(
                session, now, rule_keys=self._auto_incident_rules(), skip=self._incidents_refused))
            outbox.plan(session=session, now=now)
            if escalated:
                codes = service.department_codes(session=session)
                changed = [_wire(service.as_dict(w, departments=codes)) for w in escalated]
            session.commit()
        return changed

    def _incident_housekeeping(self) -> None:
        """Overdue incident tasks escalate and due drill steps play (their own transaction, outside the lock)."""
        now = self.clock.now()
        with self.database.writing(), self.database.session() as session:
            tasks_service.escalate_overdue_tasks(session=session, now=now)
            drills.play_due(session=session, now=now)
            session.commit()

    def _auto_incident_rules(self) -> list[str]:
        return [r.key for r in self.rules if r.auto_incident is not False]

    def _deliver(self) -> dict[str, int]:
        assert self.notifier_factory is not None
        return outbox.deliver(database=self.database, now=self.clock.now, make=self.notifier_factory)


def _wire(d: dict[str, Any]) -> dict[str, Any]:
    """A warning dict as JSON-ready data (times as UTC ISO with Z)."""
    return {k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v) for k, v in d.items()}
