"""Hazard statistics: on-time rectification, overdue hazards, time to close; CSV export; the quarterly report.

Over a period [start, end): **found** counts hazards found in it; **closed** those closed (销号) in it, of which
**on time** were closed by their deadline; the **on-time rate** is on time / closed (None when nothing closed);
**overdue open** counts hazards open at the period's end (or now, if earlier) with their deadline passed;
**mean** and **p90 days to close** measure found → closed for the hazards closed in the period (p90 by the
nearest-rank method). Grouped by supervising department, enterprise or district. Exercises are left out.

>>> p90([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]), p90([]), p90([4.0])
(9.0, None, 4.0)
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.documents import BarChart, Document, Paragraphs, Table, to_html
from citybrain.core.errors import FieldError, Invalid
from citybrain.hazard import service
from citybrain.hazard.models import Hazard
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

LOCAL = ZoneInfo("Asia/Shanghai")
GROUPS = ("department", "enterprise", "district")
BOM = "\ufeff"


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank (the smallest value with at least 90 % at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """The quarter's [start, end) in UTC, quarters being those of the Shanghai calendar.

    >>> [t.isoformat() for t in quarter_bounds(2026, 1)]
    ['2025-12-31T16:00:00+00:00', '2026-03-31T16:00:00+00:00']
    """
    if quarter not in (1, 2, 3, 4):
        raise Invalid("quarter must be 1-4", errors=[FieldError("query.quarter", "1, 2, 3 or 4")])
    if not 2000 <= year <= 2100:
        raise Invalid("year out of range", errors=[FieldError("query.year", "between 2000 and 2100")])
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=LOCAL)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=LOCAL)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class GroupStats:
    key: str
    found: int
    closed: int
    closed_on_time: int
    on_time_rate: float | None
    overdue_open: int
    open: int
    mean_days_to_close: float | None
    p90_days_to_close: float | None


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def summarise(key: str, rows: Iterable[Hazard], *, start: datetime, end: datetime,
              ref: datetime | None = None) -> GroupStats:
    """Numbers for one group of hazards; open and overdue are counted at ``ref`` (default: ``end``)."""
    ref = end if ref is None else ref
    found = closed = on_time = overdue = still_open = 0
    durations: list[float] = []
    for h in rows:
        if start <= h.found_at < end:
            found += 1
        if h.closed_at is not None and start <= h.closed_at < end:
            closed += 1
            if h.deadline_at is None or h.closed_at <= h.deadline_at:
                on_time += 1
            durations.append(_days(h.found_at, h.closed_at))
        if h.found_at < ref and (h.closed_at is None or h.closed_at >= ref):
            still_open += 1
            if h.deadline_at is not None and h.deadline_at < ref:
                overdue += 1
    mean = round(sum(durations) / len(durations), 2) if durations else None
    q90 = p90(durations)
    return GroupStats(key, found, closed, on_time, round(on_time / closed, 4) if closed else None, overdue,
                      still_open, mean, round(q90, 2) if q90 is not None else None)


def _rows(session: Session, principal: Principal, end: datetime, *, exercise: bool = False) -> list[Hazard]:
    stmt = sa.select(Hazard).where(Hazard.found_at < end, Hazard.exercise.is_(exercise))
    scope = service.scope_clause(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    return list(session.scalars(stmt.order_by(Hazard.id)))


def _group_key(h: Hazard, by: str, departments: Mapping[int, str], enterprises: Mapping[int, str]) -> str:
    if by == "department":
        return departments.get(h.supervising_department_id, str(h.supervising_department_id))
    if by == "enterprise":
        return enterprises.get(h.enterprise_id, str(h.enterprise_id)) if h.enterprise_id else "—"
    return h.district_code or "—"


def _enterprise_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(sa.select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(wanted))).all())


def compute(*, session: Session, principal: Principal, now: datetime, start: datetime, end: datetime,
            by: str = "department") -> dict[str, Any]:
    """Totals and per-group numbers over [start, end) for the hazards the caller may see."""
    if by not in GROUPS:
        raise Invalid(f"unknown grouping {by!r}", errors=[FieldError("query.by", f"one of {', '.join(GROUPS)}")])
    if end <= start:
        raise Invalid("the period is empty", errors=[FieldError("query.end", "must be after start")])
    ref = min(end, now)
    rows = _rows(session, principal, end)
    departments = org_service.department_codes(session=session)
    enterprises = _enterprise_names(session, (h.enterprise_id for h in rows))
    groups: dict[str, list[Hazard]] = {}
    for h in rows:
        groups.setdefault(_group_key(h, by, departments, enterprises), []).append(h)
    total = summarise("total", rows, start=start, end=end, ref=ref)
    per = [summarise(key, groups[key], start=start, end=end, ref=ref) for key in sorted(groups)]
    return {"start": start, "end": end, "by": by, "total": asdict(total), "groups": [asdict(g) for g in per]}


# -- CSV -----------------------------------------------------------------------------------------------

CSV_COLUMNS = ("code", "title", "category", "status", "grade", "supervised", "supervising_department", "enterprise",
               "district_code", "source", "found_at", "deadline_at", "closed_at", "on_time", "overdue",
               "days_overdue", "return_count", "escalation_level")


def _local(t: datetime | None) -> str:
    return t.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if t is not None else ""


def _safe(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(*, session: Session, rows: Sequence[Hazard], now: datetime) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads the Chinese), times in Asia/Shanghai."""
    departments = org_service.department_codes(session=session)
    enterprises = _enterprise_names(session, (h.enterprise_id for h in rows))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for h in rows:
        d = service.as_dict(h, now=now, departments=departments)
        on_time = "" if h.closed_at is None else ("yes" if h.deadline_at is None or h.closed_at <= h.deadline_at
                                                  else "no")
        w.writerow([h.code, _safe(h.title), h.category, h.status, h.grade or "", "yes" if h.supervised else "no",
                    d["supervising_department"] or "", _safe(enterprises.get(h.enterprise_id or 0, "")),
                    h.district_code or "", h.source, _local(h.found_at), _local(h.deadline_at), _local(h.closed_at),
                    on_time, "yes" if d["overdue"] else "no", d["days_overdue"], h.return_count,
                    h.escalation_level])
    return (BOM + buf.getvalue()).encode("utf-8")


# -- the quarterly report ------------------------------------------------------------------------------

TEXT = {
    "zh-CN": {"title": "隐患治理季度报告", "period": "统计期间", "summary": "总体情况", "found": "新发现",
              "closed": "已销号", "on_time": "按期整改", "rate": "按期整改率", "overdue": "逾期未改",
              "open": "期末未销号", "mean": "平均整改天数", "p90": "90% 整改天数", "dept": "监管部门",
              "district": "区", "rate_chart": "各部门按期整改率", "found_chart": "各部门新发现隐患",
              "by_dept": "按部门", "by_district": "按区", "top_overdue": "逾期隐患（前 10）", "code": "编号",
              "name": "名称", "grade": "等级", "days": "逾期天数", "generated": "生成时间", "none": "无"},
    "en": {"title": "Quarterly hazard rectification report", "period": "Period", "summary": "Summary",
           "found": "Found", "closed": "Closed", "on_time": "Closed on time", "rate": "On-time rate",
           "overdue": "Overdue open", "open": "Open at end", "mean": "Mean days to close",
           "p90": "p90 days to close", "dept": "Department", "district": "District",
           "rate_chart": "On-time rate by department", "found_chart": "Hazards found by department",
           "by_dept": "By department", "by_district": "By district", "top_overdue": "Overdue hazards (top 10)",
           "code": "Code", "name": "Title", "grade": "Grade", "days": "Days overdue", "generated": "Generated",
           "none": "none"},
}


def _fmt(v: float | int | None, pct: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v * 100:.1f}%" if pct else f"{v:g}"


def _group_table(heading: str, first: str, groups: Sequence[Mapping[str, Any]], t: Mapping[str, str]) -> Table:
    cols = (first, t["found"], t["closed"], t["on_time"], t["rate"], t["overdue"], t["mean"], t["p90"])
    rows = [(g["key"], _fmt(g["found"]), _fmt(g["closed"]), _fmt(g["closed_on_time"]), _fmt(g["on_time_rate"], True),
             _fmt(g["overdue_open"]), _fmt(g["mean_days_to_close"]), _fmt(g["p90_days_to_close"])) for g in groups]
    flagged = frozenset((i, 5) for i, g in enumerate(groups) if g["overdue_open"])
    return Table(heading, cols, rows, flagged)


def quarterly_report(*, session: Session, principal: Principal, now: datetime, year: int, quarter: int,
                     lang: str = "zh-CN") -> str:
    """A self-contained printable HTML page (inline CSS, inline SVG charts, nothing fetched)."""
    return to_html(quarterly_document(session=session, principal=principal, now=now, year=year, quarter=quarter,
                                      lang=lang))


def quarterly_document(*, session: Session, principal: Principal, now: datetime, year: int, quarter: int,
                       lang: str = "zh-CN") -> Document:
    """The quarterly report as a ``Document`` (HTML through ``to_html``, PDF through ``core.pdf.to_pdf``)."""
    t = TEXT["en" if lang.startswith("en") else "zh-CN"]
    start, end = quarter_bounds(year, quarter)
    by_dept = compute(session=session, principal=principal, now=now, start=start, end=end, by="department")
    by_district = compute(session=session, principal=principal, now=now, start=start, end=end, by="district")
    tot = by_dept["total"]
    summary = Table(t["summary"], (t["found"], t["closed"], t["on_time"], t["rate"], t["overdue"], t["open"],
                                   t["mean"], t["p90"]),
                    [(_fmt(tot["found"]), _fmt(tot["closed"]), _fmt(tot["closed_on_time"]),
                      _fmt(tot["on_time_rate"], True), _fmt(tot["overdue_open"]), _fmt(tot["open"]),
                      _fmt(tot["mean_days_to_close"]), _fmt(tot["p90_days_to_close"]))])
    rate_bars = [(g["key"], round(g["on_time_rate"] * 100, 1))
                 for g in by_dept["groups"] if g["on_time_rate"] is not None]
    found_bars = [(g["key"], float(g["found"])) for g in by_dept["groups"] if g["found"]]
    ref = min(end, now)
    overdue_rows = [h for h in _rows(session, principal, end) if h.deadline_at is not None
                    and h.deadline_at < ref and (h.closed_at is None or h.closed_at >= ref)]
    overdue_rows.sort(key=lambda h: h.deadline_at or ref)
    top = Table(t["top_overdue"], (t["code"], t["name"], t["grade"], t["days"]),
                [(h.code, h.title, h.grade or "—", f"{_days(h.deadline_at, ref):.1f}")
                 for h in overdue_rows[:10] if h.deadline_at is not None])
    sections: list[Table | Paragraphs | BarChart] = [
        summary, BarChart(t["rate_chart"], rate_bars, "%"), BarChart(t["found_chart"], found_bars),
        _group_table(t["by_dept"], t["dept"], by_dept["groups"], t),
        _group_table(t["by_district"], t["district"], by_district["groups"], t),
        top if top.rows else Paragraphs(t["top_overdue"], [t["none"]]),
    ]
    period = f"{t['period']}: {year} Q{quarter} ({_local(start)} – {_local(end - timedelta(minutes=1))})"
    return Document(t["title"], [period], sections, lang="en" if lang.startswith("en") else "zh-CN",
                    footer=[f"{t['generated']}: {_local(now)} (Asia/Shanghai)"])
