"""Automatic incidents from warnings: the sweep that opens the ones the warning host's own step missed."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from citybrain.incident import flows, service
from citybrain.incident import plans as pl
from citybrain.incident.models import Incident, IncidentEvent, IncidentLink, IncidentPart, IncidentTask
from citybrain.warning.types import Level
from tests.incident.conftest import PEOPLES_SQUARE, dept_id, make_warning

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


def test_one_transaction_of_red_warnings_stores_incidents_links_and_timelines_in_order(session, clock):
    """The warning host's step for a batch: a new incident with its red plan, a second warning linked to it, a
    third far away opening its own; each warning once, every row in the order things happened."""
    now = clock.now()
    first = make_warning(session, now, level=1, annotations=RED, fingerprint="first")
    near = make_warning(session, now, level=1, annotations=RED, fingerprint="near", lon=LON + 0.0005)
    far = make_warning(session, now, level=1, annotations=RED, fingerprint="far", lon=LON + 0.05)
    opened = [flows.auto_incident_from_warning(session, w, now) for w in (first, near, far, near)]
    assert [o.created if o else None for o in opened] == [True, False, True, None]  # the last: already linked
    inc, other = opened[0].incident, opened[2].incident
    assert opened[1].incident is inc and inc.id < other.id

    assert session.execute(sa.select(IncidentLink.incident_id, IncidentLink.ref_id, IncidentLink.created_by)
                           .order_by(IncidentLink.id)).all() == [
        (inc.id, str(first.id), "system"), (inc.id, str(near.id), "system"), (other.id, str(far.id), "system")]

    plan = pl.starter_plans()["gas_leak"]
    specs = pl.instantiate(plan, first.starts_at, Level.RED)
    tasks = session.execute(sa.select(IncidentTask.id, IncidentTask.key).where(IncidentTask.incident_id == inc.id)
                            .order_by(IncidentTask.id)).all()
    assert [key for _, key in tasks] == [s.key for s in specs]  # ids follow the plan's order
    events = session.scalars(sa.select(IncidentEvent).where(IncidentEvent.incident_id == inc.id)
                             .order_by(IncidentEvent.id)).all()
    assert [e.kind for e in events] == ["reported", *["task_created"] * len(specs), "plan_instantiated", "linked",
                                        "duplicate_report", "linked"]
    assert [(e.task_id, e.detail["key"]) for e in events if e.kind == "task_created"] == tasks
    assert events[len(specs) + 1].detail["tasks"] == [s.key for s in specs]
    assert [e.detail for e in events if e.kind == "linked"] == [{"kind": "warning", "ref_id": str(first.id)},
                                                                {"kind": "warning", "ref_id": str(near.id)}]
    assert {(e.status, e.level, e.actor, e.at) for e in events} == {("reported", 1, "system", now)}
    assert inc.last_report_at == near.starts_at and inc.updated_at == now
    assert (inc.plan_key, inc.plan_version, inc.participants[0]) == (plan.key, plan.version, "housing")
    assert session.execute(sa.select(IncidentPart.department_id, IncidentPart.position)
                           .where(IncidentPart.incident_id == inc.id).order_by(IncidentPart.position)).all() == [
        (dept_id(session, code), i) for i, code in enumerate(["fire", *inc.participants])]
    assert [e.kind for e in service.timeline(session=session, incident=other)][-2:] == ["plan_instantiated",
                                                                                         "linked"]
