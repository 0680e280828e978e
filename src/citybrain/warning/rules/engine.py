"""The rule engine: observations in, signals out, only when something changes.

Pure and single-threaded: no clock (time comes from each observation's ``ts`` and from ``tick(now)``),
no storage (``snapshot`` / ``restore`` carry every subject's state across a restart).

``for`` is evaluated as Prometheus does, on evaluation: a subject whose condition becomes true (or more
severe) is *pending*; it fires once the condition has held for ``for`` -- at the first reading that
confirms it, or at a ``tick`` after the deadline provided the stream's last reading is not stale (no older
than twice the device type's interval, or 5 minutes when the interval is unknown). Going down a level or
clearing is immediate (hysteresis lives in the threshold). No pending state is emitted.

>>> from datetime import UTC, datetime, timedelta
>>> from citybrain.warning.types import DeviceContext, Observation
>>> from citybrain.warning.rules import parse_rules
>>> rules = parse_rules('''
... - key: methane
...   name: {zh: 可燃气体浓度, en: Methane}
...   quantity: methane
...   when: {kind: threshold, levels: {blue: 10, red: 50}, hysteresis: 2}
... ''')
>>> engine = RuleEngine(rules)
>>> gas = DeviceContext("GAS-1", 1, "gas_methane", "emergency", 121.47, 31.23, "PIT-1", "gas_space")
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> def feed(*values):
...     obs = [Observation(gas, "methane", t0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
...     return [(s.level and s.level.colour, s.value) for s in engine.observe(obs)]
>>> feed(1.0, 12.0, 13.0, 60.0, 49.0, 47.0, 9.0, 7.5)
[('blue', 12.0), ('red', 60.0), ('blue', 47.0), (None, 7.5)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citybrain.warning.rules import schema as S
from citybrain.warning.rules.conditions import Leaf, NoDataLeaf, compile_tree
from citybrain.warning.rules.spatial import SpatialRuntime
from citybrain.warning.rules.subjects import DEFAULT_STALE_S, Emitter, Settler, Subject, as_utc, fingerprint
from citybrain.warning.types import DeviceContext, Level, Observation, Signal

SNAPSHOT_VERSION = 1
MAX_ERROR_LOG = 100


@dataclass(slots=True)
class RuleFailure:
    """What went wrong in one rule: how often, and the last time (message, subject, when)."""

    rule: str
    count: int = 0
    last_message: str = ""
    last_subject: str | None = None
    last_at: datetime | None = None


class RuleRuntime:
    """One enabled rule's compiled tree and per-subject state (device or asset subjects)."""

    def __init__(self, rule: S.RuleDef, known_types: Mapping[str, float], units: Mapping[str, str]) -> None:
        self.rule = rule
        self.key = rule.key
        self.tree = compile_tree(rule.when, rule.quantity)
        self.root = self.tree[0]
        self.leaves: list[Leaf] = self.root.leaves()
        self.quantities = self.root.quantities
        self.scope_kind = rule.subject
        self.settler = Settler(rule.for_s, known_types)
        self.emitter = Emitter(rule, units)
        self.known_types = known_types
        self.no_data = isinstance(self.root, NoDataLeaf)
        self.timed = rule.for_s > 0 or self.root.timed
        self.subjects: dict[str, Subject] = {}
        self.deadlines: dict[str, float] = {}
        self.waiting: dict[float, dict[tuple[str, str], float]] = {}  # no-data: timeout -> (subject, device) -> due

    def subject_key(self, ctx: DeviceContext) -> str | None:
        return ctx.device_id if self.scope_kind == "device" else ctx.asset_key

    def observe(self, ctx: DeviceContext, q: str, ts: float, v: float, out: list[Signal]) -> None:
        key = ctx.device_id if self.scope_kind == "device" else ctx.asset_key
        if key is None:
            return  # an asset rule and a device with no asset
        sub = self.subjects.get(key)
        if sub is None:
            sub = self.subjects[key] = Subject(
                key, self.emitter.labels(self.scope_kind, ctx, key), ctx, [n.new_state() for n in self.tree]
            )
        elif self.no_data and ts == sub.last_ts and sub.level is None:
            return  # another value of the same reading: nothing new for a no-data rule
        sub.ctx = ctx
        sub.last_ts = ts
        sub.last = (ctx.device_id, q, v)
        root = self.root
        root.observe(sub.nodes, ctx.device_id, q, ts, v)
        if self.no_data:
            self._wait(sub, ctx, ts)
        level = root.level(sub.nodes)
        if (level != sub.level or sub.pending is not None) and self.settler.settle(sub, level, ts):
            out.append(self._signal(sub, ts))
        # Time only ever makes a condition less active (windows and holds expire; no-data is handled
        # apart), so a subject needs a deadline only while it is active, pending or already scheduled.
        if self.timed and (sub.pending is not None or level is not None or key in self.deadlines):
            self._schedule(sub)

    def _wait(self, sub: Subject, ctx: DeviceContext, ts: float) -> None:
        if sub.timeout is None:
            leaf: NoDataLeaf = self.root  # type: ignore[assignment]
            if leaf.after is not None:
                sub.timeout = leaf.after
            elif ctx.type_key in self.known_types:
                sub.timeout = leaf.k * self.known_types[ctx.type_key]  # type: ignore[operator]
            else:
                raise LookupError(f"no interval known for device type {ctx.type_key!r}; give the rule `after`")
        w = self.waiting.setdefault(sub.timeout, {})
        k = (sub.key, ctx.device_id)
        w.pop(k, None)
        w[k] = ts + sub.timeout

    def _schedule(self, sub: Subject) -> None:
        times = []
        if sub.pending is not None:
            times.append(sub.pending + self.settler.for_s)
        if self.root.timed and not self.no_data:
            d = self.root.deadline(sub.nodes)
            if d is not None:
                times.append(d)
        if times:
            self.deadlines[sub.key] = min(times)
        else:
            self.deadlines.pop(sub.key, None)

    def tick(self, now: float, out: list[Signal]) -> None:
        for w in self.waiting.values():
            expired = []
            for k, due in w.items():
                if due > now:
                    break
                expired.append(k)
            for k in expired:
                del w[k]
                sub = self.subjects[k[0]]
                stream = sub.nodes[0].get(k[1])
                if stream is not None:
                    stream.level = self.root.at  # type: ignore[attr-defined]
                    stream.measure = now - (stream.ts or now)
                sub.last = (k[1], self.leaves[0].quantity, float("nan"))
                if self.settler.settle(sub, self.root.level(sub.nodes), now, tick=True):
                    out.append(self._signal(sub, now))
                if self.timed:
                    self._schedule(sub)
        if not self.deadlines:
            return
        for key in [k for k, due in self.deadlines.items() if due <= now]:
            sub = self.subjects[key]
            if self.root.timed and not self.no_data:
                self.root.tick(sub.nodes, now)
            fresh = self.no_data or sub.last_ts is None or now - sub.last_ts <= self._stale(sub)
            if self.settler.settle(sub, self.root.level(sub.nodes), now, tick=True, fresh=fresh):
                out.append(self._signal(sub, now))
            self._schedule(sub)
            if key in self.deadlines and self.deadlines[key] <= now and sub.pending is not None and not fresh:
                del self.deadlines[key]  # stale pending: wait for the next reading rather than re-check each tick

    def _stale(self, sub: Subject) -> float:
        interval = self.known_types.get(sub.ctx.type_key)
        return 2.0 * interval if interval else DEFAULT_STALE_S

    def _signal(self, sub: Subject, at: float) -> Signal:
        readings = []
        value: float | None = None
        fallback: float | None = None
        for leaf in self.leaves:
            for dev, s in sub.nodes[leaf.idx].items():
                readings.append(
                    {
                        "device": dev,
                        "quantity": leaf.quantity,
                        "value": s.value,
                        "measure": s.measure,
                        "level": s.level.colour if s.level else None,
                        "ts": as_utc(s.ts).isoformat() if s.ts is not None else None,
                    }
                )
                if sub.last and dev == sub.last[0] and leaf.quantity in (sub.last[1], S.ANY_QUANTITY):
                    if value is None and s.level is not None:
                        value = leaf.headline(s)  # the first active condition speaks
                    if fallback is None:
                        fallback = leaf.headline(s)
        value = fallback if value is None else value
        if value is not None and isinstance(value, float) and not math.isfinite(value):
            value = None
        evidence = {"devices": sorted({r["device"] for r in readings}), "readings": readings}
        return self.emitter.signal(sub, at, value, evidence)

    # -- persistence ------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {"subjects": {k: s.dump(self.tree) for k, s in self.subjects.items()}}

    def load(self, data: Mapping[str, Any]) -> None:
        for key, raw in data.get("subjects", {}).items():
            sub = self.subjects[key] = Subject.load(key, raw, self.tree)
            if self.no_data and sub.timeout is not None:
                for dev, s in sub.nodes[0].items():
                    if s.level is None and s.ts is not None:
                        self.waiting.setdefault(sub.timeout, {})[(key, dev)] = s.ts + sub.timeout
            if self.timed:
                self._schedule(sub)
        for w in self.waiting.values():
            ordered = sorted(w.items(), key=lambda kv: kv[1])
            w.clear()
            w.update(ordered)


class RuleEngine:
    """Evaluates rules over observations; see the module docstring.

    ``known_types`` maps device type -> reporting interval in seconds (for ``no_data`` with ``k`` and for
    staleness); ``units`` maps quantity -> unit (for ``{unit}`` in summaries). Rules with ``enabled: false``
    are ignored. ``errors`` holds one ``RuleFailure`` per rule that raised; ``error_log`` the latest ones.
    """

    def __init__(
        self,
        rules: Iterable[S.RuleDef],
        *,
        known_types: Mapping[str, float] | None = None,
        units: Mapping[str, str] | None = None,
    ) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.known_types = dict(known_types or {})
        self.units = dict(units or {})
        self.runtimes: dict[str, RuleRuntime | SpatialRuntime] = {}
        for r in self.rules:
            if isinstance(r.when, S.Spatial):
                self.runtimes[r.key] = SpatialRuntime(r, self.known_types, self.units)
            else:
                self.runtimes[r.key] = RuleRuntime(r, self.known_types, self.units)
        self.errors: dict[str, RuleFailure] = {}
        # rules whose saved state ``restore`` did not carry over (removed, disabled, changed or damaged):
        # their subjects' last signals will never be cleared by this engine
        self.dropped: list[str] = []
        self.error_log: deque[RuleFailure] = deque(maxlen=MAX_ERROR_LOG)
        self._by_tq: dict[tuple[str, str], list[RuleRuntime | SpatialRuntime]] = {}
        self._route: dict[tuple[str, str], tuple[DeviceContext, list[RuleRuntime | SpatialRuntime]]] = {}
        self._scopes = {
            r.key: (
                frozenset(r.scope.device),
                frozenset(r.scope.device_type),
                frozenset(r.scope.asset_class),
                frozenset(r.scope.district),
            )
            for r in self.rules
        }

    # -- routing --------------------------------------------------------------------------------

    def _by_type(self, type_key: str, q: str) -> list[RuleRuntime | SpatialRuntime]:
        hit = self._by_tq.get((type_key, q))
        if hit is None:
            hit = self._by_tq[(type_key, q)] = [
                rt
                for key, rt in self.runtimes.items()
                if (q in rt.quantities or S.ANY_QUANTITY in rt.quantities)
                and (not self._scopes[key][1] or type_key in self._scopes[key][1])
            ]
        return hit

    def _candidates(self, ctx: DeviceContext, q: str) -> list[RuleRuntime | SpatialRuntime]:
        out = []
        for rt in self._by_type(ctx.type_key, q):
            devices, _, classes, districts = self._scopes[rt.key]
            if devices and ctx.device_id not in devices:
                continue
            if classes and ctx.asset_class not in classes:
                continue
            if districts and ctx.district not in districts:
                continue
            out.append(rt)
        return out

    # -- the two entry points ---------------------------------------------------------------------

    def observe(self, observations: Iterable[Observation]) -> list[Signal]:
        """Evaluate readings (in time order per device); the signals of subjects whose state changed."""
        out: list[Signal] = []
        route = self._route
        isfinite = math.isfinite
        last_when: datetime | None = None
        ts = 0.0
        for ob in observations:
            ctx = ob.device
            q = ob.quantity
            entry = route.get((ctx.device_id, q))
            if entry is None or (entry[0] is not ctx and entry[0] != ctx):
                entry = route[(ctx.device_id, q)] = (ctx, self._candidates(ctx, q))
            rts = entry[1]
            if not rts:
                continue
            v = ob.value
            if not isfinite(v):
                continue
            when = ob.ts
            if when is not last_when:
                last_when, ts = when, when.timestamp()
            for rt in rts:
                try:
                    rt.observe(ctx, q, ts, v, out)
                except Exception as exc:  # noqa: BLE001 -- one rule's failure must not stop the others
                    self._fail(rt.key, ctx.device_id, ts, exc)
        return out

    def tick(self, now: datetime) -> list[Signal]:
        """Let time pass: no-data timeouts, ``for`` deadlines, count / hold / spatial window expiry."""
        out: list[Signal] = []
        t = now.timestamp()
        for rt in self.runtimes.values():
            try:
                rt.tick(t, out)
            except Exception as exc:  # noqa: BLE001
                self._fail(rt.key, None, t, exc)
        return out

    def _fail(self, rule: str, subject: str | None, ts: float | None, exc: BaseException) -> None:
        f = self.errors.get(rule)
        if f is None:
            f = self.errors[rule] = RuleFailure(rule)
        f.count += 1
        f.last_message = f"{type(exc).__name__}: {exc}"
        f.last_subject = subject
        f.last_at = None if ts is None else as_utc(ts)
        self.error_log.append(RuleFailure(rule, f.count, f.last_message, subject, f.last_at))

    # -- inspection and persistence ----------------------------------------------------------------

    def active(self) -> list[tuple[str, str, Level]]:
        """(rule, subject, level) of every subject currently firing."""
        return [
            (key, sk, sub.level)
            for key, rt in self.runtimes.items()
            for sk, sub in rt.subjects.items()
            if sub.level is not None
        ]

    def snapshot(self) -> dict[str, Any]:
        """Every rule's per-subject state as JSON-ready data (levels, pending, windows, detector states)."""
        return {
            "version": SNAPSHOT_VERSION,
            "rules": {key: {"fingerprint": fingerprint(rt.rule), **rt.dump()} for key, rt in self.runtimes.items()},
            "errors": {
                k: [f.count, f.last_message, f.last_subject, f.last_at.isoformat() if f.last_at else None]
                for k, f in self.errors.items()
            },
        }

    @classmethod
    def restore(
        cls,
        rules: Iterable[S.RuleDef],
        snapshot: Mapping[str, Any],
        *,
        known_types: Mapping[str, float] | None = None,
        units: Mapping[str, str] | None = None,
    ) -> RuleEngine:
        """An engine for ``rules`` carrying on from ``snapshot``; a rule whose definition changed starts afresh.

        The keys of rules whose saved state was not carried over are listed in ``engine.dropped``, so the
        host can resolve the warnings they leave behind.
        """
        engine = cls(rules, known_types=known_types, units=units)
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {snapshot.get('version')!r} is not {SNAPSHOT_VERSION}")
        for key, (count, msg, subject, at) in snapshot.get("errors", {}).items():
            engine.errors[key] = RuleFailure(key, count, msg, subject, datetime.fromisoformat(at) if at else None)
        for key, data in snapshot.get("rules", {}).items():
            rt = engine.runtimes.get(key)
            if rt is None or data.get("fingerprint") != fingerprint(rt.rule):
                engine.dropped.append(key)
                continue
            try:
                rt.load(data)
            except Exception as exc:  # noqa: BLE001 -- a damaged rule state must not block the others
                fresh = cls([rt.rule], known_types=known_types, units=units).runtimes[key]
                engine.runtimes[key] = fresh
                engine.dropped.append(key)
                engine._fail(key, None, None, exc)
        return engine
