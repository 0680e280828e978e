"""Cases stored: routing table and seed, on_submitted, the staff verbs with case roles, rating and reopening by
the citizen, the board's filters and scope, and the hand-over to the hazard and incident cores."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth import service as auth_service
from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.errors import Conflict, Forbidden, Invalid, NotFound
from citybrain.incident.models import IncidentLink
from citybrain.org import service as org_service
from citybrain.report import case_service as svc
from citybrain.report import cases as cs
from citybrain.report.case_models import CaseRoute
from citybrain.report.models import CitizenReport, ReportEvent

PEOPLES_SQUARE = (121.4737, 31.2304)


def make_report(session: Session, now: Any, *, service_code: str = "manhole_missing", district: str | None = "310101",
                lonlat: tuple[float, float] | None = PEOPLES_SQUARE, **kw: Any) -> CitizenReport:
    """A stored citizen report as the report core leaves it before handing it to cases."""
    token = secrets.token_hex(8)
    row = CitizenReport(service_request_id=f"SR-T-{token}", token=token, tracking_code=secrets.token_urlsafe(12),
                        service_code=service_code, description="窨井盖缺失 manhole cover missing",
                        lon=lonlat[0] if lonlat else None, lat=lonlat[1] if lonlat else None,
                        district_code=district, client_key="test", case_status="submitted", public_reply="",
                        me_too_count=0, reopen_count=0, dispatch_count=0, requested_at=now, updated_at=now)
    for k, v in kw.items():
        setattr(row, k, v)
    session.add(row)
    session.flush()
    return row


def dept(session: Session, code: str) -> int:
    return org_service.department_ids(session=session)[code]


def principal(session: Session, n: int, *, roles: tuple[str, ...] = ("dispatcher",),
              department: str | None = "urban") -> Principal:
    """A stored user (assigned_user_id refers to app_user) and their principal."""
    dept_id = dept(session, department) if department else None
    user = auth_service.create(session=session, now=datetime.now(UTC), username=f"user{n}", password="pw-test-12345",
                               roles=list(roles), department_id=dept_id)
    session.flush()
    return Principal(user_id=user.id, username=user.username, roles=roles, department_id=dept_id)


def events(session: Session, report: CitizenReport) -> list[ReportEvent]:
    return list(session.scalars(sa.select(ReportEvent).where(ReportEvent.report_id == report.id)
                                .order_by(ReportEvent.id)))


@pytest.fixture
def seeded(session: Session, clock: ManualClock) -> Session:
    svc.seed(session=session, now=clock.now())
    return session


def test_seed_once_with_one_department_per_category(session: Session, clock: ManualClock) -> None:
    # first-run preparation seeded the table; seeding again (or over an edited table) adds nothing
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseRoute)) == len(svc.DEFAULT_ROUTES)
    assert svc.seed(session=session, now=clock.now()) == 0
    routes = {r.service_code: r.department_id for r in svc.list_routes(session=session)}
    ids = org_service.department_ids(session=session)
    assert routes["gas_smell"] == ids["emergency"] and routes["manhole_missing"] == ids["urban"]
    assert routes["waterlogging"] == ids["water"] and routes["crowding"] == ids["police"]
    assert routes["*"] == ids["governance"]
    assert set(svc.service_codes()) <= set(routes)  # every category of the catalogue has a route


def test_on_submitted_registers_and_dispatches_by_the_table(seeded: Session, clock: ManualClock) -> None:
    r = make_report(seeded, clock.now())
    svc.on_submitted(session=seeded, report=r, now=clock.now())
    assert (r.case_status, r.department_id, r.dispatch_count) == ("dispatched", dept(seeded, "urban"), 1)
    assert r.due_at == clock.now() + timedelta(hours=svc.default_hours("manhole_missing"))
    assert [e.kind for e in events(seeded, r)] == ["registered", "dispatched"]
    assert all(e.public for e in events(seeded, r))


def test_on_submitted_leaves_flagged_and_merged_reports_alone(seeded: Session, clock: ManualClock) -> None:
    flagged = make_report(seeded, clock.now(), moderation_status="flagged")
    merged = make_report(seeded, clock.now(), case_status="merged")
    for r in (flagged, merged):
        svc.on_submitted(session=seeded, report=r, now=clock.now())
    assert (flagged.case_status, merged.case_status) == ("submitted", "merged")
    flagged.moderation_status = "approved"  # after moderation the report core may call it again
    svc.on_submitted(session=seeded, report=flagged, now=clock.now())
    assert flagged.case_status == "dispatched"


def test_district_route_and_time_limit_override(seeded: Session, clock: ManualClock) -> None:
    svc.replace_routes(session=seeded, now=clock.now(), principal=None, items=[
        {"service_code": "manhole_missing", "district_code": None, "department": "urban", "priority": 100},
        {"service_code": "manhole_missing", "district_code": "310115", "department": "transport"},
        {"service_code": "*", "department": "governance", "priority": 1000}])
    limits = svc.replace_time_limits(session=seeded, now=clock.now(), principal=None,
                                     items=[{"service_code": "manhole_missing", "hours": 1.5}])
    row = next(x for x in limits if x["service_code"] == "manhole_missing")
    assert row["overridden"] and row["hours"] == 1.5 and row["default_hours"] == svc.default_hours("manhole_missing")
    pudong = make_report(seeded, clock.now(), district="310115")
    other = make_report(seeded, clock.now(), service_code="crowding")
    for r in (pudong, other):
        svc.on_submitted(session=seeded, report=r, now=clock.now())
    assert pudong.department_id == dept(seeded, "transport") and other.department_id == dept(seeded, "governance")
    assert pudong.due_at == clock.now() + timedelta(hours=1.5)


def test_no_route_falls_back_to_ops_and_bad_rows_are_refused(session: Session, clock: ManualClock) -> None:
    session.execute(sa.delete(CaseRoute))  # an emptied routing table: the operations centre gets it
    r = make_report(session, clock.now())
    svc.on_submitted(session=session, report=r, now=clock.now())
    assert r.department_id == dept(session, "ops")
    assert svc.seed(session=session, now=clock.now()) == len(svc.DEFAULT_ROUTES)
    with pytest.raises(Invalid) as exc:
        svc.replace_routes(session=session, now=clock.now(), principal=None,
                           items=[{"service_code": "nope", "department": "urban"},
                                  {"service_code": "gas_smell", "department": "nowhere"}])
    assert [e.field for e in exc.value.errors] == ["body[0].service_code", "body[1].department"]
    with pytest.raises(Invalid) as exc:
        svc.replace_time_limits(session=session, now=clock.now(), principal=None,
                                items=[{"service_code": "gas_smell", "hours": 0}])
    assert exc.value.errors[0].field == "body[0].hours"
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseRoute)) == len(svc.DEFAULT_ROUTES)


def test_staff_workflow_with_roles(seeded: Session, clock: ManualClock) -> None:
    r = make_report(seeded, clock.now())
    svc.on_submitted(session=seeded, report=r, now=clock.now())
    handler = principal(seeded, 501)
    police = principal(seeded, 502, department="police")
    ops = principal(seeded, 503, roles=("duty_officer",), department="ops")
    inspector = principal(seeded, 504, roles=("inspector",))
    with pytest.raises(Forbidden, match="assigned department"):
        svc.act(session=seeded, now=clock.now(), principal=police, report=r, event=cs.Accept())
    svc.act(session=seeded, now=clock.advance(minutes=10), principal=handler, report=r, event=cs.Accept())
    assert (r.case_status, r.assigned_user_id) == ("handling", handler.user_id)
    svc.act(session=seeded, now=clock.advance(minutes=50), principal=handler, report=r,
            event=cs.Respond("已补装新井盖 / new cover fitted", note="班组2"))
    assert r.public_reply == "已补装新井盖 / new cover fitted" and r.first_response_at == clock.now()
    with pytest.raises(Forbidden):
        svc.act(session=seeded, now=clock.now(), principal=handler, report=r, event=cs.Check(passed=True))
    svc.act(session=seeded, now=clock.advance(minutes=30), principal=inspector, report=r,
            event=cs.Check(passed=False, reason="井盖松动 / loose"))
    assert (r.case_status, r.dispatch_count) == ("dispatched", 2)
    svc.act(session=seeded, now=clock.advance(minutes=5), principal=handler, report=r, event=cs.Accept())
    svc.act(session=seeded, now=clock.advance(minutes=20), principal=handler, report=r, event=cs.Respond("已加固"))
    svc.act(session=seeded, now=clock.advance(minutes=5), principal=ops, report=r, event=cs.Check(passed=True))
    with pytest.raises(Conflict, match="cannot reject"):
        svc.act(session=seeded, now=clock.now(), principal=ops, report=r, event=cs.Reject("x"))
    svc.act(session=seeded, now=clock.advance(minutes=1), principal=ops, report=r, event=cs.Close())
    assert r.case_status == "closed" and r.closed_at == clock.now()
    kinds = [(e.kind, e.public) for e in events(seeded, r)]
    assert ("internal_note", False) in kinds and ("check_failed", True) in kinds and kinds[-1] == ("closed", True)


def test_dispatch_to_a_person_must_be_in_the_department(seeded: Session, clock: ManualClock) -> None:
    officer = principal(seeded, 600)
    r = make_report(seeded, clock.now())
    ops = principal(seeded, 503, roles=("duty_officer",), department="ops")
    svc.register(session=seeded, now=clock.now(), principal=ops, report=r)
    with pytest.raises(Invalid) as exc:
        svc.dispatch(session=seeded, now=clock.now(), principal=ops, report=r, department="fire",
                     user_id=officer.user_id)
    assert exc.value.errors[0].field == "body.user_id"
    svc.dispatch(session=seeded, now=clock.now(), principal=ops, report=r, department="urban", user_id=officer.user_id)
    assert (r.department_id, r.assigned_user_id) == (dept(seeded, "urban"), officer.user_id)


def test_rate_and_reopen_by_the_citizen(seeded: Session, clock: ManualClock) -> None:
    r = make_report(seeded, clock.now())
    svc.on_submitted(session=seeded, report=r, now=clock.now())
    with pytest.raises(Conflict, match="closed"):
        svc.rate(session=seeded, now=clock.now(), tracking_code=r.tracking_code, rating=5)
    with pytest.raises(Conflict, match="within 7 days|cannot reopen"):
        svc.reopen(session=seeded, now=clock.now(), tracking_code=r.tracking_code, reason="not yet")
    r.case_status, r.closed_at = "closed", clock.now()
    with pytest.raises(Invalid) as exc:
        svc.rate(session=seeded, now=clock.now(), tracking_code=r.tracking_code, rating=6)
    assert exc.value.errors[0].field == "body.rating"
    svc.rate(session=seeded, now=clock.now(), tracking_code=r.tracking_code, rating=4, comment="快 / quick")
    assert (r.rating, r.rating_comment, r.rated_at) == (4, "快 / quick", clock.now())
    with pytest.raises(Conflict, match="already"):
        svc.rate(session=seeded, now=clock.now(), tracking_code=r.tracking_code, rating=5)
    view = svc.citizen_view(r, clock.now())
    assert view["can_reopen"] and not view["can_rate"] and view["reopen_deadline"] == r.closed_at + timedelta(days=7)

    clock.advance(days=3)
    svc.reopen(session=seeded, now=clock.now(), tracking_code=r.tracking_code, reason="又坏了 / broken again")
    assert (r.case_status, r.reopen_count, r.dispatch_count, r.closed_at, r.rating) == ("dispatched", 1, 2, None, None)
    assert r.due_at == clock.now() + timedelta(hours=svc.default_hours("manhole_missing"))
    assert [e.kind for e in events(seeded, r)][-2:] == ["reopened", "dispatched"]

    r.case_status, r.closed_at = "closed", clock.now()  # closed again; the window is 7 days from this close
    clock.advance(days=7, seconds=1)
    with pytest.raises(Conflict, match="within 7 days"):
        svc.reopen(session=seeded, now=clock.now(), tracking_code=r.tracking_code, reason="still broken")
    with pytest.raises(NotFound):
        svc.reopen(session=seeded, now=clock.now(), tracking_code="no-such-code", reason="x")


def test_board_filters_and_department_scope(seeded: Session, clock: ManualClock) -> None:
    manhole = make_report(seeded, clock.now())
    gas = make_report(seeded, clock.now(), service_code="gas_smell", district="310104")
    for r in (manhole, gas):
        svc.on_submitted(session=seeded, report=r, now=clock.now())
    later = clock.now() + timedelta(hours=3)  # the gas case (2 h) is overdue, the manhole case (4 h) is not
    ops = principal(seeded, 503, roles=("duty_officer",), department="ops")
    urban = principal(seeded, 501)

    def ids(p: Principal, **kw: Any) -> list[int]:
        return [r.id for r in svc.list_cases(session=seeded, principal=p, now=later, **kw)[0]]

    assert set(ids(ops)) == {manhole.id, gas.id}
    assert ids(urban) == [manhole.id]  # only its own department's cases
    assert ids(ops, overdue=True) == [gas.id] and ids(ops, overdue=False) == [manhole.id]
    assert ids(ops, department="emergency") == [gas.id] and ids(ops, district="310101") == [manhole.id]
    assert ids(ops, service_code="gas_smell", case_status=["dispatched"]) == [gas.id]
    with pytest.raises(NotFound):
        svc.get_case_or_raise(session=seeded, principal=urban, report_id=gas.id)
    with pytest.raises(Invalid):
        svc.list_cases(session=seeded, principal=ops, now=later, case_status=["bogus"])
    row = svc.case_dict(gas, now=later, departments=org_service.department_codes(session=seeded))
    assert row["overdue"] and row["department"] == "emergency" and row["status_name_zh"] == "已派遣"


def test_to_incident_links_both_ways(seeded: Session, clock: ManualClock) -> None:
    r = make_report(seeded, clock.now(), service_code="gas_smell")
    svc.on_submitted(session=seeded, report=r, now=clock.now())
    ops = principal(seeded, 503, roles=("duty_officer",), department="ops")
    opened = svc.to_incident(session=seeded, now=clock.now(), principal=ops, report=r)
    assert opened.created and r.incident_id == opened.incident.id
    assert opened.incident.incident_type == "gas_leak"
    link = seeded.scalar(sa.select(IncidentLink).where(IncidentLink.incident_id == r.incident_id))
    assert link is not None and (link.kind, link.ref_id) == ("report", str(r.id))
    assert events(seeded, r)[-1].kind == "to_incident"
    with pytest.raises(Conflict, match="already"):
        svc.to_incident(session=seeded, now=clock.now(), principal=ops, report=r)
    manhole = make_report(seeded, clock.now())
    with pytest.raises(Invalid) as exc:
        svc.to_incident(session=seeded, now=clock.now(), principal=ops, report=manhole)
    assert exc.value.errors[0].field == "body.incident_type"


def test_to_hazard_registers_a_hazard_from_the_report(seeded: Session, clock: ManualClock) -> None:
    from citybrain.hazard.models import Hazard

    r = make_report(seeded, clock.now())
    ops = principal(seeded, 503, roles=("duty_officer",), department="ops")
    hazard = svc.to_hazard(session=seeded, now=clock.now(), principal=ops, report=r)
    stored = seeded.get(Hazard, hazard.id)
    assert stored is not None and r.hazard_id == hazard.id
    assert (stored.source, stored.source_ref, stored.category) == ("citizen_report", f"report:{r.id}",
                                                                   "urban_facilities")
    assert events(seeded, r)[-1].kind == "to_hazard"
    with pytest.raises(Conflict, match="already"):
        svc.to_hazard(session=seeded, now=clock.now(), principal=ops, report=r)
    nowhere = make_report(seeded, clock.now(), lonlat=None)
    with pytest.raises(Conflict, match="no position"):
        svc.to_hazard(session=seeded, now=clock.now(), principal=ops, report=nowhere)
