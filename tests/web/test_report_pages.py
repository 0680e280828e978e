"""The citizen's phone pages in Chromium at 390×844: file a missing-manhole report with a photo, see the duplicate
offer ("我也遇到了") for a nearby one, get the tracking link; the case is then dispatched, responded, checked and
closed through the API, and the tracking page shows the reply and takes the citizen's rating.

Needs Debian's ``chromium`` and the ``playwright`` Python package (no browser download).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from citybrain.api import create_app
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.report import case_service
from tests.conftest import LiveServer, serving
from tests.support import chromium_path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
PEOPLES_SQUARE = {"longitude": 121.4737, "latitude": 31.2304}


@pytest.fixture
def report_server(settings: Settings, database: Database) -> Iterator[LiveServer]:
    """The real app under uvicorn, routes seeded, a light proof-of-work so the test stays quick."""
    with database.session() as s:
        case_service.seed(session=s, now=datetime.now(UTC))
    app = create_app(settings, database=database, clock=SystemClock())
    app.state.cache["report.challenge_difficulty"] = 10
    with serving(app) as url:
        yield LiveServer(url, database, app)


@pytest.fixture
def phone(report_server: LiveServer) -> Iterator[tuple[Any, list[str]]]:
    """A phone-sized page that shares its position, recording page errors and CSP violations."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' Python package is not installed (no browser download is needed)")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS)
        context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      geolocation=PEOPLES_SQUARE, permissions=["geolocation"], has_touch=True)
        context.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective));")
        page = context.new_page()
        page.set_default_timeout(45_000)  # generous: CI runs two suites side by side on 2 cores
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("request", lambda req: None if req.url.startswith((report_server.url, "blob:", "data:"))
                else errors.append(f"left the origin: {req.url}"))
        try:
            yield page, errors
        finally:
            context.close()
            browser.close()


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(buf, format="PNG")
    return buf.getvalue()


def fill_report(page: Any, description: str) -> None:
    page.wait_for_selector("body[data-ready=true]")
    page.click(".category[data-code=manhole_missing]")
    page.click("#locate")
    page.wait_for_selector("#place-status[data-state=gps]")


@pytest.mark.browser
def test_file_track_and_rate_from_a_phone(report_server: LiveServer, phone: tuple[Any, list[str]]) -> None:
    page, errors = phone
    base = report_server.url

    # File a report with a photo: the tracking link comes back.
    assert page.goto(base + "/report").ok
    fill_report(page, "")
    assert page.get_attribute(".category[data-code=manhole_missing]", "aria-checked") == "true"
    assert "选择类别" in page.inner_text("#step-category h2")
    page.set_input_files("#photos", files=[{"name": "manhole.png", "mimeType": "image/png", "buffer": png()}])
    page.wait_for_selector("#previews img")
    page.fill("#description", "人民广场东侧人行道窨井盖缺失，很危险")
    page.fill("#contact_phone", "13812345678")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])")
    tracking_url = page.get_attribute("#tracking-link", "href")
    number = page.inner_text("#done-number")
    assert tracking_url.startswith(base + "/track/") and number.startswith("SR-")

    # The JS SHA-256 used where WebCrypto is missing agrees with Python's (one and two blocks).
    for text in ("abc", "x" * 100):
        got = page.evaluate("""async (s) => { const m = await import('/report/static/common.js');
            return m.toHex(m.sha256(new TextEncoder().encode(s))); }""", text)
        assert got == hashlib.sha256(text.encode()).hexdigest()

    # A second citizen at the same spot is offered the first report instead of filing it again.
    page.goto(base + "/report")
    fill_report(page, "")
    item = page.locator(f"#nearby .nearby-item[data-id='{number}']")
    item.wait_for()
    assert "窨井盖缺失" in item.inner_text()
    item.locator("button.me-too").click()
    page.wait_for_selector(f"#nearby .nearby-item[data-id='{number}'][data-done=true]")
    assert "共 1 人遇到" in item.inner_text()

    # The department handles it, the operations centre checks and closes it.
    with closing(report_server.user(roles=("duty_officer",), department="ops")) as ops, \
            closing(report_server.user(roles=("dispatcher",), department="urban")) as urban:
        cases = ops.get("/api/v1/cases", params={"service_code": "manhole_missing"}).json()["items"]
        case = next(c for c in cases if c["service_request_id"] == number)
        assert (case["case_status"], case["department"]) == ("dispatched", "urban")
        for client, step, body in ((urban, "accept", {}), (urban, "respond", {"reply": "已补装新井盖，谢谢您的报告"}),
                                   (ops, "check", {"passed": True}), (ops, "close", {})):
            r = client.post(f"/api/v1/cases/{case['id']}/{step}", json=body)
            assert r.status_code == 200, (step, r.text)

        # The tracking page shows the reply and takes a rating.
        assert page.goto(tracking_url).ok
        page.wait_for_selector("body[data-ready=true]")
        assert page.inner_text("#case-status") == "已结案"
        assert page.inner_text("#reply") == "已补装新井盖，谢谢您的报告"
        assert page.locator("#timeline li[data-kind=responded]").count() == 1
        page.wait_for_selector("#photos img")
        page.click(".star[data-value='5']")
        page.fill("#rating-comment", "处理很快")
        page.click("#rate")
        page.wait_for_selector("#rated-box:not([hidden])")
        assert "5 星" in page.inner_text("#rated") and page.is_hidden("#rate-box")
        assert ops.get(f"/api/v1/cases/{case['id']}").json()["rating"] == 5

        # English on the toggle.
        page.click(".lang [data-lang=en]")
        assert page.inner_text("#case-status") == "Closed" and "5 stars" in page.inner_text("#rated")

    # A published Open311 client reads the same report: closed, with the department's reply, no contact data.
    from georeport import GeoReport

    seen = GeoReport(root_address=base + "/open311/v2").get_service_request(number)
    seen = seen[0] if isinstance(seen, list) else seen
    assert (seen["service_request_id"], seen["service_code"], seen["status"]) == (number, "manhole_missing", "closed")
    assert seen["status_notes"] == "已补装新井盖，谢谢您的报告" and "phone" not in seen

    assert page.evaluate("() => window.__cspViolations || []") == []
    assert not errors, errors
