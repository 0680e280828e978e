"""Inspection API round trips (photo upload, a refused non-image, a failed item's hazard) and the phone page."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from tests.hazard.inspection.photos import jpeg
from tests.hazard.risk.factories import enterprise

API = "/api/v1"


def _answers(client: TestClient, key: str, **overrides: object) -> dict[str, object]:
    items = client.get(f"{API}/checklists/{key}").json()["items"]
    return {**{i["id"]: "pass" for i in items}, **overrides}


def test_an_inspector_uploads_a_photo_and_submits_a_failed_item(users: Any) -> None:
    inspector = users.login("grid.li", roles=("inspector",), department="housing")
    assert len(inspector.get(f"{API}/checklists").json()) == 5
    r = inspector.post(f"{API}/inspections/photos", files={"file": ("p.jpg", jpeg(gps=(121.47, 31.23)), "image/jpeg")})
    assert r.status_code == 201, r.text
    photo = r.json()
    assert round(photo["lon"], 4) == 121.47

    failed = {"result": "fail", "note": "井内积水", "photos": [photo["key"]]}
    r = inspector.post(f"{API}/inspections", json={"checklist_key": "gas", "target": "XX路燃气阀门井",
                                                   "answers": _answers(inspector, "gas", valve_pit=failed)})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert (rec["failed"], len(rec["hazard_ids"]), rec["location_source"], rec["department"]) == (
        1, 1, "photo", "housing")
    assert inspector.get(f"{API}/inspections/{rec['id']}").json()["answers"]["valve_pit"]["photos"] == [photo["key"]]
    img = inspector.get(f"{API}/inspections/{rec['id']}/photos/{photo['key']}")
    assert (img.status_code, img.headers["content-type"], img.content[:2]) == (200, "image/jpeg", b"\xff\xd8")
    assert inspector.get(f"{API}/inspections/{rec['id']}/photos/{'0' * 64}.jpg").status_code == 404
    assert inspector.get(f"{API}/inspections?failed=true").json()["total"] == 1
    fire = users.login("fire.disp", roles=("dispatcher",), department="fire")
    assert fire.get(f"{API}/inspections/{rec['id']}").status_code == 404


def test_a_non_image_is_refused_naming_the_field(users: Any) -> None:
    inspector = users.login("grid.li", roles=("inspector",), department="housing")
    r = inspector.post(f"{API}/inspections/photos", files={"file": ("x.jpg", b"%PDF-1.4 not a picture", "image/jpeg")})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["file"]
    viewer = users.login("viewer", roles=("viewer",), department="housing")
    assert viewer.post(f"{API}/inspections/photos", files={"file": ("p.jpg", jpeg(), "image/jpeg")}).status_code == 403


def test_plans_over_the_api_and_enterprise_self_inspection(users: Any, database: Database,
                                                           clock: ManualClock) -> None:
    with database.session() as s:
        ent_id = enterprise(s, clock.now()).id
    housing = users.login("h.admin", roles=("dept_admin",), department="housing")
    r = housing.post(f"{API}/inspection-plans", json={"name": "调压站周检", "checklist_key": "gas",
                                                      "frequency": "1h", "asset_class": "gas_space"})
    assert r.status_code == 201, r.text
    assert r.json()["department"] == "housing"
    r = housing.post(f"{API}/inspection-plans", json={"name": "x", "checklist_key": "nope", "frequency": "1d",
                                                      "asset_class": "gas_space"})
    assert [e["field"] for e in r.json()["errors"]] == ["body.checklist_key"]
    clock.advance(hours=2)
    assert [p["name"] for p in housing.get(f"{API}/inspection-plans/overdue").json()["items"]] == ["调压站周检"]
    inspector = users.login("insp", roles=("inspector",), department="housing")
    assert inspector.post(f"{API}/inspection-plans", json={"name": "x", "checklist_key": "gas", "frequency": "1d",
                                                           "asset_class": "gas_space"}).status_code == 403

    ent = users.login("ent", roles=("enterprise_officer",), department=None, enterprise_id=ent_id)
    r = ent.post(f"{API}/inspections", json={"checklist_key": "hazchem_storage",
                                             "answers": _answers(ent, "hazchem_storage")})
    assert r.status_code == 201, r.text
    assert (r.json()["self_inspection"], r.json()["enterprise_id"]) == (True, ent_id)
    assert ent.get(f"{API}/inspections").json()["total"] == 1
    assert ent.get(f"{API}/inspection-plans").json()["total"] == 0  # the housing plan is not the enterprise's


def test_the_inspection_page_is_served(app: Any, users: Any, client: TestClient) -> None:
    r = client.get("/inspect")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'data-mode="login"' in r.text
    assert '<script type="module" src="/inspect/static/inspect.js"></script>' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    logged_in = users.login("insp", roles=("inspector",), department="housing")
    page = logged_in.get("/inspect")
    assert 'data-mode="form"' in page.text and 'href="/inspect/static/inspect.css"' in page.text
    js = client.get("/inspect/static/inspect.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "X-CSRF-Token" in js.text and "navigator.geolocation" in js.text
    assert client.get("/inspect/static/..%2Fpages.py").status_code == 404
