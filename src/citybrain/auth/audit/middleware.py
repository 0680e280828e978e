"""ASGI middleware that audits every write request, accepted or rejected, in its own transaction.

It runs outside the route, so a write that fails validation, authentication or authorisation (and is
rolled back) is still recorded. The row is written before the response starts, so an audited write is
never acknowledged without its audit entry.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybrain.auth.audit import service

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, exclude_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exclude_prefixes = exclude_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS or scope["path"].startswith(
            self.exclude_prefixes
        ):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        written = False

        async def send_wrapper(message: Message) -> None:
            nonlocal written
            if message["type"] == "http.response.start" and not written:
                written = True
                await anyio.to_thread.run_sync(self._write, scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if not written:
                written = True
                await anyio.to_thread.run_sync(self._write, scope, 500)
            raise

    def _write(self, scope: Scope, status: int) -> None:
        app = scope["app"]
        state: dict[str, Any] = scope.get("state", {})
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        info = state.get("audit") or {}
        detail = dict(info.get("detail") or {})
        if "login_username" in state:
            detail.setdefault("username", state["login_username"])
        if "audit_reason" in state:
            detail.setdefault("reason", state["audit_reason"])
        client = scope.get("client")
        try:
            with app.state.db.session() as session:
                service.record(
                    session=session,
                    now=app.state.clock.now(),
                    action=f"{scope['method']} {scope['path']}",
                    status_code=status,
                    principal=state.get("principal"),
                    actor=None if state.get("principal") else state.get("login_username"),
                    resource_type=info.get("resource_type"),
                    resource_id=info.get("resource_id"),
                    ip=client[0] if client else None,
                    user_agent=headers.get("user-agent"),
                    request_id=state.get("request_id"),
                    detail=detail,
                )
        except Exception:  # the audit must never turn an answered request into a crash
            log.exception("could not write the audit entry for %s %s", scope["method"], scope["path"])
