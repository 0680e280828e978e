"""The service lease: one holder at a time, lapse and takeover, release, fencing when it cannot be kept."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from citybrain.core import lease
from citybrain.core.clock import ManualClock, SystemClock
from citybrain.core.database import Database
from citybrain.core.lease import LeasedService, ServiceLease


def take(database: Database, clock: ManualClock, holder: str, ttl_s: float = 10.0, name: str = "engine") -> int | None:
    with database.session() as s:
        return lease.acquire(session=s, name=name, holder=holder, now=clock.now(), ttl_s=ttl_s)


def test_the_first_holder_gets_it_and_others_wait_until_it_lapses(database: Database, clock: ManualClock) -> None:
    assert take(database, clock, "a") == 1
    assert take(database, clock, "b") is None
    clock.advance(seconds=9)
    assert take(database, clock, "b") is None

    clock.advance(seconds=2)  # 11 s after a's acquisition: lapsed
    assert take(database, clock, "b") == 2

    with database.session() as s:
        assert not lease.renew(session=s, name="engine", holder="a", generation=1, now=clock.now(), ttl_s=10)
        row = lease.get(session=s, name="engine")
        assert row is not None and (row.holder, row.generation) == ("b", 2)


def test_renewing_keeps_it_and_releasing_frees_it_at_once(database: Database, clock: ManualClock) -> None:
    assert take(database, clock, "a") == 1
    for _ in range(3):
        clock.advance(seconds=6)
        with database.session() as s:
            assert lease.renew(session=s, name="engine", holder="a", generation=1, now=clock.now(), ttl_s=10)
        assert take(database, clock, "b") is None  # 18 s after acquisition, still a's

    with database.session() as s:
        assert lease.release(session=s, name="engine", holder="a", generation=1, now=clock.now())
    assert take(database, clock, "b") == 2
    with database.session() as s:  # a stale holder can neither renew nor release b's lease
        assert not lease.release(session=s, name="engine", holder="a", generation=1, now=clock.now())
        assert not lease.renew(session=s, name="engine", holder="a", generation=1, now=clock.now(), ttl_s=10)


def test_of_contenders_racing_for_a_free_lease_exactly_one_wins(database: Database, backend: Any) -> None:
    clock = SystemClock()
    won: list[tuple[str, int | None]] = []
    start = threading.Barrier(4)

    def contend(name: str) -> None:
        start.wait()
        for _ in range(3):  # SQLite may answer "locked" to a writer that lost the race to the file lock
            try:
                with database.session() as s:
                    won.append((name, lease.acquire(session=s, name="race", holder=name, now=clock.now(),
                                                    ttl_s=30)))
                return
            except sa.exc.OperationalError:
                time.sleep(0.05)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [name for name, generation in won if generation is not None]
    assert len(won) == 4 and len(winners) == 1
    with database.session() as s:
        row = s.get(ServiceLease, "race")
        assert row is not None and row.holder == winners[0] and row.generation == 1


class Fake:
    """A service that records its starts and stops."""

    name = "fake"

    def __init__(self, fail_start: bool = False) -> None:
        self.running = False
        self.starts = 0
        self.stops = 0
        self.fail_start = fail_start

    async def start(self, app: Any) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.running, self.starts = True, self.starts + 1

    async def stop(self) -> None:
        self.running, self.stops = False, self.stops + 1


def test_a_standby_takes_over_when_the_active_one_stops(database: Database) -> None:
    async def scenario() -> None:
        a_inner, b_inner = Fake(), Fake()
        a = LeasedService(a_inner, ttl_s=0.6, holder="a", database=database, clock=SystemClock())
        b = LeasedService(b_inner, ttl_s=0.6, holder="b", database=database, clock=SystemClock())
        await a.start(None)
        await b.start(None)
        assert (a.state, a_inner.running, b.state, b_inner.running) == ("active", True, "standby", False)

        await asyncio.sleep(0.5)  # a renews (every 0.2 s) past its first TTL; b keeps waiting
        assert (a.state, b.state, b_inner.starts) == ("active", "standby", 0)

        await a.stop()  # stops the service, then releases the lease
        assert (a_inner.running, a_inner.stops) == (False, 1)
        deadline = time.monotonic() + 5
        while b.state != "active" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert (b.state, b_inner.running, b.takeovers, b.generation) == ("active", True, 1, 2)
        await b.stop()
        assert b.state == "stopped" and not b_inner.running

    asyncio.run(scenario())


def test_a_holder_that_lost_its_lease_stops_its_service(database: Database) -> None:
    async def scenario() -> None:
        inner = Fake()
        svc = LeasedService(inner, ttl_s=60, holder="a", database=database, clock=SystemClock())
        await svc.start(None)
        assert svc.state == "active"
        with database.session() as s:  # it lapsed (the holder was paused) and another process took it
            s.execute(sa.update(ServiceLease).values(expires_at=SystemClock().now() - timedelta(seconds=1)))
        assert take(database, ManualClock(SystemClock().now()), "b", ttl_s=60, name="fake") == 2

        await svc._keep()  # what its loop does every ttl/3

        assert (svc.state, inner.running, inner.stops) == ("standby", False, 1)
        await svc.stop()
        with database.session() as s:  # it did not release b's lease on the way out
            row = lease.get(session=s, name="fake")
            assert row is not None and row.holder == "b" and row.expires_at > SystemClock().now()

    asyncio.run(scenario())


def test_a_holder_that_cannot_renew_stops_before_the_lease_could_be_taken(database: Database,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**_: Any) -> bool:
        raise sa.exc.OperationalError("UPDATE service_lease", {}, Exception("server closed the connection"))

    async def scenario() -> None:
        inner = Fake()
        svc = LeasedService(inner, ttl_s=10, holder="a", database=database, clock=SystemClock())
        await svc.start(None)
        monkeypatch.setattr(lease, "renew", unreachable)

        await svc._keep()  # just renewed: one failure is retried, the service keeps running
        assert (svc.state, inner.running) == ("active", True)

        svc._last_renewed -= 5  # half the TTL without a renewal
        await svc._keep()
        assert (svc.state, inner.running) == ("standby", False)
        await svc.stop()

    asyncio.run(scenario())


def test_a_service_that_fails_to_start_gives_the_lease_back(database: Database) -> None:
    async def scenario() -> None:
        svc = LeasedService(Fake(fail_start=True), ttl_s=60, holder="a", database=database, clock=SystemClock())
        with pytest.raises(RuntimeError):
            await svc.start(None)
        assert take(database, ManualClock(SystemClock().now()), "b", ttl_s=60, name="fake") == 2

    asyncio.run(scenario())
