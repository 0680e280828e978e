"""How well citizen reports are handled, over the reports filed in a window [since, until).

Counts, rates and means are computed in SQL; the median and 90th percentile of time to first response are
taken in Python from the per-report durations (portable across SQLite and PostgreSQL). Days are calendar days
in Asia/Shanghai. The caller's department scope applies, so a department sees its own figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.report import cases as cs
from citybrain.report import models as report_models

TIMEZONE = "Asia/Shanghai"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty.

    >>> percentile([5, 1, 3, 2, 4], 50), percentile(range(1, 11), 90), percentile([], 50)
    (3, 9, None)
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


def _day(session: Session, col: Any, at: datetime) -> Any:
    """The Shanghai calendar day of a UTC timestamp column, as an SQL expression."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone(TIMEZONE, col), "YYYY-MM-DD")
    offset = ZoneInfo(TIMEZONE).utcoffset(at.replace(tzinfo=None))
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    return sa.func.date(col, f"{hours:+d} hours")


def compute(*, session: Session, principal: Principal | None, since: datetime, until: datetime) -> dict[str, Any]:
    from citybrain.report.case_service import scope_clause

    r = report_models.CitizenReport
    where = [r.requested_at >= since, r.requested_at < until]
    scope = scope_clause(principal) if principal is not None else None
    if scope is not None:
        where.append(scope)

    def grouped(key: Any) -> list[dict[str, Any]]:
        day = _day(session, r.requested_at, until).label("day")
        rows = session.execute(sa.select(day, key.label("key"), sa.func.count()).where(*where)
                               .group_by(day, key).order_by(day, key))
        return [{"day": str(d), "key": k, "count": int(n)} for d, k, n in rows]

    closed = r.case_status == cs.CLOSED
    on_time = sa.and_(closed, r.due_at.is_not(None), r.closed_at <= r.due_at)
    ever_closed = sa.or_(closed, r.reopen_count > 0)
    one = sa.literal(1)
    totals = session.execute(sa.select(
        sa.func.count(),
        sa.func.count(sa.case((closed, one))),
        sa.func.count(sa.case((sa.and_(closed, r.due_at.is_not(None)), one))),
        sa.func.count(sa.case((on_time, one))),
        sa.func.count(sa.case((r.case_status == cs.MERGED, one))),
        sa.func.count(r.rating),
        sa.func.avg(r.rating),
        sa.func.count(sa.case((r.rating >= 4, one))),
        sa.func.count(sa.case((ever_closed, one))),
        sa.func.count(sa.case((r.reopen_count > 0, one))),
        sa.func.count(sa.case((r.case_status == cs.REJECTED, one))),
    ).where(*where)).one()
    total, n_closed, n_closed_due, n_on_time, merged, rated, mean, good, n_ever, reopened, rejected = totals
    firsts = session.execute(sa.select(r.requested_at, r.first_response_at)
                             .where(*where, r.first_response_at.is_not(None))).all()
    waits = [(f - q).total_seconds() for q, f in firsts if f is not None]
    median = percentile(waits, 50)
    return {
        "since": since, "until": until, "timezone": TIMEZONE, "reports": int(total),
        "per_day_by_category": [{"day": x["day"], "service_code": x["key"], "count": x["count"]}
                                for x in grouped(r.service_code)],
        "per_day_by_district": [{"day": x["day"], "district": x["key"], "count": x["count"]}
                                for x in grouped(r.district_code)],
        "first_response": {"count": len(waits), "median_s": median, "p90_s": percentile(waits, 90)},
        "on_time": {"closed": int(n_closed), "with_time_limit": int(n_closed_due), "on_time": int(n_on_time),
                    "rate": _ratio(int(n_on_time), int(n_closed_due))},
        "duplicates_merged": int(merged),
        "rejected": int(rejected),
        "satisfaction": {"rated": int(rated), "mean": None if mean is None else round(float(mean), 3),
                         "share_4_plus": _ratio(int(good), int(rated))},
        "reopen": {"closed_ever": int(n_ever), "reopened": int(reopened), "rate": _ratio(int(reopened), int(n_ever))},
    }
