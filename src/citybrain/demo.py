"""``citybrain demo``: the whole platform in one process on SQLite with a simulated Shanghai district.

Demo logins get random passwords, kept (mode 0600) in the data directory so a second run shows the
same ones. The simulator registers its fleet and publishes reading batches like real devices: over
MQTT when ``CITYBRAIN_MQTT_URL`` is set (the bridge ingests them), otherwise on the bus subject
``readings.in``, which the in-process ingestor hands to the same pipeline HTTP and MQTT use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from citybrain import demo_story
from citybrain.auth import service as auth_service
from citybrain.core.clock import SystemClock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.incident import units_service
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise
from citybrain.sensing.bus_ingest import READINGS_IN
from citybrain.warning.rules import service as rules_service

log = logging.getLogger(__name__)
BACKFILL_SPEED = 3600.0  # simulated seconds per real second while replaying history

# username, roles, department, display name
DEMO_USERS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("duty", ("duty_officer",), "ops", "值班长 王敏 (duty officer)"),
    ("police", ("dispatcher",), "police", "公安调度 李强 (police dispatcher)"),
    ("fire", ("dispatcher",), "fire", "消防调度 张伟 (fire dispatcher)"),
    ("emergency", ("dispatcher", "dept_admin"), "emergency", "应急管理 陈静 (emergency management)"),
    ("urban", ("dispatcher",), "urban", "城管执法 刘洋 (urban management)"),
    ("governance", ("dispatcher",), "governance", "综治办 赵磊 (governance office)"),
    ("analyst", ("analyst",), "ops", "分析员 孙丽 (analyst)"),
    ("housing", ("dispatcher",), "housing", "住建委 何军 (housing and construction; supervises the demo enterprise)"),
    ("inspector", ("inspector",), "housing", "网格巡查员 吴刚 (grid inspector)"),
)
DEMO_ENTERPRISE = {"name": "上海申城燃气示范有限公司 (Shencheng Gas demo Co.)", "industry": "gas",
                   "district_code": "310101", "address": "黄浦区 人民大道 示范地址", "lon": 121.4768, "lat": 31.2318}


DEMO_FAULT_RATE = 25  # devices per fault of each kind per day (the simulator's default is 500)


def make_simulator(*, seed: int, devices: int | None, start: datetime) -> Any:
    from citybrain.geo.loaders import load_shanghai
    from citybrain.simulator import Simulator

    # a lively city: about one fault of each kind per hour at the default 600 devices (see DEMO_FAULT_RATE)
    return Simulator(load_shanghai(), seed=seed, devices=devices, start=start, devices_per_fault=DEMO_FAULT_RATE)


def ensure_demo_users(settings: Settings, database: Database) -> dict[str, str]:
    """Create the demo departments' users (once) and return username → password."""
    path = Path(settings.data_dir) / "demo-logins.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    now = datetime.now(UTC)
    with database.session() as s:
        ent = s.query(Enterprise).filter_by(name=DEMO_ENTERPRISE["name"]).one_or_none()
        if ent is None:
            dept = org_service.department_id_for(session=s, code="housing", field="demo")  # gas: 住建委
            ent = Enterprise(**DEMO_ENTERPRISE, supervising_department_id=dept, created_at=now, updated_at=now)
            s.add(ent)
            s.flush()
        wanted = [*DEMO_USERS, ("enterprise", ("enterprise_officer",), "emergency", "企业安全员 周洁 (enterprise)")]
        for username, roles, dept_code, display in wanted:
            if auth_service.get_by_username(session=s, username=username) is not None:
                continue
            password = known.get(username) or secrets.token_urlsafe(9)
            dept_id = org_service.department_id_for(session=s, code=dept_code, field="demo")
            auth_service.create(
                session=s, now=now, username=username, password=password, roles=list(roles), display_name=display,
                department_id=None if username == "enterprise" else dept_id,
                enterprise_id=ent.id if username == "enterprise" else None,
            )
            known[username] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=1))
    os.chmod(path, 0o600)
    return known


@dataclass
class SimulatorService:
    """Runs the city simulator beside the API and publishes each batch on the bus."""

    seed: int
    devices: int | None
    backfill_hours: float = 6.0  # history replayed fast at start, so charts are not empty
    mqtt_url: str | None = None  # set: publish like a real device, over the broker
    name: str = "simulator"

    async def start(self, app: FastAPI) -> None:
        from citybrain.simulator import run

        clock = app.state.clock
        now = clock.now().replace(second=0, microsecond=0)
        start = now - timedelta(hours=self.backfill_hours)
        self.sim = await asyncio.to_thread(make_simulator, seed=self.seed, devices=self.devices, start=start)
        await asyncio.to_thread(self._register, app)
        self.bus = app.state.bus
        self.stop_event = asyncio.Event()
        app.state.simulator = self

        async def stream() -> Any:
            # Replay the past quickly (never ahead of the clock: future readings are refused), then live.
            if now > start:
                await run(self.sim, self._publish, clock=clock, speed=BACKFILL_SPEED, stop=self.stop_event,
                          start=start, end=now)
            return await run(self.sim, self._publish, clock=clock, speed=1.0, stop=self.stop_event, start=now)

        self.task = asyncio.create_task(stream(), name="simulator")
        log.info("simulator: %d devices on %d assets, seed %d", len(self.sim.devices), len(self.sim.assets), self.seed)

    def _register(self, app: FastAPI) -> None:
        """Register the simulated assets and devices (idempotent), each with its default department."""
        from citybrain.sensing import service as sensing

        with app.state.db.session() as s:
            counts = sensing.register_catalogue(session=s, now=app.state.clock.now(),
                                                assets=self.sim.asset_catalogue(), devices=self.sim.device_catalogue())
        log.info("simulator fleet registered: %s", counts)

    async def _publish(self, batch: list[dict[str, Any]]) -> None:
        if self.mqtt_url:
            from citybrain.sensing.mqtt import publish_readings

            await asyncio.to_thread(publish_readings, self.mqtt_url, batch, batch=True)
        else:
            await self.bus.publish(READINGS_IN, batch)

    async def stop(self) -> None:
        self.stop_event.set()
        self.stats = await self.task


def demo_services(settings: Settings, sim: SimulatorService) -> list[Any]:
    """What the demo runs: the background services ``CITYBRAIN_SERVICES`` names (all by default) as ``serve``
    runs them -- the warning engine under the lease when the bus is shared over NATS, the MQTT bridge when
    ``CITYBRAIN_MQTT_URL`` is set (then the simulator's devices publish through the broker) -- and the
    simulator last."""
    from citybrain.worker import build_services

    return [*build_services(settings, settings.services), sim]


def run_demo(settings: Settings, database: Database, *, seed: int, devices: int | None, backfill_hours: float,
             console: Console) -> None:
    import uvicorn

    from citybrain.api import create_app

    logins = ensure_demo_users(settings, database)
    with database.session() as s:
        seeded = rules_service.seed_demo(session=s, now=datetime.now(UTC))
        seeded += units_service.seed_demo_units(session=s, now=datetime.now(UTC))
        seeded += demo_story.seed(session=s, now=datetime.now(UTC), enterprise_name=DEMO_ENTERPRISE["name"])
        if seeded:
            s.commit()
    sim = SimulatorService(seed=seed, devices=devices, backfill_hours=backfill_hours, mqtt_url=settings.mqtt_url)
    app = create_app(settings, database=database, clock=SystemClock(), services=demo_services(settings, sim))
    table = Table(title="demo logins (also in " + str(Path(settings.data_dir) / "demo-logins.json") + ")")
    for col in ("username", "password", "who"):
        table.add_column(col)
    names = {u: d for u, _r, _dep, d in DEMO_USERS} | {"enterprise": "enterprise safety officer"}
    for username, password in logins.items():
        table.add_row(username, password, names.get(username, ""))
    console.print(table)
    console.print(f"[bold green]citybrain demo:[/] open http://{settings.host}:{settings.port}/  (Ctrl-C stops)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    stats = getattr(sim, "stats", None)
    if stats is not None:
        console.print(f"simulator published {stats.readings} readings in {stats.batches} batches; bye.")
