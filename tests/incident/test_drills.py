"""Drills: a scenario runs through the live system as an exercise, and the after-action review corrects gaps."""

from __future__ import annotations

import sqlalchemy as sa

from citybrain.incident import drills
from citybrain.incident.models import Incident, IncidentTask
from citybrain.warning import outbox
from citybrain.warning.models import Notification, Warning

API = "/api/v1"


def test_drill_end_to_end(iadmin, database, clock):
    scenarios = iadmin.get(f"{API}/drills/scenarios").json()
    assert "gas-leak-huangpu" in [s["key"] for s in scenarios]
    r = iadmin.post(f"{API}/drills", json={"scenario": "gas-leak-huangpu"})
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["exercise"] is True and inc["source"] == "drill" and inc["title_zh"].startswith("【演练】")
    assert inc["tasks"], "the gas-leak plan's tasks go out with real deadlines"
    # the first inject (t=0) is an exercise warning, linked to the incident
    with database.session() as s:
        [w] = s.scalars(sa.select(Warning)).all()
        assert (w.exercise, w.level, w.source) == (True, 2, "drill")
    cap = iadmin.get(f"{API}/warnings/{w.id}/cap").text
    assert "<status>Exercise</status>" in cap
    # five minutes on, the red inject raises the same warning; the notes are on the timeline
    clock.advance(minutes=9)
    with database.session() as s:
        played = drills.play_due(session=s, now=clock.now())
        outbox.plan(session=s, now=clock.now())
        s.commit()
    assert played == 3
    with database.session() as s:
        [w] = s.scalars(sa.select(Warning)).all()
        titles = s.scalars(sa.select(Notification.payload)).all()
    assert w.level == 1
    assert titles and all(t["title_zh"].startswith("[演练]") and t["title_en"].startswith("[EXERCISE]") for t in titles)
    kinds = [e["kind"] for e in iadmin.get(f"{API}/incidents/{inc['id']}/timeline").json()]
    assert kinds.count("note") == 2
    # one task done in time, the rest not: every gap becomes a corrective task of its department
    first = inc["tasks"][0]
    for verb in ("accept", "start", "complete"):
        assert iadmin.post(f"{API}/incidents/{inc['id']}/tasks/{first['id']}/{verb}", json={}).status_code == 200
    review = iadmin.post(f"{API}/incidents/{inc['id']}/after-action").json()
    assert review["tasks"] == len(inc["tasks"])
    done = [m for m in review["measured"] if m["task"] == first["key"]][0]
    assert done["gap"] is (done["late_s"] > 0)
    assert review["gaps"] == len(review["corrective_tasks"]) and review["gaps"] >= len(inc["tasks"]) - 1
    with database.session() as s:
        corrective = s.scalars(sa.select(IncidentTask).where(IncidentTask.key.like("corrective-%"))).all()
    assert {t.department for t in corrective} <= {t["department"] for t in inc["tasks"]}
    again = iadmin.post(f"{API}/incidents/{inc['id']}/after-action").json()
    assert again["corrective_tasks"] == []  # idempotent
    assert "演练" in iadmin.get(f"{API}/incidents/{inc['id']}/report").text


def test_bad_scenarios_are_refused(iadmin, database):
    r = iadmin.post(f"{API}/drills", json={"scenario": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.scenario"
    r = iadmin.post(f"{API}/drills", json={"yaml": "key: x1\nname: {zh: a, en: b}\nincident_type: gas_leak\n"
                                                   "level: purple\nlon: 121.48\nlat: 31.23\n"})
    assert r.status_code == 422 and any(e["field"].endswith("level") for e in r.json()["errors"])
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_after_action_is_for_drills_only(iadmin):
    real = iadmin.post(f"{API}/incidents", json={"incident_type": "gas_leak", "lon": 121.48, "lat": 31.23}).json()
    assert iadmin.post(f"{API}/incidents/{real['id']}/after-action").status_code == 409


def test_drill_from_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from citybrain.cli import app

    runner = CliRunner()
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "cli-admin-password-1")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    listed = runner.invoke(app, ["drill", "list"])
    assert listed.exit_code == 0 and "gas-leak-huangpu" in listed.output
    started = runner.invoke(app, ["drill", "start", "gas-leak-huangpu"])
    assert started.exit_code == 0, started.output
    assert "exercise incident #1" in started.output
    assert runner.invoke(app, ["drill", "start", "nope"]).exit_code == 2
