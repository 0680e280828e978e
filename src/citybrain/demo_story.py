"""What ``citybrain demo`` puts in place for dual prevention, so a new user finds the loop already turning.

Idempotent (keyed on the demo risk point's name): a gas regulator station of the demo enterprise assessed as
an orange risk point with a daily check that is overdue; a weekly gas inspection of the enterprise due now for
the demo inspector; a major hazard at a construction site whose rectification deadline has passed (the
follow-up host escalates it on its first sweep); and a few weeks of near misses for the precursor pyramid.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth import service as auth_service
from citybrain.hazard import service as hazards
from citybrain.hazard.inspection import service as inspections
from citybrain.hazard.nearmiss import service as near_misses
from citybrain.hazard.risk import measures
from citybrain.hazard.risk import service as risk
from citybrain.hazard.risk.models import RiskPoint
from citybrain.org.models import Enterprise

STATION = "人民广场燃气调压站（示范）"
STATION_AT = (121.4768, 31.2318)
SITE_AT = (121.4365, 31.1946)  # a foundation pit by Xujiahui (徐汇区)
NEAR_MISSES = (  # (days ago, kind, type, what almost happened)
    (3, "near_miss", "gas", "施工挖掘距燃气管道不足 1 米，监护人员及时叫停"),
    (9, "near_miss", "fall_from_height", "脚手架踏板松动，工人踩空被安全带拉住"),
    (12, "minor", "struck_by_object", "吊装钢筋滑落砸伤一名工人手臂"),
    (16, "near_miss", "electrical", "临时配电箱漏电保护失灵，巡查发现后停用"),
    (23, "near_miss", "gas", "餐饮店燃气软管老化漏气，报警器报警后关阀"),
    (30, "minor", "fire", "电动自行车楼道充电起火，住户自行扑灭"),
)


def seed(*, session: Session, now: datetime, enterprise_name: str) -> bool:
    """Put the demo's dual-prevention records in place once; returns whether anything was added."""
    if session.scalar(sa.select(RiskPoint.id).where(RiskPoint.name == STATION)) is not None:
        return False
    ent = session.scalar(sa.select(Enterprise).where(Enterprise.name == enterprise_name))
    duty_user = auth_service.get_by_username(session=session, username="duty")
    inspector = auth_service.get_by_username(session=session, username="inspector")
    if ent is None or duty_user is None:
        return False
    if ent.lon is None:
        ent.lon, ent.lat = STATION_AT
    duty = auth_service.principal_for(session=session, user=duty_user, via="cli")

    point = risk.create(session=session, now=now, principal=duty, name=STATION, kind="place", category="gas",
                        lon=STATION_AT[0], lat=STATION_AT[1], enterprise_id=ent.id, department="housing",
                        description="中压调压站，周边人员密集")
    risk.assess(session=session, now=now, principal=duty, point=point, method="lec",
                factors={"L": 3, "E": 6, "C": 15}, note="示范数据：D = 270，较大风险")
    measures.create(session=session, now=now, principal=duty, point=point, measure="调压站每日巡检并记录出口压力",
                    frequency="1d", enterprise_id=ent.id, person="周洁", first_due_at=now - timedelta(hours=6))
    inspections.create_plan(session=session, now=now, principal=duty, name="申城燃气调压站周检", checklist_key="gas",
                            frequency="7d", enterprise_id=ent.id, risk_point_id=point.id, department="housing",
                            inspector_user_id=inspector.id if inspector else None, first_due_at=now)

    major = hazards.create(session=session, now=now - timedelta(days=20), actor=duty,
                           title="基坑支护桩间渗水，坑边堆载超限", category="construction", lon=SITE_AT[0],
                           lat=SITE_AT[1], description="示范数据", source="manual", enterprise_id=ent.id)
    hazards.register(session=session, now=now - timedelta(days=20), principal=None, hazard=major)
    hazards.grade(session=session, now=now - timedelta(days=20), principal=None, hazard=major, grade="major")
    hazards.plan(session=session, now=now - timedelta(days=19), principal=None, hazard=major,
                 measures="堵漏注浆，清除坑边堆载，增设监测点", deadline_at=now - timedelta(days=1),
                 responsible_person="周洁", funds=120000.0, interim_measures="坑边 5 米内禁止堆载，监测加密到每 2 小时")
    hazards.start(session=session, now=now - timedelta(days=19), principal=None, hazard=major)
    hazards.supervise(session=session, now=now - timedelta(days=18), principal=None, hazard=major)

    for days, kind, type_, what in NEAR_MISSES:
        near_misses.create(session=session, now=now, principal=duty, kind=kind, type=type_,
                           occurred_at=now - timedelta(days=days), lon=STATION_AT[0] + days * 0.0007,
                           lat=STATION_AT[1] - days * 0.0004, what_almost_happened=what, enterprise_id=ent.id,
                           department="emergency")
    session.flush()
    return True
