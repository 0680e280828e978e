"""Safety training on the dashboard, in Chromium: the 安全培训 card, the training dialog (courses, sessions,
attendance marked through the page, certificates and their verification, the overdue list) and the enterprise
officer's scoped, read-only view.

Seeded through the HTTP API as the admin (two enterprises; a session of the enterprise safety officers' annual
refresher tomorrow; a session of the fire-safety manager course a year ago at which one employee of each
enterprise passed), then both of those certificates are made expired in the database, as a year going by would.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from citybrain.auth import service as auth_service
from citybrain.training.models import TrainingCertificate
from tests.conftest import ADMIN_PASSWORD, LiveServer
from tests.web.test_dashboard import (  # noqa: F401 - pytest fixtures are found by name
    REPO,
    BrowserPage,
    chromium,
    login,
)
from tests.web.test_dashboard import browser_page as _browser_page_fixture

browser_page = _browser_page_fixture

OFFICER, PASSWORD = "ent-trainee-officer", "pw-training-123"
NEW_PERSON, NEW_ID = "李静", "310101199001011234"


def client(server: LiveServer, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    return server.client(username, password)


def ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def seed(server: LiveServer) -> dict[str, Any]:
    now = datetime.now(UTC)
    with closing(client(server)) as admin:
        ents = [ok(admin.post("/api/v1/enterprises", json={
            "name": name, "supervising_department": "fire", "industry": "chemicals", "district_code": "310104"}))
            for name in ("申城化工有限公司", "浦江物流有限公司")]
        upcoming = ok(admin.post("/api/v1/training/sessions", json={
            "course": "ENT-SAFETY-ANNUAL", "starts_at": (now + timedelta(days=1)).isoformat(),
            "place": "徐汇区应急培训中心", "trainer": "陈教官", "capacity": 30}))
        old = ok(admin.post("/api/v1/training/sessions", json={
            "course": "ENT-FIRE-MGR", "starts_at": (now - timedelta(days=400)).isoformat(), "place": "消防支队"}))
        marked = ok(admin.post(f"/api/v1/training/sessions/{old['id']}/attendance", json=[
            {"enterprise_id": ents[0]["id"], "person_name": "王老五", "id_number": "310104197001010011",
             "passed": True, "score": 85},
            {"enterprise_id": ents[1]["id"], "person_name": "赵小六", "id_number": "310104198002020022",
             "passed": True, "score": 90}]))
    numbers = [m["certificate"] for m in marked]
    with server.database.session() as s:  # a year has gone by for these two
        s.execute(sa.update(TrainingCertificate).where(TrainingCertificate.number.in_(numbers))
                  .values(issued_at=now - timedelta(days=400), expires_at=now - timedelta(days=35)))
        auth_service.create(session=s, now=now, username=OFFICER, password=PASSWORD, roles=["enterprise_officer"],
                            enterprise_id=ents[0]["id"], display_name="企业安全员 周敏")
    return {"enterprises": ents, "upcoming": upcoming, "old": old, "expired": numbers}


def sign_in(bp: BrowserPage, username: str, password: str) -> Any:
    page = bp.page
    if page.locator("#logout-btn").is_visible():
        page.click("#logout-btn")
        page.wait_for_selector("#login-btn:not([hidden])")
    login(bp, username, password)
    page.wait_for_selector("#user-box:not([hidden])")
    page.wait_for_selector("#panel-training .trn-card[data-status=ready]")
    return page


def course_line(page: Any, code: str) -> Any:
    return page.locator(f"#panel-training .trn-course[data-code='{code}']")


@pytest.mark.browser
def test_training_card_attendance_certificate_verify_and_overdue(browser_page: BrowserPage,
                                                                  live_server: LiveServer) -> None:
    bp, server = browser_page, live_server
    seeded = seed(server)
    sid = seeded["upcoming"]["id"]
    page = bp.page
    response = page.goto(bp.base_url + "/")
    assert response is not None and response.ok
    page.wait_for_function("() => document.body.dataset.ready === 'true'")

    # ---- the admin: the card ----
    sign_in(bp, "admin", ADMIN_PASSWORD)
    assert page.inner_text("#panel-training .card-title") == "安全培训"
    fire = course_line(page, "ENT-FIRE-MGR")
    page.wait_for_selector("#panel-training .trn-course[data-code='ENT-FIRE-MGR'][data-overdue='2']")
    assert "逾期 2" in fire.inner_text() and fire.locator(".trn-overdue.is-due").count() == 1
    annual = course_line(page, "ENT-SAFETY-ANNUAL")
    assert annual.get_attribute("data-upcoming") == "1" and "1 场待开" in annual.inner_text()
    assert annual.locator(".trn-overdue.is-due").count() == 0, "nobody is overdue in the annual refresher"
    assert course_line(page, "STAFF-GAS-RESP").count() == 1, "the admin sees every course"
    card = page.inner_text("#panel-training")
    assert "仅本企业人员" not in card and "null" not in card, card

    # ---- the dialog: courses, then the session and its attendance marked through the page ----
    page.click("#panel-training [data-action=open-training]")
    page.wait_for_selector("#training-dialog[data-tab=courses] .trn-course-row")
    assert page.locator("#training-dialog .trn-course-row").count() == 7
    row = page.inner_text("#training-dialog .trn-course-row[data-code='ENT-SAFETY-ANNUAL']")
    assert "企业安全管理人员年度再培训" in row and "Enterprise safety officers' annual refresher" in row, row
    assert "365 天" in row, row

    page.click("#training-tab-sessions")
    session_row = page.locator(f"#training-dialog .trn-session-row[data-session-id='{sid}']")
    session_row.wait_for()
    assert "徐汇区应急培训中心" in session_row.inner_text() and "0 / 30" in session_row.inner_text()
    session_row.click()
    page.wait_for_selector(f"#training-dialog .trn-attendance[data-session-id='{sid}'] .trn-mark")
    page.select_option("#trn-mark-enterprise", str(seeded["enterprises"][0]["id"]))
    page.fill("#trn-mark-name", NEW_PERSON)
    page.fill("#trn-mark-id", "ABC-12")  # not an ID number: refused naming the field, nothing typed is lost
    page.fill("#trn-mark-score", "92")
    page.check("#trn-mark-passed")
    assert page.is_checked("#trn-mark-attended")
    page.click("#training-dialog [data-action=mark]")
    page.wait_for_selector("#training-dialog .form-error")
    assert "body[0].id_number" in page.inner_text("#training-dialog .form-error")
    assert page.input_value("#trn-mark-name") == NEW_PERSON and page.is_checked("#trn-mark-passed")
    page.fill("#trn-mark-id", NEW_ID)
    page.click("#training-dialog [data-action=mark]")
    cert = page.locator("#training-dialog .trn-attendance-row[data-passed=true] .trn-cert")
    cert.wait_for()
    number = cert.inner_text()
    assert number.startswith("CBT-"), number
    assert number in page.inner_text("#training-dialog .form-ok")
    assert "1 / 30" in page.inner_text(f"#training-dialog .trn-session-row[data-session-id='{sid}']")
    with closing(client(server)) as admin:
        attendance = ok(admin.get(f"/api/v1/training/sessions/{sid}/attendance"))
    assert [(a["person_name"], a["passed"], a["score"], a["certificate"]) for a in attendance] == \
        [(NEW_PERSON, True, 92, number)]
    assert NEW_ID not in str(attendance)

    # ---- certificates: the new one listed, verified in the box; an unknown number is not found ----
    page.click("#training-tab-certificates")
    page.wait_for_selector(f"#training-dialog .trn-cert-row[data-number='{number}'][data-status=valid]")
    page.fill("#trn-verify-number", number.lower())
    page.click("#training-dialog [data-action=verify]")
    result = page.locator(f"#training-dialog .trn-verify-result[data-status=valid][data-number='{number}']")
    result.wait_for()
    text = result.inner_text()
    assert "有效证书" in text and "李*" in text and "企业安全管理人员年度再培训" in text, text
    assert NEW_PERSON not in text, "a verification shows the holder's name masked"
    page.fill("#trn-verify-number", "CBT-20000101-00000000")
    page.click("#training-dialog [data-action=verify]")
    page.wait_for_selector("#training-dialog .trn-verify-result[data-status=missing]")

    # ---- overdue: both expired people, the course and how long ago ----
    page.click("#training-tab-overdue")
    for who, number_ in zip(("王老五", "赵小六"), seeded["expired"], strict=True):
        line = page.locator(f"#training-dialog .trn-overdue-row[data-certificate='{number_}'][data-status=expired]")
        line.wait_for()
        assert who in line.inner_text() and "已过期 35 天" in line.inner_text() and "ENT-FIRE-MGR" in line.inner_text()
    (REPO / "test-results").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "test-results" / "training.png"))
    page.keyboard.press("Escape")
    page.click("button[data-lang=en]")
    assert page.inner_text("#panel-training .card-title") == "Safety training"
    page.wait_for_function("""() => (document.querySelector("#panel-training .trn-course[data-code='ENT-FIRE-MGR']")
        || {}).textContent?.includes('2 overdue')""")
    page.click("button[data-lang='zh-CN']")

    # ---- the enterprise officer: only their own enterprise's people, no write actions ----
    sign_in(bp, OFFICER, PASSWORD)
    page.wait_for_selector("#panel-training .trn-course[data-code='ENT-FIRE-MGR'][data-overdue='1']")
    assert course_line(page, "STAFF-GAS-RESP").count() == 0, "staff courses are not an enterprise's business"
    assert "仅本企业人员" in page.inner_text("#panel-training")
    page.click("#panel-training .trn-course[data-code='ENT-FIRE-MGR']")
    page.wait_for_selector("#training-dialog[data-tab=overdue] .trn-overdue-row")
    rows = page.locator("#training-dialog .trn-overdue-row")
    assert rows.count() == 1 and "王老五" in rows.first.inner_text()
    page.click("#training-tab-sessions")
    page.wait_for_selector("#training-dialog[data-tab=sessions] #trn-course-filter")
    page.select_option("#trn-course-filter", "")  # the course picked on the card filtered every tab
    page.click(f"#training-dialog .trn-session-row[data-session-id='{sid}']")
    page.wait_for_selector(f"#training-dialog .trn-attendance[data-session-id='{sid}'] .trn-attendance-row")
    assert page.locator("#training-dialog .trn-mark, #training-dialog .trn-new-session").count() == 0
    assert NEW_PERSON in page.inner_text("#training-dialog .trn-attendance")
    bp.assert_clean()
