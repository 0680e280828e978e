"""Citizen reports and cases on the dashboard, in Chromium: the case board card (counts by status, the overdue case
first and highlighted, the overdue filter, department scope), the case page (masked contact for the operations
centre, in full for the department handling it, photos, history), the workflow through the page — the duty officer
dispatches, the urban-management dispatcher accepts and responds (public reply + internal note), the duty officer
checks and closes — the metrics (one case closed on time) and the routing table (a row saved; a refused row shows
its field).

Two reports are filed through the public API as the phone page does (the proof of work solved in Python).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from citybrain.api import create_app
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.report import abuse
from citybrain.report.models import CitizenReport
from tests.conftest import LiveServer, new_user, serving
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    CHROMIUM_ARGS,
    REPO,
    VIEWPORT,
    BrowserPage,
    chromium,
    login,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture

PEOPLES_SQUARE = (121.4737, 31.2304)
LUJIAZUI = (121.5055, 31.2375)


@pytest.fixture
def cases_server(settings: Settings, database: Database) -> Iterator[LiveServer]:
    """The real app under uvicorn (routes seeded by the bootstrap), with a light proof of work."""
    app = create_app(settings, database=database, clock=SystemClock())
    app.state.cache["report.challenge_difficulty"] = 8
    with serving(app) as url:
        yield LiveServer(url, database, app)


@pytest.fixture
def live_server(cases_server: LiveServer) -> LiveServer:
    """``browser_page`` (from test_dashboard) opens the dashboard on this server."""
    return cases_server


browser_page = _browser_page_fixture


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(buf, format="PNG")
    return buf.getvalue()


def file_report(server: LiveServer, service_code: str, at: tuple[float, float], description: str,
                **extra: str) -> dict[str, Any]:
    """A citizen's report through the public API, the proof of work solved as the phone page does."""
    with httpx.Client(base_url=server.url, timeout=10) as c:
        ch = c.get("/api/v1/public/challenge").json()
        nonce = abuse.solve(ch["challenge"], ch["difficulty"])
        data = {"service_code": service_code, "description": description, "lon": str(at[0]), "lat": str(at[1]),
                "anonymous": "false", "challenge": ch["challenge"], "nonce": nonce, **extra}
        r = c.post("/api/v1/public/reports", data=data, files=[("photos", ("scene.png", png(), "image/png"))])
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def make_overdue(server: LiveServer, service_request_id: str) -> None:
    with server.database.session() as s:
        report = s.query(CitizenReport).filter_by(service_request_id=service_request_id).one()
        report.due_at = datetime.now(UTC) - timedelta(hours=1, minutes=5)
        s.commit()


def signed_in(bp: BrowserPage, username: str, password: str) -> Any:
    page = bp.page
    assert page.goto(bp.base_url + "/").ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    login(bp, username, password)
    page.wait_for_selector("#user-box:not([hidden])")
    page.wait_for_selector("#panel-cases .card-body[data-status=ready]")
    return page


def second_page(bp: BrowserPage) -> tuple[Any, BrowserPage]:
    """Another signed-out browser context on the same server (a second person at another desk)."""
    context = bp.page.context.browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(45_000)  # generous: CI runs two suites side by side on 2 cores
    other = BrowserPage(page=page, base_url=bp.base_url)
    page.on("request", lambda request: other.requests.append(request.url))
    page.on("pageerror", lambda exc: other.errors.append(f"pageerror: {exc}"))
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI));")
    return context, other


def open_case(page: Any, case_id: int) -> None:
    page.click(f"#panel-cases .case-item[data-id='{case_id}']")
    page.wait_for_selector(f"#case-dialog[data-case-id='{case_id}'][data-status]")


@pytest.mark.browser
def test_case_board_page_workflow_metrics_and_routing(browser_page: BrowserPage, cases_server: LiveServer) -> None:
    server, bp = cases_server, browser_page
    manhole = file_report(server, "manhole_missing", PEOPLES_SQUARE, "人民广场东侧人行道窨井盖缺失，很危险",
                          contact_phone="13812345678")
    flood = file_report(server, "waterlogging", LUJIAZUI, "陆家嘴环路地道积水约30厘米，车辆无法通行")
    make_overdue(server, flood["service_request_id"])
    ops_login = new_user(server.database, roles=("duty_officer",), department="ops")
    urban_login = new_user(server.database, roles=("dispatcher",), department="urban")
    with closing(server.client(*ops_login)) as ops:
        cases = {c["service_request_id"]: c for c in ops.get("/api/v1/cases").json()["items"]}
    mh, fl = cases[manhole["service_request_id"]], cases[flood["service_request_id"]]
    assert (mh["case_status"], mh["department"], fl["department"]) == ("dispatched", "urban", "water")

    # The board: counts by status, the overdue case first and highlighted, in Chinese.
    page = signed_in(bp, *ops_login)
    assert page.inner_text("#panel-cases .card-title") == "市民上报"
    assert page.inner_text("#panel-cases .case-count[data-key=dispatched] .warn-n") == "2"
    assert page.inner_text("#panel-cases .case-count[data-key=overdue] .warn-n") == "1"
    assert "has-overdue" in (page.get_attribute("#panel-cases .case-count[data-key=overdue]", "class") or "")
    items = page.locator("#panel-cases .case-item")
    assert items.count() == 2
    assert items.first.get_attribute("data-id") == str(fl["id"])
    assert items.first.get_attribute("data-overdue") == "true"
    assert "超时 1小时" in items.first.inner_text() and "积水内涝" in items.first.inner_text()
    row = page.locator(f"#panel-cases .case-item[data-id='{mh['id']}']")
    text = row.inner_text()
    assert "窨井盖缺失" in text and "黄浦区" in text and "派遣" in text and "剩余" in text, text
    page.check("#cases-overdue")
    page.wait_for_function("() => document.querySelectorAll('#panel-cases .case-item').length === 1")
    assert items.first.get_attribute("data-id") == str(fl["id"])
    page.uncheck("#cases-overdue")
    page.wait_for_function("() => document.querySelectorAll('#panel-cases .case-item').length === 2")

    # The case page: the operations centre sees the contact masked, the photo, the history; it re-dispatches.
    open_case(page, mh["id"])
    dialog = "#case-dialog"
    assert page.get_attribute(f"{dialog} .case-contact", "data-visible") == "false"
    assert "138****5678" in page.inner_text(f"{dialog} .case-contact")
    page.wait_for_function("() => { const i = document.querySelector('#case-dialog .case-photo img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert page.locator(f"{dialog} .case-timeline li[data-kind=dispatched]").count() == 1
    assert page.locator(f"{dialog} [data-action=accept]").count() == 0  # not the department's officer
    page.select_option("#case-department", "urban")
    page.fill("#case-note", "请城管尽快补装")
    page.click(f"{dialog} [data-action=dispatch]")
    page.wait_for_selector(f"{dialog} .case-timeline li[data-kind=redispatched]")
    assert "已派遣至" in page.inner_text(f"{dialog} .form-ok")
    page.keyboard.press("Escape")
    page.wait_for_selector(dialog, state="hidden")

    # The urban-management dispatcher sees only their department's case, the contact in full; accepts, responds.
    context, ubp = second_page(bp)
    try:
        upage = signed_in(ubp, *urban_login)
        assert upage.locator("#panel-cases .case-item").count() == 1
        open_case(upage, mh["id"])
        assert upage.get_attribute(f"{dialog} .case-contact", "data-visible") == "true"
        assert "13812345678" in upage.inner_text(f"{dialog} .case-contact")
        upage.click(f"{dialog} [data-action=accept]")
        upage.wait_for_selector(f"{dialog}[data-status=handling]")
        upage.fill("#case-reply", "已补装新井盖，谢谢您的报告")
        upage.fill("#case-note", "三班更换 700 型井盖")
        upage.click(f"{dialog} [data-action=respond]")
        upage.wait_for_selector(f"{dialog}[data-status=responded]")
        internal = upage.locator(f"{dialog} .case-timeline li[data-kind=internal_note]")
        assert internal.get_attribute("data-public") == "false" and "三班更换" in internal.inner_text()
        assert upage.locator(f"{dialog} [data-action=check-pass]").count() == 0  # the handler never checks
        ubp.assert_clean()
    finally:
        context.close()

    # The duty officer checks and closes it through the page.
    open_case(page, mh["id"])
    page.wait_for_selector(f"{dialog}[data-status=responded]")
    assert "已补装新井盖" in page.inner_text(f"{dialog} .case-meta")
    page.click(f"{dialog} [data-action=check-pass]")
    page.wait_for_selector(f"{dialog}[data-status=checking]")
    page.click(f"{dialog} [data-action=close]")
    page.wait_for_selector(f"{dialog}[data-status=closed]")
    assert "按时结案" in page.inner_text(f"{dialog} .case-meta")
    page.screenshot(path=str(results() / "case-page.png"))
    with closing(server.client(*ops_login)) as ops:
        case = ops.get(f"/api/v1/cases/{mh['id']}").json()
        assert (case["case_status"], case["on_time"], case["dispatch_count"]) == ("closed", True, 2)
    page.keyboard.press("Escape")
    page.wait_for_selector("#panel-cases .case-count[data-key=closed] .warn-n >> text=1")

    # The overdue flood goes on as a hazard to rectify.
    open_case(page, fl["id"])
    page.click(f"{dialog} [data-action=to-hazard]")
    page.wait_for_selector(f"{dialog} .case-timeline li[data-kind=to_hazard]")
    with closing(server.client(*ops_login)) as ops:
        hazard_id = ops.get(f"/api/v1/cases/{fl['id']}").json()["hazard_id"]
    assert hazard_id and f"#{hazard_id}" in page.inner_text(f"{dialog} .case-meta")
    page.keyboard.press("Escape")

    # The metrics: two reports, one closed on time out of one.
    page.click("#panel-cases [data-action=metrics]")
    page.wait_for_selector("#case-metrics-dialog[data-charts=ready]")
    assert page.inner_text("#case-metrics-dialog .case-tile[data-metric=reports] .case-tile-value") == "2"
    on_time = page.inner_text("#case-metrics-dialog .case-tile[data-metric=on_time]")
    assert "100%" in on_time and "1 / 1" in on_time, on_time
    assert page.inner_text("#case-metrics-dialog .case-tile[data-metric=first_response] .case-tile-value") != "–"
    page.screenshot(path=str(results() / "case-metrics.png"))
    page.keyboard.press("Escape")

    # The admin: a report held for its link is approved from the moderation queue (and becomes a case).
    held = file_report(server, "exposed_wiring", PEOPLES_SQUARE, "电线裸露 详见 http://spam.example.com/x")
    page.click("#panel-cases [data-action=admin]")
    admin = "#case-admin-dialog"
    page.wait_for_selector(f"{admin} .case-routes-table tbody tr")
    page.click(f"{admin} [data-tab=moderation]")
    flag = page.locator(f"{admin} .case-mod-item[data-reason=link]")
    assert held["service_request_id"] in flag.inner_text() and "含链接" in flag.inner_text()
    flag.locator("[data-action=approve]").click()
    page.wait_for_selector(f"{admin} .case-moderation .empty-state")
    with closing(server.client(*ops_login)) as ops:
        approved = ops.get("/api/v1/cases", params={"service_code": "exposed_wiring"}).json()["items"][0]
    assert (approved["case_status"], approved["department"]) == ("dispatched", "urban")

    # The routing table: a new row saved; a refused row names its field and is marked.
    page.click(f"{admin} [data-tab=routes]")
    with closing(server.client(*ops_login)) as ops:
        before = ops.get("/api/v1/case-routes").json()
    assert page.locator(f"{admin} .case-routes-table tbody tr").count() == len(before)
    page.click(f"{admin} [data-action=add-row]")
    last = f"{admin} .case-routes-table tbody tr[data-row='{len(before)}']"
    page.select_option(f"{last} td:nth-child(1) select", "construction_site")
    page.select_option(f"{last} td:nth-child(2) select", "310101")
    page.select_option(f"{last} td:nth-child(3) select", "housing")
    page.fill(f"{last} input", "10")
    page.click(f"{admin} [data-action=save-routes]")
    page.wait_for_selector(f"{admin} .form-ok")
    with closing(server.client(*ops_login)) as ops:
        after = ops.get("/api/v1/case-routes").json()
    assert len(after) == len(before) + 1
    assert any((r["service_code"], r["district_code"], r["department"], r["priority"])
               == ("construction_site", "310101", "housing", 10) for r in after)
    page.click(f"{admin} [data-action=add-row]")
    bad = f"{admin} .case-routes-table tbody tr[data-row='{len(after)}']"
    page.select_option(f"{bad} td:nth-child(3) select", "ops")
    page.fill(f"{bad} input", "-1")
    page.click(f"{admin} [data-action=save-routes]")
    problem = page.locator(f"{admin} .case-problems li[data-field='body[{len(after)}].priority']")
    problem.wait_for()
    assert f"第 {len(after) + 1} 行" in problem.inner_text() and "优先级" in problem.inner_text()
    assert page.get_attribute(f"{bad} input", "aria-invalid") == "true"
    with closing(server.client(*ops_login)) as ops:
        assert len(ops.get("/api/v1/case-routes").json()) == len(after)  # nothing replaced
    page.screenshot(path=str(results() / "case-admin.png"))

    # The time limits: an override for gas smells saved; the others stay at their defaults.
    page.click(f"{admin} [data-tab=limits]")
    page.fill(f"{admin} .case-limits-table tr[data-code=gas_smell] input", "3")
    page.click(f"{admin} [data-action=save-limits]")
    page.wait_for_selector(f"{admin} .form-ok")
    with closing(server.client(*ops_login)) as ops:
        limits = {x["service_code"]: x for x in ops.get("/api/v1/case-time-limits").json()}
    assert (limits["gas_smell"]["hours"], limits["gas_smell"]["overridden"]) == (3, True)
    assert [c for c, x in limits.items() if x["overridden"]] == ["gas_smell"]
    page.keyboard.press("Escape")

    # English on the toggle.
    page.click("[data-lang=en]")
    page.wait_for_function("() => document.querySelector('#panel-cases .card-title').textContent === 'Citizen reports'")
    page.wait_for_selector("#panel-cases .case-count[data-key=closed] >> text=Closed")
    page.locator("#panel-cases").screenshot(path=str(results() / "cases-card.png"))
    bp.assert_clean()


def results() -> Any:
    out = REPO / "test-results"
    out.mkdir(exist_ok=True)
    return out
