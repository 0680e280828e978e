"""The demo wiring: demo users, and the simulator's fleet streaming through the real pipeline."""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from citybrain.api import create_app
from citybrain.auth import service as auth_service
from citybrain.core.clock import SystemClock
from citybrain.demo import DEMO_USERS, SimulatorService, demo_services, ensure_demo_users
from citybrain.sensing.bus_ingest import BusIngestor
from citybrain.sensing.models import Reading


def test_demo_users_are_created_once_and_their_logins_kept_private(settings, database):
    first = ensure_demo_users(settings, database)
    again = ensure_demo_users(settings, database)
    assert first == again and {u for u, *_ in DEMO_USERS} <= set(first)
    path = settings.data_dir / "demo-logins.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with database.session() as s:
        fire = auth_service.get_by_username(session=s, username="fire")
        assert fire is not None and fire.roles == ["dispatcher"]
        assert auth_service.authenticate(session=s, now=datetime.now(UTC), username="fire", password=first["fire"],
                                         max_failures=5, lockout=timedelta(minutes=1))


def test_the_simulator_backfills_history_then_streams_into_storage(settings, database):
    sim = SimulatorService(seed=3, devices=40, backfill_hours=0.5)
    app = create_app(settings, database=database, clock=SystemClock(), services=[BusIngestor(), sim])
    started = datetime.now(UTC)
    with TestClient(app):
        deadline = time.monotonic() + 60
        span = None
        while time.monotonic() < deadline:
            with database.session() as s:
                first, last = s.execute(sa.select(sa.func.min(Reading.ts), sa.func.max(Reading.ts))).one()
            if first is not None:
                span = (last - first).total_seconds()
                if span >= 25 * 60:
                    break
            time.sleep(0.2)
        with database.engine.connect() as conn:
            devices = conn.execute(sa.text("SELECT count(*) FROM device")).scalar_one()
            future = conn.execute(sa.text(
                "SELECT count(*) FROM dead_letter WHERE reason = 'future_timestamp'")).scalar_one()
    assert devices == 40
    assert span is not None and span >= 25 * 60, "half an hour of history should have been replayed"
    assert last <= datetime.now(UTC) and first < started
    assert future == 0, "the replay must never run ahead of the clock"


def test_the_demo_story_puts_dual_prevention_in_place_once(settings, database):
    from citybrain import demo_story
    from citybrain.demo import DEMO_ENTERPRISE
    from citybrain.hazard import service as hazards
    from citybrain.hazard.models import Hazard
    from citybrain.hazard.risk.models import RiskPoint

    ensure_demo_users(settings, database)
    now = datetime.now(UTC)
    with database.session() as s:
        assert demo_story.seed(session=s, now=now, enterprise_name=DEMO_ENTERPRISE["name"]) is True
    with database.session() as s:
        assert demo_story.seed(session=s, now=now, enterprise_name=DEMO_ENTERPRISE["name"]) is False
        point = s.query(RiskPoint).filter_by(name=demo_story.STATION).one()
        assert point.level == "orange"
        [major] = s.query(Hazard).all()
        assert (major.grade, major.supervised, major.status) == ("major", True, "rectifying")
        swept = hazards.sweep(session=s, now=now)
        assert any(item.due.kind == "escalation" for item in swept)  # overdue: the first sweep escalates it


def test_the_demo_runs_the_services_citybrain_services_names(settings):
    sim = SimulatorService(seed=1, devices=10)
    names = [type(s).__name__ for s in demo_services(settings, sim)]  # all, by default, as serve runs them
    assert names == ["BusIngestor", "RollupWorker", "RetentionService", "WarningHost", "FollowUpHost",
                     "SimulatorService"]
    chosen = settings.model_copy(update={"services": ("ingest", "followup")})
    assert [type(s).__name__ for s in demo_services(chosen, sim)] == ["BusIngestor", "FollowUpHost", "SimulatorService"]
    shared = settings.model_copy(update={"nats_url": "nats://127.0.0.1:4222"})  # the engine under the lease
    assert "LeasedService" in [type(s).__name__ for s in demo_services(shared, sim)]
