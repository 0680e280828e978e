"""The warnings side of the dashboard, in Chromium: the live list card, the map markers, the warning page
(chart, history, acknowledge) and the rule editor.

The warning engine host does not run in the live server, so warnings are made the way the host makes
them (``service.apply_signals``) and a live change is published on the app's bus as the host would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citybrain.api import create_app
from citybrain.core.bus import InMemoryBus
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.geo.loaders import load_shanghai
from citybrain.sensing import service as sensing_service
from citybrain.simulator.engine import Simulator
from citybrain.warning import service as warning_service
from citybrain.warning.flows import CHANGED_SUBJECT
from citybrain.warning.rules import service as rules_service
from citybrain.warning.types import Level, Signal
from tests.conftest import ADMIN_PASSWORD, serving
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    REPO,
    BrowserPage,
    chromium,
    login,
    wait_map_idle,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture
from tests.web.test_sensing_dashboard import (
    SensingServer,
    click_at,
    ingest,
    reading,
    wait_for,
)

# The docs' picture is refreshed only on request, as for docs/img/dashboard.png.
SCREENSHOT = (REPO / "docs" / "img" / "warnings.png" if os.environ.get("CITYBRAIN_UPDATE_SCREENSHOT") == "1"
              else REPO / "test-results" / "warnings.png")
VIEWPORT = {"width": 1400, "height": 900}


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def warnings_server(settings: Settings, database: Database) -> Iterator[SensingServer]:
    """A simulated fleet, the demo rules, and the real app under uvicorn (without the engine host)."""

    sim = Simulator(load_shanghai(), seed=0, devices=12, faults=None, start=datetime.now(UTC))
    assets, devices = sim.asset_catalogue(), sim.device_catalogue()
    with database.session() as s:
        now = datetime.now(UTC)
        sensing_service.register_catalogue(session=s, now=now - timedelta(days=1), assets=assets, devices=devices)
        rules_service.seed_demo(session=s, now=now)
        s.commit()

    bus = InMemoryBus()
    app = create_app(settings, database=database, clock=SystemClock(), bus=bus)
    with serving(app) as url:
        yield SensingServer(url, app, database, bus, devices, assets)


@pytest.fixture
def live_server(warnings_server: SensingServer) -> SensingServer:
    return warnings_server


browser_page = _browser_page_fixture


# ---- helpers ---------------------------------------------------------------------------------


def device(server: SensingServer, key: str) -> dict[str, Any]:
    return next(d for d in server.devices if d["device_id"] == key)


QUANTITY_TEXT = {"methane": ("可燃气体浓度", "methane"), "water_level": ("积水深度", "water level"),
                 "pressure": ("供水压力", "pressure")}
LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def signal(server: SensingServer, d: dict[str, Any], rule: str, level: Level | None, at: datetime, value: float,
           dept: str = "emergency") -> Signal:
    """A device-scoped signal as the rule engine makes one, with its summary in both languages."""
    labels = {"rule": rule, "scope": "device", "department": dept, "device": d["device_id"], "asset": d["asset_id"],
              "district": "310101", "quantity": d["quantity"]}
    asset = next(a for a in server.assets if a["asset_id"] == d["asset_id"])
    zh, en = QUANTITY_TEXT[d["quantity"]]
    colour = level.colour if level else "clear"
    return Signal(rule, labels, level, at, value, d["lon"], d["lat"],
                  {"summary_zh": f"{asset['name_zh']} {zh} {value:g}{d['unit']}（{LEVEL_ZH.get(colour, '解除')}）",
                   "summary_en": f"{asset['name_en']}: {en} {value:g} {d['unit']} ({colour})"},
                  {"values": [value]})


def raise_warnings(server: SensingServer, signals: list[Signal]) -> list[dict[str, Any]]:
    """Store signals as the engine host does; returns the changed warnings as the stream sends them."""
    with server.database.session() as s:
        applied = warning_service.apply_signals(session=s, signals=signals, now=datetime.now(UTC))
        codes = warning_service.department_codes(session=s)
        changed = [warning_service.as_dict(w, departments=codes) for w in applied.warnings]
        s.commit()
    return [{k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v) for k, v in d.items()}
            for d in changed]


def stream_subscribers(server: SensingServer) -> list[Any]:
    return [s for s in server.bus._subs if s.pattern == CHANGED_SUBJECT]


def publish(server: SensingServer, changed: list[dict[str, Any]]) -> None:
    """Publish on the server's bus from this thread, in the server's loop."""
    subs = stream_subscribers(server)
    assert subs, "no dashboard is listening"
    asyncio.run_coroutine_threadsafe(server.bus.publish(CHANGED_SUBJECT, changed), subs[0].task.get_loop()).result(5)


def methane_history(server: SensingServer, d: dict[str, Any], rise_at: datetime) -> None:
    """Two hours of methane: 4 %LEL, rising from ``rise_at`` to 80."""
    now = datetime.now(UTC)
    items = []
    for k in range(120, 0, -1):
        t = now - timedelta(minutes=k)
        v = 4.0 + (k % 3) * 0.3
        if t >= rise_at:
            v = min(80.0, 4 + (t - rise_at).total_seconds() / 60 * 4)
        items.append(reading(d, t, v))
    ingest(server, items)


def api_client(server: SensingServer) -> Any:
    return server.client("admin", ADMIN_PASSWORD)


def open_signed_in(bp: BrowserPage, username: str, password: str) -> Any:
    page = bp.page
    page.set_viewport_size(VIEWPORT)
    response = page.goto(bp.base_url + "/")
    assert response is not None and response.ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    login(bp, username, password)
    page.wait_for_selector("#user-box:not([hidden])")
    page.wait_for_selector("#layer-status-warnings[data-status=ready]")
    return page


def rendered_markers(bp: BrowserPage) -> list[dict[str, Any]]:
    markers: list[dict[str, Any]] = bp.page.evaluate(
        """() => window.citybrain.map.queryRenderedFeatures({ layers: ['warnings-point'] }).map((f) => ({
            id: f.properties.id, level: f.properties.level, coordinates: f.geometry.coordinates }))"""
    )
    return markers


# ---- in the browser --------------------------------------------------------------------------


@pytest.mark.browser
def test_warning_list_map_page_acknowledge_and_rules(browser_page: BrowserPage, warnings_server: SensingServer) -> None:
    server, bp = warnings_server, browser_page
    gas, gas2, drain, water = (device(server, k) for k in ("SIM-GAS-000001", "SIM-GAS-000002", "SIM-DRN-000001",
                                                           "SIM-WPR-000001"))
    now = datetime.now(UTC)
    trigger = now - timedelta(minutes=25)
    methane_history(server, gas, rise_at=now - timedelta(minutes=40))
    red, orange, yellow = raise_warnings(server, [
        signal(server, gas, "gas-methane-high", Level.RED, trigger, 80.0),
        signal(server, gas2, "gas-methane-high", Level.ORANGE, now - timedelta(minutes=12), 55.0),
        signal(server, drain, "drain-waterlogging", Level.YELLOW, now - timedelta(minutes=5), 0.35),
    ])

    page = open_signed_in(bp, "admin", ADMIN_PASSWORD)

    # The list: most severe first, each with its level spelled out, in Chinese by default.
    items = page.locator("#panel-warnings .warn-item")
    page.wait_for_function("() => document.querySelectorAll('#panel-warnings .warn-item').length === 3")
    assert page.inner_text("#panel-warnings .card-title") == "预警"
    assert [items.nth(i).get_attribute("data-level") for i in range(3)] == ["red", "orange", "yellow"]
    first = items.first.inner_text()
    assert "I 红色" in first and gas["asset_id"] in first, first
    assert page.inner_text("#panel-warnings .warn-count[data-level=red] .warn-n") == "1"
    assert page.inner_text("#panel-warnings .warn-count[data-level=all] .warn-n") == "3"

    # Filter by level: only the orange one.
    page.click("#panel-warnings .warn-count[data-level=orange]")
    assert items.count() == 1 and items.first.get_attribute("data-level") == "orange"
    page.click("#panel-warnings .warn-count[data-level=all]")
    assert items.count() == 3

    # A new warning arrives over the stream: the list and the counts follow without a reload.
    assert wait_for(lambda: len(stream_subscribers(server)) == 1), "the dashboard did not open the warning stream"
    page.wait_for_selector("#panel-warnings .warn-live[data-stream=open]")
    blue = raise_warnings(server, [signal(server, water, "water-pressure-low", Level.BLUE,
                                          now - timedelta(minutes=2), 0.18)])
    publish(server, blue)
    page.wait_for_function("() => document.querySelectorAll('#panel-warnings .warn-item').length === 4")
    page.wait_for_function(
        "() => document.querySelector('#panel-warnings .warn-count[data-level=blue] .warn-n').textContent === '1'")
    assert items.nth(3).get_attribute("data-level") == "blue"

    # The map: a marker per warning, coloured by level, above the devices.
    assert page.locator("[data-layer=warnings] .layer-legend li").count() == 4
    spots = [[d["lon"], d["lat"]] for d in (gas, gas2, drain, water)]
    page.evaluate("""(pts) => {
        const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
        window.citybrain.map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]],
            { padding: { top: 90, bottom: 90, left: 330, right: 420 }, duration: 0, maxZoom: 15 });
    }""", spots)
    wait_map_idle(bp)
    markers = {m["id"]: m for m in rendered_markers(bp)}
    assert red["id"] in markers and markers[red["id"]]["level"] == "red", markers
    assert {red["id"], orange["id"], yellow["id"], blue[0]["id"]} <= set(markers)
    order = page.evaluate("() => window.citybrain.map.getStyle().layers.map((l) => l.id)")
    assert order.index("warnings-point") > order.index("devices-point")

    page.mouse.move(700, 20)
    wait_map_idle(bp)
    page.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # Click the red marker: the warning page, with the chart around the trigger and the history.
    click_at(bp, markers[red["id"]]["coordinates"])
    dialog = page.locator("#warning-dialog")
    dialog.wait_for(state="visible")
    assert dialog.get_attribute("data-warning-id") == str(red["id"])
    page.wait_for_selector("#warning-dialog .warning-history li[data-kind=fired]")
    assert "发布预警" in page.inner_text("#warning-dialog .warning-history")
    assert "I 级 · 红色预警" in page.inner_text("#warning-dialog .warning-head")
    page.wait_for_function(
        """() => { const el = document.querySelector('#warning-dialog .warning-chart');
            const c = el && window.echarts && window.echarts.getInstanceByDom(el);
            const mean = c && c.getOption().series.find((s) => s.id === 'mean');
            return mean && mean.data.length > 20 && mean.markLine.data.length >= 2; }""")
    assert page.get_attribute("#warning-dialog .warning-chart", "data-thresholds") == "75,50,25,10"
    cap = page.get_attribute("#warning-dialog a[download]", "href")
    assert cap == f"/api/v1/warnings/{red['id']}/cap"
    page.screenshot(path=str(REPO / "test-results" / "warning-page.png"))

    # Acknowledge through the page: the API agrees, the history and the list show it.
    page.fill("#warning-comment", "已派抢修队前往")
    page.fill("#warning-assignee", "wang")
    page.click("#warning-dialog [data-action=acknowledge]")
    page.wait_for_selector("#warning-dialog .warning-history li[data-kind=acknowledged]")
    assert "已派抢修队前往" in page.inner_text("#warning-dialog .warning-history")
    with closing(api_client(server)) as c:
        body = c.get(f"/api/v1/warnings/{red['id']}").json()
    assert (body["state"], body["assignee"], body["acknowledged_by"]) == ("acknowledged", "wang", "admin")
    page.wait_for_selector(f"#panel-warnings .warn-item[data-id='{red['id']}'][data-state=acknowledged]")
    assert "已确认" in page.inner_text(f"#panel-warnings .warn-item[data-id='{red['id']}']")

    # An action the API refuses shows the problem in the dialog (a comment needs text).
    page.fill("#warning-comment", "")
    page.click("#warning-dialog [data-action=comments]")
    page.wait_for_selector("#warning-dialog .form-error:not([hidden])")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # The rule editor: the rules, the YAML, and a refusal with its line and column.
    page.click("#panel-warnings .warn-rules")
    rules = page.locator("#rules-dialog")
    rules.wait_for(state="visible")
    page.wait_for_selector("#rules-dialog tr[data-key='gas-methane-high']")
    page.wait_for_function("() => document.querySelector('#rules-yaml').value.includes('gas-methane-high')")
    page.click("#rules-dialog [data-action=validate]")
    page.wait_for_selector("#rules-dialog .form-ok:not([hidden])")
    assert "校验通过" in page.inner_text("#rules-dialog .form-ok")
    broken = ("rules:\n  - key: broken\n    name: {zh: 坏规则, en: broken}\n    quantity: methane\n"
              "    when: {kind: threshold, levels: {red: 1, blue: 5}}\n")
    page.fill("#rules-yaml", broken)
    page.click("#rules-dialog [data-action=validate]")
    problem = page.locator("#rules-dialog .rule-problems li").first
    problem.wait_for()
    assert "line 5" in problem.inner_text() and problem.get_attribute("data-line") == "5"
    page.fill("#rules-yaml", "rules:\n  - key: x\n    name: {zh: a, en: b\n")
    page.click("#rules-dialog [data-action=validate]")
    page.wait_for_function(
        "() => /line \\d+/.test(document.querySelector('#rules-dialog .rule-problems').textContent)"
        " && document.querySelector('#rules-dialog .rule-problems').textContent.includes('YAML')")
    # Disable a rule with its switch.
    page.click("#rules-dialog tr[data-key='crowd-dense'] input[type=checkbox]")
    page.wait_for_selector("#rules-dialog tr[data-key='crowd-dense'] input:not(:checked):not([disabled])")
    with closing(api_client(server)) as c:
        assert c.get("/api/v1/warning-rules/crowd-dense").json()["enabled"] is False
    page.click("#rules-dialog [data-action=close]")

    # Language switch, then sign-out closes the stream.
    page.click("button[data-lang=en]")
    assert page.inner_text("#panel-warnings .card-title") == "Warnings"
    assert "I Red" in items.first.inner_text()
    page.click("button[data-lang='zh-CN']")
    page.click("#logout-btn")
    page.wait_for_selector("#login-btn:not([hidden])")
    assert wait_for(lambda: not stream_subscribers(server)), "sign-out left the warning stream open"
    bp.assert_clean()


@pytest.mark.browser
def test_a_viewer_sees_warnings_but_no_actions(browser_page: BrowserPage, warnings_server: SensingServer) -> None:
    server, bp = warnings_server, browser_page
    gas = device(server, "SIM-GAS-000003")
    (w,) = raise_warnings(server, [signal(server, gas, "gas-methane-high", Level.ORANGE, datetime.now(UTC), 52.0)])
    page = open_signed_in(bp, *server.add_user(roles=("viewer",), department="emergency", display_name="观察员"))
    page.wait_for_selector(f"#panel-warnings .warn-item[data-id='{w['id']}']")
    assert page.locator("#panel-warnings .warn-rules").is_hidden()
    page.click(f"#panel-warnings .warn-item[data-id='{w['id']}']")
    page.wait_for_selector("#warning-dialog .warning-history li")
    assert page.locator("#warning-dialog [data-action=acknowledge]").count() == 0
    assert "只能查看" in page.inner_text("#warning-dialog .warning-actions")
    assert page.locator("#warning-dialog a[download]").count() == 1
    bp.assert_clean()
