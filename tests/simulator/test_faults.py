from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from citybrain.simulator import FAULT_KINDS, KINDS, Fault, Simulator

from .conftest import START

T0 = START + timedelta(hours=2)
T1 = START + timedelta(hours=4)


def _series(sim: Simulator, device_id: str, start: datetime, end: datetime) -> dict[str, float]:
    kind = next(d.kind for d in sim.devices if d.device_id == device_id)
    q = KINDS[kind].quantity
    return {r["ts"]: r["values"][q] for b in sim.readings(start, end) for r in b if r["device_id"] == device_id}


def _pair(city, fault: Fault, asset_class: str) -> tuple[dict[str, float], dict[str, float], Simulator]:
    scale = {asset_class: 3}
    clean = Simulator(city, seed=3, start=START, faults=None, devices=scale)
    faulty = Simulator(city, seed=3, start=START, faults=[fault], devices=scale)
    a, b = START + timedelta(hours=1), START + timedelta(hours=5)
    return _series(clean, fault.device_ids[0], a, b), _series(faulty, fault.device_ids[0], a, b), faulty


def _inside(ts: str) -> bool:
    return T0.strftime("%Y-%m-%dT%H:%M:%SZ") <= ts < T1.strftime("%Y-%m-%dT%H:%M:%SZ")


def _diff(clean: dict[str, float], faulty: dict[str, float]) -> tuple[list[float], list[float]]:
    inside = [faulty[t] - clean[t] for t in clean if _inside(t) and t in faulty]
    outside = [faulty[t] - clean[t] for t in clean if not _inside(t)]
    return inside, outside


def test_drift_grows_inside_the_window_only(city) -> None:
    clean, faulty, _ = _pair(city, Fault("drift", ("SIM-WPR-000001",), T0, T1, {"rate_per_hour": 0.02}), "water_main")
    inside, outside = _diff(clean, faulty)
    assert all(d == 0 for d in outside)
    assert inside[0] == pytest.approx(0, abs=0.002) and inside[-1] == pytest.approx(0.0383, abs=0.002)
    assert inside == sorted(inside)


def test_step_jumps_inside_the_window_only(city) -> None:
    clean, faulty, _ = _pair(city, Fault("step", ("SIM-STR-000001",), T0, T1, {"magnitude": 80.0}), "bridge")
    inside, outside = _diff(clean, faulty)
    assert all(d == 0 for d in outside)
    assert len(inside) == 120 and all(d == pytest.approx(80.0, abs=0.11) for d in inside)


def test_spike_is_one_outlier(city) -> None:
    clean, faulty, sim = _pair(city, Fault("spike", ("SIM-DSP-000002",), T0, T1, {"magnitude": -9.0}), "bridge")
    changed = {t: faulty[t] - clean[t] for t in clean if faulty[t] != clean[t]}
    assert list(changed) == [sim.ground_truth[0]["params"]["at"]] == ["2026-11-30T02:00:00Z"]
    assert list(changed.values())[0] == pytest.approx(-9.0, abs=0.011)


def test_stuck_repeats_the_start_value(city) -> None:
    clean, faulty, sim = _pair(city, Fault("stuck", ("SIM-PPL-000003",), T0, T1), "crowded_place")
    inside = {faulty[t] for t in faulty if _inside(t)}
    assert inside == {clean["2026-11-30T02:00:00Z"]} == {sim.ground_truth[0]["params"]["value"]}
    assert len({clean[t] for t in clean if _inside(t)}) > 10
    assert all(faulty[t] == clean[t] for t in clean if not _inside(t))


def test_dropout_sends_nothing_in_the_window(city) -> None:
    clean, faulty, _ = _pair(city, Fault("dropout", ("SIM-GAS-000002",), T0, T1), "gas_space")
    missing = set(clean) - set(faulty)
    assert missing and all(_inside(t) for t in missing) and len(missing) == 120
    assert all(faulty[t] == clean[t] for t in faulty)


def test_gas_leak_spreads_later_and_weaker(city) -> None:
    leak = Fault("gas_leak", ("SIM-GAS-000001",), T0, T1, {"peak_lel": 70.0, "radius_m": 600.0, "decay_m": 250.0})
    sim = Simulator(city, seed=3, start=START, faults=[leak], devices={"gas_space": 30})
    truth = sim.ground_truth[0]
    spread = truth["params"]["spread"]
    assert truth["device_ids"][0] == "SIM-GAS-000001" and len(spread) >= 2
    series: dict[str, dict[str, float]] = {d: {} for d in truth["device_ids"]}
    for batch in sim.readings(START + timedelta(hours=1), START + timedelta(hours=5)):
        for r in batch:
            if r["device_id"] in series:
                series[r["device_id"]][r["ts"]] = r["values"]["methane"]

    def first_above(s: dict[str, float], level: float) -> str:
        return min(t for t, v in s.items() if v > level)

    source = series["SIM-GAS-000001"]
    assert max(source.values()) > 50  # reaches the top warning band
    assert all(v < 3 for t, v in source.items() if not _inside(t))
    for row in spread[1:]:
        s = series[row["device_id"]]
        assert row["delay_s"] > 0 and row["attenuation"] < 1
        assert max(s.values()) < max(source.values())
        assert first_above(s, 3.0) > first_above(source, 3.0)
        assert all(v < 3 for t, v in s.items() if not _inside(t))
    distances = [row["distance_m"] for row in spread]
    assert distances == sorted(distances)


def test_gas_leak_must_start_at_a_methane_device(city) -> None:
    with pytest.raises(ValueError, match="methane"):
        Simulator(city, faults=[Fault("gas_leak", ("SIM-STR-000001",), T0, T1)])
    with pytest.raises(ValueError, match="unknown devices"):
        Simulator(city, faults=[Fault("step", ("NOPE",), T0, T1)])


def test_auto_faults_cover_every_kind_and_are_seeded(city) -> None:
    sim = Simulator(city, seed=11, start=START, horizon=timedelta(days=3))
    truth = sim.ground_truth
    assert {r["kind"] for r in truth} == set(FAULT_KINDS)
    assert truth == Simulator(city, seed=11, start=START, horizon=timedelta(days=3)).ground_truth
    assert truth != Simulator(city, seed=12, start=START, horizon=timedelta(days=3)).ground_truth
    for r in truth:
        assert r["start"].endswith("Z") and r["end"].endswith("Z") and r["start"] < r["end"]
        assert r["start"][:10] == r["end"][:10] or r["end"].endswith("T00:00:00Z")
        assert set(r) == {"fault_id", "kind", "device_ids", "asset_id", "start", "end", "params", "expected_effect"}
    # a day's faults don't depend on when the simulation started
    later = Simulator(city, seed=11, start=START + timedelta(days=1))
    assert later.ground_truth[-1] in truth


def test_auto_leak_reaches_a_warning_band(city) -> None:
    sim = Simulator(city, seed=2, start=START, horizon=timedelta(days=2))
    leaks = [r for r in sim.ground_truth if r["kind"] == "gas_leak"]
    assert leaks and all(r["params"]["peak_lel"] > 25 for r in leaks)


def test_ground_truth_is_written_as_json(city, tmp_path) -> None:
    sim = Simulator(city, seed=1, start=START)
    path = tmp_path / "truth.json"
    sim.write_ground_truth(path)
    assert json.loads(path.read_text(encoding="utf-8")) == sim.ground_truth
