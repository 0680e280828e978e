"""Files on the timeline, department feeds and the PDF situation report, through the API."""

from __future__ import annotations

import io

from PIL import Image

from tests.incident.conftest import API, PEOPLES_SQUARE

LON, LAT = PEOPLES_SQUARE
GAS = {"incident_type": "gas_leak", "level": "III", "lon": LON, "lat": LAT, "title_en": "Gas smell at the square"}


def png_with_gps() -> bytes:
    img = Image.new("RGB", (40, 30), "orange")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not survive
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 13.0, 48.0), 3: "E", 4: (121.0, 28.0, 30.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_photo_and_a_pdf_go_on_the_timeline_and_junk_is_refused(iadmin, database):
    inc = iadmin.post(f"{API}/incidents", json=GAS).json()
    r = iadmin.post(f"{API}/incidents/{inc['id']}/files", files={"file": ("scene.jpg", png_with_gps(), "image/jpeg")},
                    data={"note": "现场照片"})
    assert r.status_code == 201, r.text
    ev = r.json()
    att = ev["detail"]["attachment"]
    assert ev["kind"] == "file" and att["content_type"] == "image/jpeg" and att["name"] == "scene.jpg"
    assert att["gps"] == [121.475, 31.23]  # read from EXIF before the metadata was dropped
    photo = iadmin.get(f"{API}/incidents/{inc['id']}/files/{ev['id']}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(photo.content)).getexif()  # nothing carried over

    pdf = b"%PDF-1.4\n% minutes of the on-site meeting\n%%EOF\n"
    r = iadmin.post(f"{API}/incidents/{inc['id']}/files", files={"file": ("minutes.pdf", pdf, "application/pdf")})
    assert r.status_code == 201 and r.json()["detail"]["attachment"]["content_type"] == "application/pdf"
    got = iadmin.get(f"{API}/incidents/{inc['id']}/files/{r.json()['id']}")
    assert got.content == pdf and got.headers["content-disposition"].startswith("attachment")

    before = len(iadmin.get(f"{API}/incidents/{inc['id']}/timeline").json())
    junk = {"file": ("x.html", b"<script>1</script>", "image/png")}
    r = iadmin.post(f"{API}/incidents/{inc['id']}/files", files=junk)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    assert len(iadmin.get(f"{API}/incidents/{inc['id']}/timeline").json()) == before
    # a note event is not a file
    note = iadmin.post(f"{API}/incidents/{inc['id']}/notes", json={"text": "hello"}).json()
    assert iadmin.get(f"{API}/incidents/{inc['id']}/files/{note['id']}").status_code == 404


def test_a_department_feed_is_idempotent_dedupes_and_names_bad_items(iclient, users):
    metro = users.login("metro-ops-sys", roles=("dispatcher",), department="metro")
    items = [
        {"external_id": "M-1", "incident_type": "metro_disruption", "lon": LON, "lat": LAT, "level": "III",
         "title_zh": "2号线人民广场站信号故障"},
        {"external_id": "M-2", "incident_type": "no_such_type", "lon": LON, "lat": LAT},
        {"external_id": "M-3", "incident_type": "metro_disruption", "lon": LON + 0.001, "lat": LAT},
        {"incident_type": "fire", "lon": LON, "lat": LAT},
        {"external_id": "M-4", "incident_type": "fire", "lon": LON, "lat": LAT, "reported_at": "2099-01-01T00:00:00Z"},
    ]
    r = metro.post(f"{API}/incident-feeds", json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()
    outcomes = [x["outcome"] for x in out["results"]]
    assert outcomes == ["created", "refused", "linked", "refused", "refused"]
    assert out["results"][1]["errors"][0]["field"] == "body.items[1].incident_type"
    assert out["results"][3]["errors"][0]["field"] == "body.items[3].external_id"
    assert out["results"][4]["errors"][0]["field"] == "body.items[4].reported_at"
    first = out["results"][0]["incident_id"]
    assert out["results"][2]["incident_id"] == first  # 100 m away, same type: linked to the open one
    again = metro.post(f"{API}/incident-feeds", json={"items": items[:1]}).json()
    assert again["results"][0] == {"index": 0, "external_id": "M-1", "outcome": "unchanged", "incident_id": first,
                                   "errors": []}
    inc = metro.get(f"{API}/incidents/{first}").json()
    assert inc["source"] == "feed" and {"kind": "feed", "ref_id": "metro:M-1"} in [
        {"kind": link["kind"], "ref_id": link["ref_id"]} for link in inc["links"]]
    viewer = users.login("feed-viewer", roles=("viewer",), department="metro")
    assert viewer.post(f"{API}/incident-feeds", json={"items": items[:1]}).status_code == 403


def test_the_situation_report_as_pdf(iadmin):
    inc = iadmin.post(f"{API}/incidents", json=GAS).json()
    r = iadmin.get(f"{API}/incidents/{inc['id']}/report", params={"format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and b"STSong-Light" in r.content  # Chinese set in the CID font
    assert iadmin.get(f"{API}/incidents/{inc['id']}/report", params={"format": "doc"}).status_code == 422
