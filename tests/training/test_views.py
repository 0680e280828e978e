"""Training over HTTP: department admins write, enterprise officers read only their own people."""

from __future__ import annotations

API = "/api/v1/training"


def test_training_flow_and_scope(client, users, world, clock):
    admin = users.login("fireadmin", roles=("dept_admin",), department="fire")
    officer_a = users.login("eo_a", roles=("enterprise_officer",), department=None, enterprise_id=world.ent_a)
    officer_b = users.login("eo_b", roles=("enterprise_officer",), department=None, enterprise_id=world.ent_b)
    assert client.get(f"{API}/courses").status_code == 401

    courses = officer_a.get(f"{API}/courses", params={"audience": "enterprise_safety_officer"}).json()
    assert "ENT-HAZMAT" in {c["code"] for c in courses}
    r = admin.post(f"{API}/sessions", json={"course": "ENT-HAZMAT", "starts_at": clock.now().isoformat(),
                                             "place": "徐汇区应急管理局", "trainer": "王老师", "capacity": 20})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert officer_a.post(f"{API}/sessions", json={"course": "ENT-HAZMAT", "starts_at": clock.now().isoformat()}) \
        .status_code == 403
    bad = admin.post(f"{API}/sessions/{sid}/attendance",
                     json=[{"enterprise_id": world.ent_a, "person_name": "张伟", "id_number": "!!bad!!"}])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body[0].id_number"
    people = [{"enterprise_id": world.ent_a, "person_name": "张伟", "id_number": "310104199001011234",
               "score": 88, "passed": True},
              {"enterprise_id": world.ent_b, "person_name": "陈晨", "id_number": "310104198805055555",
               "score": 52, "passed": False}]
    marked = admin.post(f"{API}/sessions/{sid}/attendance", json=people)
    assert marked.status_code == 200, marked.text
    number = marked.json()[0]["certificate"]
    assert number and marked.json()[1]["certificate"] is None
    assert "id_number" not in marked.text and "310104199001011234" not in marked.text
    assert officer_a.post(f"{API}/sessions/{sid}/attendance", json=people).status_code == 403

    assert [a["person_name"] for a in officer_a.get(f"{API}/sessions/{sid}/attendance").json()] == ["张伟"]
    assert [a["person_name"] for a in officer_b.get(f"{API}/sessions/{sid}/attendance").json()] == ["陈晨"]
    assert officer_b.get(f"{API}/certificates").json()["total"] == 0
    mine = officer_a.get(f"{API}/certificates").json()
    assert mine["total"] == 1 and mine["items"][0]["expires_at"].startswith("2027-11-30")

    check = officer_b.get(f"{API}/certificates/{number}").json()
    assert check == {**check, "valid": True, "status": "valid", "holder": "张*", "course": "ENT-HAZMAT"}
    assert officer_b.get(f"{API}/certificates/CBT-00000000-NOPE").status_code == 404

    clock.advance(days=350)  # sessions expire meanwhile: log in again
    admin, officer_a, officer_b = (users.client(n) for n in ("fireadmin", "eo_a", "eo_b"))
    assert [r["person_name"] for r in officer_a.get(f"{API}/overdue").json()] == ["张伟"]
    assert officer_b.get(f"{API}/overdue").json() == []
    assert admin.get(f"{API}/overdue", params={"within_days": 10}).json() == []
    clock.advance(days=30)
    admin = users.client("fireadmin")
    [row] = admin.get(f"{API}/overdue").json()
    assert row["status"] == "expired" and row["certificate"] == number and row["days_left"] < 0
    assert admin.get(f"{API}/certificates/{number}").json()["status"] == "expired"


def test_course_creation_validates_fields(users):
    admin = users.login("fireadmin", roles=("dept_admin",), department="fire")
    body = {"code": "ENT-LIFT", "title_zh": "特种设备安全", "title_en": "Lift and boiler safety",
            "audience": "enterprise_safety_officer", "hours": 6, "refresher": "730d", "article_keys": ["nope"]}
    r = admin.post(f"{API}/courses", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.article_keys[0]"
    r = admin.post(f"{API}/courses", json={**body, "article_keys": [], "refresher": "two years"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.refresher"
    r = admin.post(f"{API}/courses", json={**body, "article_keys": ["electric-safety"]})
    assert r.status_code == 201 and r.json()["refresher_days"] == 730
    assert admin.post(f"{API}/courses", json={**body, "article_keys": []}).status_code == 409
