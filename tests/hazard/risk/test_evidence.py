"""Assessed risk points as risk-map evidence: weight by level, +5 per overdue control check, bilingual labels."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybrain.analytics.evidence import EvidenceSource
from citybrain.core.clock import ManualClock
from citybrain.hazard.risk import measures, service
from citybrain.hazard.risk.evidence import AssessmentEvidence
from tests.hazard.risk.factories import ADMIN, point


def test_points_weigh_by_level_plus_overdue_checks(session: Session, clock: ManualClock) -> None:
    red = point(session, clock.now(), name="XX燃气调压站")
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=red, method="lec",
                   factors={"L": 3, "E": 3, "C": 40})
    yellow = point(session, clock.now(), name="某商场", category="crowd")
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=yellow, method="matrix",
                   factors={"likelihood": 3, "severity": 3})
    unassessed = point(session, clock.now(), name="未评估点")
    point(session, clock.now(), name="无证据点")
    for p in (red, red, unassessed):
        measures.create(session=session, now=clock.now(), principal=ADMIN, point=p, measure="巡检", frequency="1d")
    clock.advance(days=2)

    source: EvidenceSource = AssessmentEvidence()
    items = {e.ref: e for e in source.collect(session=session, now=clock.now())}

    assert set(items) == {f"risk_point:{red.id}", f"risk_point:{yellow.id}", f"risk_point:{unassessed.id}"}
    r = items[f"risk_point:{red.id}"]
    assert (r.kind, r.weight, r.lon, r.lat) == ("assessment", 50.0, red.lon, red.lat)
    assert r.label_zh == "重大风险点：XX燃气调压站（LEC D=360），2 项管控措施逾期未检查"
    assert r.label_en == "major risk point: XX燃气调压站 (LEC D=360), 2 control checks overdue"
    assert items[f"risk_point:{yellow.id}"].weight == 10.0
    assert items[f"risk_point:{yellow.id}"].label_zh == "一般风险点：某商场（MATRIX R=9）"
    assert items[f"risk_point:{unassessed.id}"].weight == 5.0


def test_a_checked_measure_no_longer_counts(session: Session, clock: ManualClock) -> None:
    p = point(session, clock.now())
    service.assess(session=session, now=clock.now(), principal=ADMIN, point=p, method="matrix",
                   factors={"likelihood": 1, "severity": 2})
    m = measures.create(session=session, now=clock.now(), principal=ADMIN, point=p, measure="巡检", frequency="1d")
    clock.advance(days=2)
    assert [e.weight for e in AssessmentEvidence().collect(session=session, now=clock.now())] == [8.0]
    measures.record_check(session=session, now=clock.now(), principal=ADMIN, measure=m, point=p)
    assert [e.weight for e in AssessmentEvidence().collect(session=session, now=clock.now())] == [3.0]
