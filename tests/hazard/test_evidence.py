"""The hazard domain's evidence for the risk map: one weighted, labelled item per open hazard."""

from __future__ import annotations

from datetime import timedelta

from citybrain.analytics.evidence import EvidenceSource
from citybrain.hazard import service
from citybrain.hazard.evidence import HazardEvidence
from tests.hazard.test_service import new_hazard


def test_open_hazards_become_weighted_evidence(session, clock):
    now = clock.now()
    ungraded = new_hazard(session, now)
    major = new_hazard(session, now, title="Gas main corroded", category="gas")
    for verb in ("register", "grade"):
        getattr(service, verb)(session=session, now=now, principal=None, hazard=major,
                               **({"grade": "major"} if verb == "grade" else {}))
    service.plan(session=session, now=now, principal=None, hazard=major, measures="replace", responsible_person="Li",
                 deadline_at=now + timedelta(days=10), funds=1.0, interim_measures="patrols")
    closed = new_hazard(session, now, title="Done")
    closed.status = "closed"
    new_hazard(session, now, title="Drill", exercise=True)
    session.flush()

    source: EvidenceSource = HazardEvidence()  # the port's shape, checked by mypy
    assert source.kind == "hazard"
    items = {e.ref: e for e in source.collect(session=session, now=now + timedelta(days=12))}
    assert set(items) == {f"hazard:{ungraded.id}", f"hazard:{major.id}"}
    assert items[f"hazard:{ungraded.id}"].weight == 5.0
    e = items[f"hazard:{major.id}"]
    assert e.weight == 30 * 1.5 * 1.2 and e.kind == "hazard" and e.district_code == "310101"
    assert "逾期 2 天" in e.label_zh and "2 days overdue" in e.label_en and "major" in e.label_en
    assert items[f"hazard:{major.id}"].lon == major.lon
    on_time = {x.ref: x.weight for x in source.collect(session=session, now=now + timedelta(days=1))}
    assert on_time[f"hazard:{major.id}"] == 36.0
