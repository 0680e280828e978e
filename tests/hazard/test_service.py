"""Hazard services on the database: routing, scope, the lifecycle with evidence, comments and the sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, Forbidden, Invalid, NotFound
from citybrain.core.files import FileStore
from citybrain.core.images import clean_image
from citybrain.hazard import lifecycle as lc
from citybrain.hazard import regulations, service
from citybrain.hazard.models import Hazard, HazardEvent, Responsibility
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

PEOPLES_SQUARE = (121.4737, 31.2304)  # Huangpu, 310101


def dept(session: Session, code: str) -> int:
    return org_service.department_id_for(session=session, code=code, field="department")


def make_enterprise(session: Session, now: datetime, *, name: str = "Acme Gas", department: str = "housing",
                    industry: str = "gas_supply") -> Enterprise:
    ent = Enterprise(name=name, industry=industry, district_code="310101", supervising_department_id=dept(session,
                                                                                                        department),
                     lon=PEOPLES_SQUARE[0], lat=PEOPLES_SQUARE[1], created_at=now, updated_at=now)
    session.add(ent)
    session.flush()
    return ent


def person(session: Session, name: str, *roles: str, department: str | None = None,
           enterprise_id: int | None = None, uid: int = 900) -> Principal:
    dept_id = dept(session, department) if department else None
    return Principal(user_id=uid, username=name, roles=roles, department_id=dept_id, enterprise_id=enterprise_id,
                     department_city_wide=department == "ops")


def png(colour: str = "red") -> bytes:
    raw = BytesIO()
    Image.new("RGB", (12, 8), colour).save(raw, "PNG")
    return raw.getvalue()


def new_hazard(session: Session, now: datetime, **kw: object) -> Hazard:
    fields: dict[str, object] = dict(actor=None, title="Blocked fire exit", category="fire",
                                     lon=PEOPLES_SQUARE[0], lat=PEOPLES_SQUARE[1])
    fields.update(kw)
    return service.create(session=session, now=now, **fields)  # type: ignore[arg-type]


def test_create_routes_codes_and_records_the_finding(session, clock):
    now = clock.now()
    h = new_hazard(session, now, source="inspection", source_ref="INS-7")
    assert h.code == f"YH-2026-{h.id:06d}"
    assert (h.status, h.district_code, h.supervising_department_id) == ("found", "310101", dept(session, "fire"))
    [ev] = service.history(session=session, hazard=h)
    assert (ev.kind, ev.actor, ev.actor_kind, ev.data["source_ref"]) == ("found", "system", "system", "INS-7")
    # unknown category: the emergency bureau; an enterprise: its supervising department
    assert new_hazard(session, now, category="odd_thing").supervising_department_id == dept(session, "emergency")
    ent = make_enterprise(session, now)
    assert new_hazard(session, now, enterprise_id=ent.id).supervising_department_id == dept(session, "housing")


def test_duty_rows_route_by_category_district_and_industry(session, clock):
    now = clock.now()
    session.add_all([
        Responsibility(department_id=dept(session, "urban"), category="fire", created_at=now),
        Responsibility(department_id=dept(session, "police"), category="fire", district_code="310101", created_at=now),
        Responsibility(department_id=dept(session, "metro"), category="fire", industry="rail", created_at=now),
    ])
    session.flush()
    assert new_hazard(session, now).supervising_department_id == dept(session, "police")  # district-specific
    assert new_hazard(session, now, lon=121.0, lat=31.9).supervising_department_id == dept(session, "urban")
    rail = make_enterprise(session, now, name="Metro Co", department="transport", industry="rail")
    assert new_hazard(session, now, enterprise_id=rail.id).supervising_department_id == dept(session, "metro")
    shop = make_enterprise(session, now, name="Shop", department="governance", industry="retail")
    assert new_hazard(session, now, enterprise_id=shop.id).supervising_department_id == dept(session, "governance")
    given = new_hazard(session, now, supervising_department_id=dept(session, "water"))
    assert given.supervising_department_id == dept(session, "water")


def test_create_refuses_bad_input_naming_the_field(session, clock):
    now = clock.now()
    cases = [({"title": " "}, "body.title"), ({"category": "Fire!"}, "body.category"), ({"source": "rumour"},
             "body.source"), ({"lon": 200.0}, "body.lon"), ({"enterprise_id": 9999}, "body.enterprise_id"),
             ({"clause_ids": [12345]}, "body.clause_ids"), ({"asset_id": 4242}, "body.asset_id")]
    for kw, field in cases:
        with pytest.raises(Invalid) as caught:
            new_hazard(session, now, **kw)
        assert field in [e.field for e in caught.value.errors], kw


def test_who_may_report(session, clock):
    now = clock.now()
    ent = make_enterprise(session, now)
    other = make_enterprise(session, now, name="Other")
    inspector = person(session, "insp", "inspector")
    assert new_hazard(session, now, actor=inspector).created_by == "insp"
    officer = person(session, "eo", "enterprise_officer", enterprise_id=ent.id)
    assert new_hazard(session, now, actor=officer).enterprise_id == ent.id  # its own, by default
    with pytest.raises(Forbidden):
        new_hazard(session, now, actor=officer, enterprise_id=other.id)
    with pytest.raises(Forbidden):
        new_hazard(session, now, actor=person(session, "nobody", "viewer"))


def test_scope_enterprise_department_and_city(session, clock):
    now = clock.now()
    mine, theirs = make_enterprise(session, now, name="Mine"), make_enterprise(session, now, name="Theirs")
    a = new_hazard(session, now, enterprise_id=mine.id)
    b = new_hazard(session, now, enterprise_id=theirs.id)
    c = new_hazard(session, now)  # fire department, no enterprise
    officer = person(session, "eo", "enterprise_officer", enterprise_id=mine.id)
    rows, total = service.list_hazards(session=session, principal=officer, now=now)
    assert [h.id for h in rows] == [a.id] and total == 1
    with pytest.raises(NotFound):
        service.get_or_raise(session=session, principal=officer, hazard_id=b.id)
    fire = person(session, "f", "dispatcher", department="fire")
    assert [h.id for h in service.list_hazards(session=session, principal=fire, now=now)[0]] == [c.id]
    city = person(session, "duty", "duty_officer", department="ops")
    assert {h.id for h in service.list_hazards(session=session, principal=city, now=now)[0]} == {a.id, b.id, c.id}
    housing = person(session, "h", "dispatcher", department="housing")
    assert {h.id for h in service.list_hazards(session=session, principal=housing, now=now,
                                               enterprise_id=theirs.id)[0]} == {b.id}


def test_the_lifecycle_through_the_service_with_evidence(session, clock, tmp_path: Path):
    now = clock.now()
    ent = make_enterprise(session, now)
    regulations.seed(session=session, now=now)
    clause = session.scalar(sa.select(regulations.RegulationClause.id).where(
        regulations.RegulationClause.number == "第一百零二条"))
    h = new_hazard(session, now, category="gas", enterprise_id=ent.id, clause_ids=[clause])
    housing = person(session, "h", "dispatcher", department="housing")
    firm = person(session, "eo", "enterprise_officer", enterprise_id=ent.id)
    fire = person(session, "f", "dispatcher", department="fire")
    store = FileStore(tmp_path / "files")
    assert service.parts(firm, h) == {lc.ENTERPRISE, lc.REPORTER}
    assert service.parts(housing, h) == {lc.DEPARTMENT, lc.REPORTER}
    with pytest.raises(Forbidden, match="supervising department"):
        service.register(session=session, now=now, principal=fire, hazard=h)
    service.register(session=session, now=now, principal=housing, hazard=h)
    service.grade(session=session, now=now, principal=housing, hazard=h, grade="major")
    with pytest.raises(Invalid) as caught:
        service.plan(session=session, now=now, principal=firm, hazard=h, measures="x", deadline_at=None,
                     responsible_person="Li")
    assert caught.value.errors[0].field == "body.deadline_at"
    p = service.plan(session=session, now=now, principal=firm, hazard=h, measures="new regulator",
                     deadline_at=now + timedelta(days=60), responsible_person="Li", funds=8000.0,
                     interim_measures="valve closed, cordon")
    assert (p.version, h.status, h.supervised) == (1, "planned", True)
    with pytest.raises(Conflict, match="only when rectifying"):
        service.submit(session=session, now=now, principal=firm, hazard=h, note="x",
                       images=[clean_image(png())], store=store)
    assert not (tmp_path / "files").exists()  # refused before anything was stored
    service.start(session=session, now=now, principal=firm, hazard=h)
    with pytest.raises(Invalid):
        service.submit(session=session, now=now, principal=firm, hazard=h, note="x", images=[], store=store)
    rows = service.submit(session=session, now=now + timedelta(days=5), principal=firm, hazard=h, note="replaced",
                          images=[clean_image(png()), clean_image(png("blue"))], store=store)
    assert h.status == "submitted" and [r.round for r in rows] == [1, 1]
    assert store.get(rows[0].file_key)[:2] == b"\xff\xd8"  # re-encoded JPEG
    service.verify(session=session, now=now + timedelta(days=6), principal=housing, hazard=h, accept=False,
                   reasons="pressure still low")
    assert (h.status, h.return_count) == ("rectifying", 1)
    service.submit(session=session, now=now + timedelta(days=8), principal=firm, hazard=h, note="again",
                   images=[clean_image(png("green"))], store=store)
    service.verify(session=session, now=now + timedelta(days=9), principal=housing, hazard=h, accept=True)
    service.comment(session=session, now=now + timedelta(days=9), principal=firm, hazard=h, text="thanks")
    service.close(session=session, now=now + timedelta(days=9), principal=housing, hazard=h, note="销号")
    assert h.status == "closed" and h.closed_at == now + timedelta(days=9)
    kinds = [e.kind for e in service.history(session=session, hazard=h)]
    assert kinds == ["found", "registered", "graded", "planned", "started", "submitted", "returned", "submitted",
                     "accepted", "comment", "closed"]
    assert [p.round for p in service.photos(session=session, hazard=h)] == [1, 1, 2]
    assert service.clause_ids_of(session=session, hazard=h) == [clause]
    assert [x.id for x in service.list_hazards(session=session, principal=housing, now=now, clause_id=clause)[0]] \
        == [h.id]


def test_comments_need_a_part_or_hazard_act(session, clock):
    h = new_hazard(session, clock.now())
    with pytest.raises(Forbidden):
        service.comment(session=session, now=clock.now(), principal=person(session, "v", "viewer", department="fire"),
                        hazard=h, text="hello")
    with pytest.raises(Invalid):
        service.comment(session=session, now=clock.now(), principal=person(session, "f", "dispatcher",
                                                                           department="fire"), hazard=h, text=" ")


def test_sweep_records_each_reminder_and_escalation_once(session, clock):
    now = clock.now()
    h = new_hazard(session, now)
    for verb in (service.register, service.start):
        if verb is service.start:
            service.grade(session=session, now=now, principal=None, hazard=h, grade="general")
            service.plan(session=session, now=now, principal=None, hazard=h, measures="clear the exit",
                         deadline_at=now + timedelta(days=10), responsible_person="Zhang")
        verb(session=session, now=now, principal=None, hazard=h)
    assert service.sweep(session=session, now=now + timedelta(days=1)) == []
    at = now + timedelta(days=7, hours=1)
    [item] = service.sweep(session=session, now=at)
    assert (item.hazard_id, item.due.kind, item.due.key) == (h.id, "reminder", "d3")
    assert service.sweep(session=session, now=at) == []  # idempotent
    [esc] = service.sweep(session=session, now=now + timedelta(days=11))
    assert (esc.due.kind, esc.due.level, h.escalation_level) == ("escalation", 1, 1)
    assert service.sweep(session=session, now=now + timedelta(days=11)) == []
    events = session.scalars(sa.select(HazardEvent).where(HazardEvent.hazard_id == h.id,
                                                          HazardEvent.kind.in_(("reminder", "escalation")))).all()
    assert [(e.kind, e.actor_kind, e.data["key"]) for e in events] == [("reminder", "system", "d3"),
                                                                       ("escalation", "system", "e1")]
    overdue, _ = service.list_hazards(session=session, principal=person(session, "c", "analyst"),
                                      now=now + timedelta(days=11), overdue=True)
    assert [x.id for x in overdue] == [h.id]
