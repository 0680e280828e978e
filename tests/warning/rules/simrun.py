"""Run the simulator through the rule engine and score its signals against the injected faults' ground truth.

Used by ``test_demo_rules.py`` (a small, fast run with a stated bound) and by hand for the precision /
recall table in the report (``python -m tests.warning.rules.simrun --days 7 --seeds 1 2 3``).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from citybrain.sensing.types import ASSET_CLASS_DEPARTMENTS
from citybrain.simulator import KINDS, Simulator
from citybrain.simulator.faults import Fault
from citybrain.warning.rules import RuleDef, RuleEngine, demo_rules
from citybrain.warning.types import DeviceContext, Observation, Signal

# A fault counts as caught by an active signal on one of its devices (or their asset / a cluster holding
# them) from its start until this long after its end (a drift is meant to be caught before it ends, a
# dropout is only visible after the device's interval).
GRACE = timedelta(minutes=30)


def contexts(sim: Simulator) -> dict[str, DeviceContext]:
    assets = {a.asset_id: a for a in sim.assets}
    out = {}
    for pk, d in enumerate(sim.devices, start=1):
        a = assets[d.asset_id]
        out[d.device_id] = DeviceContext(
            d.device_id, pk, d.kind, ASSET_CLASS_DEPARTMENTS[a.asset_class], d.lon, d.lat, a.asset_id,
            a.asset_class, a.name_en, a.district,
        )
    return out


def known_types() -> dict[str, float]:
    return {k.key: float(k.interval_s) for k in KINDS.values()}


def units() -> dict[str, str]:
    return {k.quantity: k.unit for k in KINDS.values()}


def known_quantities() -> dict[str, list[str]]:
    from citybrain.simulator.kinds import EXTRA_KINDS

    return {k.key: [k.quantity, *(EXTRA_KINDS[e].quantity for e in k.extras)] for k in KINDS.values()}


@dataclass
class Run:
    signals: list[Signal]
    observations: int
    engine_s: float
    faults: list[Fault]
    devices: int
    hours: float
    errors: dict[str, str] = field(default_factory=dict)


def observations(batch: Sequence[dict], ctx: dict[str, DeviceContext]) -> list[Observation]:
    out = []
    for r in batch:
        dev = ctx[r["device_id"]]
        ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
        for q, v in r["values"].items():
            out.append(Observation(dev, q, ts, v))
    return out


def run(
    sim: Simulator, start: datetime, end: datetime, rules: Iterable[RuleDef] | None = None, *, tick_s: int = 60
) -> Run:
    """Feed every reading of [start, end) to a fresh engine, ticking every ``tick_s`` of simulated time."""
    engine = RuleEngine(demo_rules() if rules is None else rules, known_types=known_types(), units=units())
    ctx = contexts(sim)
    signals: list[Signal] = []
    n = 0
    spent = 0.0
    next_tick = start.timestamp() + tick_s
    for batch in sim.readings(start, end):
        obs = observations(batch, ctx)
        ts = obs[0].ts if obs else None
        t0 = time.perf_counter()
        if ts is not None:
            while next_tick <= ts.timestamp():
                signals += engine.tick(datetime.fromtimestamp(next_tick, UTC))
                next_tick += tick_s
        signals += engine.observe(obs)
        spent += time.perf_counter() - t0
        n += len(obs)
    signals += engine.tick(end)
    return Run(signals, n, spent, sim.faults_between(start, end), len(sim.devices),
               (end - start).total_seconds() / 3600, {k: f.last_message for k, f in engine.errors.items()})


def _signal_devices(s: Signal, asset_devices: dict[str, set[str]]) -> set[str]:
    if "device" in s.labels:
        return {s.labels["device"]}
    if "asset" in s.labels:
        return asset_devices.get(s.labels["asset"], set())
    return set(s.evidence.get("devices", []))


@dataclass
class Score:
    by_kind: dict[str, tuple[int, int]]  # kind -> (caught, total)
    early: dict[str, int]  # kind -> caught while the fault was still on (before its end)
    delays: dict[str, list[float]]  # kind -> minutes from fault start to first signal
    levels: dict[str, Counter]  # kind -> first level of the catching signals
    activations: int
    true_activations: int
    false_by_rule: Counter
    true_by_rule: Counter
    rule_kind: dict[str, Counter]  # rule -> fault kinds it caught


def score(r: Run, sim: Simulator, *, scored_from: datetime | None = None) -> Score:
    """Recall per fault kind, and which activations (signals becoming active) overlap a fault."""
    asset_devices: dict[str, set[str]] = defaultdict(set)
    for d in sim.devices:
        asset_devices[d.asset_id].add(d.device_id)
    faults = [f for f in r.faults if scored_from is None or f.start >= scored_from]
    every = r.faults
    acts = [s for s in r.signals if s.active and (scored_from is None or s.at >= scored_from)]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    delays: dict[str, list[float]] = defaultdict(list)
    levels: dict[str, Counter] = defaultdict(Counter)
    early: Counter = Counter()
    for f in faults:
        devs = set(f.device_ids)
        hits = [s for s in acts if f.start <= s.at <= f.end + GRACE and devs & _signal_devices(s, asset_devices)]
        by_kind[f.kind][1] += 1
        if hits:
            by_kind[f.kind][0] += 1
            delays[f.kind].append((min(s.at for s in hits) - f.start).total_seconds() / 60)
            levels[f.kind][min(hits, key=lambda s: s.level).level.colour] += 1
            early[f.kind] += any(s.at < f.end for s in hits)
    true_n = 0
    false_by_rule: Counter = Counter()
    true_by_rule: Counter = Counter()
    rule_kind: dict[str, Counter] = defaultdict(Counter)
    for s in acts:
        devs = _signal_devices(s, asset_devices)
        match = [f for f in every if f.start <= s.at <= f.end + GRACE and devs & set(f.device_ids)]
        if match:
            true_n += 1
            true_by_rule[s.rule] += 1
            rule_kind[s.rule][match[0].kind] += 1
        else:
            false_by_rule[s.rule] += 1
    kinds = {k: (v[0], v[1]) for k, v in by_kind.items()}
    return Score(kinds, dict(early), dict(delays), dict(levels), len(acts), true_n,
                 false_by_rule, true_by_rule, dict(rule_kind))


def main() -> None:
    from citybrain.geo.loaders import load_shanghai

    p = argparse.ArgumentParser()
    p.add_argument("--days", type=float, default=2.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--devices", type=int, default=None)
    a = p.parse_args()
    city = load_shanghai()
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    delays: dict[str, list[float]] = defaultdict(list)
    lv: dict[str, Counter] = defaultdict(Counter)
    early: Counter = Counter()
    acts = trues = 0
    fb: Counter = Counter()
    tb: Counter = Counter()
    rk: dict[str, Counter] = defaultdict(Counter)
    obs = 0
    spent = 0.0
    dev_days = 0.0
    for seed in a.seeds:
        start = datetime(2026, 1, 5, tzinfo=UTC)
        sim = Simulator(city, seed=seed, start=start, devices=a.devices)
        warm = start + timedelta(hours=12)
        r = run(sim, start, start + timedelta(days=a.days))
        sc = score(r, sim, scored_from=warm)
        for k, (c, t) in sc.by_kind.items():
            total[k][0] += c
            total[k][1] += t
        early.update(sc.early)
        for k, d in sc.delays.items():
            delays[k] += d
        for k, c in sc.levels.items():
            lv[k].update(c)
        acts += sc.activations
        trues += sc.true_activations
        fb.update(sc.false_by_rule)
        tb.update(sc.true_by_rule)
        for k, c in sc.rule_kind.items():
            rk[k].update(c)
        obs += r.observations
        spent += r.engine_s
        dev_days += r.devices * (a.days - 0.5)
        if r.errors:
            print("errors:", r.errors)
    print(f"observations {obs}, engine {spent:.1f} s, {obs / spent:,.0f} obs/s")
    print("kind       caught/total  recall  before end  median delay (min)  levels")
    for k in sorted(total):
        c, t = total[k]
        d = sorted(delays[k])
        med = d[len(d) // 2] if d else float("nan")
        print(f"{k:10s} {c:5d}/{t:<5d}    {c / t:5.2f}   {early[k] / t:5.2f}     {med:8.1f}            {dict(lv[k])}")
    print(f"activations {acts}, overlapping a fault {trues}, precision {trues / max(acts, 1):.3f}, "
          f"false per 1000 device-days {1000 * (acts - trues) / dev_days:.1f}")
    print("false by rule:", dict(fb.most_common()))
    print("true by rule:", {r: dict(c) for r, c in rk.items()})


if __name__ == "__main__":
    main()
