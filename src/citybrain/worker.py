"""``citybrain worker``: background services in a process of their own, with no HTTP server.

On a 2-core machine the GIL keeps the warning engine and ingestion on one core; a city runs API nodes
(``citybrain serve`` with ``CITYBRAIN_SERVICES`` leaving ``warning`` out) and a warning worker beside
them, all on one PostgreSQL and one NATS JetStream (docs/scaling.md). The services are the ones
``serve`` runs, built here for both (``build_services``); each gets the same app-like object
(``state.settings``, ``db``, ``clock``, ``bus``, ``cache``), so nothing in them knows where it runs.

The warning engine keeps per-device state in memory, so on a shared bus it runs under a database lease
(``core.lease.LeasedService``): one engine is active, any other stands by and takes over, loading the
saved snapshot, when the active one stops or its lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from citybrain.core.clock import Clock, SystemClock
from citybrain.core.database import Database
from citybrain.core.errors import SettingsError, Unavailable
from citybrain.core.lease import DEFAULT_TTL_S, LeasedService
from citybrain.core.settings import SERVICE_NAMES, Settings

log = logging.getLogger(__name__)

#: The worker's JetStream consumers hold up to 256 messages at a time (a consumer asks for more as soon as it
#: has handled what it holds); a shorter pull interval than the adapter's 1 s also shortens a clean stop,
#: which waits for the durable's last pull request to expire (3 intervals).
WORKER_BUS_OPTIONS: dict[str, Any] = {"batch": 256, "fetch_timeout": 0.5}


def build_services(settings: Settings, names: Iterable[str], *, lease_ttl_s: float = DEFAULT_TTL_S) -> list[Any]:
    """The background services named (in start order), as ``serve`` and ``worker`` run them.

    The warning engine runs under the lease when the bus is shared (``CITYBRAIN_NATS_URL`` set); on the
    in-memory bus each process sees only its own readings, so a lease would only starve a second node.
    ``mqtt`` runs only when ``CITYBRAIN_MQTT_URL`` is set.
    """
    from citybrain.hosts import FollowUpHost
    from citybrain.sensing.bus_ingest import BusIngestor
    from citybrain.sensing.retention import RetentionService
    from citybrain.sensing.rollup import RollupWorker
    from citybrain.warning.flows import WarningHost

    chosen = set(names)
    unknown = chosen - set(SERVICE_NAMES)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; known: {', '.join(SERVICE_NAMES)}")
    services: list[Any] = []
    if "ingest" in chosen:
        services.append(BusIngestor())
    if "rollup" in chosen:
        services.append(RollupWorker())
    if "retention" in chosen:
        services.append(RetentionService())
    if "warning" in chosen:
        host = WarningHost()
        services.append(LeasedService(host, ttl_s=lease_ttl_s) if settings.nats_url else host)
    if "followup" in chosen:
        services.append(FollowUpHost())
    if "mqtt" in chosen and settings.mqtt_url:
        from citybrain.sensing.mqtt import bridge_for

        services.append(bridge_for(settings))
    return services


def make_app(settings: Settings, database: Database, clock: Clock, bus: Any) -> SimpleNamespace:
    """What a service's ``start(app)`` reads, without FastAPI: settings, database, clock, bus, shared cache."""
    from citybrain.sensing.pipeline import Pipeline

    state = SimpleNamespace(settings=settings, db=database, clock=clock, bus=bus,
                            cache={"sensing.pipeline": Pipeline(database, clock, bus)}, services=[])
    return SimpleNamespace(state=state)


def check(settings: Settings, names: Iterable[str], database: Database) -> None:
    """Refuse what cannot work: no shared bus, MQTT named without a broker, a schema behind the code."""
    from citybrain.core import migrate

    names = list(names)
    if not settings.nats_url:
        raise SettingsError("CITYBRAIN_NATS_URL is not set: a worker talks to the other processes over NATS "
                            "JetStream (an in-memory bus cannot reach another process); set it on every node, "
                            "or run the services inside `citybrain serve`")
    if not names:
        raise SettingsError("no services to run; name some with --services (" + ", ".join(SERVICE_NAMES) + ")")
    if "mqtt" in names and not settings.mqtt_url:
        raise SettingsError("CITYBRAIN_MQTT_URL is not set, so the worker cannot run the MQTT bridge")
    current, head = migrate.current_revision(database.engine), migrate.head_revision(database.engine)
    if current != head:
        raise Unavailable(f"database schema at {current or 'empty'}, code expects {head}: run `citybrain db upgrade`")
    if database.dialect == "sqlite":
        log.warning("worker on SQLite: the API and this process share one database file, so this machine only, "
                    "and their writers take turns on the file lock; use PostgreSQL for more than a trial")


def stats_of(service: Any) -> Any:
    """A service's figures, whatever shape it keeps them in (a dict, or a ``stats()`` method); the warning
    engine's adds the rules that failed (``engine_errors``: rule key → last message)."""
    stats = getattr(service, "stats", None)
    out = stats() if callable(stats) else dict(stats) if isinstance(stats, dict) else None
    errors = getattr(getattr(getattr(service, "inner", service), "engine", None), "errors", None)
    if isinstance(errors, dict) and isinstance(out, dict):
        inner = out.get("service")
        figures: dict[str, Any] = inner if isinstance(inner, dict) else out
        figures["engine_errors"] = {str(k): getattr(v, "last_message", str(v)) for k, v in errors.items()}
    return out


async def run(settings: Settings, names: Iterable[str], *, stop: asyncio.Event | None = None,
              lease_ttl_s: float = DEFAULT_TTL_S, bus_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start the services, run until ``stop`` is set (SIGINT/SIGTERM set it), stop them; their figures."""
    from citybrain.api import running
    from citybrain.core.nats_bus import make_bus

    names = [n for n in SERVICE_NAMES if n in set(names)]
    database = Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size)
    try:
        await asyncio.to_thread(check, settings, names, database)
        bus = make_bus(settings, name=f"citybrain-worker:{','.join(names)}",
                       **{**WORKER_BUS_OPTIONS, **(bus_options or {})})
        await bus.connect()  # type: ignore[attr-defined]  # make_bus gave the JetStream bus: NATS is set
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread: the caller stops
                loop.add_signal_handler(sig, stop.set)
        app = make_app(settings, database, SystemClock(), bus)
        services = build_services(settings, names, lease_ttl_s=lease_ttl_s)
        app.state.services = services
        try:
            async with running(services, app):
                log.info("worker running: %s", ", ".join(
                    f"{s.name} ({s.state})" if isinstance(s, LeasedService) else s.name for s in services))
                await stop.wait()
                log.info("worker stopping")
        finally:
            await bus.close()
        return {"services": {s.name: stats_of(s) for s in services}}
    finally:
        database.dispose()
