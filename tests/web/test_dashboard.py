"""The dashboard shell, checked in a real browser (Playwright driving the system Chromium, offline).

The browser tests need ``/usr/bin/chromium`` (Debian package ``chromium`` plus ``fonts-noto-cjk`` for
Chinese glyphs) and the ``playwright`` Python package; no browser is ever downloaded. The static checks
at the end need neither.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1440, "height": 900}
REPO = Path(__file__).resolve().parents[2]
# The README's picture is refreshed only on request (CITYBRAIN_UPDATE_SCREENSHOT=1); otherwise the
# screenshot goes to test-results/ so a test run never modifies a tracked file.
SCREENSHOT = (REPO / "docs" / "img" / "dashboard.png" if os.environ.get("CITYBRAIN_UPDATE_SCREENSHOT") == "1"
              else REPO / "test-results" / "dashboard.png")
WEB = Path(str(files("citybrain.web")))
STATIC = WEB / "static"
MESSAGE_FILES = ("messages.json", "messages-prevention.json", "messages-citizens.json", "messages-training.json")

# Style layers drawn by the base registry entries (static/js/layers.js).
BASE_STYLE_LAYERS = {
    "districts": "districts-fill",
    "roads": "roads-line",
    "metro_segments": "metro-segments-line",
    "metro_stations": "metro-stations-circle",
}

# ---- fixtures --------------------------------------------------------------------------------


@dataclass
class BrowserPage:
    """A Playwright page plus what it did: every request URL and every page error or CSP violation."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_offline(self) -> None:
        origin = _origin(self.base_url)
        foreign = [u for u in self.requests if not u.startswith(("blob:", "data:")) and _origin(u) != origin]
        assert not foreign, f"requests left {origin}: {foreign}"

    def assert_clean(self) -> None:
        self.assert_offline()
        violations = self.page.evaluate("() => window.__cspViolations || []")
        assert not violations, f"Content-Security-Policy violations: {violations}"
        assert not self.errors, f"page errors: {self.errors}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install the Debian packages 'chromium' and 'fonts-noto-cjk'")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' Python package is not installed (no browser download is needed)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any, live_server: Any) -> Iterator[BrowserPage]:
    """A fresh browser context (empty storage and cookies) at 1440×900, recording requests and errors."""
    context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(45_000)  # generous: CI runs two suites side by side on 2 cores
    bp = BrowserPage(page=page, base_url=live_server.url)
    page.on("request", lambda request: bp.requests.append(request.url))
    page.on("pageerror", lambda exc: bp.errors.append(f"pageerror: {exc}"))

    def on_console(msg: Any) -> None:
        if any(m in msg.text for m in ("Content Security Policy", "Content-Security-Policy", "Refused to")):
            bp.errors.append(f"csp: {msg.text}")

    page.on("console", on_console)
    # Count CSP violations from inside the page too (init scripts are injected by the driver, not blocked).
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        yield bp
    finally:
        context.close()


# ---- helpers ---------------------------------------------------------------------------------
# Page functions are passed as "() => ..." so Playwright does not need eval, which the CSP forbids.


def open_dashboard(bp: BrowserPage) -> Any:
    response = bp.page.goto(bp.base_url + "/")
    assert response is not None and response.ok
    bp.page.wait_for_function("() => document.body.dataset.ready === 'true'")
    wait_map_idle(bp)
    return response


def wait_map_idle(bp: BrowserPage) -> None:
    bp.page.wait_for_function(
        """() => new Promise((resolve) => {
            const map = window.citybrain && window.citybrain.map;
            if (!map) return resolve(false);
            if (map.loaded() && !map.isMoving()) return resolve(true);
            map.once('idle', () => resolve(true));
        })"""
    )


def rendered_counts(bp: BrowserPage) -> dict[str, int]:
    counts: dict[str, int] = bp.page.evaluate(
        """(layers) => {
            const map = window.citybrain.map;
            const out = {};
            for (const [name, id] of Object.entries(layers)) {
                out[name] = map.queryRenderedFeatures({ layers: [id] }).length;
            }
            return out;
        }""",
        BASE_STYLE_LAYERS,
    )
    return counts


def new_user(live_server: Any, display_name: str = "值班员 张伟") -> tuple[str, str]:
    username = f"duty-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    live_server.add_user(username, password, roles=("duty_officer",), department="ops", display_name=display_name)
    return username, password


def login(bp: BrowserPage, username: str, password: str) -> None:
    page = bp.page
    page.click("#login-btn")
    page.wait_for_selector("#login-dialog[open]")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


def click_lnglat(bp: BrowserPage, lnglat: list[float]) -> None:
    """Click the map at a WGS84 position."""
    point = bp.page.evaluate("(ll) => { const p = window.citybrain.map.project(ll); return [p.x, p.y]; }", lnglat)
    box = bp.page.locator("#map").bounding_box()
    assert box is not None
    bp.page.mouse.click(box["x"] + point[0], box["y"] + point[1])


# ---- browser tests ---------------------------------------------------------------------------


@pytest.mark.browser
def test_loads_in_chinese_with_a_map(browser_page: BrowserPage) -> None:
    response = open_dashboard(browser_page)
    page = browser_page.page

    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    assert "城市大脑" in page.inner_text(".brand-name")
    assert page.inner_text("#login-btn") == "登录"
    assert page.locator("canvas.maplibregl-canvas").is_visible()
    assert page.locator("#right-panel").is_hidden(), "cards are for signed-in users only"

    headers = response.headers
    assert headers["cache-control"] == "no-cache"
    csp = headers["content-security-policy"]
    for directive in ("default-src 'self'", "worker-src 'self' blob:", "connect-src 'self'"):
        assert directive in csp
    browser_page.assert_clean()


@pytest.mark.browser
def test_base_layers_render(browser_page: BrowserPage) -> None:
    open_dashboard(browser_page)
    counts = rendered_counts(browser_page)
    assert all(n > 0 for n in counts.values()), counts

    statuses = browser_page.page.eval_on_selector_all(".layer-status", "(els) => els.map((e) => e.dataset.status)")
    assert statuses and set(statuses) == {"ready"}

    # Unticking a layer hides it from the map.
    browser_page.page.uncheck("#layer-toggle-roads")
    wait_map_idle(browser_page)
    assert rendered_counts(browser_page)["roads"] == 0
    browser_page.assert_clean()


@pytest.mark.browser
def test_no_request_leaves_the_server(browser_page: BrowserPage, live_server: Any) -> None:
    open_dashboard(browser_page)
    page = browser_page.page
    # Zoom into the centre (roads at street level), open a popup and the sources dialog, sign in.
    page.evaluate("() => window.citybrain.map.jumpTo({ center: [121.4737, 31.2304], zoom: 15 })")
    wait_map_idle(browser_page)
    assert rendered_counts(browser_page)["roads"] > 0
    page.click("#sources-btn")
    page.wait_for_selector("#sources-dialog[open] .source-item")
    page.keyboard.press("Escape")
    login(browser_page, *new_user(live_server))
    page.wait_for_selector("#user-box:not([hidden])")
    wait_map_idle(browser_page)

    assert any(u.endswith("/api/v1/meta") for u in browser_page.requests)
    assert any("/api/v1/geo/layers/" in u for u in browser_page.requests)
    browser_page.assert_clean()


@pytest.mark.browser
def test_login_wrong_then_right_password(browser_page: BrowserPage, live_server: Any) -> None:
    username, password = new_user(live_server, display_name="值班员 张伟")
    open_dashboard(browser_page)
    page = browser_page.page

    login(browser_page, username, "not-the-password")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "用户名或密码错误" in error.inner_text()
    assert page.locator("#login-dialog").get_attribute("open") is not None

    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#user-box:not([hidden])")
    assert page.inner_text("#user-name") == "值班员 张伟"
    assert page.locator("#login-dialog").get_attribute("open") is None
    assert page.locator("#login-btn").is_hidden()
    assert page.locator("#panel-warnings").is_visible()
    assert page.locator("#panel-incidents").is_visible()
    assert "预警" in page.inner_text("#panel-warnings .card-title")

    # The session survives a reload (cookie + /auth/me).
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert page.inner_text("#user-name") == "值班员 张伟"
    browser_page.assert_clean()


@pytest.mark.browser
def test_login_dialog_is_accessible(browser_page: BrowserPage) -> None:
    open_dashboard(browser_page)
    page = browser_page.page
    page.click("#login-btn")
    page.wait_for_selector("#login-dialog[open]")
    assert page.evaluate("() => document.activeElement.id") == "login-username"
    assert page.locator("label[for=login-username]").inner_text() == "用户名"
    assert page.locator("label[for=login-password]").inner_text() == "密码"

    page.click("#login-submit")  # empty form
    assert page.locator("#login-error").inner_text() == "请输入用户名和密码。"

    page.keyboard.press("Escape")
    page.wait_for_selector("#login-dialog:not([open])", state="attached")
    assert page.evaluate("() => document.activeElement.id") == "login-btn"
    browser_page.assert_clean()


@pytest.mark.browser
def test_english_switch_persists_across_reload(browser_page: BrowserPage) -> None:
    open_dashboard(browser_page)
    page = browser_page.page

    page.click("button[data-lang=en]")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.inner_text(".brand-name") == "City Brain"
    assert page.inner_text("#login-btn") == "Sign in"
    assert page.inner_text("label[for=layer-toggle-districts]") == "Districts"
    assert page.locator("button[data-lang=en]").get_attribute("aria-pressed") == "true"

    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.inner_text("#login-btn") == "Sign in"
    assert page.title().startswith("City Brain")

    page.click("button[data-lang='zh-CN']")
    assert page.inner_text("#login-btn") == "登录"
    browser_page.assert_clean()


@pytest.mark.browser
def test_logout(browser_page: BrowserPage, live_server: Any) -> None:
    open_dashboard(browser_page)
    page = browser_page.page
    login(browser_page, *new_user(live_server))
    page.wait_for_selector("#user-box:not([hidden])")

    page.click("#logout-btn")
    page.wait_for_selector("#login-btn:not([hidden])")
    assert page.locator("#user-box").is_hidden()
    assert page.locator("#right-panel").is_hidden()

    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert page.locator("#login-btn").is_visible(), "the server session is gone too"
    browser_page.assert_clean()


@pytest.mark.browser
def test_station_and_district_popups(browser_page: BrowserPage) -> None:
    open_dashboard(browser_page)
    page = browser_page.page
    page.evaluate("() => window.citybrain.map.jumpTo({ center: [121.4737, 31.2304], zoom: 13 })")
    wait_map_idle(browser_page)

    station = page.evaluate(
        """() => {
            const map = window.citybrain.map;
            const c = map.getContainer();
            const box = [[c.clientWidth * 0.3, c.clientHeight * 0.2], [c.clientWidth * 0.7, c.clientHeight * 0.8]];
            const f = map.queryRenderedFeatures(box, { layers: ['metro-stations-circle'] })[0];
            return f && { coordinates: f.geometry.coordinates, props: f.properties };
        }"""
    )
    assert station, "no station in the middle of the view"
    click_lnglat(browser_page, station["coordinates"])
    popup = page.locator(".cb-popup-wrap .cb-popup")
    popup.wait_for()
    expected = station["props"].get("name_zh") or station["props"]["name_en"]
    assert expected in popup.inner_text()
    assert page.locator(".cb-popup-wrap .cb-line-chip").count() >= 1

    # A district: Chongming island has no stations or roads over it.
    page.keyboard.press("Escape")
    page.evaluate("() => window.citybrain.map.jumpTo({ center: [121.55, 31.62], zoom: 10 })")
    wait_map_idle(browser_page)
    click_lnglat(browser_page, [121.55, 31.62])
    page.wait_for_selector(".cb-popup-wrap .cb-popup-title")
    assert "崇明" in page.inner_text(".cb-popup-wrap .cb-popup-title")
    page.click("button[data-lang=en]")
    assert "Chongming" in page.inner_text(".cb-popup-wrap .cb-popup-title")
    browser_page.assert_clean()


@pytest.mark.browser
def test_exercise_watermark(browser_page: BrowserPage) -> None:
    open_dashboard(browser_page)
    page = browser_page.page
    assert page.locator(".watermark").is_hidden()
    page.evaluate("() => window.citybrain.setExerciseMode(true)")
    assert page.evaluate("() => document.body.classList.contains('exercise')")
    assert page.locator(".watermark").is_visible()
    assert page.inner_text(".watermark") == "演练 EXERCISE"
    assert page.locator("#mode-badge").is_visible()


@pytest.mark.browser
def test_screenshot_signed_in(browser_page: BrowserPage, live_server: Any) -> None:
    """docs/img/dashboard.png for the README: 1440×900, signed in, zh-CN."""
    open_dashboard(browser_page)
    page = browser_page.page
    login(browser_page, *new_user(live_server, display_name="值班员 张伟"))
    page.wait_for_selector("#user-box:not([hidden])")
    # Frame the central city, where the metro network is dense, and open a station popup.
    page.evaluate("() => window.citybrain.map.jumpTo({ center: [121.50, 31.215], zoom: 10.9 })")
    wait_map_idle(browser_page)
    people_square = page.evaluate(
        """() => {
            const f = window.citybrain.map.querySourceFeatures('metro_stations')
                .find((s) => /People's Square/.test(s.properties.name_en || ''));
            return f ? f.geometry.coordinates : [121.4737, 31.2304];
        }"""
    )
    click_lnglat(browser_page, people_square)
    page.mouse.move(720, 20)  # off the map: no hover highlight, no cursor read-out
    wait_map_idle(browser_page)
    page.wait_for_timeout(300)  # let the health check and clock settle
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000
    browser_page.assert_clean()


# ---- static checks (no browser) --------------------------------------------------------------


def _messages() -> dict[str, dict[str, str]]:
    """Every file the dashboard loads (i18n.js MESSAGE_FILES), merged; a key defined twice is an error."""
    js = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    assert all(f"'{name}'" in js for name in MESSAGE_FILES), "i18n.js and this test disagree on the files"
    data: dict[str, dict[str, str]] = {}
    for name in MESSAGE_FILES:
        part = json.loads((STATIC / "i18n" / name).read_text(encoding="utf-8"))
        assert set(part) == {"zh-CN", "en"}, name
        for lang, entries in part.items():
            twice = set(entries) & set(data.get(lang, {}))
            assert not twice, f"{name} redefines {sorted(twice)}"
            data.setdefault(lang, {}).update(entries)
    return data


def test_every_i18n_key_exists_in_both_languages() -> None:
    messages = _messages()
    assert set(messages) == {"zh-CN", "en"}
    zh, en = messages["zh-CN"], messages["en"]
    assert set(zh) == set(en), f"only zh-CN: {set(zh) - set(en)}; only en: {set(en) - set(zh)}"
    for key in zh:
        assert isinstance(zh[key], str) and zh[key].strip(), f"zh-CN {key} empty"
        assert isinstance(en[key], str) and en[key].strip(), f"en {key} empty"
        placeholders = re.compile(r"\{(\w+)\}")
        assert set(placeholders.findall(zh[key])) == set(placeholders.findall(en[key])), key


def test_every_used_i18n_key_is_defined() -> None:
    keys = set(_messages()["zh-CN"])
    namespaces = {k.split(".")[0] for k in keys}
    used: set[str] = set()

    html = (WEB / "templates" / "index.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n="([^"]+)"', html))
    for attrs in re.findall(r'data-i18n-attr="([^"]+)"', html):
        used |= {pair.split(":")[1].strip() for pair in attrs.split(";") if ":" in pair}

    # Any quoted dotted string in our JS whose first segment is an i18n namespace is a key.
    for js in (STATIC / "js").glob("*.js"):
        lines = js.read_text(encoding="utf-8").splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
        for literal in re.findall(r"'([a-zA-Z][\w-]*(?:\.[\w-]+)+)'", code):
            if literal.split(".")[0] in namespaces:
                used.add(literal)
    # Keys built at run time.
    used |= {f"health.{s}" for s in ("unknown", "ok", "degraded", "down")}
    used |= {f"layer.status.{s}" for s in ("off", "loading", "ready", "error")}
    used |= {f"source.{s}.{p}" for s in ("osm", "districts", "metro", "software") for p in ("title", "body", "licence")}

    missing = sorted(used - keys)
    assert not missing, f"keys used but not defined: {missing}"


def test_markup_has_no_hard_coded_text() -> None:
    """Visible text comes from the dictionary: strip tags and attributes and nothing but whitespace is left."""
    html = (WEB / "templates" / "index.html").read_text(encoding="utf-8")
    body = html.split("<body>", 1)[1]
    text = re.sub(r"<[^>]+>", "", body)
    assert text.strip() == "", f"hard-coded text in index.html: {text.strip()[:200]!r}"


def test_no_remote_urls_in_the_page_or_style() -> None:
    html = (WEB / "templates" / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "css" / "app.css").read_text(encoding="utf-8")
    map_js = (STATIC / "js" / "map.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"https?://|@import|url\(", css)
    assert not re.search(r"https?://|\bglyphs\s*:|\bsprite\s*:", map_js), "the map style must stay local and glyph-free"


def test_vendored_assets_are_complete() -> None:
    vendor = STATIC / "vendor"
    for path in (
        "maplibre-gl/maplibre-gl.js",
        "maplibre-gl/maplibre-gl.css",
        "maplibre-gl/LICENSE.txt",
        "maplibre-gl/VERSION",
        "echarts/echarts.min.js",
        "echarts/LICENSE",
        "echarts/NOTICE",
        "echarts/VERSION",
        "README.md",
    ):
        assert (vendor / path).is_file(), path
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    for name in ("maplibre-gl", "echarts"):
        version = (vendor / name / "VERSION").read_text(encoding="utf-8").strip()
        assert version in readme, f"{name} {version} not listed in vendor/README.md"


def test_index_and_static_headers() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from citybrain.web.views import mount_static, router

    app = FastAPI()
    app.include_router(router)
    mount_static(app)
    client = TestClient(app)

    index = client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    assert "worker-src 'self' blob:" in index.headers["content-security-policy"]

    own = client.get("/static/js/app.js")
    assert own.status_code == 200 and "javascript" in own.headers["content-type"]
    assert own.headers["cache-control"] == "no-cache"
    vendored = client.get("/static/vendor/maplibre-gl/VERSION")
    assert vendored.status_code == 200 and "max-age" in vendored.headers["cache-control"]
    assert client.get("/static/../views.py").status_code == 404
