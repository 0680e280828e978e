"""Follow-up work no request triggers, run beside the API (``serve`` and ``demo``).

``FollowUpHost`` keeps three loops closed:

* the dynamic risk map follows the warning engine (each ``warnings.changed`` message updates the cells of
  the warnings it carries, incrementally; a full rebuild still happens on the map's own TTL);
* public warnings reach the citizens who subscribed to their district (each change plans one delivery per
  matching subscription, idempotently; due deliveries are sent with retries and backoff);
* hazards' reminders before and escalations after their deadlines are recorded (once each).

It is one ``BackgroundService``: ``start(app)`` subscribes and starts the timer, ``stop()`` ends both. A failing
step is logged and retried on the next tick; it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio

from citybrain.core.settings import Settings

log = logging.getLogger(__name__)


def smtp_config(settings: Settings) -> dict[str, Any] | None:
    """``CITYBRAIN_SMTP_URL`` (``smtp://[user:pass@]host[:port]`` with STARTTLS, ``smtps://`` for implicit TLS,
    ``smtp+plain://`` for a local relay) and ``CITYBRAIN_SMTP_FROM`` as the email notifier's config, or None.

    >>> from citybrain.core.settings import Settings
    >>> smtp_config(Settings(smtp_url="smtps://cb:pw@mail.example:465", smtp_from="citybrain@example.org"))
    {'host': 'mail.example', 'from': 'citybrain@example.org', 'port': 465, 'ssl': True, 'starttls': False, \
'username': 'cb', 'password': 'pw'}
    """
    if not settings.smtp_url or not settings.smtp_from:
        return None
    parts = urlsplit(settings.smtp_url)
    config: dict[str, Any] = {"host": parts.hostname or "", "from": settings.smtp_from}
    if parts.port:
        config["port"] = parts.port
    config["ssl"] = parts.scheme == "smtps"
    config["starttls"] = parts.scheme == "smtp"
    if parts.username:
        config["username"], config["password"] = unquote(parts.username), unquote(parts.password or "")
    return config


@dataclass
class FollowUpHost:
    interval_s: float = 30.0
    name: str = "follow-up"
    stats: dict[str, int] = field(default_factory=lambda: {"ticks": 0, "swept": 0, "planned": 0, "sent": 0,
                                                           "errors": 0})

    async def start(self, app: Any) -> None:
        from citybrain.warning.flows import CHANGED_SUBJECT

        self.app = app
        self.settings: Settings = app.state.settings
        self.database = app.state.db
        self.clock = app.state.clock
        self.base_url = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        self.email = smtp_config(self.settings)
        self.subscription = await app.state.bus.subscribe(CHANGED_SUBJECT, self._on_warnings)
        self.task = asyncio.create_task(self._timer(), name="follow-up")

    async def stop(self) -> None:
        await self.subscription.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _on_warnings(self, _subject: str, message: Any) -> None:
        from citybrain.analytics import service as riskmap

        changed = message if isinstance(message, list) else [message]
        try:
            riskmap.sync_warnings(cache=self.app.state.cache, warnings=changed)
        except Exception:
            self.stats["errors"] += 1
            log.exception("risk map: applying %d changed warnings failed", len(changed))
        ids = [int(w["id"]) for w in changed if isinstance(w, dict) and w.get("id") is not None and w.get("public")]
        if ids:
            self.stats["planned"] += await anyio.to_thread.run_sync(self._plan, ids)

    def _plan(self, warning_ids: list[int]) -> int:
        from citybrain.public import subscriptions

        planned = 0
        for wid in warning_ids:
            try:
                with self.database.writing(), self.database.session() as session:
                    planned += subscriptions.deliver_public_warning(session=session, now=self.clock.now(),
                                                                    warning_id=wid)
            except Exception:
                self.stats["errors"] += 1
                log.exception("public deliveries for warning %s could not be planned", wid)
        return planned

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.tick()

    async def tick(self) -> None:
        """One pass of the timed follow-up (also callable from tests)."""
        self.stats["ticks"] += 1
        await anyio.to_thread.run_sync(self._sweep_hazards)
        await anyio.to_thread.run_sync(self._send_public)

    def _sweep_hazards(self) -> None:
        from citybrain.hazard import service as hazards

        try:
            with self.database.writing(), self.database.session() as session:
                self.stats["swept"] += len(hazards.sweep(session=session, now=self.clock.now()))
        except Exception:
            self.stats["errors"] += 1
            log.exception("hazard sweep failed")

    def _send_public(self) -> None:
        from citybrain.public import subscriptions

        try:
            counts = subscriptions.send_due(database=self.database, now=self.clock.now, base_url=self.base_url,
                                            email=self.email, clock=self.clock,
                                            allow_private=self.settings.public_webhook_allow_private)
            self.stats["sent"] += counts.get("sent", 0)
        except Exception:
            self.stats["errors"] += 1
            log.exception("public deliveries failed")
