"""The incidents side of the dashboard, in Chromium: the open-incidents card, the incident page (plan tasks,
a task accepted through the page, recommended units with their ETA, the timeline), the incident and unit
layers, and 立案 from a warning page.

An incident is opened through the HTTP API as the duty officer would, and the demo fleet is seeded with
``units_service.seed_demo_units`` (``citybrain demo`` does the same).
"""

from __future__ import annotations

import io
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citybrain.incident import units_service
from citybrain.warning.types import Level
from tests.conftest import ADMIN_PASSWORD
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    BrowserPage,
    chromium,
    wait_map_idle,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture
from tests.web.test_sensing_dashboard import SensingServer
from tests.web.test_warnings_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    api_client,
    device,
    live_server,
    open_signed_in,
    raise_warnings,
    signal,
    warnings_server,
)

browser_page = _browser_page_fixture
PEOPLES_SQUARE = (121.4737, 31.2304)


def seed_units(server: SensingServer) -> None:
    with server.database.session() as s:
        units_service.seed_demo_units(session=s, now=datetime.now(UTC))
        s.commit()


def open_incident(server: SensingServer) -> dict[str, Any]:
    with closing(api_client(server)) as c:
        r = c.post("/api/v1/incidents", json={
            "incident_type": "gas_leak", "level": "II", "lon": PEOPLES_SQUARE[0], "lat": PEOPLES_SQUARE[1],
            "title_zh": "人民广场燃气泄漏", "title_en": "Gas leak at People's Square", "commander": "admin"})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
    return body


@pytest.mark.browser
def test_incident_card_page_task_units_and_map(browser_page: BrowserPage, warnings_server: SensingServer) -> None:
    server, bp = warnings_server, browser_page
    seed_units(server)
    inc = open_incident(server)
    assert inc["tasks"], "the gas-leak plan gave no tasks"

    page = open_signed_in(bp, "admin", ADMIN_PASSWORD)

    # The card: the incident with its level spelled out, its type and status, in Chinese.
    item = page.locator(f"#panel-incidents .inc-item[data-id='{inc['id']}']")
    item.wait_for()
    assert page.inner_text("#panel-incidents .card-title") == "事件"
    text = item.inner_text()
    assert "II 橙色" in text and "人民广场燃气泄漏" in text and "燃气泄漏" in text and "已报告" in text, text
    assert item.get_attribute("data-level") == "orange"

    # The map: the incident marker on top and the demo units as squares.
    page.wait_for_selector("#layer-status-incidents[data-status=ready]")
    page.wait_for_selector("#layer-status-units[data-status=ready]")
    page.evaluate("""(p) => window.citybrain.map.jumpTo({ center: p, zoom: 14 })""", list(PEOPLES_SQUARE))
    wait_map_idle(bp)
    page.wait_for_function(f"""() => window.citybrain.map.queryRenderedFeatures({{ layers: ['incidents-point'] }})
        .some((f) => f.properties.id === {inc['id']})""")
    page.wait_for_function("() => window.citybrain.map.queryRenderedFeatures({ layers: ['units-square'] }).length > 0")
    order = page.evaluate("() => window.citybrain.map.getStyle().layers.map((l) => l.id)")
    assert order.index("incidents-point") > order.index("warnings-point") > order.index("devices-point")

    # The page: the plan's tasks, recommended units with an ETA, the timeline.
    item.click()
    dialog = page.locator("#incident-dialog")
    dialog.wait_for(state="visible")
    assert dialog.get_attribute("data-incident-id") == str(inc["id"])
    page.wait_for_selector("#incident-dialog .incident-task")
    assert page.locator("#incident-dialog .incident-task").count() == len(inc["tasks"])
    head = page.inner_text("#incident-dialog .warning-head")
    assert "II 级事件 · 橙色" in head and "已报告" in head, head
    assert "预案任务" in page.inner_text("#incident-dialog")
    report_href = page.get_attribute("#incident-dialog .incident-report-link", "href")
    assert report_href == f"/api/v1/incidents/{inc['id']}/report?lang=zh-CN"
    assert "情况报告" in page.evaluate("u => fetch(u).then(r => r.text())", report_href)  # the session opens it
    pdf_href = page.get_attribute("#incident-dialog .incident-report-pdf", "href")
    assert page.evaluate("u => fetch(u).then(r => r.text()).then(t => t.slice(0, 5))", pdf_href) == "%PDF-"
    assert "启动预案" in page.inner_text("#incident-dialog .incident-timeline")
    recs = page.locator("#incident-dialog .incident-rec")
    recs.first.wait_for()
    assert recs.count() >= 1
    eta = recs.first.locator(".rec-eta").inner_text()
    assert "分钟" in eta and float(recs.first.locator(".rec-eta").get_attribute("data-eta-s")) > 0, eta
    # Hovering a recommendation draws its route on the map.
    recs.first.hover()
    page.wait_for_function("""() => { const s = window.citybrain.map.getSource('incident-route');
        const d = s && s.serialize().data;
        return Boolean(d && d.features && d.features.length === 1 && window.citybrain.map.getLayer('incident-route-line')); }""")

    # Accept a pending task through the page; the API agrees and the timeline shows it.
    task = next(t for t in inc["tasks"] if t["status"] == "pending")
    row = f"#incident-dialog .incident-task[data-task-id='{task['id']}']"
    page.click(f"{row} [data-action=task-accept]")
    page.wait_for_selector(f"{row}[data-status=accepted]")
    page.wait_for_selector("#incident-dialog .incident-timeline li[data-kind=task_accepted]")
    assert "已接收" in page.inner_text(row)
    with closing(api_client(server)) as c:
        tasks = c.get(f"/api/v1/incidents/{inc['id']}").json()["tasks"]
    assert next(t for t in tasks if t["id"] == task["id"])["status"] == "accepted"

    # A photo from the scene goes on the timeline as a link to the stored (re-encoded) file.
    page.set_input_files("#incident-file", files=[{"name": "scene.png", "mimeType": "image/png", "buffer": png()}])
    page.click("#incident-dialog [data-action=upload]")
    link = page.locator("#incident-dialog .incident-timeline li[data-kind=file] a.event-file")
    link.wait_for()
    assert link.inner_text() == "scene.png"
    assert page.evaluate("u => fetch(u).then(r => r.headers.get('content-type'))", link.get_attribute("href")) \
        == "image/jpeg"

    # Verify the incident: the status step, then the card follows.
    page.click("#incident-dialog [data-action=transition-verify]")
    page.wait_for_selector("#incident-dialog[data-status=verified]")
    page.screenshot(path=str(bp_results(bp) / "incident-page.png"))
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.wait_for_selector(f"#panel-incidents .inc-item[data-id='{inc['id']}'][data-status=verified]")

    # English.
    page.click("button[data-lang=en]")
    assert page.inner_text("#panel-incidents .card-title") == "Incidents"
    assert "II Orange" in item.inner_text() and "Gas leak" in item.inner_text()
    page.click("button[data-lang='zh-CN']")
    bp.assert_clean()


def bp_results(bp: BrowserPage) -> Any:
    from tests.web.test_dashboard import REPO

    out = REPO / "test-results"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.browser
def test_create_incident_from_a_warning_page(browser_page: BrowserPage, warnings_server: SensingServer) -> None:
    server, bp = warnings_server, browser_page
    gas = device(server, "SIM-GAS-000001")
    (w,) = raise_warnings(server, [signal(server, gas, "gas-methane-high", Level.RED,
                                          datetime.now(UTC) - timedelta(minutes=3), 80.0)])
    page = open_signed_in(bp, "admin", ADMIN_PASSWORD)
    page.click(f"#panel-warnings .warn-item[data-id='{w['id']}']")
    page.wait_for_selector("#warning-dialog .warning-history li")
    assert page.inner_text("#warning-dialog [data-action=create-incident]") == "立案"
    page.click("#warning-dialog [data-action=create-incident]")
    dialog = page.locator("#incident-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_selector("#incident-dialog .incident-task")
    with closing(api_client(server)) as c:
        items = c.get("/api/v1/incidents?open=true").json()["items"]
    assert len(items) == 1 and dialog.get_attribute("data-incident-id") == str(items[0]["id"])
    assert items[0]["level"] == "red" and items[0]["incident_type"] == "gas_leak"
    page.keyboard.press("Escape")
    page.wait_for_selector(f"#panel-incidents .inc-item[data-id='{items[0]['id']}']")
    bp.assert_clean()


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), "orange").save(out, "PNG")
    return out.getvalue()

