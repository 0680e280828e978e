"""Statistics on a small hand-made set: on-time rate, overdue, mean and p90 days to close; CSV; the report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from citybrain.auth.permissions import Principal
from citybrain.hazard import stats
from tests.hazard.test_service import make_enterprise, new_hazard

CITY = Principal(user_id=1, username="analyst", roles=("analyst",))


def build(session, now):
    """Five hazards found at ``now``: three closed (2 on time), one open overdue, one open in time."""
    ent = make_enterprise(session, now)
    rows = []
    for i, (closed_after, deadline_after) in enumerate([(2, 5), (4, 5), (10, 5), (None, 3), (None, 30)]):
        h = new_hazard(session, now, title=f"H{i}", enterprise_id=ent.id if i < 2 else None,
                       category="gas" if i < 2 else "fire")
        h.deadline_at = now + timedelta(days=deadline_after)
        if closed_after is not None:
            h.status, h.closed_at = "closed", now + timedelta(days=closed_after)
        rows.append(h)
    drill = new_hazard(session, now, title="drill", exercise=True)
    drill.status, drill.closed_at, drill.deadline_at = "closed", now + timedelta(days=50), now
    session.flush()
    return rows


def test_numbers_overall_and_by_department(session, clock):
    now = clock.now()
    build(session, now)
    out = stats.compute(session=session, principal=CITY, now=now + timedelta(days=20), start=now - timedelta(days=1),
                        end=now + timedelta(days=20))
    t = out["total"]
    assert (t["found"], t["closed"], t["closed_on_time"], t["overdue_open"], t["open"]) == (5, 3, 2, 1, 2)
    assert t["on_time_rate"] == round(2 / 3, 4)
    assert t["mean_days_to_close"] == round((2 + 4 + 10) / 3, 2) and t["p90_days_to_close"] == 10.0
    groups = {g["key"]: g for g in out["groups"]}
    assert set(groups) == {"housing", "fire"}
    assert (groups["housing"]["closed"], groups["housing"]["on_time_rate"]) == (2, 1.0)
    assert (groups["fire"]["closed"], groups["fire"]["on_time_rate"], groups["fire"]["overdue_open"]) == (1, 0.0, 1)
    by_ent = {g["key"] for g in stats.compute(session=session, principal=CITY, now=now, start=now,
                                             end=now + timedelta(days=20), by="enterprise")["groups"]}
    assert by_ent == {"Acme Gas", "—"}
    # the same period seen on day 4: overdue counted at that time, one closure so far
    early = stats.compute(session=session, principal=CITY, now=now + timedelta(days=4), start=now,
                          end=now + timedelta(days=20))["total"]
    assert early["overdue_open"] == 1  # the 3-day deadline


def test_csv_has_a_bom_local_times_and_no_formulas(session, clock):
    now = clock.now()
    rows = build(session, now)
    rows[0].title = "=HYPERLINK(1)"
    data = stats.export_csv(session=session, rows=rows, now=now + timedelta(days=20))
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == list(stats.CSV_COLUMNS) and len(table) == 6
    first = dict(zip(table[0], table[1], strict=True))
    assert first["title"] == "'=HYPERLINK(1)" and first["found_at"] == "2026-11-30 09:00"  # 01:00 UTC in Shanghai
    assert (first["on_time"], first["supervising_department"]) == ("yes", "housing")
    assert [r[table[0].index("on_time")] for r in table[1:]] == ["yes", "yes", "no", "", ""]


def test_the_quarterly_report_is_self_contained(session, clock):
    now = clock.now()
    build(session, now)
    html = stats.quarterly_report(session=session, principal=CITY, now=now + timedelta(days=20), year=2026, quarter=4)
    assert "隐患治理季度报告" in html and "<svg" in html and "66.7%" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "<script" not in html
    en = stats.quarterly_report(session=session, principal=CITY, now=now, year=2026, quarter=4, lang="en")
    assert "Quarterly hazard rectification report" in en
