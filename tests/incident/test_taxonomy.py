"""Incident types as data: departments exist, warning rules and asset classes map onto types."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from citybrain.incident.taxonomy import (
    ASSET_CLASS_INCIDENT_TYPES,
    DEPARTMENT_CODES,
    INCIDENT_TYPES,
    RESOURCE_KINDS,
    RULE_INCIDENT_TYPES,
    get_type,
    incident_type_for,
)
from citybrain.org.service import DEFAULT_DEPARTMENTS
from citybrain.simulator.kinds import ASSET_CLASSES


def test_department_codes_are_the_seeded_departments() -> None:
    assert set(DEPARTMENT_CODES) == {code for code, *_ in DEFAULT_DEPARTMENTS}


@pytest.mark.parametrize("key", sorted(INCIDENT_TYPES))
def test_each_type_is_consistent(key: str) -> None:
    t = INCIDENT_TYPES[key]
    assert t.key == key and t.name_zh and t.name_en
    assert t.lead in DEPARTMENT_CODES
    assert set(t.participants) <= set(DEPARTMENT_CODES)
    assert t.lead not in t.participants and len(set(t.participants)) == len(t.participants)
    assert t.departments[0] == t.lead
    assert t.dedupe_radius_m > 0 and t.dedupe_window.total_seconds() > 0


def test_the_issue_types_are_covered() -> None:
    wanted = {"gas_leak", "fire", "structural_danger", "metro_construction_collapse", "metro_disruption",
              "waterlogging", "crowd_crush", "hazmat_release", "public_security", "road_collapse", "utility_outage"}
    assert wanted <= set(INCIDENT_TYPES)
    with pytest.raises(KeyError, match="known: gas_leak"):
        get_type("meteor")


def test_resource_kinds_belong_to_departments() -> None:
    assert all(r.department in DEPARTMENT_CODES for r in RESOURCE_KINDS.values())


def test_every_asset_class_of_the_simulator_maps_to_a_type() -> None:
    assert set(ASSET_CLASS_INCIDENT_TYPES) == set(ASSET_CLASSES)
    assert set(ASSET_CLASS_INCIDENT_TYPES.values()) <= set(INCIDENT_TYPES)
    assert {v for v in RULE_INCIDENT_TYPES.values() if v} <= set(INCIDENT_TYPES)


def test_the_shipped_rules_that_open_incidents_name_a_type() -> None:
    try:
        path = resources.files("citybrain.warning.rules").joinpath("demo_rules.yaml")
    except ModuleNotFoundError:
        pytest.skip("citybrain.warning.rules not present")
    if not path.is_file():
        pytest.skip("warning/rules/demo_rules.yaml not present")
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    for rule in rules:
        asset_class = (rule.get("scope") or {}).get("asset_class")
        t = incident_type_for(rule=rule["key"], asset_class=asset_class)
        if rule.get("auto_incident"):
            assert t is not None, rule["key"]
        if rule["key"].startswith("sensor-") or rule["key"].endswith("-no-data"):
            assert t is None, rule["key"]


def test_incident_type_for() -> None:
    assert incident_type_for(rule="gas-methane-high").key == "gas_leak"
    assert incident_type_for(rule="pit-inclination").key == "metro_construction_collapse"
    assert incident_type_for(rule="fire-hydrant-pressure-low") is None  # a defect, not an emergency
    assert incident_type_for(rule="pit-no-data", asset_class="construction_pit") is None
    assert incident_type_for(rule="some-new-rule", asset_class="crowded_place").key == "crowd_crush"
    assert incident_type_for(asset_class="fire_system").key == "fire"
    assert incident_type_for(asset_class="lamp_post") is None
    assert incident_type_for() is None
