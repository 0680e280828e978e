from __future__ import annotations

import json
import math
from datetime import timedelta

from citybrain.warning.rules import RuleEngine
from citybrain.warning.types import Level, Observation

from .helpers import T0, at, device, levels, rules, series

METHANE = """
- key: methane
  name: {zh: 甲烷, en: Methane}
  quantity: methane
  when: {kind: threshold, levels: {blue: 10, yellow: 25, orange: 50, red: 75}, hysteresis: 2}
  summary: {zh: "{device} 甲烷 {value}{unit} {level_zh}", en: "{device} methane {value:.1f} {unit} {level}"}
  auto_incident: red
"""


def test_threshold_signals_only_on_change_with_hysteresis() -> None:
    eng = RuleEngine(rules(METHANE), units={"methane": "%LEL"})
    gas = device()
    sig = eng.observe(series(gas, "methane", [1, 11, 12, 13, 26, 30, 24.5, 23.5, 22.5, 9, 8.5, 7.9, 7, 80]))
    assert levels(sig) == ["blue", "yellow", "blue", None, "red"]
    assert [s.value for s in sig] == [11, 26, 22.5, 7.9, 80]
    first = sig[0]
    assert first.at == at(1) and first.rule == "methane" and first.active
    assert dict(first.labels) == {
        "rule": "methane", "scope": "device", "department": "emergency", "device": "GAS-1",
        "device_type": "gas_methane", "asset": "A-1", "asset_class": "gas_space", "district": "310101",
        "quantity": "methane",
    }
    assert first.annotations["summary_en"] == "GAS-1 methane 11.0 %LEL blue"
    assert first.annotations["summary_zh"] == "GAS-1 甲烷 11.0%LEL 蓝色"
    assert first.annotations["auto_incident"] == "red" and (first.lon, first.lat) == (121.47, 31.23)
    assert first.evidence["devices"] == ["GAS-1"] and first.evidence["readings"][0]["value"] == 11
    assert sig[3].level is None and sig[3].annotations["summary_en"].endswith("cleared")
    assert all(s.labels == first.labels for s in sig)  # one identity for the whole episode


def test_per_level_clearing_thresholds_and_below() -> None:
    eng = RuleEngine(rules("""
- key: hydrant
  name: {zh: 消火栓压力低, en: Hydrant pressure low}
  quantity: hydrant_pressure
  when: {kind: threshold, direction: below, levels: {yellow: 0.2, red: 0.1}, clear: {yellow: 0.25, red: 0.15}}
"""))
    hyd = device("HYD-1", "fire_hydrant_pressure", department="fire")
    sig = eng.observe(series(hyd, "hydrant_pressure", [0.35, 0.19, 0.09, 0.14, 0.16, 0.24, 0.26]))
    assert levels(sig) == ["yellow", "red", "yellow", None]
    assert [s.value for s in sig] == [0.19, 0.09, 0.16, 0.26]


def test_for_pending_fires_on_a_confirming_reading_or_on_tick() -> None:
    text = METHANE.replace("  auto_incident: red", "  for: 3m")
    eng = RuleEngine(rules(text))
    gas = device()
    assert eng.observe(series(gas, "methane", [1, 12, 13, 14])) == []  # pending since minute 1
    sig = eng.observe([Observation(gas, "methane", at(4), 15)])
    assert levels(sig) == ["blue"] and sig[0].at == at(4)
    assert sig[0].annotations["active_since"] == at(1).isoformat()
    # escalation also waits for `for`; a dip back resets it
    assert eng.observe([Observation(gas, "methane", at(5), 30), Observation(gas, "methane", at(6), 12)]) == []
    assert eng.observe([Observation(gas, "methane", at(7), 30)]) == []
    assert eng.tick(at(9)) == []
    sig = eng.tick(at(10))  # pending since 7, held to 10 by the last reading (3 min old, not stale)
    assert levels(sig) == ["yellow"] and sig[0].at == at(10)
    # going down is immediate
    assert levels(eng.observe([Observation(gas, "methane", at(11), 1)])) == [None]


def test_for_does_not_fire_on_a_stale_stream() -> None:
    eng = RuleEngine(rules(METHANE.replace("  auto_incident: red", "  for: 3m")), known_types={"gas_methane": 60})
    gas = device()
    eng.observe(series(gas, "methane", [12], start=at(0)))
    assert eng.tick(at(3)) == []  # last reading 3 min old > 2 x 60 s: too stale to vouch
    assert levels(eng.observe([Observation(gas, "methane", at(4), 12)])) == ["blue"]


def test_scope_filters_and_disabled_rules() -> None:
    text = METHANE + """
- key: switched-off
  name: {zh: 关, en: Disabled}
  enabled: false
  quantity: methane
  when: {kind: threshold, levels: {red: 0}}
- key: pudong-only
  name: {zh: 浦东, en: Pudong}
  scope: {district: "310115", device_type: [gas_methane]}
  quantity: methane
  when: {kind: threshold, levels: {red: 0}}
"""
    eng = RuleEngine(rules(text))
    assert list(eng.runtimes) == ["methane", "pudong-only"]
    a, b = device("A"), device("B", district="310115")
    sig = eng.observe(series(a, "methane", [20]) + series(b, "methane", [20]) + series(b, "battery", [20]))
    assert sorted((s.rule, s.labels["device"]) for s in sig) == [
        ("methane", "A"), ("methane", "B"), ("pudong-only", "B")]
    # a device whose context changes (moved district) is routed afresh
    b2 = device("B", district="310101")
    assert eng.observe(series(b2, "methane", [0], start=at(5))) != []


def test_rate_graded_per_day() -> None:
    eng = RuleEngine(rules("""
- key: settle-rate
  name: {zh: 沉降速率, en: Settlement rate}
  quantity: settlement
  when: {kind: rate, per: 1d, window: 2h, direction: below, levels: {yellow: -3, red: -10}, hysteresis: 1}
"""))
    pit = device("SET-1", "pit_settlement", asset_class="construction_pit", department="housing")
    flat = [0.0] * 12
    fall = [-i * 0.5 / 6 for i in range(1, 13)]  # -0.5 mm/h = -12 mm/day
    sig = eng.observe(series(pit, "settlement", flat + [fall[-1] + f for f in [0] * 0] + fall, step_s=600))
    assert levels(sig)[0] == "yellow" and "red" in levels(sig)
    red = next(s for s in sig if s.level is Level.RED)
    assert math.isclose(red.value, -12, rel_tol=0.35)
    assert red.evidence["readings"][0]["measure"] == red.value


def test_rate_needs_half_a_window_of_history() -> None:
    eng = RuleEngine(rules("""
- key: r
  name: {zh: r, en: r}
  quantity: methane
  when: {kind: rate, per: 1m, window: 10m, levels: {red: 1}}
"""))
    gas = device()
    assert eng.observe(series(gas, "methane", [0, 10, 20, 30])) == []  # 3 min of a 10 min window
    assert levels(eng.observe(series(gas, "methane", [40, 50], start=at(4)))) == ["red"]


def test_no_data_fires_from_tick_and_clears_on_the_next_reading() -> None:
    eng = RuleEngine(rules("""
- key: silent
  name: {zh: 无数据, en: Silent}
  quantity: methane
  when: {kind: no_data, k: 5, level: blue}
- key: silent-fixed
  name: {zh: 无数据, en: Silent}
  quantity: settlement
  when: {kind: no_data, after: 30m}
"""), known_types={"gas_methane": 60, "pit_settlement": 600})
    gas, pit = device(), device("SET-1", "pit_settlement")
    eng.observe(series(gas, "methane", [1, 1]) + [Observation(pit, "settlement", T0, 0.0)])
    assert eng.tick(at(5)) == []
    sig = eng.tick(at(6))
    assert levels(sig) == ["blue"] and sig[0].labels["device"] == "GAS-1" and sig[0].value == 300
    assert eng.tick(at(7)) == []  # still silent: no repeat
    assert levels(eng.tick(at(30))) == ["yellow"]
    back = eng.observe([Observation(gas, "methane", at(31), 1)])
    assert levels(back) == [None] and back[0].labels == sig[0].labels
    assert eng.tick(at(35)) == [] and levels(eng.tick(at(36))) == ["blue"]


def test_no_data_with_k_needs_a_known_interval_and_the_error_is_isolated() -> None:
    eng = RuleEngine(rules("""
- key: silent
  name: {zh: 无数据, en: Silent}
  quantity: methane
  when: {kind: no_data, k: 5}
""" + METHANE))
    sig = eng.observe(series(device(), "methane", [30]))
    assert levels(sig) == ["yellow"] and sig[0].rule == "methane"  # the other rule carried on
    failure = eng.errors["silent"]
    assert failure.count == 1 and "no interval known" in failure.last_message and failure.last_subject == "GAS-1"


def test_count_in_window_expires_on_tick() -> None:
    eng = RuleEngine(rules("""
- key: smoke-bursts
  name: {zh: 烟雾反复, en: Repeated smoke}
  quantity: smoke
  when:
    kind: count
    n: 3
    window: 10m
    level: orange
    when: {kind: threshold, levels: {blue: 2}}
"""))
    smk = device("SMK-1", "fire_smoke")
    sig = eng.observe(series(smk, "smoke", [3, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 3]))
    # hits at 0, 2 expire before 12, 14 -> only two in any 10 min
    assert sig == []
    sig = eng.observe([Observation(smk, "smoke", at(15), 3)])
    assert levels(sig) == ["orange"]
    assert eng.tick(at(21.9)) == []
    cleared = eng.tick(at(22))  # the hit at 12 leaves the window (now - 10 min, now] at 22
    assert levels(cleared) == [None] and cleared[0].at == at(22)


def test_all_and_any_across_quantities_of_one_device() -> None:
    eng = RuleEngine(rules("""
- key: both
  name: {zh: 同时, en: Both}
  when:
    kind: all
    conditions:
      - {kind: threshold, quantity: strain, levels: {yellow: 100, red: 200}}
      - {kind: threshold, quantity: displacement, levels: {blue: 10, red: 20}}
- key: either
  name: {zh: 任一, en: Either}
  when:
    kind: any
    conditions:
      - {kind: threshold, quantity: strain, levels: {yellow: 100, red: 200}}
      - {kind: threshold, quantity: displacement, levels: {blue: 10, red: 20}}
"""))
    brg = device("BRG-S", "bridge_sensor", asset_class="bridge")
    sig = eng.observe([
        Observation(brg, "strain", at(0), 250),
        Observation(brg, "displacement", at(0), 12),
        Observation(brg, "displacement", at(1), 25),
        Observation(brg, "strain", at(2), 0),
    ])
    got = [(s.rule, s.level and s.level.colour) for s in sig]
    assert got == [("either", "red"), ("both", "blue"), ("both", "red"), ("both", None)]
    assert "quantity" not in sig[0].labels


def test_asset_subject_joins_two_devices_of_one_site() -> None:
    eng = RuleEngine(rules("""
- key: pit-site
  name: {zh: 基坑, en: Pit}
  scope: {asset_class: construction_pit}
  subject: asset
  when:
    kind: all
    conditions:
      - {kind: threshold, quantity: settlement, direction: below, levels: {orange: -10}}
      - {kind: threshold, quantity: groundwater_level, direction: below, levels: {yellow: -1.5}}
"""))
    set1 = device("SET-1", "pit_settlement", asset="PIT-1", asset_class="construction_pit", department="housing")
    gwl1 = device("GWL-1", "pit_groundwater", asset="PIT-1", asset_class="construction_pit", department="housing")
    gwl2 = device("GWL-2", "pit_groundwater", asset="PIT-2", asset_class="construction_pit", department="housing")
    sig = eng.observe([
        Observation(set1, "settlement", at(0), -12),
        Observation(gwl2, "groundwater_level", at(0), -2),  # another site: no join
        Observation(gwl1, "groundwater_level", at(1), -2),
    ])
    assert levels(sig) == ["yellow"]
    s = sig[0]
    assert s.labels["scope"] == "asset" and s.labels["asset"] == "PIT-1" and "device" not in s.labels
    assert s.evidence["devices"] == ["GWL-1", "SET-1"]
    assert levels(eng.observe([Observation(gwl1, "groundwater_level", at(2), -1.0)])) == [None]


def test_stuck() -> None:
    eng = RuleEngine(rules("""
- key: frozen
  name: {zh: 数据冻结, en: Frozen}
  quantity: people_count
  when: {kind: stuck, n: 5}
"""))
    ppl = device("PPL-1", "crowd_people")
    sig = eng.observe(series(ppl, "people_count", [1, 2, 3, 3, 3, 3, 3, 3, 3, 4]))
    assert levels(sig) == ["blue", None] and sig[0].at == at(6) and sig[0].value == 3
    assert sig[0].evidence["readings"][0]["measure"] == 5  # the run length


def test_anomaly_rule_with_the_gaussian_detector() -> None:
    eng = RuleEngine(rules("""
- key: strain-odd
  name: {zh: 应变异常, en: Strain anomaly}
  quantity: strain
  when: {kind: anomaly, detector: gaussian, params: {warmup: 20, window: 200, step: 10}, level: yellow,
         hold: 10m}
"""))
    s = device("STR-1", "bridge_strain")
    normal = [100 + (i % 7) - 3 for i in range(60)]
    sig = eng.observe(series(s, "strain", [*normal, 400, *normal[:5]]))
    assert levels(sig) == ["yellow"] and sig[0].at == at(60) and sig[0].value == 400
    assert sig[0].evidence["readings"][0]["measure"] > 0.999  # the score
    assert eng.tick(at(69)) == [] and levels(eng.tick(at(70))) == [None]


def test_anomaly_min_consecutive_and_diff() -> None:
    eng = RuleEngine(rules("""
- key: jump
  name: {zh: 跳变, en: Jump}
  quantity: strain
  when: {kind: anomaly, detector: gaussian, params: {warmup: 20}, transform: diff, min_consecutive: 1}
- key: twice
  name: {zh: 连续, en: Twice}
  quantity: strain
  when: {kind: anomaly, detector: gaussian, params: {warmup: 20}, min_consecutive: 2}
"""))
    s = device("STR-1", "bridge_strain")
    ramp = [i * 1.0 + (i % 3) * 0.1 for i in range(60)]  # a steady ramp: raw values drift, diffs do not
    sig = eng.observe(series(s, "strain", [*ramp, 259.2, 260.3, 261.1]))
    rules_hit = [(x.rule, x.level and x.level.colour) for x in sig]
    assert ("jump", "blue") in rules_hit and ("twice", "blue") in rules_hit


def test_spatial_cluster_has_a_stable_identity_and_clears_after_the_window() -> None:
    eng = RuleEngine(rules("""
- key: gas-cluster
  name: {zh: 多点燃气, en: Gas cluster}
  quantity: methane
  when:
    kind: spatial
    min_devices: 2
    radius_m: 500
    window: 10m
    level: red
    when: {kind: threshold, levels: {blue: 10}}
  auto_incident: red
"""))
    a = device("GAS-A", lon=121.4700, lat=31.2300)
    b = device("GAS-B", lon=121.4730, lat=31.2300)  # ~285 m east of A
    c = device("GAS-C", lon=121.4760, lat=31.2300)  # ~285 m east of B, ~570 m from A
    far = device("GAS-F", lon=121.5000, lat=31.2300)
    assert eng.observe([Observation(a, "methane", at(0), 15), Observation(far, "methane", at(1), 15)]) == []
    sig = eng.observe([Observation(b, "methane", at(3), 12)])
    assert levels(sig) == ["red"]
    s = sig[0]
    assert s.labels["cluster"] == "GAS-A" and s.labels["scope"] == "area" and "device" not in s.labels
    assert s.evidence["devices"] == ["GAS-A", "GAS-B"] and s.annotations["auto_incident"] == "red"
    assert 121.47 < s.lon < 121.473
    # C joins through B; nothing new is said (same cluster, same level)
    assert eng.observe([Observation(c, "methane", at(4), 11)]) == []
    # all fall back; the cluster clears when fewer than two were active within the last 10 min
    quiet = [Observation(d, "methane", at(5), 1) for d in (a, b, c, far)]
    assert eng.observe(quiet) == []
    assert eng.tick(at(12.9)) == []
    cleared = eng.tick(at(13))  # A (last active at 0) and B (3) are gone; C (4) alone
    assert levels(cleared) == [None] and cleared[0].labels == s.labels


def test_errors_in_one_rule_do_not_stop_others() -> None:
    eng = RuleEngine(rules(METHANE + """
- key: odd
  name: {zh: 异常, en: Odd}
  quantity: methane
  when: {kind: anomaly, detector: gaussian, params: {warmup: 2}}
"""))
    rt = eng.runtimes["odd"]
    boom = RuntimeError("detector exploded")

    def explode(*a, **k):
        raise boom

    rt.root.update = explode  # type: ignore[method-assign]
    sig = eng.observe(series(device(), "methane", [1, 30]))
    assert levels(sig) == ["yellow"]
    assert eng.errors["odd"].count == 2 and eng.errors["odd"].last_message == "RuntimeError: detector exploded"
    assert len(eng.error_log) == 2


def test_snapshot_restore_continues_exactly() -> None:
    text = METHANE.replace("  auto_incident: red", "  for: 2m") + """
- key: rate
  name: {zh: 速率, en: Rate}
  quantity: methane
  when: {kind: rate, per: 1m, window: 5m, levels: {blue: 1}}
- key: odd
  name: {zh: 异常, en: Odd}
  quantity: methane
  when: {kind: count, n: 2, window: 10m,
         when: {kind: anomaly, detector: gaussian, params: {warmup: 5}, threshold: 0.95}}
- key: silent
  name: {zh: 无数据, en: Silent}
  quantity: methane
  when: {kind: no_data, after: 5m}
- key: cluster
  name: {zh: 聚集, en: Cluster}
  quantity: methane
  when: {kind: spatial, radius_m: 500, window: 10m, when: {kind: threshold, levels: {blue: 10}}}
"""
    rs = rules(text)
    a, b = device("A"), device("B", lon=121.471)
    vals = [1, 1.2, 0.9, 1.1, 12, 13, 14, 30, 31, 2, 60, 1, 1, 1, 1]
    obs = sorted(series(a, "methane", vals) + series(b, "methane", vals[::-1]), key=lambda o: o.ts)
    whole = RuleEngine(rs)
    expect = whole.observe(obs) + whole.tick(at(30))
    for cut in range(1, len(obs)):
        first = RuleEngine(rs)
        got = first.observe(obs[:cut])
        snap = json.loads(json.dumps(first.snapshot()))
        second = RuleEngine.restore(rs, snap)
        got += second.observe(obs[cut:]) + second.tick(at(30))
        assert got == expect, cut
    assert {s.rule for s in expect} == {"methane", "rate", "odd", "silent", "cluster"}


def test_restore_drops_the_state_of_a_changed_rule() -> None:
    rs = rules(METHANE)
    eng = RuleEngine(rs)
    eng.observe(series(device(), "methane", [30]))
    changed = rules(METHANE.replace("red: 75", "red: 70"))
    again = RuleEngine.restore(changed, eng.snapshot())
    assert again.active() == [] and again.dropped == ["methane"]
    same = RuleEngine.restore(rs, eng.snapshot())
    assert same.active() == [("methane", "GAS-1", Level.YELLOW)]


def test_non_finite_values_are_ignored() -> None:
    eng = RuleEngine(rules(METHANE))
    assert eng.observe(series(device(), "methane", [float("nan"), float("inf")])) == []
    assert eng.observe([Observation(device(), "methane", T0 + timedelta(hours=1), 11)])[0].level is Level.BLUE


def test_a_damaged_rule_state_is_dropped_alone_on_restore() -> None:
    rs = rules(METHANE + METHANE.replace("key: methane", "key: methane-2"))
    eng = RuleEngine(rs)
    eng.observe(series(device(), "methane", [30]))
    snap = json.loads(json.dumps(eng.snapshot()))
    snap["rules"]["methane"]["subjects"]["GAS-1"]["nodes"] = "garbage"
    again = RuleEngine.restore(rs, snap)
    assert again.active() == [("methane-2", "GAS-1", Level.YELLOW)]
    assert again.errors["methane"].count == 1 and again.errors["methane"].last_at is None
    assert again.dropped == ["methane"]
    assert levels(again.observe(series(device(), "methane", [30], start=at(1)))) == ["yellow"]  # afresh


def test_a_spatial_cluster_waits_for_its_for_duration_and_fires_on_tick() -> None:
    eng = RuleEngine(rules("""
- key: cluster
  name: {zh: 聚集, en: Cluster}
  quantity: methane
  for: 2m
  when: {kind: spatial, radius_m: 500, window: 10m, when: {kind: threshold, levels: {yellow: 10}}}
"""))
    a, b = device("A"), device("B", lon=121.471)
    assert eng.observe([Observation(a, "methane", at(0), 12), Observation(b, "methane", at(0), 12)]) == []
    assert eng.tick(at(1)) == []
    sig = eng.tick(at(2))
    assert levels(sig) == ["yellow"] and sig[0].labels["cluster"] == "A" and sig[0].evidence["devices"] == ["A", "B"]
