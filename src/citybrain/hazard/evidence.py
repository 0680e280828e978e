"""What open hazards say about risk: the hazard domain's ``EvidenceSource`` for the dynamic risk map.

Every open (not closed) hazard that is not an exercise is one ``Evidence`` item at its location: weight 10
for a general hazard, 30 for a major one, 5 while ungraded; ×1.5 when overdue and ×1.2 when under
supervision (挂牌督办). The labels say the grade, the status and the days overdue in Chinese and English.

>>> from datetime import UTC, datetime
>>> weight("major", overdue=True, supervised=True)
54.0
>>> label("general", "rectifying", 2.0)
('一般隐患（整改中，逾期 2 天）', 'general hazard (rectifying, 2 days overdue)')
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics.evidence import Evidence
from citybrain.hazard import lifecycle as lc
from citybrain.hazard.models import Hazard

WEIGHTS = {lc.GENERAL: 10.0, lc.MAJOR: 30.0, None: 5.0}
OVERDUE_FACTOR = 1.5
SUPERVISED_FACTOR = 1.2
STATUS_ZH = {lc.FOUND: "待登记", lc.REGISTERED: "已登记", lc.GRADED: "已定级", lc.PLANNED: "已制定方案",
             lc.RECTIFYING: "整改中", lc.SUBMITTED: "待验收", lc.VERIFIED: "已验收", lc.CLOSED: "已销号"}


def weight(grade: str | None, *, overdue: bool, supervised: bool) -> float:
    w = WEIGHTS.get(grade, WEIGHTS[None])
    if overdue:
        w *= OVERDUE_FACTOR
    if supervised:
        w *= SUPERVISED_FACTOR
    return round(w, 3)


def label(grade: str | None, status: str, days_overdue: float) -> tuple[str, str]:
    zh, en = lc.GRADE_NAMES.get(grade or "", ("未定级隐患", "ungraded hazard"))
    extra_zh, extra_en = STATUS_ZH.get(status, status), status
    if days_overdue > 0:
        extra_zh += f"，逾期 {days_overdue:g} 天"
        extra_en += f", {days_overdue:g} days overdue"
    return f"{zh}（{extra_zh}）", f"{en} ({extra_en})"


def evidence_of(*, hazard_id: int, code: str, title: str, lon: float, lat: float, grade: str | None, status: str,
                supervised: bool, deadline: datetime | None, district: str | None, exercise: bool,
                now: datetime) -> Evidence | None:
    """The item one hazard contributes now, or None when it contributes nothing (closed, or an exercise)."""
    if status == lc.CLOSED or exercise:
        return None
    overdue = deadline is not None and now > deadline
    days = round((now - deadline).total_seconds() / 86400, 1) if deadline is not None and overdue else 0.0
    zh, en = label(grade, status, days)
    return Evidence(kind=HazardEvidence.kind, ref=f"hazard:{hazard_id}", lon=lon, lat=lat,
                    weight=weight(grade, overdue=overdue, supervised=supervised),
                    label_zh=f"{code} {title}：{zh}", label_en=f"{code} {title}: {en}", district_code=district)


def of_row(h: Hazard, now: datetime) -> Evidence | None:
    return evidence_of(hazard_id=h.id, code=h.code, title=h.title, lon=h.lon, lat=h.lat, grade=h.grade,
                       status=h.status, supervised=h.supervised, deadline=h.deadline_at, district=h.district_code,
                       exercise=h.exercise, now=now)


class HazardEvidence:
    """``EvidenceSource`` of kind "hazard": one item per open hazard (ref ``hazard:<id>``)."""

    kind = "hazard"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        stmt = (sa.select(Hazard.id, Hazard.code, Hazard.title, Hazard.lon, Hazard.lat, Hazard.grade, Hazard.status,
                          Hazard.supervised, Hazard.deadline_at, Hazard.district_code)
                .where(Hazard.status != lc.CLOSED, Hazard.exercise.is_(False)).order_by(Hazard.id))
        for hid, code, title, lon, lat, grade, status, supervised, deadline, district in session.execute(stmt):
            e = evidence_of(hazard_id=hid, code=code, title=title, lon=lon, lat=lat, grade=grade, status=status,
                            supervised=supervised, deadline=deadline, district=district, exercise=False, now=now)
            if e is not None:
                yield e
