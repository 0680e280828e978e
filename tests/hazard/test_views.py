"""The hazard API end to end: report, scope, the lifecycle by role, multipart evidence, regulations,
enforcement actions, duties, statistics and the audit trail."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import sqlalchemy as sa
from PIL import Image

from citybrain.auth.audit.models import AuditEntry
from citybrain.hazard import regulations
from citybrain.hazard.models import RegulationClause
from tests.hazard.test_service import PEOPLES_SQUARE, make_enterprise

API = "/api/v1"


def fields(r, status: int) -> list[str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in r.json().get("errors", [])]


def small_png() -> bytes:
    raw = BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(raw, "PNG")
    return raw.getvalue()


def setup(database, clock):
    with database.session() as s:
        regulations.seed(session=s, now=clock.now())
        mine = make_enterprise(s, clock.now(), name="Acme Gas").id
        other = make_enterprise(s, clock.now(), name="Other Gas").id
        clause = s.scalar(sa.select(RegulationClause.id).where(RegulationClause.number == "第四十一条")
                          .order_by(RegulationClause.id))
    return mine, other, clause


def test_a_hazard_from_report_to_closure(users, database, clock, settings):
    mine, other, clause = setup(database, clock)
    inspector = users.login("insp", roles=("inspector",), department="urban")
    firm = users.login("eo", roles=("enterprise_officer",), department=None, enterprise_id=mine)
    stranger = users.login("eo2", roles=("enterprise_officer",), department=None, enterprise_id=other)
    housing = users.login("hs", roles=("dispatcher",), department="housing")

    r = inspector.post(f"{API}/hazards", json={"title": "燃气调压箱锈蚀", "category": "gas", "lon": PEOPLES_SQUARE[0],
                                             "lat": PEOPLES_SQUARE[1], "enterprise_id": mine,
                                             "source": "inspection", "clause_ids": [clause]})
    assert r.status_code == 201, r.text
    h = r.json()
    assert (h["status"], h["supervising_department"], h["district_code"]) == ("found", "housing", "310101")
    assert h["code"].startswith("YH-2026-") and h["clauses"][0]["number"] == "第四十一条"
    hid = h["id"]
    assert fields(inspector.post(f"{API}/hazards", json={"title": "x", "category": "gas", "lon": 500, "lat": 31}),
                  422) == ["body.lon"]

    assert firm.get(f"{API}/hazards").json()["total"] == 1
    assert stranger.get(f"{API}/hazards").json()["total"] == 0
    assert stranger.get(f"{API}/hazards/{hid}").status_code == 404

    r = firm.post(f"{API}/hazards/{hid}/register")
    assert r.status_code == 403 and "supervising department" in r.json()["detail"]
    assert housing.post(f"{API}/hazards/{hid}/register", json={"note": "on file"}).status_code == 200
    r = housing.post(f"{API}/hazards/{hid}/grade", json={"grade": "major"})
    assert r.status_code == 200 and r.json()["supervised"] is True
    assert fields(firm.post(f"{API}/hazards/{hid}/plan", json={"measures": "replace", "responsible_person": "Li",
                                                               "funds": 5000, "interim_measures": "cordon"}),
                  422) == ["body.deadline_at"]
    deadline = (clock.now() + timedelta(days=45)).isoformat()
    r = firm.post(f"{API}/hazards/{hid}/plan", json={"measures": "replace the regulator box", "deadline_at": deadline,
                                                     "responsible_person": "Li", "funds": 5000,
                                                     "interim_measures": "daily patrol"})
    assert r.status_code == 200 and r.json()["plan"]["version"] == 1 and r.json()["allowed"] == ["enterprise",
                                                                                                  "reporter"]
    r = housing.post(f"{API}/hazards/{hid}/verify", json={"decision": "accept"})
    assert r.status_code == 409 and "only when submitted" in r.json()["detail"]
    assert firm.post(f"{API}/hazards/{hid}/start").json()["status"] == "rectifying"

    # a text file among the photos: refused, naming it, and nothing stored
    r = firm.post(f"{API}/hazards/{hid}/submit", data={"note": "done"},
                  files=[("photos", ("a.png", small_png(), "image/png")),
                         ("photos", ("b.png", b"not a picture at all", "image/png"))])
    assert fields(r, 422) == ["body.photos[1]"]
    assert not (settings.data_dir / "files").exists()
    r = firm.post(f"{API}/hazards/{hid}/submit", data={"note": "regulator replaced"},
                  files=[("photos", ("a.png", small_png(), "image/png"))])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted" and len(r.json()["evidence"]) == 1
    url = r.json()["evidence"][0]["url"]
    photo = housing.get(url)
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(photo.content)).size == (16, 12)
    assert stranger.get(url).status_code == 404

    r = housing.post(f"{API}/hazards/{hid}/verify", json={"decision": "return"})
    assert r.status_code == 409 and "reasons" in r.json()["detail"]
    assert housing.post(f"{API}/hazards/{hid}/verify", json={"decision": "accept"}).json()["status"] == "verified"
    assert firm.post(f"{API}/hazards/{hid}/comments", json={"text": "thank you"}).status_code == 201
    assert housing.post(f"{API}/hazards/{hid}/close", json={"note": "销号"}).json()["status"] == "closed"

    kinds = [e["kind"] for e in firm.get(f"{API}/hazards/{hid}/events").json()]
    assert kinds == ["found", "registered", "graded", "planned", "started", "submitted", "accepted", "comment",
                     "closed"]
    by_clause = housing.get(f"{API}/regulations/clauses/{clause}/hazards").json()
    assert [x["id"] for x in by_clause["items"]] == [hid]
    with database.session() as s:
        audit = s.execute(sa.select(AuditEntry.detail, AuditEntry.outcome).where(
            AuditEntry.resource_type == "hazard").order_by(AuditEntry.id)).all()
    actions = [(d.get("action"), outcome) for d, outcome in audit]
    assert actions[:3] == [("create", "ok"), ("register", "denied"), ("register", "ok")]
    assert ("close", "ok") in actions and ("submit", "ok") in actions


def test_regulations_enforcement_and_duties(users, database, clock, admin):
    mine, other, clause = setup(database, clock)
    housing = users.login("hs", roles=("dispatcher",), department="housing")
    firm = users.login("eo", roles=("enterprise_officer",), department=None, enterprise_id=mine)
    stranger = users.login("eo2", roles=("enterprise_officer",), department=None, enterprise_id=other)

    regs = housing.get(f"{API}/regulations").json()
    law = next(r for r in regs if r["code"] == "work-safety-law-2021")
    assert law["kind_zh"] == "法律" and law["clause_count"] == 10
    detail = housing.get(f"{API}/regulations/{law['id']}").json()
    assert [c["number"] for c in detail["clauses"]][:3] == ["第三条", "第四条", "第五条"]
    assert housing.get(f"{API}/regulations/999999").status_code == 404

    r = housing.post(f"{API}/enforcement-actions", json={"kind": "责令限期整改", "enterprise_id": mine,
                                                        "clause_ids": [clause], "note": "30 天内整改"})
    assert r.status_code == 201, r.text
    assert (r.json()["department"], r.json()["kind_en"], r.json()["clause_ids"]) == (
        "housing", "order to rectify within a time limit", [clause])
    assert fields(housing.post(f"{API}/enforcement-actions", json={"kind": "罚款", "enterprise_id": mine,
                                                                  "clause_ids": [987654]}), 422) == ["body.clause_ids"]
    assert firm.post(f"{API}/enforcement-actions", json={"kind": "罚款", "enterprise_id": mine}).status_code == 403
    assert firm.get(f"{API}/enforcement-actions").json()["total"] == 1
    assert stranger.get(f"{API}/enforcement-actions").json()["total"] == 0

    fire_admin = users.login("fa", roles=("dept_admin",), department="fire")
    r = fire_admin.post(f"{API}/responsibilities", json={"department": "fire", "category": "fire",
                                                         "duty_zh": "消防安全监督", "duty_en": "fire safety"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert fire_admin.post(f"{API}/responsibilities", json={"department": "police",
                                                            "category": "crowd"}).status_code == 403
    assert housing.post(f"{API}/responsibilities", json={"department": "housing",
                                                         "category": "gas"}).status_code == 403
    assert [x["id"] for x in housing.get(f"{API}/responsibilities", params={"category": "fire"}).json()] == [rid]
    assert fire_admin.delete(f"{API}/responsibilities/{rid}").status_code == 204
    assert admin.get(f"{API}/responsibilities").json() == []


def test_statistics_export_and_quarterly_report(users, database, clock, admin):
    setup(database, clock)
    r = admin.post(f"{API}/hazards", json={"title": "堵塞的消防通道", "category": "fire", "lon": PEOPLES_SQUARE[0],
                                           "lat": PEOPLES_SQUARE[1]})
    assert r.status_code == 201
    s = admin.get(f"{API}/hazards/stats", params={"by": "district"}).json()
    assert s["total"]["found"] == 1 and s["groups"][0]["key"] == "310101"
    assert fields(admin.get(f"{API}/hazards/stats", params={"by": "colour"}), 422) == ["query.by"]
    csv = admin.get(f"{API}/hazards/export.csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf") and "堵塞的消防通道" in csv.text
    assert "attachment" in csv.headers["content-disposition"]
    html = admin.get(f"{API}/hazards/reports/quarterly", params={"year": 2026, "quarter": 4})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    pdf = admin.get(f"{API}/hazards/reports/quarterly", params={"year": 2026, "quarter": 4, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and b"STSong-Light" in pdf.content
    assert fields(admin.get(f"{API}/hazards/reports/quarterly", params={"year": 2026, "quarter": 5}),
                  422) == ["query.quarter"]
    assert fields(admin.get(f"{API}/hazards", params={"status": "lost"}), 422) == ["query.status[0]"]
    viewer = users.login("v", roles=("viewer",), department=None)
    assert viewer.post(f"{API}/hazards", json={"title": "x", "category": "fire", "lon": 121.4,
                                               "lat": 31.2}).status_code == 403
