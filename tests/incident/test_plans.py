"""Response plans: starter set, YAML errors with positions, round trip, instantiation and raising the level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citybrain.incident.plans import (
    Plan,
    PlanError,
    dump_plan,
    instantiate,
    latest_plan,
    parse_plan,
    raise_level,
    resources_needed,
    starter_plans,
    validate_plan,
)
from citybrain.incident.taxonomy import INCIDENT_TYPES
from citybrain.warning.types import Level

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

GOOD = """\
key: demo.fire
version: 2
incident_type: fire
name: {zh: 演示预案, en: Demo plan}
steps:
  - key: turnout
    title: {zh: 出动, en: Turn out}
    department: fire
    within: 10m
    resources:
      - {kind: fire_engine, count: 2}
  - key: cordon
    title: {zh: 警戒, en: Cordon}
    department: police
    level: III
    within: 20m
    depends_on: [turnout]
  - key: reinforce
    title: {zh: 增援, en: Reinforce}
    department: fire
    level: I
    within: 15m
    relative_to: level
    resources:
      - {kind: fire_engine, count: 4}
"""


def problem(text: str) -> tuple[str, int | None, int | None, str]:
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    p = info.value.problems[0]
    return p.path, p.line, p.column, p.message


def test_the_starter_set_covers_the_key_types_and_validates() -> None:
    plans = starter_plans()
    assert {"gas_leak", "fire", "metro_construction_collapse", "metro_disruption", "waterlogging", "crowd_crush",
            "hazmat_release"} <= set(plans)
    for key, plan in plans.items():
        t = INCIDENT_TYPES[key]
        assert plan.incident_type == key
        assert set(plan.criteria) == set(Level), key  # every level described
        for step in plan.steps:
            assert step.department is None or step.department in t.departments, (key, step.key)
        at_blue = {s.department for s in plan.steps_at(Level.BLUE)}
        assert t.lead in at_blue, key  # the lead department has work from the lowest level
        assert parse_plan(dump_plan(plan)) == plan  # YAML round trip


def test_gas_leak_plan_assigns_the_right_departments() -> None:
    tasks = instantiate(starter_plans()["gas_leak"], T0, Level.RED)
    by_key = {t.key: t for t in tasks}
    assert by_key["fire_detect_secure"].department == "fire"
    assert by_key["police_cordon"].department == "police"
    assert by_key["supplier_shutoff_repair"].role == "enterprise"
    assert by_key["city_command"].role == "duty_officer"
    assert resources_needed(tasks)["fire_engine"] == 2


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("    within: 20m\n", "    within: 20m\n    colour: red\n"),
         ("steps[1].colour", 17, 5, "unknown field 'colour'")),
        (("department: police", "department: navy"), ("steps[1].department", 14, 17, "unknown department 'navy'")),
        (("level: III", "level: V"), ("steps[1].level", 15, 12, "not a warning level")),
        (("within: 20m", "within: soon"), ("steps[1].within", 16, 13, "not a duration")),
        (("[turnout]", "[turnuot]"), ("steps[1].depends_on[0]", 17, 18, "unknown step 'turnuot'")),
        (("key: cordon", "key: turnout"), ("steps[1].key", 12, 10, "duplicate step key 'turnout'")),
        (("kind: fire_engine, count: 2", "kind: fire_truck, count: 2"),
         ("steps[0].resources[0].kind", 11, 16, "unknown resource kind 'fire_truck'")),
        (("count: 2", "count: 0"), ("steps[0].resources[0].count", 11, 36, "greater than or equal to 1")),
        (("incident_type: fire", "incident_type: flood"), ("incident_type", 3, 16, "unknown incident type")),
        (("version: 2", "version: two"), ("version", 2, 10, "valid integer")),
        (("    department: police\n", "    role: mayor\n"), ("steps[1].role", 14, 11, "unknown role 'mayor'")),
        (("    department: police\n", ""), ("steps[1].department", 12, 5, "exactly one of department or role")),
        (("within: 20m", "within: 5m"), ("steps[1].within", 16, 13, "before 'turnout' it waits for (10m)")),
        (("level: III", "level: IV"), None),
        (("  - key: turnout\n    title: {zh: 出动, en: Turn out}\n    department: fire\n    within: 10m\n",
          "  - key: turnout\n    title: {zh: 出动, en: Turn out}\n    department: fire\n    level: II\n"
          "    within: 10m\n"),
         ("steps[1].depends_on[0]", 18, 18, "applies only from level II, but this step applies from III")),
    ],
)
def test_errors_name_path_line_and_column(edit: tuple[str, str],
                                          expected: tuple[str, int, int, str] | None) -> None:
    old, new = edit
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    if expected is None:
        parse_plan(text)
        return
    path, line, column, message = problem(text)
    assert (path, line, column) == expected[:3]
    assert expected[3] in message


def test_cycles_and_self_dependencies_are_refused() -> None:
    text = GOOD.replace("    within: 10m\n", "    within: 10m\n    depends_on: [cordon]\n", 1)
    path, line, _col, message = problem(text.replace("level: III", "level: IV").replace("within: 20m", "within: 10m"))
    assert "dependency cycle: turnout -> cordon -> turnout" in message and path == "steps[0].depends_on"
    assert line == 10
    selfdep = GOOD.replace("[turnout]", "[cordon]")
    assert "cannot depend on itself" in problem(selfdep)[3]


def test_not_yaml_and_not_a_mapping() -> None:
    path, line, _col, message = problem("key: [unclosed\nversion: 1\n")
    assert (path, line) == ("", 2) and message.startswith("not YAML")
    assert "a plan is a mapping" in problem("- 1\n- 2\n")[3]


def test_validate_plan_and_extra_departments() -> None:
    data = parse_plan(GOOD).model_dump(mode="json")
    data["steps"][0]["department"] = "gas_company"
    with pytest.raises(PlanError, match=r"steps\[0\].department: unknown department"):
        validate_plan(data)
    plan = validate_plan(data, departments=["fire", "police", "gas_company"])
    assert plan.steps[0].department == "gas_company"


def test_instantiate_gives_absolute_deadlines_for_the_level() -> None:
    plan = parse_plan(GOOD)
    blue = instantiate(plan, T0, Level.BLUE)
    assert [(t.key, t.deadline) for t in blue] == [("turnout", T0 + timedelta(minutes=10))]
    yellow = instantiate(plan, T0, Level.YELLOW)
    assert [(t.key, t.deadline) for t in yellow] == [
        ("turnout", T0 + timedelta(minutes=10)), ("cordon", T0 + timedelta(minutes=20))]
    assert yellow[1].depends_on == ("turnout",) and yellow[1].plan_key == "demo.fire" and yellow[1].plan_version == 2
    red = instantiate(plan, T0, Level.RED)
    assert red[2].deadline == T0 + timedelta(minutes=15) and red[2].resources == (("fire_engine", 4),)


def test_raise_level_adds_only_the_missing_tasks() -> None:
    plan = parse_plan(GOOD)
    raised = T0 + timedelta(minutes=40)
    assert [t.key for t in raise_level(plan, Level.BLUE, Level.YELLOW, T0)] == ["cordon"]
    added = raise_level(plan, Level.YELLOW, Level.RED, T0, raised_at=raised)
    assert [(t.key, t.deadline) for t in added] == [("reinforce", raised + timedelta(minutes=15))]
    assert raise_level(plan, Level.RED, Level.YELLOW, T0) == []
    assert raise_level(plan, Level.YELLOW, Level.YELLOW, T0) == []
    for plan in starter_plans().values():  # instantiating low then raising = instantiating high
        for low in Level:
            for high in (lv for lv in Level if lv < low):
                keys = [t.key for t in instantiate(plan, T0, low)] + [t.key for t in raise_level(plan, low, high, T0)]
                assert sorted(keys) == sorted(t.key for t in instantiate(plan, T0, high))


def test_relative_to_start_keeps_its_deadline_when_raised_late() -> None:
    plan = parse_plan(GOOD)
    cordon = raise_level(plan, Level.BLUE, Level.YELLOW, T0, raised_at=T0 + timedelta(hours=1))[0]
    assert cordon.deadline == T0 + timedelta(minutes=20)  # relative to the start: already overdue


def test_latest_plan() -> None:
    v2 = parse_plan(GOOD)
    v3 = Plan.model_validate({**v2.model_dump(mode="json"), "version": 3})
    assert latest_plan([v2, v3, *starter_plans().values()], "fire") is v3
    assert latest_plan([v2], "crowd_crush") is None
