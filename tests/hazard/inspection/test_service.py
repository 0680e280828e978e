"""Inspection plans and records: a failed item opens a hazard, places come from GPS / photo / target, plans
advance and fall overdue, enterprises inspect only themselves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.errors import Forbidden, Invalid, NotFound
from citybrain.core.files import FileStore
from citybrain.hazard.inspection import checklists, service
from citybrain.hazard.models import Hazard
from tests.hazard.inspection.photos import jpeg
from tests.hazard.risk.factories import ADMIN, enterprise, enterprise_officer, officer, point


def _answers(key: str, **overrides: object) -> dict[str, object]:
    return {**{i.id: "pass" for i in checklists.get(key).items}, **overrides}


def test_a_failed_item_opens_one_hazard_each(session: Session, clock: ManualClock) -> None:
    ent = enterprise(session, clock.now())
    inspector = officer(session, "housing", roles=("inspector",), name="grid.li")
    rec = service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="gas",
                         answers=_answers("gas", odour={"result": "fail", "note": "阀门井有异味"}, markers="fail",
                                          corrosion="na"),
                         enterprise_id=ent.id, lon=121.48, lat=31.24)
    assert (rec.failed, rec.location_source, rec.department_id) == (2, "form", inspector.department_id)
    hazards = [session.get(Hazard, h) for h in rec.hazard_ids]
    assert [(h.source, h.source_ref, h.category, h.enterprise_id, h.lon) for h in hazards] == [
        ("inspection", f"inspection:{rec.id}:odour", "gas", ent.id, 121.48),
        ("inspection", f"inspection:{rec.id}:markers", "gas", ent.id, 121.48)]
    assert "阀门井有异味" in hazards[0].description
    assert hazards[0].title.startswith("现场无燃气异味")


def test_all_passed_opens_nothing_and_answers_are_checked(session: Session, clock: ManualClock) -> None:
    inspector = officer(session, "housing", roles=("inspector",))
    rec = service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="gas",
                         answers=_answers("gas"), target="某路段")
    assert (rec.failed, rec.hazard_ids, rec.target, rec.lon) == (0, [], "某路段", None)
    bad = _answers("gas", odour="broken", bogus="pass")
    del bad["markers"]
    with pytest.raises(Invalid) as exc:
        service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="gas", answers=bad)
    assert sorted(e.field for e in exc.value.errors) == ["body.answers.bogus", "body.answers.markers",
                                                         "body.answers.odour.result"]
    with pytest.raises(Invalid) as exc:
        service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="nope", answers={})
    assert [e.field for e in exc.value.errors] == ["body.checklist_key"]


def test_a_failure_needs_a_place(session: Session, clock: ManualClock) -> None:
    inspector = officer(session, "housing", roles=("inspector",))
    with pytest.raises(Invalid) as exc:
        service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="gas",
                       answers=_answers("gas", odour="fail"))
    assert [e.field for e in exc.value.errors] == ["body.lon"]


def test_the_place_comes_from_a_photo_then_the_target(session: Session, clock: ManualClock, tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    inspector = officer(session, "housing", roles=("inspector",))
    photo = service.upload_photo(session=session, now=clock.now(), principal=inspector, store=store,
                                 raw=jpeg(gps=(121.47, 31.23)))
    assert (round(photo.lon, 4), round(photo.lat, 4)) == (121.47, 31.23)
    assert store.get(photo.key)[:2] == b"\xff\xd8"
    rec = service.submit(session=session, now=clock.now(), principal=inspector, checklist_key="gas",
                         answers=_answers("gas", odour={"result": "fail", "photos": [photo.key]}))
    assert (rec.location_source, round(rec.lon, 4)) == ("photo", 121.47)
    p = point(session, clock.now(), lon=121.40, lat=31.10)
    rec = service.submit(session=session, now=clock.now(), principal=ADMIN, checklist_key="gas",
                         answers=_answers("gas", odour="fail"), risk_point_id=p.id)
    assert (rec.location_source, rec.lon, rec.target, rec.department_id) == ("target", 121.40, p.name,
                                                                             p.department_id)
    stranger = Principal(user_id=99999, username="stranger", roles=("inspector",), department_id=p.department_id)
    with pytest.raises(Invalid) as exc:  # a photo key this user did not upload
        service.submit(session=session, now=clock.now(), principal=stranger, checklist_key="gas",
                       answers=_answers("gas", odour={"result": "pass", "photos": [photo.key]}))
    assert [e.field for e in exc.value.errors] == ["body.answers.odour.photos[0]"]


def test_plans_advance_and_fall_overdue(session: Session, clock: ManualClock) -> None:
    housing = officer(session, "housing")
    p = point(session, clock.now())
    plan = service.create_plan(session=session, now=clock.now(), principal=housing, name="调压站周检",
                               checklist_key="gas", frequency="7d", risk_point_id=p.id)
    assert plan.next_due_at == clock.now() + timedelta(days=7)
    clock.advance(days=8)
    overdue, total = service.list_plans(session=session, principal=housing, now=clock.now(), overdue_only=True)
    assert ([x.id for x in overdue], total) == ([plan.id], 1)
    assert service.list_plans(session=session, principal=officer(session, "fire"), now=clock.now())[1] == 0
    rec = service.submit(session=session, now=clock.now(), principal=housing, plan_id=plan.id,
                         answers=_answers("gas"))
    assert (rec.checklist_key, rec.risk_point_id, rec.plan_id) == ("gas", p.id, plan.id)
    assert (plan.last_done_at, plan.next_due_at) == (clock.now(), clock.now() + timedelta(days=7))
    assert service.list_plans(session=session, principal=housing, now=clock.now(), overdue_only=True)[1] == 0
    with pytest.raises(Invalid) as exc:
        service.create_plan(session=session, now=clock.now(), principal=housing, name="x", checklist_key="gas",
                            frequency="7d")
    assert [e.field for e in exc.value.errors] == ["body.asset_class"]
    with pytest.raises(Forbidden):
        service.create_plan(session=session, now=clock.now(), principal=officer(session, "fire"), name="x",
                            checklist_key="gas", frequency="7d", asset_class="gas_space", department="housing")


def test_an_enterprise_inspects_only_itself(session: Session, clock: ManualClock) -> None:
    ent, other = enterprise(session, clock.now()), enterprise(session, clock.now(), name="别家")
    officer_ = enterprise_officer(ent.id)
    plan = service.create_plan(session=session, now=clock.now(), principal=officer_, name="企业自查",
                               checklist_key="hazchem_storage", frequency="30d", enterprise_id=ent.id,
                               self_inspection=True)
    rec = service.submit(session=session, now=clock.now(), principal=officer_, plan_id=plan.id,
                         answers=_answers("hazchem_storage", ledger="fail"))
    assert (rec.self_inspection, rec.enterprise_id, rec.location_source, len(rec.hazard_ids)) == (
        True, ent.id, "target", 1)
    assert rec.department_id == ent.supervising_department_id
    with pytest.raises(Forbidden):
        service.submit(session=session, now=clock.now(), principal=officer_, checklist_key="gas",
                       answers=_answers("gas"), enterprise_id=other.id)
    with pytest.raises(Forbidden):
        service.create_plan(session=session, now=clock.now(), principal=officer_, name="x", checklist_key="gas",
                            frequency="7d", enterprise_id=ent.id)
    theirs = service.submit(session=session, now=clock.now(), principal=ADMIN, checklist_key="gas",
                            answers=_answers("gas"), enterprise_id=other.id)
    assert [r.id for r in service.list_records(session=session, principal=officer_)[0]] == [rec.id]
    with pytest.raises(NotFound):
        service.get_record_or_raise(session=session, principal=officer_, record_id=theirs.id)
    with pytest.raises(Forbidden):
        service.submit(session=session, now=clock.now(), principal=officer(session, "housing", ("viewer",)),
                       checklist_key="gas", answers=_answers("gas"))
