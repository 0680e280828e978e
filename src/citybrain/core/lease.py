"""A lease row in the database, so that at most one process at a time runs a singleton service.

The warning engine keeps per-device state in memory; two engines sharing the ``readings.accepted``
durable would each see about half of every device's readings. ``LeasedService`` wraps such a service:
the process holding the lease runs it and renews the lease every ``ttl_s / 3``; every other process
stands by and polls, and takes over (starting the service, which loads its saved state) once the lease
lapses, or within one poll after the holder released it on a clean stop.

What it guarantees, and what not:

* Acquiring is one conditional ``UPDATE`` (or the first ``INSERT``), so of two contenders exactly one
  wins, on PostgreSQL and SQLite alike. Each acquisition raises ``generation``, which tells holders' terms apart.
* A holder that cannot renew (database unreachable) stops its service once half the TTL has passed
  since its last renewal, before any other process may take over. A holder that finds the lease taken
  (it was paused longer than the TTL) stops at that renewal.
* Expiry is compared with each process's own clock: keep the nodes' clocks in sync (NTP) to well
  under half the TTL. A holder paused past the TTL runs on until its next renewal attempt (at most
  TTL/3) tells it to stop; meanwhile two engines share the durable, so the readings the old one
  handles are missing from the new one's state (warnings are deduplicated by fingerprint either way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from citybrain.core.clock import Clock
from citybrain.core.database import Base, Database

log = logging.getLogger(__name__)
DEFAULT_TTL_S = 15.0


class ServiceLease(Base):
    """Who runs a singleton service now, until when (one row per service, created on first acquisition)."""

    __tablename__ = "service_lease"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    generation: Mapped[int] = mapped_column(sa.Integer)
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


def _table() -> sa.Table:
    return cast(sa.Table, ServiceLease.__table__)


def holder_id() -> str:
    """This process, recognisably in the table: host, pid and a random part (a restarted pid differs)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(*, session: Session, name: str, holder: str, now: datetime, ttl_s: float) -> int | None:
    """Take the lease if it is free (never held, lapsed, or already ours); the new generation, or None."""
    expires = now + timedelta(seconds=ttl_s)
    lease = _table()
    taken = session.execute(
        sa.update(lease)
        .where(lease.c.name == name, sa.or_(lease.c.expires_at <= now, lease.c.holder == holder))
        .values(holder=holder, generation=lease.c.generation + 1, acquired_at=now, renewed_at=now, expires_at=expires)
    )
    if getattr(taken, "rowcount", 0) != 1:
        if session.get(ServiceLease, name) is not None:
            return None
        session.add(ServiceLease(name=name, holder=holder, generation=1, acquired_at=now, renewed_at=now,
                                 expires_at=expires))
        try:
            session.flush()
        except sa.exc.IntegrityError:  # another process inserted the first row meanwhile: it holds the lease
            session.rollback()  # the failed update changed nothing, so nothing else is lost
            return None
    session.commit()
    return int(session.scalar(sa.select(lease.c.generation).where(lease.c.name == name)) or 0)


def renew(*, session: Session, name: str, holder: str, generation: int, now: datetime, ttl_s: float) -> bool:
    """Extend our lease; False if another process took it meanwhile."""
    lease = _table()
    done = session.execute(
        sa.update(lease)
        .where(lease.c.name == name, lease.c.holder == holder, lease.c.generation == generation)
        .values(renewed_at=now, expires_at=now + timedelta(seconds=ttl_s))
    )
    session.commit()
    return getattr(done, "rowcount", 0) == 1


def release(*, session: Session, name: str, holder: str, generation: int, now: datetime) -> bool:
    """Let the lease lapse now (a clean stop), so a standby takes over without waiting for the TTL."""
    lease = _table()
    done = session.execute(
        sa.update(lease)
        .where(lease.c.name == name, lease.c.holder == holder, lease.c.generation == generation)
        .values(expires_at=now)
    )
    session.commit()
    return getattr(done, "rowcount", 0) == 1


def get(*, session: Session, name: str) -> ServiceLease | None:
    return session.get(ServiceLease, name)


class Service(Protocol):
    name: str

    async def start(self, app: Any) -> None: ...

    async def stop(self) -> None: ...


class LeasedService:
    """Runs ``inner`` only while this process holds the lease named after it; a standby otherwise.

    The same service protocol as the app's (``name``, ``start(app)``, ``stop()``). ``start`` takes the
    lease if it is free and then starts ``inner`` before returning (so a misconfiguration fails the
    start); otherwise it returns at once and a task keeps polling. ``inner`` may be started again after
    a stop (a lost lease, then a takeover); if its ``start`` raises, the lease is released and ``inner``
    is not stopped.
    """

    def __init__(self, inner: Service, *, ttl_s: float = DEFAULT_TTL_S, lease_name: str | None = None,
                 holder: str | None = None, database: Database | None = None, clock: Clock | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("the lease TTL must be positive")
        self.inner = inner
        self.name = inner.name
        self.lease_name = lease_name or inner.name
        self.holder = holder or holder_id()
        self.ttl_s = ttl_s
        self.renew_s = ttl_s / 3
        self.database = database
        self.clock = clock
        self.state: Literal["new", "standby", "active", "stopped"] = "new"
        self.generation: int | None = None
        self.takeovers = 0  # how often this process became the active one
        self.app: Any = None
        self._task: asyncio.Task[None] | None = None
        self._last_renewed = 0.0  # monotonic time of the last successful acquire or renew
        self._renew_failures = 0
        self._poll_failures = 0

    async def start(self, app: Any = None) -> None:
        self.app = app
        state = getattr(app, "state", None)
        self.database = self.database or getattr(state, "db", None)
        self.clock = self.clock or getattr(state, "clock", None)
        if self.database is None or self.clock is None:
            raise ValueError(f"{self.name}: a leased service needs the database and the clock")
        self.state = "standby"
        if await self._acquire():
            try:
                await self._activate()
            except BaseException:
                await self._release()
                raise
        else:
            log.info("%s: standing by; lease %r is held by another process", self.name, self.lease_name)
        self._task = asyncio.create_task(self._run(), name=f"lease:{self.lease_name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.state == "active":
            await self._deactivate("stopping")
            await self._release()
        self.state = "stopped"

    def stats(self) -> dict[str, Any]:
        inner = getattr(self.inner, "stats", None)
        return {"state": self.state, "lease": self.lease_name, "holder": self.holder, "generation": self.generation,
                "takeovers": self.takeovers, **({"service": dict(inner)} if isinstance(inner, dict) else {})}

    # -- the loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            healthy = self.state != "active" or not self._renew_failures
            await asyncio.sleep(self.renew_s if healthy else min(self.renew_s, self.ttl_s / 10))
            if self.state == "active":
                await self._keep()
            elif await self._acquire():
                try:
                    await self._activate()
                except Exception:  # not stopped: it did not start (the warning host would save an empty state)
                    log.exception("%s: took the lease but could not start; releasing it", self.name)
                    await self._release()

    async def _acquire(self) -> bool:
        assert self.database is not None and self.clock is not None
        db, clock = self.database, self.clock

        def work() -> int | None:
            with db.writing(), db.session() as session:
                return acquire(session=session, name=self.lease_name, holder=self.holder, now=clock.now(),
                               ttl_s=self.ttl_s)

        try:
            generation = await anyio.to_thread.run_sync(work)
        except Exception as exc:
            self._poll_failures += 1
            if self._poll_failures == 1:
                log.warning("%s: cannot read lease %r (%s: %s); retrying", self.name, self.lease_name,
                            type(exc).__name__, exc)
            return False
        self._poll_failures = 0
        if generation is None:
            return False
        self.generation = generation
        self._last_renewed = time.monotonic()
        return True

    async def _activate(self) -> None:
        log.info("%s: lease %r taken (generation %s); starting", self.name, self.lease_name, self.generation)
        await self.inner.start(self.app)
        self.state = "active"
        self._renew_failures = 0
        self.takeovers += 1

    async def _keep(self) -> None:
        """Renew; stop the service if the lease is lost, or when renewing failed for half the TTL."""
        assert self.database is not None and self.clock is not None and self.generation is not None
        db, clock, generation = self.database, self.clock, self.generation

        def work() -> bool:
            with db.writing(), db.session() as session:
                return renew(session=session, name=self.lease_name, holder=self.holder, generation=generation,
                             now=clock.now(), ttl_s=self.ttl_s)

        try:
            kept = await anyio.to_thread.run_sync(work)
        except Exception as exc:
            self._renew_failures += 1
            if self._renew_failures == 1:
                log.warning("%s: cannot renew lease %r (%s: %s); retrying", self.name, self.lease_name,
                            type(exc).__name__, exc)
            if time.monotonic() - self._last_renewed >= self.ttl_s / 2:
                log.error("%s: lease %r not renewed for %.1f s; stopping before another process may take over",
                          self.name, self.lease_name, time.monotonic() - self._last_renewed)
                await self._deactivate("lease not renewed")
            return
        if not kept:
            log.error("%s: lease %r was taken by another process; stopping", self.name, self.lease_name)
            await self._deactivate("lease lost")
            return
        self._renew_failures = 0
        self._last_renewed = time.monotonic()

    async def _deactivate(self, why: str) -> None:
        self.state = "standby"
        try:
            await self.inner.stop()
        except Exception:
            log.exception("%s: stopping (%s) failed", self.name, why)

    async def _release(self) -> None:
        if self.generation is None or self.database is None or self.clock is None:
            return
        db, clock, generation = self.database, self.clock, self.generation

        def work() -> bool:
            with db.writing(), db.session() as session:
                return release(session=session, name=self.lease_name, holder=self.holder, generation=generation,
                               now=clock.now())

        try:
            await anyio.to_thread.run_sync(work)
        except Exception as exc:  # it lapses by itself after the TTL
            log.warning("%s: could not release lease %r (%s); it lapses in %.0f s", self.name, self.lease_name,
                        exc, self.ttl_s)
