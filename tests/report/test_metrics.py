"""Report metrics on a small hand-made set whose figures are worked out by hand."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.org import service as org_service
from citybrain.report import metrics
from citybrain.report.models import CitizenReport

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
H = timedelta(hours=1)
OPS = Principal(user_id=1, username="ops", roles=("duty_officer",))


def add(session: Session, *, at: datetime, code: str, district: str, status: str, **kw: Any) -> CitizenReport:
    token = secrets.token_hex(8)
    fields: dict[str, Any] = {"me_too_count": 0, "reopen_count": 0, "dispatch_count": 1, **kw}
    row = CitizenReport(service_request_id=f"SR-M-{token}", token=token, tracking_code=secrets.token_urlsafe(12),
                        service_code=code, description="", lon=121.47, lat=31.23, district_code=district,
                        client_key="test", case_status=status, public_reply="", requested_at=at, updated_at=at,
                        **fields)
    session.add(row)
    session.flush()
    return row


def hand_made(session: Session) -> None:
    urban = org_service.department_ids(session=session)["urban"]
    # closed on time after a 1 h first response, rated 5
    add(session, at=T0, code="manhole_missing", district="310101", status="closed", department_id=urban,
        first_response_at=T0 + H, due_at=T0 + 4 * H, closed_at=T0 + 3 * H, rating=5)
    # closed late after a 3 h first response, rated 3, reopened once before
    add(session, at=T0 + H, code="manhole_missing", district="310101", status="closed", department_id=urban,
        first_response_at=T0 + 4 * H, due_at=T0 + 5 * H, closed_at=T0 + 10 * H, rating=3, reopen_count=1)
    # 17:00 UTC is already 1 December in Shanghai; first response after 30 min, still open
    add(session, at=T0 + 16 * H, code="gas_smell", district="310104", status="dispatched",
        first_response_at=T0 + 16.5 * H, due_at=T0 + 18 * H)
    add(session, at=T0 + 2 * H, code="gas_smell", district="310104", status="merged")
    add(session, at=T0 + 3 * H, code="crowding", district="310104", status="rejected", closed_at=T0 + 4 * H)
    add(session, at=T0 - timedelta(days=40), code="crowding", district="310104", status="closed", rating=1,
        closed_at=T0 - timedelta(days=39))  # outside the window


def test_metrics_on_a_hand_made_set_and_by_department(session: Session) -> None:
    hand_made(session)
    m = metrics.compute(session=session, principal=OPS, since=T0 - timedelta(days=1), until=T0 + timedelta(days=2))
    assert m["reports"] == 5
    assert m["per_day_by_category"] == [
        {"day": "2026-11-30", "service_code": "crowding", "count": 1},
        {"day": "2026-11-30", "service_code": "gas_smell", "count": 1},
        {"day": "2026-11-30", "service_code": "manhole_missing", "count": 2},
        {"day": "2026-12-01", "service_code": "gas_smell", "count": 1},
    ]
    assert m["per_day_by_district"] == [
        {"day": "2026-11-30", "district": "310101", "count": 2},
        {"day": "2026-11-30", "district": "310104", "count": 2},
        {"day": "2026-12-01", "district": "310104", "count": 1},
    ]
    assert m["first_response"] == {"count": 3, "median_s": 3600.0, "p90_s": 10800.0}
    assert m["on_time"] == {"closed": 2, "with_time_limit": 2, "on_time": 1, "rate": 0.5}
    assert (m["duplicates_merged"], m["rejected"]) == (1, 1)
    assert m["satisfaction"] == {"rated": 2, "mean": 4.0, "share_4_plus": 0.5}
    assert m["reopen"] == {"closed_ever": 2, "reopened": 1, "rate": 0.5}

    # A department sees its own figures; an empty set gives no rates rather than zeros.
    ids = org_service.department_ids(session=session)
    urban = Principal(user_id=2, username="urban", roles=("dispatcher",), department_id=ids["urban"])
    fire = Principal(user_id=3, username="fire", roles=("dispatcher",), department_id=ids["fire"])
    window = {"since": T0 - timedelta(days=1), "until": T0 + timedelta(days=2)}
    assert metrics.compute(session=session, principal=urban, **window)["reports"] == 2
    empty = metrics.compute(session=session, principal=fire, **window)
    assert empty["reports"] == 0 and empty["on_time"]["rate"] is None and empty["satisfaction"]["mean"] is None
    assert empty["first_response"] == {"count": 0, "median_s": None, "p90_s": None}
