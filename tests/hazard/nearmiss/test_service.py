"""Near misses at the service level: validation naming the field, routing, scope, to-hazard, analytics, evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from citybrain.core.clock import ManualClock
from citybrain.core.errors import Conflict, Forbidden, Invalid, NotFound
from citybrain.hazard.nearmiss import service
from citybrain.hazard.nearmiss.evidence import NearMissEvidence
from tests.hazard.nearmiss.conftest import PEOPLES_SQUARE, FakeHazards, dept, enterprise, principal, report


def _fields(exc: pytest.ExceptionInfo[Invalid]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_a_report_is_stored_with_its_district_department_and_reporter(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    row = report(session, clock, police, kind="minor", type_="traffic", injuries=1, causes=["unsafe_act", "unsafe_act"],
                 what_almost_happened="电动自行车与货车擦碰")
    assert row.id and row.district_code == "310101"
    assert row.department_id == dept(session, "police") and row.reported_by == "wang"
    assert row.causes == ["unsafe_act"] and row.hazard_id is None and row.created_at == clock.now()


def test_an_enterprise_report_goes_to_the_supervising_department(session: Session, clock: ManualClock) -> None:
    ent = enterprise(session, clock.now(), "emergency", "化工仓库")
    officer = principal(session, "li", ("enterprise_officer",), "emergency", enterprise_id=ent)
    row = report(session, clock, officer, type_="hazardous_chemicals")
    assert row.enterprise_id == ent and row.department_id == dept(session, "emergency")
    other = enterprise(session, clock.now(), "emergency", "别家")
    with pytest.raises(Forbidden, match="own enterprise"):
        report(session, clock, officer, enterprise_id=other)


BAD_INPUT = [
    ({"days_ago": -1}, "body.occurred_at"),
    ({"at": (116.40, 31.20)}, "body.lon"),  # as far west as Beijing
    ({"at": (121.47, 35.0)}, "body.lat"),
    ({"type_": "meteor"}, "body.type"),
    ({"kind": "catastrophe"}, "body.kind"),
    ({"injuries": 2}, "body.injuries"),  # a near miss injured nobody
    ({"causes": ["bad_luck"]}, "body.causes[0]"),
]


def test_bad_input_is_refused_naming_the_field(session: Session, clock: ManualClock) -> None:
    who = principal(session, "wang", ("dispatcher",), "police")
    for change, field in BAD_INPUT:
        with pytest.raises(Invalid) as exc:
            report(session, clock, who, **change)
        assert _fields(exc) == {field}, change
    assert service.list_near_misses(session=session, principal=who)[1] == 0


def test_roles_without_a_reporting_grant_are_refused(session: Session, clock: ManualClock) -> None:
    with pytest.raises(Forbidden, match="hazard:act"):
        report(session, clock, principal(session, "v", ("viewer",), "police"))
    inspector = principal(session, "grid", ("inspector",), "urban")
    assert report(session, clock, inspector).department_id == dept(session, "urban")
    with pytest.raises(Forbidden, match="own department"):
        report(session, clock, inspector, department="fire")


def test_reads_are_scoped_to_department_enterprise_or_city(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    fire = principal(session, "zhao", ("dispatcher",), "fire")
    ent = enterprise(session, clock.now(), "police", "停车场")
    officer = principal(session, "li", ("enterprise_officer",), None, enterprise_id=ent)
    a = report(session, clock, police)
    b = report(session, clock, fire, type_="fire")
    c = report(session, clock, officer)
    ops = principal(session, "duty", ("duty_officer",), "ops")

    def ids(who: object) -> set[int]:
        rows, total = service.list_near_misses(session=session, principal=who)  # type: ignore[arg-type]
        assert total == len(rows)
        return {r.id for r in rows}

    assert ids(police) == {a.id, c.id}  # c's enterprise is supervised by police
    assert ids(fire) == {b.id}
    assert ids(officer) == {c.id}
    assert ids(ops) == {a.id, b.id, c.id}
    with pytest.raises(NotFound):
        service.get_or_raise(session=session, principal=fire, near_miss_id=a.id)
    rows, _ = service.list_near_misses(session=session, principal=ops, type=["fire"])
    assert [r.id for r in rows] == [b.id]
    with pytest.raises(Invalid) as exc:
        service.list_near_misses(session=session, principal=ops, kind=["nope"])
    assert _fields(exc) == {"query.kind[0]"}


def test_to_hazard_calls_the_hazard_core_once(session: Session, clock: ManualClock, fake_hazards: FakeHazards) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    row = report(session, clock, police, type_="traffic", what_almost_happened="路口盲区")
    hazard = service.to_hazard(session=session, now=clock.now(), principal=police, near_miss=row)
    assert row.hazard_id == hazard.id == 501
    (call,) = fake_hazards.calls
    assert call["source"] == "near_miss" and call["source_ref"] == f"near_miss:{row.id}"
    assert call["category"] == "road_traffic" and call["actor"] is police and call["description"] == "路口盲区"
    assert (call["lon"], call["lat"]) == PEOPLES_SQUARE and call["enterprise_id"] is None
    with pytest.raises(Conflict):
        service.to_hazard(session=session, now=clock.now(), principal=police, near_miss=row)
    officer = principal(session, "li", ("enterprise_officer",), None, enterprise_id=1)
    with pytest.raises(Forbidden):
        service.to_hazard(session=session, now=clock.now(), principal=officer, near_miss=row)


def test_pyramid_counts_the_layers_in_scope(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    for kind, n in (("near_miss", 2), ("minor", 5), ("serious", 1)):
        for _ in range(n):
            report(session, clock, police, kind=kind, type_="traffic", injuries=0 if kind == "near_miss" else 1)
    report(session, clock, police, days_ago=400)  # before the window
    report(session, clock, principal(session, "zhao", ("dispatcher",), "fire"), type_="fire")  # out of scope
    out = service.pyramid(session=session, principal=police, since=clock.now() - timedelta(days=365))
    assert (out["total"]["near_miss"], out["total"]["minor"], out["total"]["serious"]) == (2, 5, 1)
    assert out["total"]["thin_base"] is True
    assert out["by_district"][0]["district"] == "310101"
    assert out["by_type"] == [dict(out["by_type"][0], type="traffic")]


def test_trends_flag_a_rising_district(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    for week in range(3, 30):  # two a week for half a year, then a burst in the last two weeks
        for i in range(2):
            report(session, clock, police, days_ago=week * 7 + i)
    for i in range(14):
        report(session, clock, police, days_ago=i % 10 + 0.1)
    out = service.trends(session=session, principal=police, now=clock.now(), weeks=30)
    assert out["series"] == 1 and out["active"], out
    assert out["active"][0]["district"] == "310101" and out["active"][0]["count"] >= 6
    assert out["method"]["name"] == "one-sided Poisson CUSUM"


def test_hotspots_run_over_the_rows_in_scope(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    for i in range(8):
        report(session, clock, police, days_ago=1 + i, at=(121.50 + 0.01 * (i % 4), 31.22))
    out = service.hotspots(session=session, principal=police, now=clock.now(), weeks=12)
    assert out["cells"] == 4 and out["evaluated_weeks"] == 5 and isinstance(out["hotspots"], list)


def test_evidence_weighs_by_kind_and_fades_with_age(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    fresh = report(session, clock, police, kind="serious", injuries=3, days_ago=0)
    month = report(session, clock, police, kind="near_miss", days_ago=30)
    report(session, clock, police, kind="minor", injuries=1, days_ago=100)  # outside the 90 days
    items = {e.ref: e for e in NearMissEvidence().collect(session=session, now=clock.now())}
    assert set(items) == {f"near_miss:{fresh.id}", f"near_miss:{month.id}"}
    assert items[f"near_miss:{fresh.id}"].weight == 12.0 and items[f"near_miss:{month.id}"].weight == 1.0
    e = items[f"near_miss:{month.id}"]
    assert e.kind == "near_miss" and e.district_code == "310101" and (e.lon, e.lat) == PEOPLES_SQUARE
    assert e.label_zh == "燃气未遂（30 天前）" and e.label_en == "gas near miss, 30 days ago"
