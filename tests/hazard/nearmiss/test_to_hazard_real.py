"""To-hazard against the real hazard register: the hazard is created with the near miss as its source."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybrain.core.clock import ManualClock
from citybrain.hazard.nearmiss import service
from tests.hazard.nearmiss.conftest import principal, report


def test_a_near_miss_becomes_a_found_hazard(session: Session, clock: ManualClock) -> None:
    police = principal(session, "wang", ("dispatcher",), "police")
    row = report(session, clock, police, type_="gas", what_almost_happened="燃气软管老化")
    hazard = service.to_hazard(session=session, now=clock.now(), principal=police, near_miss=row)
    assert row.hazard_id == hazard.id
    assert (hazard.source, hazard.source_ref, hazard.category) == ("near_miss", f"near_miss:{row.id}", "gas")
    assert hazard.description == "燃气软管老化" and (hazard.lon, hazard.lat) == (row.lon, row.lat)
