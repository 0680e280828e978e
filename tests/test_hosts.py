"""The follow-up host: the risk map follows warnings, public warnings reach subscribers, hazards escalate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from citybrain.analytics import service as riskmap
from citybrain.api import create_app
from citybrain.hazard import service as hazards
from citybrain.hazard.models import HazardEvent
from citybrain.hosts import FollowUpHost, smtp_config
from citybrain.public import subscriptions
from citybrain.public.models import PublicDelivery
from citybrain.warning import service as warning_service
from citybrain.warning.flows import CHANGED_SUBJECT
from tests.hazard.test_service import new_hazard
from tests.public.conftest import make_warning


def test_the_host_follows_warnings_and_sweeps_hazards(settings, database, clock):
    host = FollowUpHost(interval_s=3600)
    app = create_app(settings, database=database, clock=clock, services=[host])
    now = clock.now()
    with database.session() as s:
        subscriptions.subscribe(session=s, now=now, kind="webhook", target="https://hooks.example.org/cb",
                                district="310101", min_level="blue", resolve=lambda _host: ["93.184.216.34"])
        w = make_warning(s, now, district="310101", level=2)
        quiet = make_warning(s, now, district="310101", level=2, public=False)
        h = new_hazard(s, now)
        hazards.register(session=s, now=now, principal=None, hazard=h)
        hazards.grade(session=s, now=now, principal=None, hazard=h, grade="major")
        hazards.plan(session=s, now=now, principal=None, hazard=h, measures="shore up the wall",
                     deadline_at=now + timedelta(days=2), responsible_person="Li", funds=20000.0,
                     interim_measures="fence the pavement off")
        hazards.start(session=s, now=now, principal=None, hazard=h)
        changed = [warning_service.as_dict(w), warning_service.as_dict(quiet)]
        wid, hid = w.id, h.id

    async def run() -> None:
        async with app.router.lifespan_context(app):
            with database.session() as s:
                riskmap.rebuild(session=s, now=clock.now(), cache=app.state.cache)
            await app.state.bus.publish(CHANGED_SUBJECT, changed)
            for _ in range(100):  # the in-process bus hands the message over on the loop
                if host.stats["planned"]:
                    break
                await asyncio.sleep(0.01)
            clock.advance(days=3)
            await host.tick()

    asyncio.run(run())
    with database.session() as s:
        deliveries = s.scalars(sa.select(PublicDelivery)).all()
        assert [d.warning_id for d in deliveries] == [wid]  # the public one, once; the internal one not at all
        kinds = s.scalars(sa.select(HazardEvent.kind).where(HazardEvent.hazard_id == hid,
                                                            HazardEvent.kind == "escalation")).all()
        assert kinds == ["escalation"]  # the overdue major hazard escalated on the tick
    state = riskmap.current(session=None, now=clock.now(), cache=app.state.cache, ttl=timedelta(days=365))
    assert f"warning:{wid}" in state.map  # the changed public warning reached the map without a rebuild
    assert host.stats["errors"] == 0


def test_smtp_settings_become_the_email_notifier_config(settings):
    assert smtp_config(settings) is None
    plain = settings.model_copy(update={"smtp_url": "smtp+plain://127.0.0.1:2525", "smtp_from": "cb@example.org"})
    assert smtp_config(plain) == {"host": "127.0.0.1", "from": "cb@example.org", "port": 2525, "ssl": False,
                                  "starttls": False}
