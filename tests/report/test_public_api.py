"""The phone page's public API and the staff routes: proof of work, photo upload (EXIF position used, EXIF
gone), refusals that store nothing, tracking, "me too", nearby, masking in reads and exports, moderation,
linking and Open311 keys."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from PIL import Image

from citybrain.report import abuse
from tests.report import PEOPLES_SQUARE, north, png_with_gps

LON, LAT = PEOPLES_SQUARE


@pytest.fixture
def public(app, client):  # noqa: ANN001, ANN201
    app.state.cache["report.challenge_difficulty"] = 4  # fast to solve in tests
    return client


def proof(client) -> dict[str, str]:  # noqa: ANN001
    c = client.get("/api/v1/public/challenge").json()
    assert c["difficulty"] == 4 and c["expires_at"]
    return {"challenge": c["challenge"], "nonce": abuse.solve(c["challenge"], c["difficulty"])}


def post(client, files: Any = None, **fields: Any):  # noqa: ANN001, ANN201
    data = {"service_code": "manhole_missing", "description": "人民大道200号门口窨井盖没了", "lon": str(LON),
            "lat": str(LAT), **proof(client), **{k: str(v) for k, v in fields.items()}}
    return client.post("/api/v1/public/reports", data={k: v for k, v in data.items() if v != "None"}, files=files)


def test_a_report_with_a_photo_takes_its_position_and_keeps_no_exif(public, admin) -> None:  # noqa: ANN001
    services = {s["code"]: s for s in public.get("/api/v1/public/report-services").json()}
    assert services["gas_smell"]["name_zh"] == "燃气异味" and services["gas_smell"]["duplicate_radius_m"] == 200
    assert services["manhole_missing"]["name_en"] == "Missing manhole cover"
    photo = png_with_gps(121.48, 31.235)
    r = post(public, files=[("photos", ("p.png", photo, "image/png"))], lon=None, lat=None,
             contact_phone="13812345678", contact_name="张三")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["service_request_id"].startswith("SR-20261130-") and body["token"]
    assert body["tracking_url"] == f"/track/{body['tracking_code']}" and body["duplicate_of"] is None
    track = public.get(f"/api/v1/public/track/{body['tracking_code']}").json()
    assert track["status"] == "open" and track["service_name_zh"] == "窨井盖缺失"
    assert track["events"][0]["kind"] == "submitted" and "13812345678" not in str(track)
    assert track["photos"] == [f"/api/v1/public/track/{body['tracking_code']}/photos/1"]
    img = public.get(track["photos"][0])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert b"SecretPhone" not in img.content and not Image.open(io.BytesIO(img.content)).getexif()
    staff = admin.get("/api/v1/reports", params={"service_code": "manhole_missing"}).json()["items"][0]
    assert (round(staff["lon"], 4), round(staff["lat"], 4), staff["location_source"]) == (121.48, 31.235, "photo")
    assert staff["photo_count"] == 1 and admin.get(f"/api/v1/reports/{staff['id']}/photos/1").status_code == 200
    assert public.get("/api/v1/public/track/not-a-code").status_code == 404


def test_refused_uploads_store_nothing(public, admin, settings) -> None:  # noqa: ANN001
    r = post(public, files=[("photos", ("x.png", b"MZ not an image", "image/png"))])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.photos[0]"
    from citybrain.core.images import MAX_IMAGE_BYTES

    r = post(public, files=[("photos", ("big.jpg", b"\xff" * (MAX_IMAGE_BYTES + 10), "image/jpeg"))])
    assert r.status_code == 413  # one photo over the per-image limit, though the request is within bounds
    r = post(public, description="x" * 2001)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.description"
    assert admin.get("/api/v1/reports").json()["total"] == 0
    assert not any((settings.data_dir / "files").rglob("*.jpg"))


def test_every_post_needs_a_fresh_solved_challenge(public) -> None:  # noqa: ANN001
    p = proof(public)
    base = {"service_code": "waterlogging", "description": "积水", "lon": str(LON), "lat": str(LAT)}
    assert public.post("/api/v1/public/reports", data={**base, **p}).status_code == 201
    again = public.post("/api/v1/public/reports", data={**base, **p})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "challenge"
    p2 = proof(public)
    unsolved = public.post("/api/v1/public/reports", data={**base, "challenge": p2["challenge"], "nonce": "x"})
    assert unsolved.status_code in (201, 422)  # "x" may solve 4 bits by chance; then it must be accepted
    if unsolved.status_code == 422:
        assert unsolved.json()["errors"][0]["field"] == "nonce"
    missing = public.post("/api/v1/public/reports", data=base)
    assert missing.status_code == 422 and {"body.challenge", "body.nonce"} <= {
        e["field"] for e in missing.json()["errors"]}


def test_nearby_and_me_too(public, app) -> None:  # noqa: ANN001
    first = post(public).json()
    lon, lat = north(30)
    near = public.get("/api/v1/public/reports/nearby",
                      params={"service_code": "manhole_missing", "lon": lon, "lat": lat}).json()
    assert [(n["service_request_id"], round(n["distance_m"])) for n in near] == [(first["service_request_id"], 30)]
    r = public.post(f"/api/v1/public/reports/{first['service_request_id']}/me-too", data=proof(public))
    assert r.status_code == 200 and r.json() == {"me_too_count": 1}
    assert public.post("/api/v1/public/reports/SR-0-0/me-too", data=proof(public)).status_code == 404
    bad = public.get("/api/v1/public/reports/nearby", params={"service_code": "nope", "lon": lon, "lat": lat})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.service_code"


def test_a_duplicate_from_the_phone_is_merged_and_says_so(public) -> None:  # noqa: ANN001
    first = post(public).json()
    lon, lat = north(3)
    second = post(public, lon=lon, lat=lat, description="人民大道200号窨井盖没了，很危险").json()
    assert second["duplicate_of"] == first["service_request_id"]
    track = public.get(second["tracking_url"].replace("/track/", "/api/v1/public/track/")).json()
    assert track["case_status"] == "merged" and track["status"] == "closed"


def test_staff_see_contact_masked_unless_they_handle_the_case(public, admin, users) -> None:  # noqa: ANN001
    post(public, contact_phone="13812345678", contact_name="张三")
    duty = users.login("analyst", roles=("analyst",), department="ops")  # city-wide reader, handles nothing
    item = duty.get("/api/v1/reports").json()["items"][0]
    assert item["contact_phone"] == "138****5678" and item["contact_visible"] is False
    if item["department"]:  # routed by the cases package: its department's dispatcher handles it
        handler = users.login("handler", roles=("dispatcher",), department=item["department"])
        mine = handler.get(f"/api/v1/reports/{item['id']}").json()
        assert mine["contact_phone"] == "13812345678" and mine["contact_visible"] is True
        rows = list(csv.DictReader(io.StringIO(handler.get("/api/v1/reports/export.csv").text.lstrip("\ufeff"))))
        assert rows[0]["contact_phone"] == "138****5678"  # exports are always masked
        other = "fire" if item["department"] != "fire" else "police"
        outsider = users.login("outsider", roles=("dispatcher",), department=other)
        assert outsider.get(f"/api/v1/reports/{item['id']}").status_code == 404
    events = duty.get(f"/api/v1/reports/{item['id']}/events").json()
    assert events[0]["kind"] == "submitted"
    assert duty.get("/api/v1/reports", params={"service_code": "nope"}).status_code == 422


def test_moderation_approves_a_held_report(public, users) -> None:  # noqa: ANN001
    held = post(public, description="井盖没了 加微信 http://x.example").json()
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    queue = duty.get("/api/v1/moderation").json()
    assert queue["total"] == 2 and {f["reason"] for f in queue["items"]} == {"link", "spam"}
    assert public.get("/api/v1/public/reports/nearby", params={
        "service_code": "manhole_missing", "lon": LON, "lat": LAT}).json() == []  # held: not public
    viewer = users.login("viewer", roles=("viewer",), department="ops")
    assert viewer.post(f"/api/v1/moderation/{queue['items'][0]['id']}", json={"action": "approve"}).status_code == 403
    for f in queue["items"]:
        r = duty.post(f"/api/v1/moderation/{f['id']}", json={"action": "approve", "note": "ok"})
        assert r.status_code == 200 and r.json()["resolution"] == "approve"
    assert r.json()["moderation_status"] == "approved"
    assert duty.post(f"/api/v1/moderation/{f['id']}", json={"action": "approve"}).status_code == 409
    assert duty.get("/api/v1/moderation").json()["total"] == 0
    near = public.get("/api/v1/public/reports/nearby", params={
        "service_code": "manhole_missing", "lon": LON, "lat": LAT}).json()
    assert [n["service_request_id"] for n in near] == [held["service_request_id"]]


def test_staff_link_a_duplicate(public, users) -> None:  # noqa: ANN001
    a = post(public).json()
    lon, lat = north(45)
    b = post(public, lon=lon, lat=lat, description="另一处井盖", service_code="manhole_missing").json()
    duty = users.login("duty", roles=("duty_officer",), department="ops")
    ids = {i["service_request_id"]: i["id"] for i in duty.get("/api/v1/reports").json()["items"]}
    r = duty.post(f"/api/v1/reports/{ids[b['service_request_id']]}/link",
                  json={"duplicate_of": a["service_request_id"]})
    assert r.status_code == 200 and r.json()["case_status"] == "merged"
    assert r.json()["duplicate_of_id"] == ids[a["service_request_id"]]
    assert duty.get(f"/api/v1/reports/{ids[a['service_request_id']]}").json()["me_too_count"] == 1
    bad = duty.post(f"/api/v1/reports/{ids[a['service_request_id']]}/link", json={"duplicate_of": "SR-none"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.duplicate_of"


def test_open311_keys_are_shown_once_and_need_report_write(admin, users) -> None:  # noqa: ANN001
    r = admin.post("/api/v1/report-api-keys", json={"name": "partner", "owner": "Example Ltd"})
    assert r.status_code == 201 and r.json()["api_key"].startswith("o311_")
    listed = admin.get("/api/v1/report-api-keys").json()
    assert listed[0]["prefix"] == r.json()["api_key"][:10] and "api_key" not in listed[0]
    dispatcher = users.login("d", roles=("dispatcher",), department="fire")
    assert dispatcher.post("/api/v1/report-api-keys", json={"name": "x"}).status_code == 403
    assert admin.post(f"/api/v1/report-api-keys/{listed[0]['id']}/revoke").json()["revoked_at"]
