"""The warning API end to end: rule via API, readings via API, warning visible, acted on, audited, public."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import etree

from citybrain.auth.audit.models import AuditEntry
from citybrain.warning.models import Warning
from tests.support import shared_data
from tests.warning.conftest import API, METHANE_RULE, reading, wait_for


def open_warnings(c, **params):
    r = c.get(f"{API}/warnings", params={"state": "open", **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_reading_to_warning_to_acknowledge_and_resolve(wadmin, fleet, clock, database, warning_app):
    assert wadmin.post(f"{API}/warning-rules", json=METHANE_RULE).status_code == 201
    host = warning_app.state.cache["warning.host"]
    wadmin.portal.call(host.tick)  # picks up the new rule
    t = clock.now() - timedelta(minutes=5)
    r = wadmin.post(f"{API}/readings",
                    json=[reading("GAS-1", t, 3.0), reading("GAS-1", t + timedelta(minutes=1), 30.0)])
    assert r.status_code == 200 and r.json()["accepted"] == 2
    items = wait_for(lambda: open_warnings(wadmin))
    assert len(items) == 1
    w = items[0]
    assert (w["rule"], w["level"], w["state"], w["department"]) == ("methane-lel", "yellow", "firing", "emergency")
    assert w["labels"]["device"] == "GAS-1" and "30" in w["summary_en"]
    # the level follows the evidence
    wadmin.post(f"{API}/readings", json=[reading("GAS-1", t + timedelta(minutes=2), 80.0)])
    assert wait_for(lambda: [x for x in open_warnings(wadmin) if x["level"] == "red"])
    r = wadmin.post(f"{API}/warnings/{w['id']}/acknowledge", json={"comment": "crew sent", "assignee": "wang"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    r = wadmin.post(f"{API}/warnings/{w['id']}/comments", json={"text": "valve closed"})
    assert r.status_code == 201
    # evidence clears → resolved by the rule
    wadmin.post(f"{API}/readings", json=[reading("GAS-1", t + timedelta(minutes=3), 1.0)])
    assert wait_for(lambda: not open_warnings(wadmin))
    detail = wadmin.get(f"{API}/warnings/{w['id']}").json()
    kinds = [e["kind"] for e in detail["history"]]
    assert kinds == ["fired", "level_raised", "acknowledged", "commented", "resolved"]
    assert detail["resolved_by"] == "rule"
    with database.session() as s:
        audited = s.execute(sa.select(AuditEntry.resource_type, AuditEntry.detail, AuditEntry.outcome)
                            .where(AuditEntry.resource_type == "warning")).all()
    actions = sorted(d.get("action") for _, d, _ in audited)
    assert actions == ["acknowledge", "comment"]


def test_bad_input_is_refused_with_the_field(wadmin):
    bad = {**METHANE_RULE, "when": {"kind": "threshold", "levels": {"blue": 50, "red": 10}}}
    r = wadmin.post(f"{API}/warning-rules", json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert any("when" in e["field"] for e in r.json()["errors"])
    r = wadmin.post(f"{API}/warning-rules", json={**METHANE_RULE, "quantity": "nonsense"})
    assert r.status_code == 422 and any("quantity" in e["field"] for e in r.json()["errors"])
    r = wadmin.post(f"{API}/warning-rules/import", json={"yaml": "rules:\n  - key: x\n    name: {zh: a, en: b}\n"
                                                         "    when: {kind: bogus}\n"})
    assert r.status_code == 422 and "line" in r.text
    r = wadmin.post(f"{API}/silences", json={"matchers": ["asset~x"], "ends_at": "2099-01-01T00:00:00Z",
                                            "comment": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.matchers[0]"
    r = wadmin.put(f"{API}/warning-config/routing", json={"routes": [{"group_wait": "soon"}]})
    assert r.status_code == 422 and "group_wait" in r.text
    r = wadmin.get(f"{API}/warnings", params={"level": "purple"})
    assert r.status_code == 422


def test_rules_export_import_round_trip(wadmin):
    wadmin.post(f"{API}/warning-rules", json=METHANE_RULE)
    text = wadmin.get(f"{API}/warning-rules/export").text
    assert "methane-lel" in text
    wadmin.delete(f"{API}/warning-rules/methane-lel")
    assert wadmin.get(f"{API}/warning-rules/methane-lel").status_code == 404
    r = wadmin.post(f"{API}/warning-rules/import", json={"yaml": text})
    assert r.status_code == 200 and r.json()["created"] == ["methane-lel"]
    assert wadmin.get(f"{API}/warning-rules/methane-lel").json()["definition"]["when"]["levels"]["red"] == 75


def test_scope_and_permissions(wadmin, users, fleet, clock, warning_app):
    wadmin.post(f"{API}/warning-rules", json=METHANE_RULE)
    wadmin.portal.call(warning_app.state.cache["warning.host"].tick)
    wadmin.post(f"{API}/readings", json=[reading("GAS-1", clock.now() - timedelta(minutes=1), 60.0)])
    [w] = wait_for(lambda: open_warnings(wadmin))
    police = users.login("pol", roles=("dispatcher",), department="police")
    assert police.get(f"{API}/warnings/{w['id']}").status_code == 404
    assert open_warnings(police) == []
    viewer = users.login("view", roles=("viewer",), department="emergency")
    assert len(open_warnings(viewer)) == 1
    assert viewer.post(f"{API}/warnings/{w['id']}/acknowledge", json={}).status_code == 403
    assert viewer.post(f"{API}/warning-rules", json=METHANE_RULE).status_code == 403
    with TestClient(warning_app) as nobody:
        assert nobody.get(f"{API}/warnings").status_code == 401
        assert nobody.get(f"{API}/public/warnings").status_code == 200


def test_cap_export_validates_and_public_feed(wadmin, fleet, clock, database, warning_app):
    rule = {**METHANE_RULE, "labels": {"public": "true"}}
    wadmin.post(f"{API}/warning-rules", json=rule)
    wadmin.portal.call(warning_app.state.cache["warning.host"].tick)
    wadmin.post(f"{API}/readings", json=[reading("GAS-1", clock.now() - timedelta(minutes=1), 60.0)])
    [w] = wait_for(lambda: open_warnings(wadmin))
    r = wadmin.get(f"{API}/warnings/{w['id']}/cap")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    from citybrain.warning import cap

    alert = cap.parse(r.content)  # validates against the shipped CAP 1.2 schema
    assert {i.language for i in alert.infos} == {"zh-CN", "en-US"} or len(alert.infos) == 2
    assert "+08:00" in r.text and "Z<" not in r.text
    with database.session() as s:
        s.execute(sa.update(Warning).values(public=True))
        s.commit()
    feed = wadmin.get(f"{API}/public/warnings.atom")
    assert feed.status_code == 200
    root = etree.fromstring(feed.content)
    assert len(root.findall("{http://www.w3.org/2005/Atom}entry")) == 1
    pub = wadmin.get(f"{API}/public/warnings/{w['id']}.cap")
    assert pub.status_code == 200


def test_external_cap_alerts(wadmin):
    data = shared_data() / "cap" / "examples"
    ok = (data / "weather.cap").read_bytes()
    r = wadmin.post(f"{API}/cap/alerts", content=ok, headers={"Content-Type": "application/cap+xml"})
    assert r.status_code == 202, r.text
    assert len(r.json()["warnings"]) == 1
    assert open_warnings(wadmin, rule="cap")
    for bad in ("xee.cap", "invalid.cap"):
        r = wadmin.post(f"{API}/cap/alerts", content=(data / bad).read_bytes(),
                        headers={"Content-Type": "application/cap+xml"})
        assert r.status_code == 422, bad
        assert "root:" not in r.text  # nothing of /etc/passwd
    assert len(open_warnings(wadmin, rule="cap")) == 1


def test_peoples_actions_reach_the_live_stream(wadmin, fleet, clock, warning_app):
    from citybrain.warning.flows import CHANGED_SUBJECT

    wadmin.post(f"{API}/warning-rules", json=METHANE_RULE)
    wadmin.portal.call(warning_app.state.cache["warning.host"].tick)
    wadmin.post(f"{API}/readings", json=[reading("GAS-1", clock.now() - timedelta(minutes=1), 60.0)])
    [w] = wait_for(lambda: open_warnings(wadmin))
    seen: list[dict] = []

    async def collect(_subject, message):
        seen.extend(message)

    wadmin.portal.call(warning_app.state.bus.subscribe, CHANGED_SUBJECT, collect)
    assert wadmin.post(f"{API}/warnings/{w['id']}/acknowledge", json={"comment": "on it"}).status_code == 200
    assert wait_for(lambda: [x for x in seen if x["id"] == w["id"] and x["state"] == "acknowledged"])


def test_the_engine_runs_in_a_process_of_its_own_on_the_embedded_default(wadmin, warning_app):
    status = wadmin.get(f"{API}/warning-engine/status").json()
    if warning_app.state.db.dialect == "sqlite":
        assert status["mode"] == "process" and status["process"]["pid"] not in (None, os.getpid())
        assert status["process"]["restarts"] == 0
    else:
        assert status["mode"] == "subscriber" and "process" not in status


@pytest.mark.parametrize("host", ["in-process"], indirect=True)  # its rules are reached into below
def test_engine_status_reports_isolated_failures(wadmin, fleet, clock, warning_app):
    host = warning_app.state.cache["warning.host"]
    status = wadmin.get(f"{API}/warning-engine/status").json()
    assert status["running"] is True and status["errors"] == {}
    assert status["mode"] == ("inline" if warning_app.state.db.dialect == "sqlite" else "subscriber")
    wadmin.post(f"{API}/warning-rules", json=METHANE_RULE)
    wadmin.portal.call(host.tick)
    runtime = host.engine.runtimes["methane-lel"]

    def broken(*_a, **_k):
        raise RuntimeError("detector exploded")

    runtime.observe = broken  # one rule fails on every stream; the request path must not notice
    r = wadmin.post(f"{API}/readings", json=[reading("GAS-1", clock.now() - timedelta(minutes=1), 60.0)])
    assert r.status_code == 200
    got = wait_for(lambda: wadmin.get(f"{API}/warning-engine/status").json()["errors"])
    assert got["methane-lel"]["count"] >= 1 and "exploded" in got["methane-lel"]["last_message"]


def test_engine_status_on_a_node_without_the_engine_names_the_process_holding_its_lease(admin, database, clock):
    from citybrain.core.lease import ServiceLease, acquire, release

    def status() -> dict:
        r = admin.get(f"{API}/warning-engine/status")
        assert r.status_code == 200
        return r.json()

    assert status()["running"] is False and status()["lease"] is None  # no engine anywhere yet
    with database.session() as s:
        gen = acquire(session=s, name="warning-engine", holder="worker-1:4242:ab", now=clock.now(), ttl_s=15)
        s.commit()
    got = status()
    assert (got["running"], got["here"], got["lease"]["holder"], got["lease"]["live"]) == (
        True, False, "worker-1:4242:ab", True)
    with database.session() as s:  # the worker stopped cleanly and gave the lease back
        assert release(session=s, name="warning-engine", holder="worker-1:4242:ab", generation=gen, now=clock.now())
        s.commit()
        assert s.get(ServiceLease, "warning-engine") is not None
    got = status()
    assert got["running"] is False and got["lease"]["live"] is False
