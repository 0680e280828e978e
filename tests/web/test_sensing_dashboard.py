"""The sensing side of the dashboard: the live readings stream (SSE) and, in Chromium, the device layer,
the device card with its chart, the coverage layer and the sensing-gaps card.

A small simulated fleet (the simulator's own catalogues) is registered and fed through the real
``POST /api/v1/readings``; everything the page shows comes from the real API.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from citybrain.api import create_app
from citybrain.core.bus import InMemoryBus
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.geo.loaders import load_shanghai
from citybrain.sensing import service as sensing_service
from citybrain.sensing import stream_views
from citybrain.sensing.pipeline import ACCEPTED_SUBJECT
from citybrain.simulator.engine import Simulator
from tests.conftest import ADMIN_PASSWORD, api_client, new_user, serving
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    REPO,
    BrowserPage,
    chromium,
    login,
    wait_map_idle,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture

SCREENSHOT = REPO / "test-results" / "sensing.png"
FLEET_SIZE = 12
OFFLINE = 2  # the last devices of the catalogue never report: the map shows them offline


# ---- fixtures --------------------------------------------------------------------------------


@dataclass
class SensingServer:
    """The real app under uvicorn with a registered fleet; ``bus`` is the app's bus, for inspection."""

    url: str
    app: Any
    database: Database
    bus: InMemoryBus
    devices: list[dict[str, Any]]
    assets: list[dict[str, Any]]

    def add_user(self, *, roles: tuple[str, ...] = ("duty_officer",), department: str | None = "ops",
                 display_name: str = "值班员 张伟") -> tuple[str, str]:
        return new_user(self.database, roles=roles, department=department, display_name=display_name)

    def client(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
        return api_client(self.url, username, password)

    def subscribers(self) -> int:
        return sum(1 for s in self.bus._subs if s.pattern == ACCEPTED_SUBJECT)


@pytest.fixture
def sensing_server(settings: Settings, database: Database) -> Iterator[SensingServer]:

    sim = Simulator(load_shanghai(), seed=0, devices=FLEET_SIZE, faults=None, start=datetime.now(UTC))
    assets, devices = sim.asset_catalogue(), sim.device_catalogue()
    with database.session() as s:
        # Installed a day ago: a device that has not reported since is offline.
        sensing_service.register_catalogue(session=s, now=datetime.now(UTC) - timedelta(days=1), assets=assets,
                                           devices=devices)

    bus = InMemoryBus()
    app = create_app(settings, database=database, clock=SystemClock(), bus=bus)
    with serving(app) as url:
        yield SensingServer(url, app, database, bus, devices, assets)


@pytest.fixture
def live_server(sensing_server: SensingServer) -> SensingServer:
    """``browser_page`` (from test_dashboard) opens the page on this server."""
    return sensing_server


browser_page = _browser_page_fixture


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reading(device: dict[str, Any], t: datetime, value: float | None = None) -> dict[str, Any]:
    lo, hi = device["valid_min"], device["valid_max"]
    v = value if value is not None else lo + (hi - lo) * 0.3
    return {"device_id": device["device_id"], "ts": iso(t), "msg_id": f"{device['device_id']}-{t.timestamp():.3f}",
            "values": {device["quantity"]: v}}


def ingest(server: SensingServer, items: list[dict[str, Any]]) -> dict[str, Any]:
    with closing(server.client()) as c:
        r = c.post("/api/v1/readings", json=items)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert not body["rejected"], body["rejected"]
    return body


def history(server: SensingServer, *, hours: float = 6, every_min: int = 1) -> None:
    """Readings over the last ``hours`` for every device but the last OFFLINE ones."""
    now = datetime.now(UTC)
    items = []
    for n, d in enumerate(server.devices[:-OFFLINE]):
        steps = int(hours * 60 / every_min)
        for k in range(steps, 0, -1):
            lo, hi = d["valid_min"], d["valid_max"]
            wave = 0.3 + 0.1 * ((k + n) % 7) / 7 + 0.05 * (k % 2)
            items.append(reading(d, now - timedelta(minutes=k * every_min) + timedelta(seconds=n),
                                 lo + (hi - lo) * wave))
    ingest(server, items)


class SSE:
    """Read events from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next(self) -> tuple[str | None, Any, list[str]]:
        event, data, comments = None, None, []
        for line in self.lines:
            if line == "":
                if event or data is not None:
                    return event, data, comments
                continue
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
        raise EOFError("stream ended")


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# ---- the SSE stream ----------------------------------------------------------------------------


def test_stream_sends_the_readings_of_the_devices_asked_for(sensing_server: SensingServer) -> None:
    dev, other = sensing_server.devices[0], sensing_server.devices[1]
    before = sensing_server.subscribers()
    with closing(sensing_server.client(*sensing_server.add_user())) as viewer, \
            viewer.stream("GET", "/api/v1/stream/readings", params={"device": dev["device_id"]}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = SSE(response)
        event, data, _ = events.next()
        assert event == "ready" and list(data["devices"]) == [dev["device_id"]]
        assert wait_for(lambda: sensing_server.subscribers() == before + 1)

        now = datetime.now(UTC)
        ingest(sensing_server, [reading(other, now), reading(dev, now, dev["valid_min"] + 1)])
        event, data, _ = events.next()
        assert event == "reading"
        assert data["device_id"] == dev["device_id"]  # the other device's reading was not sent
        assert data["values"] == {dev["quantity"]: dev["valid_min"] + 1}
        assert data["ts"] == iso(now) and data["type"] == dev["kind"] and isinstance(data["device_pk"], int)
    # The client hung up: its subscription goes too.
    assert wait_for(lambda: sensing_server.subscribers() == before), "subscription left behind"


def test_stream_refuses_devices_the_caller_cannot_see(sensing_server: SensingServer) -> None:
    gas = next(d for d in sensing_server.devices if d["kind"] == "gas_methane")
    with closing(sensing_server.client(*sensing_server.add_user(roles=("dispatcher",), department="police"))) as police:
        r = police.get("/api/v1/stream/readings", params={"device": gas["device_id"]})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert police.get("/api/v1/stream/readings", params={"device": "NO-SUCH"}).status_code == 404
        assert police.get("/api/v1/stream/readings").status_code == 422
    with httpx.Client(base_url=sensing_server.url) as anonymous:
        assert anonymous.get("/api/v1/stream/readings", params={"device": gas["device_id"]}).status_code == 401


def test_slow_client_loses_the_oldest_readings_and_is_told() -> None:
    async def run() -> list[str]:
        stream = stream_views.ReadingStream(["A"], buffer=3)
        batch = [{"device_id": "A", "ts": f"t{n}", "values": {"q": n}} for n in range(5)]
        await stream.offer(ACCEPTED_SUBJECT, batch + [{"device_id": "B", "ts": "x", "values": {}}])
        out = []
        events = stream.events(heartbeat_s=0.05)
        for _ in range(5):  # dropped notice, three readings, then a heartbeat when idle
            out.append(await anext(events))
        await events.aclose()
        return out

    out = asyncio.run(run())
    assert out[0].startswith("event: dropped\n") and '"dropped":2' in out[0]
    assert [json.loads(e.split("data: ", 1)[1])["ts"] for e in out[1:4]] == ["t2", "t3", "t4"]
    assert out[4] == ": heartbeat\n\n"


def test_heartbeat_keeps_an_idle_stream_open(sensing_server: SensingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_views, "HEARTBEAT_S", 0.2)
    dev = sensing_server.devices[0]
    with closing(sensing_server.client()) as c, c.stream("GET", "/api/v1/stream/readings",
                                                params={"device": [dev["device_id"], dev["device_id"]]}) as response:
        events = SSE(response)
        assert events.next()[0] == "ready"
        seen = []
        for line in events.lines:
            if line.startswith(":"):
                seen.append(line)
            if len(seen) == 2:
                break
        assert seen == [": heartbeat", ": heartbeat"]


# ---- in the browser --------------------------------------------------------------------------


def open_signed_in(bp: BrowserPage, server: SensingServer) -> Any:
    page = bp.page
    response = page.goto(bp.base_url + "/")
    assert response is not None and response.ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    login(bp, *server.add_user())
    page.wait_for_selector("#user-box:not([hidden])")
    page.wait_for_selector("#layer-status-devices[data-status=ready]")
    return page


def frame_fleet(bp: BrowserPage, server: SensingServer, zoom: float = 14.5) -> None:
    lons = [d["lon"] for d in server.devices]
    lats = [d["lat"] for d in server.devices]
    center = [(min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2]
    bp.page.evaluate("([c, z]) => window.citybrain.map.jumpTo({ center: c, zoom: z })", [center, zoom])
    wait_map_idle(bp)


def rendered_devices(bp: BrowserPage) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = bp.page.evaluate(
        """() => window.citybrain.map.queryRenderedFeatures({ layers: ['devices-point'] }).map((f) => ({
            key: f.properties.key, state: f.properties.state, color: f.layer.paint['circle-color'],
            coordinates: f.geometry.coordinates }))"""
    )
    return devices


def click_at(bp: BrowserPage, lnglat: list[float]) -> None:
    point = bp.page.evaluate("(ll) => { const p = window.citybrain.map.project(ll); return [p.x, p.y]; }", lnglat)
    box = bp.page.locator("#map").bounding_box()
    assert box is not None
    bp.page.mouse.click(box["x"] + point[0], box["y"] + point[1])


CHART_MEAN = """() => {
    const el = document.querySelector('#panel-device .device-chart');
    const chart = el && window.echarts && window.echarts.getInstanceByDom(el);
    if (!chart) return null;
    const mean = chart.getOption().series.find((s) => s.id === 'mean');
    return mean ? mean.data : null;
}"""


@pytest.mark.browser
def test_device_layer_card_and_live_chart(browser_page: BrowserPage, sensing_server: SensingServer) -> None:
    server, bp = sensing_server, browser_page
    history(server)
    page = open_signed_in(bp, server)
    frame_fleet(bp, server)

    # Every device is drawn, coloured by its health: the silent ones offline, the reporting ones ok.
    devices = rendered_devices(bp)
    assert len({d["key"] for d in devices}) == FLEET_SIZE, devices
    by_key = {d["key"]: d for d in devices}
    fresh = by_key[server.devices[0]["device_id"]]
    silent = by_key[server.devices[-1]["device_id"]]
    assert fresh["state"] == "ok" and silent["state"] == "offline", (fresh, silent)
    assert fresh["color"] != silent["color"]
    assert page.locator("[data-layer=devices] .layer-legend li").count() >= 5

    # Click a device: its card opens with its metadata and a chart of the last six hours.
    click_at(bp, fresh["coordinates"])
    card = page.locator("#panel-device")
    card.wait_for(state="visible")
    assert fresh["key"] in card.inner_text()
    assert "设备详情" in page.inner_text("#panel-device .card-title")
    page.wait_for_function(f"() => {{ const d = ({CHART_MEAN})(); return d && d.length > 10; }}")
    assert page.locator("#panel-device .quantity-tab").count() >= 1
    page.wait_for_selector("#panel-device .live-status[data-stream=open]")

    # A reading stored now reaches the open chart through the stream.
    dev = server.devices[0]
    value = round(dev["valid_min"] + (dev["valid_max"] - dev["valid_min"]) * 0.77, 3)
    ingest(server, [reading(dev, datetime.now(UTC), value)])
    page.wait_for_function(
        f"(v) => {{ const d = ({CHART_MEAN})(); return d && d.length && Math.abs(d[d.length - 1][1] - v) < 1e-9; }}",
        arg=value, timeout=5_000)

    # Labels follow the language, the chart included.
    page.click("button[data-lang=en]")
    assert page.inner_text("#panel-device .card-title") == "Device"
    assert page.inner_text("label[for=layer-toggle-devices]") == "Sensing devices"
    assert "OK" in page.inner_text("[data-layer=devices] .layer-legend")
    page.wait_for_function(f"() => {{ const d = ({CHART_MEAN})(); return d && d.length > 10; }}")
    page.click("button[data-lang='zh-CN']")
    assert page.inner_text("#panel-device .card-title") == "设备详情"
    page.wait_for_function(f"() => {{ const d = ({CHART_MEAN})(); return d && d.length > 10; }}")  # redrawn

    page.mouse.move(720, 20)
    wait_map_idle(bp)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # Closing the card ends its stream.
    page.click("#panel-device .card-close")
    card.wait_for(state="hidden")
    assert wait_for(lambda: server.subscribers() == 0), "the closed card left its stream open"
    bp.assert_clean()


@pytest.mark.browser
def test_coverage_layer_and_gaps(browser_page: BrowserPage, sensing_server: SensingServer) -> None:
    server, bp = sensing_server, browser_page
    history(server)
    with closing(server.client()) as admin:  # the silent devices' assets are high-risk: sensing gaps
        silent_assets = {d["asset_id"] for d in server.devices[-OFFLINE:]}
        for item in admin.get("/api/v1/assets", params={"limit": 200}).json()["items"]:
            if item["key"] in silent_assets:
                assert admin.patch(f"/api/v1/assets/{item['id']}", json={"risk_level": "red"}).status_code == 200
    page = open_signed_in(bp, server)

    assert page.locator("#layer-toggle-coverage").is_checked() is False
    page.check("#layer-toggle-coverage")
    page.wait_for_selector("#layer-status-coverage[data-status=ready]")
    frame_fleet(bp, server, zoom=13)
    cells = page.evaluate(
        """() => window.citybrain.map.queryRenderedFeatures({ layers: ['coverage-fill'] }).map((f) => ({
            share: f.properties.share, color: f.layer.paint['fill-color'] }))"""
    )
    assert cells, "no coverage cell rendered"
    assert any(c["share"] < 1 for c in cells), cells  # the silent devices leave their assets uncovered

    # The gaps card lists the high-risk assets of the silent devices; a click flies to one.
    gaps = page.locator("#panel-gaps .gap-item")
    gaps.first.wait_for()
    assert gaps.count() == len(silent_assets)
    page.evaluate("() => window.citybrain.map.jumpTo({ center: [121.0, 31.0], zoom: 10 })")
    gaps.first.click()
    page.wait_for_function("() => window.citybrain.map.getZoom() >= 14.9 && !window.citybrain.map.isMoving()")
    target = next(a for a in server.assets if a["asset_id"] == gaps.first.get_attribute("data-key"))
    center = page.evaluate("() => window.citybrain.map.getCenter().toArray()")
    assert abs(center[0] - target["lon"]) < 1e-3 and abs(center[1] - target["lat"]) < 1e-3

    # A coverage cell's popup gives its numbers.
    wait_map_idle(bp)
    cell = page.evaluate(
        """() => { const c = window.citybrain.map.getContainer();
            const centre = [c.clientWidth / 2, c.clientHeight / 2];
            return window.citybrain.map.queryRenderedFeatures(centre, { layers: ['coverage-fill'] }).length > 0; }"""
    )
    assert cell
    box = page.locator("#map").bounding_box()
    assert box is not None
    # Click a little off the asset so the device circles on it do not take the click.
    page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 30)
    popup = page.locator(".cb-popup-wrap .cb-popup")
    popup.wait_for()
    assert "覆盖率" in popup.inner_text() or "无监测对象" in popup.inner_text()
    bp.assert_clean()


@pytest.mark.browser
def test_sensing_layers_need_a_session(browser_page: BrowserPage, sensing_server: SensingServer) -> None:
    page = browser_page.page
    response = page.goto(browser_page.base_url + "/")
    assert response is not None and response.ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    wait_map_idle(browser_page)
    assert page.locator("[data-layer=devices]").count() == 0
    assert not any("/api/v1/devices/map" in u or "/coverage/" in u for u in browser_page.requests)
    browser_page.assert_clean()
