"""Dual prevention on the dashboard, in Chromium: the risk-map layer and its explanation, the hazard board card,
the hazard page and the enterprise view.

Seeded through the HTTP API as the admin: an enterprise at People's Square supervised by the housing bureau, a
risk point there assessed red (LEC D=540) and a hazard at the enterprise graded major (so the cell turns red
above its orange baseline); the enterprise writes its plan and starts through the API. Then in the browser: the
admin sees the cell coloured and its explanation listing the hazard and the assessment; the enterprise officer
("本企业隐患") submits the rectification with a photo through the hazard page; the housing bureau returns it with a
reason; the enterprise resubmits through the API; the bureau accepts and closes it through the page, and the
board counts it closed.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from citybrain.auth import service as auth_service
from citybrain.org import service as org_service
from tests.conftest import ADMIN_PASSWORD, LiveServer
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    REPO,
    BrowserPage,
    chromium,
    click_lnglat,
    login,
    wait_map_idle,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture
from tests.web.test_incidents_dashboard import png

browser_page = _browser_page_fixture

PEOPLES_SQUARE = (121.4737, 31.2304)
CELL = "r160c200"  # the 500 m cell whose south-west corner is People's Square
INSIDE = [121.4775, 31.2340]  # a point inside it, away from the hazard
ENTERPRISE_USER, DEPT_USER, PASSWORD = "ent-officer", "housing-dispatch", "pw-prevention-123"
REASON = "调压箱仍有锈蚀，需补漆"
RESULTS = REPO / "test-results"


def client(server: LiveServer, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    return server.client(username, password)


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def seed(server: LiveServer) -> dict[str, Any]:
    """Enterprise, red risk point, major hazard planned and under rectification; the two users."""
    lon, lat = PEOPLES_SQUARE
    with closing(client(server)) as admin:
        ent = ok(admin.post("/api/v1/enterprises", json={
            "name": "申城燃气调压站有限公司", "supervising_department": "housing", "industry": "gas",
            "district_code": "310101", "lon": lon, "lat": lat}))
        point = ok(admin.post("/api/v1/risk-points", json={
            "name": "人民广场调压站", "kind": "place", "category": "gas", "lon": lon, "lat": lat,
            "department": "housing"}))
        ok(admin.post(f"/api/v1/risk-points/{point['id']}/assessments",
                      json={"method": "lec", "factors": {"L": 6, "E": 6, "C": 15}}))
        hz = ok(admin.post("/api/v1/hazards", json={
            "title": "调压箱锈蚀", "category": "gas", "lon": lon + 0.002, "lat": lat + 0.002,
            "enterprise_id": ent["id"]}))
        assert hz["supervising_department"] == "housing"
        ok(admin.post(f"/api/v1/hazards/{hz['id']}/register", json={}))
        ok(admin.post(f"/api/v1/hazards/{hz['id']}/grade", json={"grade": "major"}))
    with server.database.session() as s:
        housing = org_service.department_id_for(session=s, code="housing", field="department")
        now = datetime.now(UTC)
        auth_service.create(session=s, now=now, username=ENTERPRISE_USER, password=PASSWORD,
                            roles=["enterprise_officer"], enterprise_id=ent["id"], display_name="企业安全员 李静")
        auth_service.create(session=s, now=now, username=DEPT_USER, password=PASSWORD, roles=["dispatcher"],
                            department_id=housing, display_name="住建委 王强")
    with closing(client(server, ENTERPRISE_USER, PASSWORD)) as c:
        deadline = (datetime.now(UTC) + timedelta(days=20)).isoformat()
        ok(c.post(f"/api/v1/hazards/{hz['id']}/plan", json={
            "measures": "除锈、补漆，更换腐蚀螺栓", "deadline_at": deadline, "responsible_person": "李静",
            "funds": 20000, "interim_measures": "每日巡查两次"}))
        ok(c.post(f"/api/v1/hazards/{hz['id']}/start", json={}))
    return {"enterprise": ent, "hazard": hz, "point": point}


def sign_in(bp: BrowserPage, username: str, password: str) -> Any:
    page = bp.page
    if page.locator("#logout-btn").is_visible():
        page.click("#logout-btn")
        page.wait_for_selector("#login-btn:not([hidden])")
    login(bp, username, password)
    page.wait_for_selector("#user-box:not([hidden])")
    page.wait_for_selector("#panel-hazards .hz-counts .hz-count")
    return page


def open_page(page: Any, hazard_id: int) -> None:
    page.click(f"#panel-hazards .hz-item[data-id='{hazard_id}']")
    page.wait_for_selector(f"#hazard-dialog[data-hazard-id='{hazard_id}'][data-status]")


@pytest.mark.browser
def test_risk_map_and_hazard_rectification_round_trip(browser_page: BrowserPage, live_server: LiveServer) -> None:
    bp, server = browser_page, live_server
    seeded = seed(server)
    hid = seeded["hazard"]["id"]
    page = bp.page
    response = page.goto(bp.base_url + "/")
    assert response is not None and response.ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")

    # ---- admin: the board, then the risk map and the explanation of the red cell ----
    sign_in(bp, "admin", ADMIN_PASSWORD)
    item = page.locator(f"#panel-hazards .hz-item[data-id='{hid}']")
    item.wait_for()
    text = item.inner_text()
    assert "调压箱锈蚀" in text and "重大" in text and "挂牌督办" in text and "申城燃气调压站有限公司" in text, text
    assert page.get_attribute("#panel-hazards .hz-count[data-status=rectifying]", "data-status") == "rectifying"
    assert page.inner_text("#panel-hazards .hz-count[data-status=rectifying] .hz-n") == "1"
    assert page.get_attribute("#panel-hazards .hz-count-flag[data-flag=supervised]", "data-n") == "1"
    assert "季度报告" in page.inner_text("#panel-hazards .hz-report-link")
    assert page.evaluate("u => fetch(u).then(r => r.text()).then(t => t.slice(0, 5))",
                         page.get_attribute("#panel-hazards .hz-report-pdf", "href")) == "%PDF-"
    assert page.evaluate("u => fetch(u).then(r => r.headers.get('content-type'))",
                         page.get_attribute("#panel-hazards .hz-csv-link", "href")).startswith("text/csv")

    # Zoomed out: districts; Huangpu holds the evidence.
    page.check("#layer-toggle-riskmap")
    page.wait_for_selector("#layer-status-riskmap[data-status=ready]")
    assert page.evaluate("() => window.citybrain.riskmap.level") == "district"
    assert page.evaluate("""() => window.citybrain.map.getSource('riskmap').serialize().data.features
        .map((f) => f.properties.id)""") == ["310101"]
    # Zoomed in: 500 m cells.
    page.evaluate("(p) => window.citybrain.map.jumpTo({ center: p, zoom: 14 })", INSIDE)
    page.wait_for_function("() => window.citybrain.riskmap && window.citybrain.riskmap.level === 'cell'")
    wait_map_idle(bp)
    page.wait_for_function(f"""() => window.citybrain.map.queryRenderedFeatures({{ layers: ['riskmap-fill'] }})
        .some((f) => f.properties.id === '{CELL}' && f.properties.colour === 'red')""")
    order = page.evaluate("() => window.citybrain.map.getStyle().layers.map((l) => l.id)")
    assert order.index("districts-fill") < order.index("riskmap-fill") < order.index("devices-point")
    assert order.index("riskmap-fill") < order.index("warnings-point") < order.index("incidents-point")

    click_lnglat(bp, INSIDE)
    popup = page.locator(f".risk-popup[data-id='{CELL}'][data-ready=true]")
    popup.wait_for()
    assert popup.get_attribute("data-colour") == "red"
    explained = popup.inner_text()
    assert "重大风险" in explained and "评估基线" in explained and "较大风险" in explained, explained
    assert "人民广场调压站" in explained and "重大隐患" in explained, explained
    assert "实时证据" in explained, explained
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "riskmap.png"))
    # The hazard in the explanation opens its page.
    popup.locator(f".risk-open-hazard[data-hazard-id='{hid}']").click()
    page.wait_for_selector(f"#hazard-dialog[data-hazard-id='{hid}'][data-status=rectifying]")
    assert "除锈、补漆" in page.inner_text("#hazard-dialog .hz-plan")
    assert page.locator("#hazard-dialog [data-action=submit]").count() == 0, "the admin does not play the enterprise"
    page.keyboard.press("Escape")
    # The open hazards as markers.
    page.check("#layer-toggle-hazard_markers")
    page.wait_for_selector("#layer-status-hazard_markers[data-status=ready]")
    wait_map_idle(bp)
    page.wait_for_function(f"""() => window.citybrain.map.queryRenderedFeatures({{ layers: ['hazard-markers-point'] }})
        .some((f) => f.properties.id === {hid} && f.properties.grade === 'major')""")

    # ---- the enterprise officer: 本企业隐患, the to-do, submit with a photo through the page ----
    sign_in(bp, ENTERPRISE_USER, PASSWORD)
    assert page.inner_text("#panel-hazards .card-title") == "本企业隐患"
    todo = page.locator(f"#panel-hazards .hz-todo-item[data-id='{hid}']")
    todo.wait_for()
    assert "提交整改照片" in todo.inner_text()
    todo.locator("[data-action=open-submit]").click()
    page.wait_for_selector(f"#hazard-dialog[data-hazard-id='{hid}'] #hz-submit")
    page.fill("#hz-submit-note", "已除锈补漆")
    page.set_input_files("#hz-photos", files=[{"name": "after.png", "mimeType": "image/png", "buffer": png()}])
    page.screenshot(path=str(RESULTS / "hazard-enterprise.png"))
    page.click("#hazard-dialog [data-action=submit]")
    page.wait_for_selector("#hazard-dialog[data-status=submitted]")
    thumb = page.locator("#hazard-dialog .hz-thumb img").first
    thumb.wait_for()
    page.wait_for_function("() => { const i = document.querySelector('#hazard-dialog .hz-thumb img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    page.keyboard.press("Escape")

    # ---- the housing bureau returns it with a reason ----
    sign_in(bp, DEPT_USER, PASSWORD)
    open_page(page, hid)
    assert page.get_attribute("#hazard-dialog", "data-status") == "submitted"
    page.click("#hazard-dialog [data-action=return]")  # no reason yet: refused in the page
    assert "理由" in page.inner_text("#hazard-dialog .form-error")
    page.fill("#hazard-note", REASON)
    page.click("#hazard-dialog [data-action=return]")
    page.wait_for_selector("#hazard-dialog[data-status=rectifying]")
    assert REASON in page.inner_text("#hazard-dialog .hz-history li[data-kind=returned]")
    page.keyboard.press("Escape")

    # ---- the enterprise resubmits (API), the bureau accepts and closes through the page ----
    with closing(client(server, ENTERPRISE_USER, PASSWORD)) as c:
        ok(c.post(f"/api/v1/hazards/{hid}/submit", data={"note": "补漆完成"},
                  files=[("photos", ("again.png", png(), "image/png"))]))
    page.evaluate("(id) => window.citybrain.openHazard(id)", hid)
    page.wait_for_selector(f"#hazard-dialog[data-hazard-id='{hid}'][data-status=submitted]")
    assert page.locator("#hazard-dialog .hz-round").count() == 2
    assert page.locator("#hazard-dialog [data-action=close]").count() == 0
    page.click("#hazard-dialog [data-action=accept]")
    page.wait_for_selector("#hazard-dialog[data-status=verified], #hazard-dialog .form-error:not([hidden])")
    assert page.get_attribute("#hazard-dialog", "data-status") == "verified", page.inner_text("#hazard-dialog")
    page.screenshot(path=str(RESULTS / "hazard-page.png"))
    page.click("#hazard-dialog [data-action=close]")
    page.wait_for_selector("#hazard-dialog[data-status=closed]")
    page.keyboard.press("Escape")
    # Its marker leaves the map at once (the layer is re-read after a step taken on the page).
    page.wait_for_function("""() => { const s = window.citybrain.map.getSource('hazard_markers');
        const d = s && s.serialize().data; return Boolean(d && d.features && d.features.length === 0); }""")

    # The board: nothing open, one closed; the closed list shows it.
    page.wait_for_function("() => document.querySelector(\"#panel-hazards .hz-count[data-status=closed] .hz-n\")"
                           ".textContent === '1'")
    assert page.locator(f"#panel-hazards .hz-item[data-id='{hid}']").count() == 0
    page.click("#panel-hazards .hz-count[data-status=closed]")
    page.wait_for_selector(f"#panel-hazards .hz-item[data-id='{hid}'][data-status=closed]")
    page.screenshot(path=str(RESULTS / "hazards-board.png"))
    with closing(client(server)) as admin:
        assert ok(admin.get(f"/api/v1/hazards/{hid}"))["status"] == "closed"

    # English.
    page.click("button[data-lang=en]")
    assert page.inner_text("#panel-hazards .card-title") == "Hazards"
    page.wait_for_selector("#panel-hazards .hz-count[data-status=closed]")
    assert "Closed" in page.inner_text("#panel-hazards .hz-count[data-status=closed]")
    page.click("button[data-lang='zh-CN']")
    bp.assert_clean()
