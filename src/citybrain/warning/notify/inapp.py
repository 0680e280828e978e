"""In-app notifier: publishes the notification on the bus subject ``notifications.inapp.<receiver>``.

``Bus.publish`` is a coroutine while ``Notifier.send`` blocks, so the notifier is given a plain callable
``sink(subject, message)`` in its constructor instead of the bus. :func:`bus_sink` makes one that
hands the publish to the event loop running the bus and waits for it to be accepted; call ``send``
from a worker thread (``anyio.to_thread.run_sync``), never on that loop's own thread.

>>> from datetime import UTC, datetime
>>> n = Notification(id="ntf-3", group_key="g3", receiver="fire", status="resolved", level=None,
...                  title_zh="积水", title_en="Flooding", body_zh="", body_en="", warnings=(),
...                  link="/warnings/groups/g3", created_at=datetime(2026, 7, 1, tzinfo=UTC))
>>> InAppNotifier({}, sink=lambda subject, message: print(subject, message["id"])).send(n)
notifications.inapp.fire ntf-3
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from citybrain.core.bus import Bus
from citybrain.warning.notify.base import (
    ConfigReader,
    Notification,
    Notifier,
    NotifyConfigError,
    NotifyError,
    NotifyPermanent,
    NotifyTransient,
)

Sink = Callable[[str, dict[str, Any]], None]
DEFAULT_PREFIX = "notifications.inapp"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")  # one NATS subject token, no wildcards


def _check_prefix(prefix: str) -> str | None:
    if not all(_TOKEN.match(token) for token in prefix.split(".")):
        return "must be dot-separated tokens of letters, digits, '_' or '-' (no wildcards)"
    return None


class InAppNotifier(Notifier):
    """Publishes ``Notification.as_json()`` for the dashboard of the receiving department.

    Config: ``subject_prefix`` (default ``notifications.inapp``). Keyword ``sink``: the callable that
    publishes (required; :func:`bus_sink` in the app). A sink failure is transient unless the sink
    itself raises a ``NotifyPermanent``.
    """

    kind: ClassVar[str] = "inapp"

    def __init__(self, config: Mapping[str, Any], *, sink: Sink | None = None) -> None:
        r = ConfigReader(config)
        self.subject_prefix: str = r.text("subject_prefix", default=DEFAULT_PREFIX, check=_check_prefix)
        self.config = r.finish()
        if sink is None or not callable(sink):
            raise NotifyConfigError("sink", "the in-app notifier needs a callable sink(subject, message), see bus_sink")
        self.sink = sink

    def subject(self, receiver: str) -> str:
        if not _TOKEN.match(receiver):
            raise NotifyPermanent(f"receiver {receiver!r} is not a valid subject token")
        return f"{self.subject_prefix}.{receiver}"

    def send(self, n: Notification) -> None:
        subject = self.subject(n.receiver)
        try:
            self.sink(subject, n.as_json())
        except NotifyError:
            raise
        except Exception as e:  # the bus is down, full or closed: the dispatcher tries again later
            raise NotifyTransient(f"publish on {subject} failed: {type(e).__name__}: {e}") from e


def bus_sink(bus: Bus, loop: asyncio.AbstractEventLoop, *, timeout_s: float = 5.0) -> Sink:
    """A sink publishing on ``bus`` through ``loop`` (the loop the bus runs on), from any other thread.

    Returns once the bus accepted the message; a stopped loop or a publish slower than ``timeout_s``
    raises ``NotifyTransient``; being called on ``loop``'s own thread (it would deadlock) raises
    ``NotifyPermanent``.
    """

    def publish(subject: str, message: dict[str, Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise NotifyPermanent("bus_sink was called on the bus's event loop; call send() from a worker thread")
        if loop.is_closed() or not loop.is_running():
            raise NotifyTransient("the bus's event loop is not running")
        future = asyncio.run_coroutine_threadsafe(bus.publish(subject, message), loop)
        try:
            future.result(timeout_s)
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            raise NotifyTransient(f"publish on {subject} took longer than {timeout_s} s") from None

    return publish


__all__ = ["DEFAULT_PREFIX", "InAppNotifier", "Sink", "bus_sink"]
