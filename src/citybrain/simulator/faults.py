"""Faults laid over the clean signals, each with a ground-truth record for scoring detectors.

A fault affects readings with ``start <= ts < end`` (UTC). Kinds: ``drift`` (grows linearly),
``step`` (constant jump), ``spike`` (one outlier at the first reading in the window), ``stuck``
(repeats the value it had at the start), ``dropout`` (no readings) and ``gas_leak`` (methane at a
source space rises towards a peak %LEL and reaches the neighbouring spaces within a radius later
and weaker: delay grows and level falls exponentially with distance). Automatic faults are drawn
per UTC day from (seed, day), so a day's faults do not depend on when a simulation started.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kinds import SensorKind
from .placement import distance_m

FAULT_KINDS = ("drift", "step", "spike", "stuck", "dropout", "gas_leak")
GAS_GRADES_LEL = (10.0, 25.0, 50.0)  # %LEL bands a methane warning rule grades (blue/yellow/orange...)
DEVICES_PER_FAULT = 500  # auto mode: one fault of each kind per day per this many devices (at least one)

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault and its ground truth. Only kind, device_ids, start and end are required."""

    kind: str
    device_ids: tuple[str, ...]
    start: datetime
    end: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    fault_id: str = ""
    asset_id: str = ""
    expected_effect: str = ""

    def record(self) -> dict[str, Any]:
        """The ground-truth record, JSON-ready, times in UTC ISO 8601 with ``Z``."""
        return {
            "fault_id": self.fault_id,
            "kind": self.kind,
            "device_ids": list(self.device_ids),
            "asset_id": self.asset_id,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "params": dict(self.params),
            "expected_effect": self.expected_effect,
        }


def iso_z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_ground_truth(path: str | Path, faults: Iterable[Fault]) -> None:
    """Write the records of ``faults`` as a JSON array (UTF-8, sorted by start)."""
    records = [f.record() for f in sorted(faults, key=lambda f: (f.start, f.fault_id))]
    Path(path).write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Fleet:
    """What faults need to know of the devices (built by the engine)."""

    ids: tuple[str, ...]
    index: Mapping[str, int]
    kinds: tuple[SensorKind, ...]
    asset_ids: tuple[str, ...]
    lon: FloatArray
    lat: FloatArray
    interval_s: IntArray
    methane: NDArray[np.bool_]  # devices that measure methane (gas leak sources and neighbours)
    clean: Callable[[IntArray, int], FloatArray]  # reported fault-free values of devices at a UTC second


def _ts(t: datetime) -> int:
    return int(t.timestamp())


def _dt(t_s: int) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def first_due(t_s: int, interval: int) -> int:
    return -(-t_s // interval) * interval


def resolve(fault: Fault, fleet: Fleet, *, fault_id: str = "") -> Fault:
    """Fill in what an explicit fault leaves out: asset, stuck value, spike time, leak spread, effect."""
    if fault.kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {fault.kind!r}; known: {FAULT_KINDS}")
    missing = [d for d in fault.device_ids if d not in fleet.index]
    if missing or not fault.device_ids:
        raise ValueError(f"fault {fault.kind} names unknown devices {missing}")
    if fault.end <= fault.start:
        raise ValueError("fault end must be after its start")
    first = fleet.index[fault.device_ids[0]]
    k = fleet.kinds[first]
    p = dict(fault.params)
    t0 = first_due(_ts(fault.start), int(fleet.interval_s[first]))
    if fault.kind == "drift":
        total = p.setdefault("rate_per_hour", 0.0) * (_ts(fault.end) - _ts(fault.start)) / 3600.0
        effect = f"{k.quantity} drifts linearly, reaching {total:+.4g} {k.unit} at the end, then back to normal"
    elif fault.kind == "step":
        effect = f"{k.quantity} jumps by {p.setdefault('magnitude', 0.0):+.4g} {k.unit} for the window"
    elif fault.kind == "spike":
        p.setdefault("at", iso_z(_dt(t0)))
        effect = f"one {k.quantity} reading at {p['at']} is off by {p.setdefault('magnitude', 0.0):+.4g} {k.unit}"
    elif fault.kind == "stuck":
        if "value" not in p:
            p["value"] = float(fleet.clean(np.array([first]), t0)[0])
        effect = f"{k.quantity} repeats {p['value']} {k.unit} for the window"
    elif fault.kind == "dropout":
        effect = "no readings for the window"
    else:
        return _resolve_leak(fault, fleet, p, fault_id or fault.fault_id)
    return replace(
        fault,
        params=p,
        fault_id=fault_id or fault.fault_id,
        asset_id=fault.asset_id or fleet.asset_ids[first],
        expected_effect=fault.expected_effect or effect,
    )


def _resolve_leak(fault: Fault, fleet: Fleet, p: dict[str, Any], fault_id: str) -> Fault:
    source = fleet.index[fault.device_ids[0]]
    if fleet.kinds[source].quantity != "methane":
        raise ValueError("a gas leak starts at a methane device")
    peak = float(p.setdefault("peak_lel", 60.0))
    rise = float(p.setdefault("rise_s", 600.0))
    radius = float(p.setdefault("radius_m", 250.0))
    per_m = float(p.setdefault("delay_s_per_m", 2.0))
    decay = float(p.setdefault("decay_m", radius / 3.0))
    duration = _ts(fault.end) - _ts(fault.start)
    if "spread" not in p:
        p["spread"] = _spread(fleet, source, peak, rise, radius, per_m, decay, duration, fault.device_ids[1:])
    spread = p["spread"]
    grade = sum(peak >= g for g in GAS_GRADES_LEL)
    effect = (
        f"methane at {fleet.ids[source]} rises towards {peak:.0f} %LEL (above {grade} of the "
        f"{len(GAS_GRADES_LEL)} warning bands {GAS_GRADES_LEL}); {len(spread) - 1} neighbouring spaces "
        f"within {radius:.0f} m rise later and weaker; back to normal at the end"
    )
    return replace(
        fault,
        device_ids=tuple(s["device_id"] for s in spread),
        params=p,
        fault_id=fault_id,
        asset_id=fault.asset_id or fleet.asset_ids[source],
        expected_effect=fault.expected_effect or effect,
    )


def _spread(
    fleet: Fleet,
    source: int,
    peak: float,
    rise: float,
    radius: float,
    per_m: float,
    decay: float,
    duration: int,
    only: Sequence[str],
    max_neighbours: int = 8,
) -> list[dict[str, Any]]:
    """The source and its affected neighbours: distance, delay, attenuation and expected peak."""
    methane = fleet.methane
    if only:
        methane = np.zeros(len(fleet.ids), dtype=bool)
        methane[[fleet.index[d] for d in only]] = True
    cand = np.flatnonzero(methane)
    cand = cand[cand != source]
    dist = distance_m(fleet.lon[source], fleet.lat[source], fleet.lon[cand], fleet.lat[cand])
    within = np.flatnonzero(dist <= radius)
    near = within[np.argsort(dist[within], kind="stable")][:max_neighbours]
    out = [_spread_row(fleet.ids[source], 0.0, 0, 1.0, peak, rise, duration)]
    for j in near.tolist():
        d = float(dist[j])
        delay = int(round(d * per_m))
        att = math.exp(-d / decay)
        if d > radius or delay >= duration or peak * att < 1.0:
            continue
        out.append(_spread_row(fleet.ids[int(cand[j])], d, delay, att, peak, rise, duration))
    return out


def _spread_row(device_id: str, d: float, delay: int, att: float, peak: float, rise: float, dur: int) -> dict[str, Any]:
    reached = peak * att * (1.0 - math.exp(-(dur - delay) / rise))
    return {
        "device_id": device_id,
        "distance_m": round(d, 1),
        "delay_s": delay,
        "attenuation": round(att, 4),
        "expected_peak_lel": round(reached, 1),
    }


# Auto-fault windows (seconds): min, max duration by kind.
_DURATIONS = {
    "drift": (2 * 3600, 6 * 3600),
    "step": (3600, 4 * 3600),
    "stuck": (3600, 3 * 3600),
    "dropout": (1800, 2 * 3600),
    "gas_leak": (3600, 3 * 3600),
}


def schedule_day(fleet: Fleet, seed: int, day: int, *, devices_per_fault: int = DEVICES_PER_FAULT) -> list[Fault]:
    """The automatic faults of UTC day ``day`` (days since 1970-01-01), from (seed, day) alone.

    ``devices_per_fault`` sets the rate: one fault of each kind per day per that many devices.

    Every window lies inside the day and no device has two faults in a day, so the truth is clean.
    """
    n = len(fleet.ids)
    if n == 0:
        return []
    rng = np.random.default_rng([seed & 0xFFFFFFFF, day, 0xFA17])
    day_s = day * 86400
    per_kind = max(1, n // devices_per_fault)
    taken = np.zeros(n, dtype=bool)
    out: list[Fault] = []
    counter = 0

    def window(kind: str, interval: int) -> tuple[datetime, datetime]:
        lo, hi = _DURATIONS.get(kind, (interval, interval))
        dur = first_due(int(rng.integers(lo, hi + 1)), interval)
        start = day_s + int(rng.integers(0, (86400 - dur) // interval + 1)) * interval
        return _dt(start), _dt(start + dur)

    def next_id(kind: str) -> str:
        nonlocal counter
        counter += 1
        return f"F-{_dt(day_s):%Y%m%d}-{counter:04d}-{kind}"

    gas = np.flatnonzero(fleet.methane)
    for src in rng.permutation(gas)[: max(1, len(gas) // devices_per_fault)].tolist():
        if taken[src]:
            continue
        start, end = window("gas_leak", 60)
        params = {"peak_lel": round(float(rng.uniform(35.0, 80.0)), 1)}
        leak = Fault("gas_leak", (fleet.ids[src],), start, end, params)
        leak = resolve(leak, fleet, fault_id=next_id("gas_leak"))
        leak_idx = [fleet.index[d] for d in leak.device_ids]
        if taken[leak_idx].any():
            continue
        taken[leak_idx] = True
        out.append(leak)

    for kind in ("drift", "step", "spike", "stuck", "dropout"):
        free = np.flatnonzero(~taken)
        for i in rng.choice(free, size=min(per_kind, len(free)), replace=False).tolist():
            taken[i] = True
            k = fleet.kinds[i]
            start, end = window(kind, int(fleet.interval_s[i]))
            sign = _sign(k, rng)
            s = k.typical_sigma + k.noise_rel * abs(k.baseline)
            fp: dict[str, Any] = {}
            if kind == "drift":
                fp["rate_per_hour"] = _round(sign * 12.0 * s * 3600.0 / (end - start).total_seconds(), k)
            elif kind == "step":
                fp["magnitude"] = _round(sign * 8.0 * s, k)
            elif kind == "spike":
                fp["magnitude"] = _round(sign * 15.0 * s, k)
            out.append(resolve(Fault(kind, (fleet.ids[i],), start, end, fp), fleet, fault_id=next_id(kind)))
    return out


def _sign(k: SensorKind, rng: np.random.Generator) -> float:
    margin = 15.0 * k.typical_sigma
    if k.baseline - margin < k.valid_min:
        return 1.0
    if k.baseline + margin > k.valid_max:
        return -1.0
    return 1.0 if rng.random() < 0.5 else -1.0


def _round(v: float, k: SensorKind) -> float:
    return round(v, max(k.decimals + 2, 3))


@dataclass(frozen=True, slots=True)
class Compiled:
    """A fault turned into device indices and numbers for fast application at each tick."""

    fault: Fault
    idx: IntArray
    start_s: int
    end_s: int
    delay_s: FloatArray  # gas leak only
    level: FloatArray  # gas leak only: peak x attenuation per device


def compile_fault(fault: Fault, fleet: Fleet) -> Compiled:
    idx = np.array([fleet.index[d] for d in fault.device_ids], dtype=np.int64)
    delay = level = np.zeros(len(idx))
    if fault.kind == "gas_leak":
        spread = fault.params["spread"]
        delay = np.array([s["delay_s"] for s in spread], dtype=float)
        level = float(fault.params["peak_lel"]) * np.array([s["attenuation"] for s in spread], dtype=float)
    return Compiled(fault, idx, _ts(fault.start), _ts(fault.end), delay, level)


def apply(faults: Iterable[Compiled], t_s: int, pos: IntArray, values: FloatArray, keep: NDArray[np.bool_]) -> None:
    """Apply active faults in place; ``pos`` maps device index to its slot in ``values`` (-1: not due)."""
    for c in faults:
        if not c.start_s <= t_s < c.end_s:
            continue
        slots = pos[c.idx]
        hit = slots >= 0
        if not hit.any():
            continue
        p, kind, params = slots[hit], c.fault.kind, c.fault.params
        if kind == "drift":
            values[p] += params["rate_per_hour"] * (t_s - c.start_s) / 3600.0
        elif kind == "step":
            values[p] += params["magnitude"]
        elif kind == "spike":
            if iso_z(_dt(t_s)) == params["at"]:
                values[p] += params["magnitude"]
        elif kind == "stuck":
            values[p] = params["value"]
        elif kind == "dropout":
            keep[p] = False
        elif kind == "gas_leak":
            since = t_s - c.start_s - c.delay_s[hit]
            rise = float(params["rise_s"])
            values[p] += np.where(since >= 0, c.level[hit] * (1.0 - np.exp(-np.maximum(since, 0) / rise)), 0.0)
