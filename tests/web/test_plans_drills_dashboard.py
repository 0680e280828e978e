"""The response-plan editor, the drill launcher and live unit state on the dashboard, in Chromium.

As the admin: open the plan editor from the incidents card, load the gas-leak plan, break it (an unknown
department) and see the refusal listed with its field and position, fix it and save it as a new version
(checked through the API); start the shipped drill scenario and land on the exercise incident's page in
exercise mode; dispatch a unit from that page and see the fleet polled fast, the unit's live status and last
report on the page, and a position reported through the API reach the map.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from citybrain.incident import plans as pl
from tests.conftest import ADMIN_PASSWORD
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    BrowserPage,
    chromium,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture
from tests.web.test_incidents_dashboard import seed_units
from tests.web.test_sensing_dashboard import SensingServer
from tests.web.test_warnings_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    api_client,
    live_server,
    open_signed_in,
    warnings_server,
)

browser_page = _browser_page_fixture
PLAN = "gas_leak.standard"
SCENARIO = "gas-leak-huangpu"


def unit_source_position(page: Any, unit_id: int) -> list[float] | None:
    position: list[float] | None = page.evaluate(
        """(id) => { const s = window.citybrain.map.getSource('units'); const d = s && s.serialize().data;
            const f = d && d.features.find((x) => x.properties.id === id);
            return f ? f.geometry.coordinates : null; }""",
        unit_id)
    return position


@pytest.mark.browser
def test_plan_editor_drill_launcher_and_live_units(
    browser_page: BrowserPage, warnings_server: SensingServer,  # noqa: F811 - the fixture imported above
) -> None:
    server, bp = warnings_server, browser_page
    seed_units(server)
    page = open_signed_in(bp, "admin", ADMIN_PASSWORD)

    # ---- the plan editor: list, load, a refusal with its field and position, save as a new version ----
    page.click("#panel-incidents [data-action=plans]")
    row = page.locator(f"#plans-dialog .plan-row[data-key='{PLAN}']")
    row.wait_for()
    assert row.get_attribute("data-version") == "1" and row.get_attribute("data-type") == "gas_leak"
    assert "燃气泄漏事故应急预案" in row.inner_text()
    row.locator(".plan-open").click()
    page.wait_for_function("() => document.querySelector('#plans-yaml').value.includes('key: gas_leak.standard')")
    original = page.input_value("#plans-yaml")
    assert original == pl.dump_plan(pl.starter_plans()["gas_leak"])

    broken = original.replace("department: police", "department: nowhere", 1)
    page.fill("#plans-yaml", broken)
    page.click("#plans-dialog [data-action=validate]")
    problem = page.locator("#plans-dialog .plan-problems li[data-field='body.yaml.steps[1].department']")
    problem.wait_for()
    assert "steps[1].department" in problem.inner_text() and "nowhere" in problem.inner_text()
    line, column = int(problem.get_attribute("data-line") or 0), int(problem.get_attribute("data-column") or 0)
    assert broken.splitlines()[line - 1][column - 1:].startswith("nowhere"), (line, column)
    problem.click()  # puts the cursor on the refused value
    cursor = page.evaluate("() => document.querySelector('#plans-yaml').selectionStart")
    assert broken[cursor:].startswith("nowhere")

    fixed = original.replace("within: 15m", "within: 10m", 1)
    page.fill("#plans-yaml", fixed)
    page.click("#plans-dialog [data-action=save]")
    page.wait_for_selector(f"#plans-dialog .plan-row[data-key='{PLAN}'][data-version='2']")
    assert "第 2 版" in page.inner_text("#plans-dialog .form-ok")
    assert "version: 2" in page.input_value("#plans-yaml")  # the editor numbered the new version
    with closing(api_client(server)) as c:
        plans = {p["key"]: p for p in c.get("/api/v1/plans").json()}
        assert plans[PLAN]["version"] == 2
        assert "within: 10m" in c.get(f"/api/v1/plans/{PLAN}").text
    page.keyboard.press("Escape")
    page.wait_for_selector("#plans-dialog", state="hidden")

    # ---- the drill launcher: the shipped scenario, started; its incident page in exercise mode ----
    page.click("#panel-incidents [data-action=drills]")
    item = page.locator(f"#drills-dialog .drill-item[data-key='{SCENARIO}']")
    item.wait_for()
    text = item.inner_text()
    assert "黄浦区燃气泄漏应急演练" in text and "gas_leak" in text and "II 橙色" in text, text
    assert "4 条注入" in text and "历时 8 分钟" in text, text
    assert not page.evaluate("() => document.body.classList.contains('exercise')")
    item.locator("[data-action=start-drill]").click()
    dialog = page.locator("#incident-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_selector("#incident-dialog .warning-head .state-exercise")
    assert page.evaluate("() => document.body.classList.contains('exercise')")
    assert page.is_visible("#mode-badge")
    with closing(api_client(server)) as c:
        drills = c.get("/api/v1/incidents?open=true&exercise=true").json()["items"]
    assert len(drills) == 1 and drills[0]["source"] == "drill" and drills[0]["exercise"] is True
    inc = drills[0]
    assert dialog.get_attribute("data-incident-id") == str(inc["id"])
    page.wait_for_selector(f"#panel-incidents .inc-item[data-id='{inc['id']}'][data-exercise=true]")

    # ---- live units: dispatch from the page; the fleet is then polled fast and the page shows live state ----
    assert page.evaluate("() => window.citybrain.incidents.unitPollMs") == 15000
    rec = page.locator("#incident-dialog .incident-rec").first
    rec.wait_for()
    unit_id = int(rec.get_attribute("data-unit-id") or 0)
    rec.locator("[data-action=dispatch]").click()
    row_live = f"#incident-dialog .incident-units li[data-unit-id='{unit_id}'] .unit-live"
    live = page.locator(f"{row_live}[data-status=dispatched]")
    live.wait_for()
    assert "最近上报" in live.inner_text() and "状态始于" in live.inner_text()
    page.wait_for_function("() => window.citybrain.incidents.unitPollMs === 3000")

    with closing(api_client(server)) as c:
        unit = next(u for u in c.get("/api/v1/units").json() if u["id"] == unit_id)
        moved = [round(unit["lon"] + 0.002, 6), round(unit["lat"] + 0.001, 6)]
        r = c.patch(f"/api/v1/units/{unit_id}", json={"lon": moved[0], "lat": moved[1]})
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/units/{unit_id}/status", json={"status": "en_route"})
        assert r.status_code == 200, r.text
    # Within one fast poll (3 s) and its glide (1 s), without waiting for the 15 s poll.
    page.wait_for_selector(f"{row_live}[data-status=en_route]", timeout=8000)
    page.wait_for_function("""([id, p]) => { const d = window.citybrain.map.getSource('units').serialize().data;
        const f = d.features.find((x) => x.properties.id === id); const c = f && f.geometry.coordinates;
        return Boolean(c) && Math.abs(c[0] - p[0]) < 1e-9 && Math.abs(c[1] - p[1]) < 1e-9; }""",
                           arg=[unit_id, moved], timeout=8000)
    assert unit_source_position(page, unit_id) == pytest.approx(moved)
    bp.assert_clean()
