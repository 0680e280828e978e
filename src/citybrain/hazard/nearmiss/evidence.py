"""Near misses as evidence for the dynamic risk map (kind ``near_miss``).

Every near miss or accident of the last 90 days counts where it happened, with a base weight by kind
(near miss 2, minor 5, serious 12) that halves every 30 days of age: a fresh cluster of precursors lifts a
cell, an old one fades. The source sees everything (the risk map applies its own scope).

>>> round(weight("serious", 0.0), 2), round(weight("near_miss", 30.0), 2), weight("minor", 91.0)
(12.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics.evidence import Evidence
from citybrain.core.clock import ensure_utc
from citybrain.hazard.nearmiss.models import NearMiss
from citybrain.hazard.nearmiss.service import KINDS, TYPES

BASE_WEIGHT = {"near_miss": 2.0, "minor": 5.0, "serious": 12.0}
WINDOW_DAYS = 90
HALF_LIFE_DAYS = 30.0


def weight(kind: str, age_days: float) -> float:
    """The base weight of ``kind`` halved every 30 days of age; nothing past the 90-day window."""
    if age_days > WINDOW_DAYS:
        return 0.0
    return BASE_WEIGHT.get(kind, 0.0) * math.pow(0.5, max(0.0, age_days) / HALF_LIFE_DAYS)


class NearMissEvidence:
    """Near misses and accidents of the last 90 days, weighted by kind and fading with age."""

    kind = "near_miss"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        now = ensure_utc(now)
        stmt = (sa.select(NearMiss.id, NearMiss.kind, NearMiss.type, NearMiss.occurred_at, NearMiss.lon,
                          NearMiss.lat, NearMiss.district_code)
                .where(NearMiss.occurred_at >= now - timedelta(days=WINDOW_DAYS), NearMiss.occurred_at <= now)
                .order_by(NearMiss.id))
        for nid, kind, type_, at, lon, lat, district in session.execute(stmt):
            age = (now - ensure_utc(at)).total_seconds() / 86400.0
            w = weight(kind, age)
            if w <= 0:
                continue
            kind_zh, kind_en = KINDS.get(kind, (kind, kind))
            type_zh, type_en = TYPES.get(type_, (type_, type_))
            days = int(age)
            yield Evidence(kind=self.kind, ref=f"near_miss:{nid}", lon=lon, lat=lat, weight=round(w, 3),
                           label_zh=f"{type_zh}{kind_zh}（{days} 天前）",
                           label_en=f"{type_en} {kind_en}, {days} day{'s' if days != 1 else ''} ago",
                           district_code=district)
