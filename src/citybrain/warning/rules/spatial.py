"""Spatial rules: the inner condition active on several devices close together within a time window.

Each device's inner condition is evaluated as a device rule would be (no ``for``). A device is *recent*
while its inner condition is active or was within ``window``. A cluster forms when ``min_devices``
recent devices lie within ``radius_m`` of a recent device not yet in a cluster; a recent device within
``radius_m`` of a member joins it. The cluster's identity is its founding member -- the one that became
active first -- so the same event keeps one identity (and one warning) while members come and go; it
dissolves (the signal clears) when fewer than ``min_devices`` members are still recent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from citybrain.warning.rules import schema as S
from citybrain.warning.rules.conditions import compile_tree
from citybrain.warning.rules.subjects import Emitter, Settler, Subject
from citybrain.warning.types import DeviceContext, Level, Signal

_R = 6_371_008.8


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth sphere)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * _R * math.asin(min(1.0, math.sqrt(a)))


class _Device:
    __slots__ = ("ctx", "nodes", "level", "last_level", "first_active", "last_active", "value", "ts")

    def __init__(self, ctx: DeviceContext, nodes: list[Any]) -> None:
        self.ctx = ctx
        self.nodes = nodes
        self.level: Level | None = None
        self.last_level: Level | None = None
        self.first_active: float | None = None
        self.last_active: float | None = None
        self.value: float | None = None
        self.ts: float | None = None


class SpatialRuntime:
    """A spatial rule's per-device inner state and its clusters (the subjects of its signals)."""

    def __init__(self, rule: S.RuleDef, known_types: Mapping[str, float], units: Mapping[str, str]) -> None:
        spec: S.Spatial = rule.when  # type: ignore[assignment]
        self.rule = rule
        self.key = rule.key
        self.spec = spec
        self.tree = compile_tree(spec.when, rule.quantity)
        self.root = self.tree[0]
        self.quantities = self.root.quantities
        self.radius = spec.radius_m
        self.window = S.duration_seconds(spec.window)
        self.min_devices = spec.min_devices
        self.settler = Settler(rule.for_s, known_types)
        self.emitter = Emitter(rule, units)
        self.devices: dict[str, _Device] = {}
        self.recent: dict[str, float] = {}  # device -> last time its inner condition was active
        self.subjects: dict[str, Subject] = {}  # cluster id -> subject
        self.members: dict[str, dict[str, None]] = {}  # cluster id -> member devices (ordered)
        self.member_of: dict[str, str] = {}

    def observe(self, ctx: DeviceContext, q: str, ts: float, v: float, out: list[Signal]) -> None:
        d = self.devices.get(ctx.device_id)
        if d is None:
            d = self.devices[ctx.device_id] = _Device(ctx, [n.new_state() for n in self.tree])
        d.ctx = ctx
        d.value, d.ts = v, ts
        self.root.observe(d.nodes, ctx.device_id, q, ts, v)
        lv = self.root.level(d.nodes)
        if lv is not None:
            if d.last_active is None or (d.level is None and ts - d.last_active > self.window):
                d.first_active = ts
            d.last_active = ts
            d.last_level = lv
            self.recent[ctx.device_id] = ts
        changed = lv != d.level
        d.level = lv
        if self.root.timed:
            self.root.tick(d.nodes, ts)
        if changed or lv is not None or ctx.device_id in self.member_of:
            self._recluster(ts, out, ctx.device_id if lv is not None else None)

    def tick(self, now: float, out: list[Signal]) -> None:
        if self.root.timed:
            for d in self.devices.values():
                self.root.tick(d.nodes, now)
                lv = self.root.level(d.nodes)
                if lv is None and d.level is not None:
                    d.level = None
        if self.recent or self.subjects:
            self._recluster(now, out, None)

    def _is_recent(self, dev: str, now: float) -> bool:
        d = self.devices[dev]
        return d.level is not None or (d.last_active is not None and now - d.last_active < self.window)

    def _near(self, a: str, b: str) -> bool:
        ca, cb = self.devices[a].ctx, self.devices[b].ctx
        return distance_m(ca.lon, ca.lat, cb.lon, cb.lat) <= self.radius

    def _recluster(self, now: float, out: list[Signal], touched: str | None) -> None:
        for dev in [d for d in self.recent if not self._is_recent(d, now)]:
            del self.recent[dev]
        changed: set[str] = set()
        for cid, members in self.members.items():
            gone = [m for m in members if m not in self.recent]
            for m in gone:
                del members[m]
                self.member_of.pop(m, None)
            if gone:
                changed.add(cid)
        if touched is not None and touched in self.recent and touched not in self.member_of:
            cid = next((c for c, ms in self.members.items() if any(self._near(touched, m) for m in ms)), None)
            if cid is not None:
                self.members[cid][touched] = None
                self.member_of[touched] = cid
                changed.add(cid)
            else:
                near = [d for d in self.recent if d not in self.member_of and (d == touched or self._near(touched, d))]
                if len(near) >= self.min_devices:
                    near.sort(key=lambda d: (self.devices[d].first_active or now, d))
                    cid = near[0]
                    self.members[cid] = dict.fromkeys(near)
                    for d in near:
                        self.member_of[d] = cid
                    changed.add(cid)
        elif touched is not None and touched in self.member_of:
            changed.add(self.member_of[touched])
        changed.update(cid for cid, sub in self.subjects.items() if sub.pending is not None)  # `for` may be due
        for cid in changed:
            self._settle(cid, now, out)

    def _settle(self, cid: str, now: float, out: list[Signal]) -> None:
        members = self.members.get(cid, {})
        sub = self.subjects.get(cid)
        if sub is None:
            if len(members) < self.min_devices:
                self.members.pop(cid, None)
                return
            founder = self.devices[cid].ctx
            sub = self.subjects[cid] = Subject(cid, self.emitter.labels("area", founder, cid), founder, [])
        target = None
        if len(members) >= self.min_devices:
            levels = [self.devices[m].last_level for m in members]
            target = self.spec.level or min(lv for lv in levels if lv is not None)
        sub.last_ts = now
        if self.settler.settle(sub, target, now):
            out.append(self._signal(sub, members, now))
        if sub.level is None and sub.pending is None and len(members) < self.min_devices:
            del self.subjects[cid]
            for m in members:
                self.member_of.pop(m, None)
            self.members.pop(cid, None)

    def _signal(self, sub: Subject, members: Mapping[str, None], now: float) -> Signal:
        devs = [self.devices[m] for m in members] or [self.devices[sub.key]]
        lon = sum(d.ctx.lon for d in devs) / len(devs)
        lat = sum(d.ctx.lat for d in devs) / len(devs)
        peak = max((d.value for d in devs if d.value is not None), default=None)
        evidence = {
            "devices": [d.ctx.device_id for d in devs],
            "readings": [
                {
                    "device": d.ctx.device_id,
                    "value": d.value,
                    "lon": d.ctx.lon,
                    "lat": d.ctx.lat,
                    "level": d.last_level.colour if d.last_level else None,
                }
                for d in devs
            ],
            "radius_m": self.radius,
        }
        sub.last = (sub.key, next(iter(self.quantities)), peak if peak is not None else float("nan"))
        return self.emitter.signal(sub, now, peak, evidence, lon=lon, lat=lat, devices=len(devs))

    # -- persistence --------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "devices": {
                k: {
                    "ctx": d.ctx.as_dict(),
                    "nodes": [n.dump(s) for n, s in zip(self.tree, d.nodes, strict=True)],
                    "level": d.level and int(d.level),
                    "last_level": d.last_level and int(d.last_level),
                    "first_active": d.first_active,
                    "last_active": d.last_active,
                    "value": d.value,
                    "ts": d.ts,
                }
                for k, d in self.devices.items()
            },
            "recent": self.recent,
            "clusters": {
                cid: {"members": list(ms), "subject": self.subjects[cid].dump([]) if cid in self.subjects else None}
                for cid, ms in self.members.items()
            },
        }

    def load(self, data: Mapping[str, Any]) -> None:
        for k, raw in data.get("devices", {}).items():
            d = self.devices[k] = _Device(
                DeviceContext(**raw["ctx"]), [n.load(s) for n, s in zip(self.tree, raw["nodes"], strict=True)]
            )
            d.level = Level(raw["level"]) if raw["level"] else None
            d.last_level = Level(raw["last_level"]) if raw["last_level"] else None
            d.first_active, d.last_active, d.value, d.ts = (
                raw["first_active"],
                raw["last_active"],
                raw["value"],
                raw["ts"],
            )
        self.recent = {k: float(v) for k, v in data.get("recent", {}).items()}
        for cid, c in data.get("clusters", {}).items():
            self.members[cid] = dict.fromkeys(c["members"])
            for m in c["members"]:
                self.member_of[m] = cid
            if c["subject"] is not None:
                self.subjects[cid] = Subject.load(cid, c["subject"], [])
