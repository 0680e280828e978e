"""Risk points, their assessment history and current level, the bands, control measures and pre-works checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.clock import ManualClock
from citybrain.core.errors import Forbidden, Invalid, NotFound
from citybrain.hazard.risk import measures, prework, service
from citybrain.hazard.risk.models import RiskAssessment
from tests.hazard.risk.factories import ADMIN, enterprise, enterprise_officer, officer, point


def _fields(exc: pytest.ExceptionInfo[Invalid]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_the_latest_assessment_is_the_points_current_level(session: Session, clock: ManualClock) -> None:
    p = point(session, clock.now())
    assert p.level is None
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=p, method="lec",
                   factors={"L": 6, "E": 6, "C": 15}, note="first")
    assert (p.method, p.score, p.level, p.band_zh) == ("lec", 540.0, "red", "极其危险")
    clock.advance(days=30)
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=p, method="matrix",
                   factors={"likelihood": 2, "severity": 3})
    assert (p.method, p.score, p.level, p.assessed_at) == ("matrix", 6.0, "blue", clock.now())
    history = service.assessments(session=session, point=p)
    assert [(a.method, a.level, a.note) for a in history] == [("matrix", "blue", ""), ("lec", "red", "first")]
    session.commit()
    with pytest.raises(sa.exc.DBAPIError):  # the history is append-only
        session.execute(sa.update(RiskAssessment).values(level="red"))
    session.rollback()


def test_assessment_uses_the_citys_bands_and_refuses_bad_input(session: Session, clock: ManualClock) -> None:
    p = point(session, clock.now())
    with pytest.raises(Invalid) as exc:
        service.assess(session=session, now=clock.now(), principal=ADMIN, point=p, method="lec",
                       factors={"L": 6, "E": 4, "C": 15})
    assert _fields(exc) == ["body.factors.E"]
    assert p.level is None
    bands = [{"low": 1, "high": 5, "level": "blue", "name_zh": "低", "name_en": "low"},
             {"low": 6, "high": 25, "level": "red", "name_zh": "重大", "name_en": "major"}]
    service.set_bands(session=session, now=clock.now(), principal=ADMIN, method="matrix", bands=bands)
    assert service.config(session=session)["matrix"]["default"] is False
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=p, method="matrix",
                   factors={"likelihood": 2, "severity": 3})
    assert p.level == "red"
    with pytest.raises(Invalid) as exc:
        service.set_bands(session=session, now=clock.now(), principal=ADMIN, method="matrix",
                          bands=[bands[0], {**bands[1], "low": 7}])
    assert _fields(exc) == ["body.matrix[1].low"]
    service.set_bands(session=session, now=clock.now(), principal=ADMIN, method="matrix", bands=None)
    assert service.config(session=session)["matrix"]["default"] is True


def test_points_take_place_and_department_from_their_enterprise(session: Session, clock: ManualClock) -> None:
    ent = enterprise(session, clock.now(), district_code="310115")
    p = point(session, clock.now(), kind="enterprise", enterprise_id=ent.id, lon=None, lat=None, department=None)
    assert (p.lon, p.lat, p.district_code, p.department_id) == (121.50, 31.23, "310115",
                                                                ent.supervising_department_id)
    with pytest.raises(Invalid) as exc:
        point(session, clock.now(), kind="enterprise")
    assert _fields(exc) == ["body.enterprise_id"]
    with pytest.raises(Invalid) as exc:
        point(session, clock.now(), category="volcano")
    assert _fields(exc) == ["body.category"]


def test_scope_department_and_enterprise(session: Session, clock: ManualClock) -> None:
    ent = enterprise(session, clock.now())
    housing = point(session, clock.now(), enterprise_id=ent.id)
    fire = point(session, clock.now(), name="商场", category="fire", department="fire")
    housing_admin, fire_admin = officer(session, "housing"), officer(session, "fire")
    assert [p.id for p in service.list_points(session=session, principal=housing_admin)[0]] == [housing.id]
    assert [p.id for p in service.list_points(session=session, principal=enterprise_officer(ent.id))[0]] == [
        housing.id]
    with pytest.raises(NotFound):
        service.get_or_raise(session=session, principal=fire_admin, risk_point_id=housing.id)
    with pytest.raises(Forbidden):  # another department's point: not theirs to assess
        service.assess(session=session, now=clock.now(), principal=fire_admin, point=housing, method="matrix",
                       factors={"likelihood": 1, "severity": 1})
    with pytest.raises(Forbidden):
        point(session, clock.now(), principal=fire_admin, department="housing")
    assert service.get_or_raise(session=session, principal=fire_admin, risk_point_id=fire.id) is fire


def test_measures_fall_overdue_and_a_check_moves_them_on(session: Session, clock: ManualClock) -> None:
    p = point(session, clock.now())
    m = measures.create(session=session, now=clock.now(), principal=ADMIN, point=p, measure="每日巡检调压器",
                        frequency="1d", person="张工")
    assert m.next_due_at == clock.now() + timedelta(days=1)
    assert measures.overdue(session=session, principal=ADMIN, now=clock.now()) == []
    clock.advance(days=1, hours=1)
    assert [x.id for x, _ in measures.overdue(session=session, principal=ADMIN, now=clock.now())] == [m.id]
    dispatcher = officer(session, "housing", roles=("dispatcher",))
    measures.record_check(session=session, now=clock.now(), principal=dispatcher, measure=m, point=p, note="ok")
    assert (m.last_checked_at, m.next_due_at) == (clock.now(), clock.now() + timedelta(days=1))
    assert measures.overdue(session=session, principal=ADMIN, now=clock.now()) == []
    with pytest.raises(Forbidden):
        measures.record_check(session=session, now=clock.now(), principal=officer(session, "housing", ("viewer",)),
                              measure=m, point=p)


@pytest.mark.parametrize(("frequency", "ok"), [("7d", True), ("12h", True), ("soon", False), ("10m", False)])
def test_measure_frequency_is_a_duration_of_an_hour_or_more(frequency: str, ok: bool) -> None:
    if ok:
        assert measures.frequency_of(frequency) >= timedelta(hours=1)
        return
    with pytest.raises(Invalid) as exc:
        measures.frequency_of(frequency)
    assert _fields(exc) == ["body.frequency"]


def _all_yes() -> dict[str, str]:
    return {i.id: "yes" for i in prework.load_checklist().items}


@pytest.mark.parametrize(("changes", "decision"), [
    ({}, "proceed"),
    ({"emergency_drill": "no", "traffic_plan": {"answer": "no", "note": "交警意见待复"}}, "proceed_with_conditions"),
    ({"third_party_monitoring": "na"}, "proceed"),
    ({"geo_survey": "no"}, "stop"),  # a critical item
    ({k: "no" for k in ("design_review", "third_party_monitoring", "emergency_drill", "emergency_resources",
                        "permits", "staff_training", "equipment_inspected", "traffic_plan",
                        "protection_measures")}, "stop"),  # no critical failure, but the score is too low
])
def test_prework_decisions(changes: dict[str, object], decision: str) -> None:
    r = prework.evaluate(prework.load_checklist(), {**_all_yes(), **changes})
    assert r.decision == decision
    if decision == "proceed_with_conditions":
        assert [c["item"] for c in r.conditions] == ["emergency_drill", "traffic_plan"]


def test_prework_checklist_is_a_sensible_size() -> None:
    cl = prework.load_checklist()
    assert 15 <= len(cl.items) <= 20
    assert any(i.critical for i in cl.items) and not all(i.critical for i in cl.items)


def test_prework_answers_are_checked_item_by_item() -> None:
    answers = _all_yes()
    del answers["permits"]
    answers.update(geo_survey="na", pipelines="maybe", bogus="yes")
    with pytest.raises(Invalid) as exc:
        prework.evaluate(prework.load_checklist(), answers)
    assert sorted(_fields(exc)) == ["body.answers.bogus", "body.answers.geo_survey", "body.answers.permits",
                                    "body.answers.pipelines"]


def test_prework_assessment_is_stored_with_the_risk_points_department(session: Session, clock: ManualClock) -> None:
    p = point(session, clock.now(), name="14号线某站基坑", category="metro_construction", department="metro")
    row = prework.create(session=session, now=clock.now(), principal=ADMIN, project="14号线某站",
                         answers={**_all_yes(), "pipelines": "no"}, risk_point_id=p.id, conditions=["夜间施工降噪"])
    assert (row.decision, row.failed_critical, row.department_id, row.lon) == ("stop", ["pipelines"],
                                                                              p.department_id, p.lon)
    assert row.conditions == [{"item": "", "zh": "夜间施工降噪", "en": "夜间施工降噪"}]
    metro, fire = officer(session, "metro"), officer(session, "fire")
    assert prework.list_assessments(session=session, principal=metro)[1] == 1
    assert prework.list_assessments(session=session, principal=fire)[1] == 0
    with pytest.raises(NotFound):
        prework.get_or_raise(session=session, principal=fire, assessment_id=row.id)
