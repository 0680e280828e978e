"""Assessed risk points as evidence for the dynamic risk map (``analytics.evidence``, kind "assessment").

Each risk point with a current level contributes by its colour — red 40, orange 20, yellow 10, blue 3 — and
each of its overdue control-measure checks adds 5 (a point with no assessment but overdue checks still
counts for those). One ``Evidence`` per point, ``ref`` ``risk_point:<id>``, labelled in Chinese and English,
e.g. "重大风险点：XX燃气调压站（LEC D=360）".

>>> label(name="XX燃气调压站", level="red", method="lec", score=360.0, overdue=0)
('重大风险点：XX燃气调压站（LEC D=360）', 'major risk point: XX燃气调压站 (LEC D=360)')
>>> weight("orange", overdue=2)
30.0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics.evidence import Evidence
from citybrain.hazard.risk.models import ControlMeasure, RiskPoint

LEVEL_WEIGHTS = {"red": 40.0, "orange": 20.0, "yellow": 10.0, "blue": 3.0}
OVERDUE_CHECK_WEIGHT = 5.0
_POINT_ZH = {"red": "重大风险点", "orange": "较大风险点", "yellow": "一般风险点", "blue": "低风险点"}
_POINT_EN = {"red": "major risk point", "orange": "significant risk point", "yellow": "moderate risk point",
             "blue": "low risk point"}


def weight(level: str | None, *, overdue: int = 0) -> float:
    return LEVEL_WEIGHTS.get(level or "", 0.0) + OVERDUE_CHECK_WEIGHT * overdue


def label(*, name: str, level: str | None, method: str | None, score: float | None, overdue: int) -> tuple[str, str]:
    if level in _POINT_ZH:
        symbol = "D" if method == "lec" else "R"
        how = f"{(method or '').upper()} {symbol}={score:g}" if score is not None else ""
        zh = f"{_POINT_ZH[level]}：{name}" + (f"（{how}）" if how else "")
        en = f"{_POINT_EN[level]}: {name}" + (f" ({how})" if how else "")
    else:
        zh, en = f"风险点：{name}", f"risk point: {name}"
    if overdue:
        zh += f"，{overdue} 项管控措施逾期未检查"
        en += f", {overdue} control check{'s' if overdue > 1 else ''} overdue"
    return zh, en


class AssessmentEvidence:
    """``EvidenceSource`` of assessed risk points and their overdue control-measure checks."""

    kind = "assessment"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        due = (sa.select(ControlMeasure.risk_point_id, sa.func.count().label("n"))
               .where(ControlMeasure.active.is_(True), ControlMeasure.next_due_at < now)
               .group_by(ControlMeasure.risk_point_id).subquery())
        overdue = Counter({pid: n for pid, n in session.execute(sa.select(due.c.risk_point_id, due.c.n))})
        stmt = sa.select(RiskPoint.id, RiskPoint.name, RiskPoint.level, RiskPoint.method, RiskPoint.score,
                         RiskPoint.lon, RiskPoint.lat, RiskPoint.district_code)
        stmt = stmt.where(sa.or_(RiskPoint.level.is_not(None), RiskPoint.id.in_(sa.select(due.c.risk_point_id))))
        for pid, name, level, method, score, lon, lat, district in session.execute(stmt.order_by(RiskPoint.id)):
            n = overdue.get(pid, 0)
            w = weight(level, overdue=n)
            if w <= 0:
                continue
            zh, en = label(name=name, level=level, method=method, score=score, overdue=n)
            yield Evidence(kind=self.kind, ref=f"risk_point:{pid}", lon=lon, lat=lat, weight=w, label_zh=zh,
                           label_en=en, district_code=district)
