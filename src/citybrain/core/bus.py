"""The message bus port between stages and processes.

Subjects are dot-separated tokens with NATS wildcards (``*`` one token, ``>`` the rest).
Guarantees a ``Bus`` must give: messages on one subject reach each subscriber in publish order; a
subscriber registered before a publish receives that message; ``publish`` returns only once the message
is accepted (for a durable bus: persisted). The in-memory bus is the embedded default (one process, no
durability across restarts); NATS JetStream is the adapter for scaling out across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[None]]


class Subscription(Protocol):
    async def close(self) -> None: ...


class Bus(Protocol):
    async def publish(self, subject: str, message: Any) -> None: ...

    async def subscribe(
        self, pattern: str, handler: Handler, *, queue_size: int = 10_000, durable: str | None = None
    ) -> Subscription:
        """``durable``: subscribers sharing the name split the messages and resume after a restart."""
        ...

    async def close(self) -> None: ...


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject semantics: ``*`` matches one dot-separated token, a final ``>`` one or more.

    >>> subject_matches("readings.*", "readings.in"), subject_matches("readings.*", "readings.a.b")
    (True, False)
    >>> subject_matches("readings.>", "readings.a.b"), subject_matches("readings.>", "readings")
    (True, False)
    """
    pat, sub = pattern.split("."), subject.split(".")
    for i, part in enumerate(pat):
        if part == ">" and i == len(pat) - 1:
            return len(sub) > i
        if i >= len(sub) or (part != "*" and part != sub[i]):
            return False
    return len(pat) == len(sub)


@dataclass
class _LocalSubscription:
    bus: InMemoryBus
    pattern: str
    handler: Handler
    queue: asyncio.Queue[tuple[str, Any]]
    task: asyncio.Task[None] | None = None
    delivered: int = 0
    failed: int = 0

    async def run(self) -> None:
        while True:
            subject, message = await self.queue.get()
            try:
                await self.handler(subject, message)
                self.delivered += 1
            except Exception:  # a failing subscriber must not stop the others
                self.failed += 1
                if self.failed == 1 or self.failed % 1000 == 0:
                    log.exception("subscriber %s failed on %s (%d failures)", self.pattern, subject, self.failed)
            finally:
                self.queue.task_done()

    async def close(self) -> None:
        if self in self.bus._subs:
            self.bus._subs.remove(self)
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@dataclass
class InMemoryBus:
    """In-process bus: subjects with ``*``-style patterns, a bounded queue per subscriber (back-pressure)."""

    _subs: list[_LocalSubscription] = field(default_factory=list)
    published: int = 0

    async def publish(self, subject: str, message: Any) -> None:
        self.published += 1
        for sub in list(self._subs):
            if subject_matches(sub.pattern, subject):
                await sub.queue.put((subject, message))

    async def subscribe(
        self, pattern: str, handler: Handler, *, queue_size: int = 10_000, durable: str | None = None
    ) -> _LocalSubscription:
        # One process holds every subscriber, so a durable name changes nothing here.
        sub = _LocalSubscription(self, pattern, handler, asyncio.Queue(maxsize=queue_size))
        sub.task = asyncio.create_task(sub.run(), name=f"bus-sub:{pattern}")
        self._subs.append(sub)
        return sub

    async def drain(self) -> None:
        """Wait until every queued message has been handled (tests and clean shutdown)."""
        for sub in list(self._subs):
            await sub.queue.join()

    async def close(self) -> None:
        await self.drain()
        for sub in list(self._subs):
            await sub.close()

    def stats(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "subscriptions": [
                {"pattern": s.pattern, "delivered": s.delivered, "failed": s.failed, "queued": s.queue.qsize()}
                for s in self._subs
            ],
        }
