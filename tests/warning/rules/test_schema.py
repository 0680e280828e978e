from __future__ import annotations

import json

import pytest

from citybrain.warning.rules import RuleDef, RuleError, dump_rules, duration_seconds, parse_rules, validate_rule
from citybrain.warning.types import Level

GOOD = """
rules:
  - key: methane-high
    name: {zh: 可燃气体浓度超限, en: Methane high}
    scope: {device_type: gas_methane, district: ["310101"]}
    quantity: methane
    when:
      kind: threshold
      levels: {blue: 10, yellow: 25, orange: 50, red: 75}
      hysteresis: 2
    for: 2m
    labels: {hazard: gas}
    summary: {zh: "{device} 甲烷 {value}{unit}", en: "{device} methane {value}{unit}"}
    auto_incident: red
  - key: pit-site
    name: {zh: 基坑沉降且水位下降, en: Pit settles and groundwater drops}
    scope: {asset_class: construction_pit}
    subject: asset
    when:
      kind: all
      conditions:
        - {kind: rate, quantity: settlement, per: 1d, window: 6h, direction: below, levels: {yellow: -5}}
        - {kind: rate, quantity: groundwater_level, per: 1d, window: 6h, direction: below, levels: {yellow: -0.5}}
  - key: gas-cluster
    name: {zh: 燃气聚集, en: Gas cluster}
    quantity: methane
    when:
      kind: spatial
      radius_m: 500
      window: 10m
      when: {kind: rate, per: 10m, window: 10m, levels: {blue: 2}}
      level: red
  - key: gas-silent
    name: {zh: 燃气无数据, en: Gas silent}
    quantity: methane
    when: {kind: no_data, k: 5}
  - key: strain-odd
    name: {zh: 应变异常, en: Strain anomaly}
    quantity: strain
    when: {kind: count, n: 3, window: 1h, when: {kind: anomaly, detector: gaussian, params: {warmup: 10}}}
"""

KNOWN = {
    "gas_methane": ["methane", "battery", "rssi"],
    "pit_settlement": ["settlement"],
    "pit_groundwater": ["groundwater_level"],
    "bridge_strain": ["strain"],
}


def _problem(text: str, **kw) -> tuple[str, int | None, int | None, str]:
    with pytest.raises(RuleError) as info:
        parse_rules(text, **kw)
    p = info.value.problems[0]
    return p.path, p.line, p.column, p.message


def test_parse_a_full_document() -> None:
    rs = parse_rules(GOOD, known_quantities=KNOWN)
    assert [r.key for r in rs] == ["methane-high", "pit-site", "gas-cluster", "gas-silent", "strain-odd"]
    m = rs[0]
    assert m.for_s == 120 and m.auto_incident is Level.RED and m.scope.device_type == ["gas_methane"]
    assert rs[1].quantities() == ["settlement", "groundwater_level"]
    assert rs[2].subject == "area"


def test_dump_round_trips_and_json_is_storable() -> None:
    rs = parse_rules(GOOD)
    again = parse_rules(dump_rules(rs))
    assert again == rs
    stored = [json.loads(json.dumps(r.model_dump(mode="json"))) for r in rs]
    assert [RuleDef.model_validate(d) for d in stored] == rs
    assert stored[0]["for"] == "2m" and stored[0]["auto_incident"] == "red"
    assert stored[0]["when"]["levels"]["red"] == 75


def test_a_bare_list_is_a_document_too() -> None:
    text = "- {key: a, name: {zh: 甲, en: A}, quantity: q, when: {kind: threshold, levels: {red: 1}}}"
    assert parse_rules(text)[0].key == "a"
    assert parse_rules("") == []


def test_unknown_field_names_its_key_position() -> None:
    text = GOOD.replace("    labels: {hazard: gas}", "    labels: {hazard: gas}\n    colour: red")
    path, line, col, msg = _problem(text)
    assert path == "rules[0].colour" and "unknown field" in msg
    assert (line, col) == (13, 5)


def test_non_monotonic_levels_point_at_the_level() -> None:
    text = GOOD.replace("orange: 50, red: 75", "orange: 50, red: 40")
    path, line, col, msg = _problem(text)
    assert path == "rules[0].when.levels.red" and "monotonic" in msg
    assert line == 9 and col is not None


def test_levels_below_must_decrease() -> None:
    text = "- {key: a, name: {zh: 甲, en: A}, quantity: q, when: {kind: threshold, direction: below, " \
           "levels: {blue: 0.2, red: 0.3}}}"
    path, *_ , msg = _problem(text)
    assert path == "rules[0].when.levels.red" and "below" in msg


def test_unknown_condition_kind_inside_a_composite() -> None:
    text = GOOD.replace("- {kind: rate, quantity: groundwater_level", "- {kind: slope, quantity: groundwater_level")
    path, line, _, msg = _problem(text)
    assert path == "rules[1].when.conditions[1]" and "unknown condition kind 'slope'" in msg and line == 23


def test_unknown_quantity_for_the_scoped_type() -> None:
    text = GOOD.replace("quantity: methane\n    when:\n      kind: threshold", "quantity: methan\n    when:\n"
                        "      kind: threshold")
    path, line, _, msg = _problem(text, known_quantities=KNOWN)
    assert path == "rules[0].quantity" and "unknown quantity 'methan'" in msg and line == 6
    # without a catalogue the same rule is accepted
    assert parse_rules(text)[0].quantity == "methan"


def test_unknown_quantity_inside_a_composite_and_unknown_type() -> None:
    text = GOOD.replace("quantity: groundwater_level", "quantity: watertable")
    path, *_ = _problem(text, known_quantities=KNOWN)
    assert path == "rules[1].when.conditions[1].quantity"
    path, *_, msg = _problem(GOOD.replace("device_type: gas_methane", "device_type: gas_meter"),
                             known_quantities=KNOWN)
    assert path == "rules[0].scope.device_type" and "unknown device type" in msg


def test_bad_duration() -> None:
    path, line, col, msg = _problem(GOOD.replace("for: 2m", "for: 2 minutes"))
    assert path == "rules[0].for" and "not a duration" in msg and (line, col) == (11, 10)
    assert duration_seconds("1d2h") == 93600
    with pytest.raises(ValueError):
        duration_seconds("")


def test_several_problems_are_all_reported() -> None:
    text = GOOD.replace("for: 2m", "for: soon").replace("window: 1h", "window: x")
    with pytest.raises(RuleError) as info:
        parse_rules(text)
    assert [p.path for p in info.value.problems] == ["rules[0].for", "rules[4].when.window"]
    assert "line" in str(info.value)


def test_other_refusals() -> None:
    base = "- {key: a, name: {zh: 甲, en: A}, quantity: q, when: %s}"
    cases = {
        "{kind: threshold, levels: {}}": ("rules[0].when.levels", "at least one"),
        "{kind: threshold, levels: {red: 5}, clear: {red: 6}}": ("rules[0].when.clear.red", "must not be above"),
        "{kind: threshold, levels: {red: 5}, clear: {blue: 1}}": ("rules[0].when.clear.blue", "no level"),
        "{kind: threshold, levels: {red: 5}, clear: {red: 1}, hysteresis: 1}": ("rules[0].when.hysteresis", "not both"),
        "{kind: no_data}": ("rules[0].when", "exactly one"),
        "{kind: any, conditions: [{kind: no_data, after: 5m}]}": ("rules[0].when.conditions[0]", "whole condition"),
        "{kind: count, n: 2, window: 1m, when: {kind: spatial, radius_m: 1, window: 1m, "
        "when: {kind: threshold, levels: {red: 1}}}}": ("rules[0].when.when", "outermost"),
        "{kind: anomaly, detector: nosuch}": ("rules[0].when.detector", "unknown detector"),
        "{kind: anomaly, detector: gaussian, params: {window: 7, step: 2}}": ("rules[0].when.params", "refuses"),
        "{levels: {red: 1}}": ("rules[0].when", "needs a kind"),
    }
    for when, (path, words) in cases.items():
        got_path, _, _, msg = _problem(base % when)
        assert got_path == path and words in msg, (when, got_path, msg)


def test_rule_level_refusals() -> None:
    ok = "{key: %s, name: {zh: 甲, en: A}, quantity: q, when: {kind: threshold, levels: {red: 1}}%s}"
    assert _problem("- " + ok % ("A b", ""))[0] == "rules[0].key"
    assert _problem("- " + ok % ("a", ", labels: {device: x}"))[3].startswith("labels ['device']")
    assert _problem("- " + ok % ("a", ", subject: area"))[0] == "rules[0].subject"
    assert _problem("- " + ok % ("a", ", summary: {en: '{nope}'}"))[0] == "rules[0].summary.en"
    path, line, _, msg = _problem("- " + ok % ("a", "") + "\n- " + ok % ("a", ""))
    assert path == "rules[1].key" and "duplicate" in msg and line == 2
    no_q = "- {key: a, name: {zh: 甲, en: A}, when: {kind: threshold, levels: {red: 1}}}"
    assert _problem(no_q)[0] == "rules[0].when.quantity"


def test_not_yaml_and_wrong_shapes() -> None:
    path, line, _, msg = _problem("rules: [\n  {key: a")
    assert msg.startswith("not YAML") and line is not None
    assert _problem("rules: 3")[3] == "rules must be a list"
    assert _problem("rulez: []")[0] == "rulez"


def test_validate_rule_for_api_bodies() -> None:
    body = parse_rules(GOOD)[0].model_dump(mode="json")
    assert validate_rule(body).key == "methane-high"
    body["when"]["levels"]["red"] = 1
    with pytest.raises(RuleError) as info:
        validate_rule(body)
    assert info.value.problems[0].path == "when.levels.red" and info.value.problems[0].line is None
