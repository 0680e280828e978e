"""Automatic incidents from warnings: the sweep that opens the ones the warning host's own step missed."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from citybrain.incident import flows
from citybrain.incident.models import Incident, IncidentLink
from tests.incident.conftest import PEOPLES_SQUARE, make_warning

LON, LAT = PEOPLES_SQUARE
RED = {"auto_incident": "red"}


def linked(session) -> dict[str, int]:
    return {ref: inc for ref, inc in session.execute(sa.select(IncidentLink.ref_id, IncidentLink.incident_id)
                                                     .where(IncidentLink.kind == "warning"))}


def test_the_sweep_opens_the_missed_incident_once(session, clock):
    now = clock.now()
    missed = make_warning(session, now, level=1, annotations=RED)
    assert flows.sweep_auto_incidents(session, now, rule_keys=["gas-methane-high"]) == []
    assert list(linked(session)) == [str(missed.id)]
    assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1
    assert flows.sweep_auto_incidents(session, now, rule_keys=["gas-methane-high"]) == []  # linked: nothing more
    assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


def test_the_sweep_leaves_what_the_stream_would_have_left(session, clock):
    now = clock.now()
    make_warning(session, now, level=3, annotations=RED, fingerprint="yellow")  # below the rule's level
    make_warning(session, now, level=1, fingerprint="plain")  # its rule opens no incidents
    make_warning(session, now, level=1, annotations=RED, state="resolved", fingerprint="over")
    make_warning(session, now, level=1, annotations=RED, fingerprint="other", rule="gas-other")  # not swept
    old = make_warning(session, now - timedelta(days=2), level=1, annotations=RED, fingerprint="old")
    assert old.updated_at < now - flows.SWEEP_HORIZON  # long past any restart
    assert flows.sweep_auto_incidents(session, now, rule_keys=["gas-methane-high"]) == []
    assert flows.sweep_auto_incidents(session, now, rule_keys=[]) == []
    assert linked(session) == {} and session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_a_warning_already_linked_by_hand_is_not_swept(session, clock):
    now = clock.now()
    first = make_warning(session, now, level=1, annotations=RED)
    opened = flows.auto_incident_from_warning(session, first, now)
    assert opened is not None
    second = make_warning(session, now, level=1, annotations=RED, fingerprint="second", lon=LON + 0.0001)
    assert flows.sweep_auto_incidents(session, now, rule_keys=["gas-methane-high"]) == []
    # the second one is near the first's open incident: linked to it, as the stream would have done
    assert linked(session) == {str(first.id): opened.incident.id, str(second.id): opened.incident.id}


def test_a_refused_warning_is_reported_once_and_then_skipped(session, clock, caplog):
    now = clock.now()
    odd = make_warning(session, now, rule="sensor-no-data", level=1, annotations=RED)  # no incident type
    assert flows.sweep_auto_incidents(session, now, rule_keys=["sensor-no-data"]) == [odd.id]
    caplog.clear()
    assert flows.sweep_auto_incidents(session, now, rule_keys=["sensor-no-data"], skip={odd.id}) == []
    assert "no automatic incident" not in caplog.text
    assert linked(session) == {}
