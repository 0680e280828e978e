"""The port through which every domain feeds the dynamic risk map (风险四色图 + 动态风险指数).

A domain that knows something about risk at a place (an assessed risk point, an open hazard, an active
warning, a recent incident, a near miss, a sensing gap) offers an ``EvidenceSource``: given a session and
the time, it yields ``Evidence`` items — a point, a weight and a sentence saying why. The risk map sums
the weights per grid cell and district, keeps the items as the cell's explanation, and applies one new
or withdrawn item incrementally. Sources know nothing of cells; the map knows nothing of domains.

Weights are on one scale: a red (重大) assessed risk point contributes 40, a major hazard 30 (more when
overdue), a red warning 25 and so on down; each source documents its own table. A cell's colour comes
from its total (``analytics.riskmap`` holds the bands).

>>> e = Evidence(kind="hazard", ref="hazard:7", lon=121.47, lat=31.23, weight=30.0,
...              label_zh="重大隐患（逾期 2 天）", label_en="major hazard, 2 days overdue")
>>> e.ref, e.weight
('hazard:7', 30.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason a place is risky now. ``ref`` ("hazard:7") identifies it for incremental updates."""

    kind: str  # "assessment", "hazard", "warning", "incident", "near_miss", "sensing_gap"
    ref: str
    lon: float
    lat: float
    weight: float
    label_zh: str
    label_en: str
    district_code: str | None = None


class EvidenceSource(Protocol):
    """Yields the evidence one domain holds at ``now``; must be cheap to call for the whole city."""

    kind: str

    def collect(self, *, session: Session, now: datetime) -> Iterable[Evidence]: ...
