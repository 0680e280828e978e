"""The shipped demo rule set against the simulator: every injected fault kind is caught, clean devices stay quiet.

Faults are sized exactly as the simulator's automatic schedule sizes them (drift 12 s, step 8 s, spike 15 s,
with s the kind's typical short-term variability), placed on chosen devices after a 12 h warm-up, so the
run is deterministic. Known blind spots, stated rather than hidden: a people counter's spikes, steps and
drifts (its noise grows with the crowd, so only a frozen counter is flagged), and a drift on a signal with
a strong daily cycle (water pressure, drainage level, bridge strain and displacement) is only seen when it
snaps back at its end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.geo.loaders import load_shanghai
from citybrain.simulator import KINDS, Fault, Simulator
from citybrain.simulator.placement import distance_m
from citybrain.warning.rules import demo_rules, demo_rules_text, dump_rules, parse_rules
from citybrain.warning.types import Level, Signal

from .simrun import known_quantities, run

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
END = START + timedelta(hours=36)
FALSE_PER_100_DEVICE_DAYS = 2.0  # measured 0.5 over 6 seeds x 2 days (report); the bound leaves room


def h(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def s(kind: str) -> float:
    k = KINDS[kind]
    return k.typical_sigma + k.noise_rel * abs(k.baseline)


def _leak_source(sim: Simulator) -> str:
    gas = [d for d in sim.devices if d.kind == "gas_methane"]
    best = max(gas, key=lambda a: sum(0 < float(distance_m(a.lon, a.lat, b.lon, b.lat)) <= 150 for b in gas))
    return best.device_id


# (kind, device, start hour, hours, params, caught within minutes of the start -- None: by the end + 30 min)
PLAN: list[tuple[str, str, float, float, dict, float | None]] = [
    ("spike", "SIM-SET-000001", 14, 1, {"magnitude": -15 * s("pit_settlement")}, 1),
    ("spike", "SIM-GAS-000002", 14, 1, {"magnitude": 15 * s("gas_methane")}, 1),
    ("spike", "SIM-STR-000001", 15, 1, {"magnitude": 15 * s("bridge_strain")}, 1),
    ("spike", "SIM-SMK-000001", 16, 1, {"magnitude": 15 * s("fire_smoke")}, 1),
    ("step", "SIM-GAS-000003", 14, 2, {"magnitude": 8 * s("gas_methane")}, 1),
    ("step", "SIM-DSP-000001", 17, 2, {"magnitude": -8 * s("bridge_displacement")}, 1),
    ("step", "SIM-HYD-000001", 18, 2, {"magnitude": -8 * s("fire_hydrant_pressure")}, 5),
    ("step", "SIM-GWL-000001", 19, 2, {"magnitude": -8 * s("pit_groundwater")}, 10),
    ("drift", "SIM-GAS-000004", 14, 4, {"rate_per_hour": 12 * s("gas_methane") / 4}, 4 * 60),
    ("drift", "SIM-GWL-000002", 20, 4, {"rate_per_hour": -12 * s("pit_groundwater") / 4}, 4 * 60),
    ("drift", "SIM-SMK-000002", 22, 3, {"rate_per_hour": 12 * s("fire_smoke") / 3}, 3 * 60),
    ("drift", "SIM-WPR-000001", 15, 3, {"rate_per_hour": -12 * s("water_pressure") / 3}, None),
    ("stuck", "SIM-PPL-000001", 14, 2, {}, 15),
    ("stuck", "SIM-WPR-000002", 16, 2, {}, 45),
    ("stuck", "SIM-SET-000002", 18, 2, {}, 60),
    ("stuck", "SIM-GAS-000005", 20, 2, {}, 20),
    ("dropout", "SIM-GAS-000006", 14, 1, {}, 5),
    ("dropout", "SIM-SET-000003", 16, 1, {}, 30),
    ("dropout", "SIM-DRN-000001", 18, 1, {}, 20),
]


@pytest.fixture(scope="module")
def result():
    city = load_shanghai()
    probe = Simulator(city, seed=7, start=START, faults=None)
    leak_src = _leak_source(probe)
    faults = [Fault(kind, (dev,), h(at), h(at + dur), params) for kind, dev, at, dur, params, _ in PLAN]
    faults.append(Fault("gas_leak", (leak_src,), h(26), h(28), {"peak_lel": 60.0}))
    sim = Simulator(city, seed=7, start=START, faults=faults)
    return sim, run(sim, START, END)


def _on(signals: list[Signal], device: str) -> list[Signal]:
    return [x for x in signals if x.active and (x.labels.get("device") == device or device in x.evidence["devices"])]


def test_the_demo_rules_parse_against_the_device_catalogue_and_round_trip() -> None:
    rules = parse_rules(demo_rules_text(), known_quantities=known_quantities())
    assert parse_rules(dump_rules(rules)) == rules == demo_rules()
    assert len({r.key for r in rules}) == len(rules) > 20


def test_every_injected_fault_is_caught_in_time(result) -> None:
    sim, r = result
    assert r.errors == {}
    truth = {(f.kind, f.device_ids[0]): f for f in sim.faults}
    late = []
    for kind, dev, _, _, _, within in PLAN:
        f = truth[(kind, dev)]
        deadline = f.end + timedelta(minutes=30) if within is None else f.start + timedelta(minutes=within)
        hits = [x for x in _on(r.signals, dev) if f.start <= x.at <= deadline]
        if not hits:
            late.append((kind, dev))
    assert late == []


def test_a_gas_leak_raises_graded_device_warnings_and_a_red_cluster(result) -> None:
    sim, r = result
    leak = next(f for f in sim.faults if f.kind == "gas_leak")
    src = leak.device_ids[0]
    assert len(leak.device_ids) >= 2  # the source has neighbours that the leak reaches
    during = [x for x in r.signals if leak.start <= x.at <= leak.end + timedelta(minutes=30)]
    src_levels = [x.level for x in during if x.rule == "gas-methane-high" and x.labels["device"] == src and x.level]
    assert src_levels[:3] == [Level.BLUE, Level.YELLOW, Level.ORANGE]  # graded as it rises towards 60 %LEL
    first = next(x for x in during if x.rule == "gas-methane-high")
    assert first.at - leak.start <= timedelta(minutes=3)
    cluster = [x for x in during if x.rule == "gas-cluster"]
    assert cluster and cluster[0].level is Level.RED and cluster[0].annotations["auto_incident"] == "red"
    assert cluster[0].at - leak.start <= timedelta(minutes=10)
    assert set(cluster[0].evidence["devices"]) <= set(leak.device_ids)
    assert {x.labels["cluster"] for x in cluster} == {cluster[0].labels["cluster"]}  # one identity
    assert cluster[-1].level is None  # and it clears when the leak is over


def test_clean_devices_stay_quiet(result) -> None:
    sim, r = result
    faulty = {d for f in sim.faults for d in f.device_ids}
    assets = {d.device_id: d.asset_id for d in sim.devices}
    faulty_assets = {assets[d] for d in faulty}
    false = [
        x for x in r.signals
        if x.active and x.at >= h(12)
        and not (set(x.evidence["devices"]) & faulty)
        and x.labels.get("asset") not in faulty_assets
    ]
    device_days = (len(sim.devices) - len(faulty)) * (END - h(12)).total_seconds() / 86400
    assert len(false) <= FALSE_PER_100_DEVICE_DAYS * device_days / 100, [(x.rule, x.labels, x.at) for x in false]


def test_signals_carry_identity_labels(result) -> None:
    _, r = result
    for x in r.signals:
        assert {"rule", "scope", "department"} <= set(x.labels)
        assert x.labels["scope"] in ("device", "asset", "area")
        assert x.labels[{"device": "device", "asset": "asset", "area": "cluster"}[x.labels["scope"]]]
        assert x.annotations["summary_zh"] and x.annotations["summary_en"]
