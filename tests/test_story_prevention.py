"""Issue 6's walk-through, as the demo's users do it through the API: an inspection finds a hazard at an
enterprise; the enterprise plans and submits its rectification with a photo; the supervising department
returns it once, then accepts it; the hazard closes; the risk map's colour for that place changes and says
why; an overdue major hazard escalates."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from citybrain.hosts import FollowUpHost
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

API = "/api/v1"
PLACE = (121.4800, 31.2290)  # a gas regulator station by People's Square (黄浦区)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "grey").save(out, "JPEG")
    return out.getvalue()


def ok(r, status: int = 200):  # noqa: ANN001, ANN201
    assert r.status_code == status, r.text
    return r.json()


def test_inspection_to_closure_changes_the_risk_map_and_an_overdue_major_hazard_escalates(
        app, database, clock, users):  # noqa: ANN001
    now = clock.now()
    with database.session() as s:
        housing = org_service.department_id_for(session=s, code="housing", field="department")
        ent = Enterprise(name="申城燃气示范有限公司", industry="gas", district_code="310101", address="人民大道",
                         lon=PLACE[0], lat=PLACE[1], supervising_department_id=housing, created_at=now,
                         updated_at=now)
        s.add(ent)
        s.flush()
        ent_id = ent.id
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    inspector = users.login("inspector", roles=("inspector",), department="housing")
    housing_officer = users.login("housing", roles=("dispatcher",), department="housing")
    enterprise = users.login("ent", roles=("enterprise_officer",), department=None, enterprise_id=ent_id)

    # The place is an assessed yellow risk point before anything is found there.
    point = ok(duty.post(f"{API}/risk-points", json={"name": "人民广场调压站", "kind": "place", "category": "gas",
                                                      "lon": PLACE[0], "lat": PLACE[1], "department": "housing",
                                                      "enterprise_id": ent_id}), 201)
    ok(duty.post(f"{API}/risk-points/{point['id']}/assessments",
                 json={"method": "lec", "factors": {"L": 3, "E": 6, "C": 7}}), 201)  # D = 126: yellow
    ok(duty.post(f"{API}/risk-map/refresh"))
    cell_id = ok(duty.get(f"{API}/risk-map", params={"bbox": f"{PLACE[0] - 0.001},{PLACE[1] - 0.001},"
                                                             f"{PLACE[0] + 0.001},{PLACE[1] + 0.001}"}))
    cell_id = cell_id["features"][0]["properties"]["id"]
    before = ok(duty.get(f"{API}/risk-map/cells/{cell_id}"))

    # 1. The inspector's checklist: the valve pit fails, which opens a hazard at the enterprise.
    items = [i["id"] for i in ok(inspector.get(f"{API}/checklists/gas"))["items"]]
    answers = {i: "pass" for i in items} | {"valve_pit": {"result": "fail", "note": "井内积水，井盖破损"}}
    record = ok(inspector.post(f"{API}/inspections", json={
        "checklist_key": "gas", "enterprise_id": ent_id, "target": "人民广场调压站", "lon": PLACE[0], "lat": PLACE[1],
        "answers": answers}), 201)
    [hazard_id] = record["hazard_ids"]
    hazard = ok(housing_officer.get(f"{API}/hazards/{hazard_id}"))
    assert hazard["enterprise_id"] == ent_id and hazard["source"] == "inspection"
    assert hazard["enterprise_name"] == "申城燃气示范有限公司"
    ok(duty.post(f"{API}/risk-map/refresh"))
    found = ok(duty.get(f"{API}/risk-map/cells/{cell_id}"))
    assert found["score"] > before["score"]
    assert any(item["kind"] == "hazard" for item in found["top"])

    # 2. The supervising department registers and grades; the enterprise plans, rectifies and submits a photo.
    h = f"{API}/hazards/{hazard_id}"
    ok(housing_officer.post(f"{h}/register", json={}))
    ok(housing_officer.post(f"{h}/grade", json={"grade": "general"}))
    assert enterprise.post(f"{h}/grade", json={"grade": "major"}).status_code == 403  # not the enterprise's part
    ok(enterprise.post(f"{h}/plan", json={"measures": "抽排积水，更换井盖", "deadline_at": (now + timedelta(days=7))
                                          .isoformat(), "responsible_person": "周洁"}))
    ok(enterprise.post(f"{h}/start", json={}))
    files = [("photos", ("fixed.jpg", photo(), "image/jpeg"))]
    ok(enterprise.post(f"{h}/submit", data={"note": "已更换井盖"}, files=files))

    # 3. Returned once with a reason, resubmitted, accepted and closed (销号).
    returned = ok(housing_officer.post(f"{h}/verify",
                                       json={"decision": "return", "reasons": "照片未显示井内积水已排除"}))
    assert returned["status"] == "rectifying" and returned["return_count"] == 1
    ok(enterprise.post(f"{h}/submit", data={"note": "积水已抽排，见照片"}, files=files))
    ok(housing_officer.post(f"{h}/verify", json={"decision": "accept"}))
    closed = ok(housing_officer.post(f"{h}/close", json={}))
    assert closed["status"] == "closed"
    kinds = [e["kind"] for e in ok(enterprise.get(f"{h}/events"))]
    assert kinds.count("submitted") == 2 and "returned" in kinds and kinds[-1] == "closed", kinds

    # 4. The map forgot the closed hazard at once (no rebuild), and its explanation says what is left.
    after = ok(duty.get(f"{API}/risk-map/cells/{cell_id}"))
    assert after["score"] == before["score"] and not any(i["kind"] == "hazard" for i in after["top"])
    assert after["top"] and after["top"][0]["kind"] == "assessment" and after["summary_zh"]

    # 5. A major hazard past its deadline escalates on the follow-up host's sweep.
    major = ok(inspector.post(f"{API}/hazards", json={"title": "基坑支护裂缝", "category": "construction",
                                                     "lon": 121.47, "lat": 31.23, "enterprise_id": ent_id}), 201)
    m = f"{API}/hazards/{major['id']}"
    ok(housing_officer.post(f"{m}/register", json={}))
    ok(housing_officer.post(f"{m}/grade", json={"grade": "major"}))
    ok(enterprise.post(f"{m}/plan", json={"measures": "加固支护", "deadline_at": (now + timedelta(days=3)).isoformat(),
                                          "responsible_person": "周洁", "funds": 50000,
                                          "interim_measures": "坑边停止堆载，加密监测"}))
    ok(enterprise.post(f"{m}/start", json={}))
    clock.advance(days=4)
    host = FollowUpHost()
    host.database, host.clock, host.stats = database, clock, {"swept": 0, "errors": 0}
    host._sweep_hazards()
    duty = users.client("duty")  # four days on, the morning shift signs in again
    events = ok(duty.get(f"{m}/events"))
    assert any(e["kind"] == "escalation" for e in events) and host.stats["errors"] == 0
    assert ok(duty.get(m))["escalation_level"] >= 1
