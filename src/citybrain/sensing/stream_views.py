"""Live readings as Server-Sent Events (mounted under /api/v1): what the dashboard's device card draws.

``GET /stream/readings?device=KEY[&device=KEY…]`` subscribes this connection to the bus subject
``readings.accepted`` and forwards the stored readings of those devices as they arrive. A slow client
never slows ingestion: each connection keeps a bounded buffer that drops its oldest readings and says
so in a ``dropped`` event. A comment line every ``HEARTBEAT_S`` keeps proxies from closing an idle
stream (and finds a vanished client); the subscription is closed when the client goes away.

Events: ``ready`` (the devices followed), ``reading`` (one stored reading), ``dropped`` (how many
readings this client lost since the last notice).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.bus import Bus
from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.deps import DbSession, Permitted
from citybrain.sensing.models import Device
from citybrain.sensing.pipeline import ACCEPTED_SUBJECT

router = APIRouter(tags=["sensing"])

HEARTBEAT_S = 15.0
BUFFER = 1000  # readings held per connection before the oldest are dropped
MAX_DEVICES = 50
RETRY_MS = 5000  # how long EventSource waits before reconnecting
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: do not buffer the stream


def visible_devices(*, session: Session, principal: Principal, keys: Iterable[str]) -> dict[str, int]:
    """Key → id of the devices among ``keys`` the caller may see; any other key is "not found"."""
    wanted = sorted(set(keys))
    stmt = sa.select(Device.key, Device.id).where(Device.key.in_(wanted))
    scope = department_scope(principal, Device.department_id, resource_type="device", id_col=Device.id)
    if scope is not None:
        stmt = stmt.where(scope)
    found = {k: i for k, i in session.execute(stmt).all()}
    missing = [k for k in wanted if k not in found]
    if missing:
        raise NotFound(f"device {missing[0]} not found")
    return found


def sse(event: str | None, data: Any) -> str:
    """One SSE message; the JSON has no raw newlines, so it is one ``data:`` line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class ReadingStream:
    """One client's view of ``readings.accepted``: filter by device, buffer (drop oldest), wake the writer.

    ``offer`` is the bus handler and never waits, so the bus (and the ingest path behind it) is never held
    up by this client.
    """

    def __init__(self, keys: Iterable[str], *, buffer: int = BUFFER) -> None:
        self.keys = frozenset(keys)
        self.buffer: deque[dict[str, Any]] = deque(maxlen=buffer)
        self.dropped = 0
        self.wake = asyncio.Event()

    async def offer(self, _subject: str, message: Any) -> None:
        for r in message if isinstance(message, list) else [message]:
            if isinstance(r, dict) and r.get("device_id") in self.keys:
                if len(self.buffer) == self.buffer.maxlen:
                    self.dropped += 1
                self.buffer.append({k: r.get(k) for k in ("device_id", "device_pk", "type", "ts", "values", "msg_id")})
                self.wake.set()

    async def events(self, *, heartbeat_s: float) -> AsyncIterator[str]:
        """SSE text: buffered readings as they come, a ``dropped`` notice after a loss, heartbeats between."""
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=heartbeat_s)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            self.wake.clear()
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                yield sse("dropped", {"dropped": dropped, "buffer": self.buffer.maxlen})
            while self.buffer:
                yield sse("reading", self.buffer.popleft())


async def _stream(bus: Bus, stream: ReadingStream, devices: dict[str, int]) -> AsyncIterator[str]:
    subscription = await bus.subscribe(ACCEPTED_SUBJECT, stream.offer, queue_size=BUFFER)
    try:
        yield f"retry: {RETRY_MS}\n" + sse("ready", {"devices": devices, "heartbeat_s": HEARTBEAT_S})
        async for chunk in stream.events(heartbeat_s=HEARTBEAT_S):
            yield chunk
    finally:
        # The client went away (the response task is being cancelled): unsubscribe regardless.
        with anyio.CancelScope(shield=True):
            await subscription.close()


@router.get("/stream/readings", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
def stream_readings(request: Request, principal: Permitted("sensing:read"), session: DbSession,
                    device: list[str] = Query(..., description="device key; repeat for several")) -> StreamingResponse:
    """Accepted readings of the given devices as Server-Sent Events, as they are stored."""
    if len(set(device)) > MAX_DEVICES:
        raise Invalid(f"at most {MAX_DEVICES} devices per stream",
                      errors=[FieldError("query.device", f"at most {MAX_DEVICES}")])
    devices = visible_devices(session=session, principal=principal, keys=device)
    stream = ReadingStream(devices)
    return StreamingResponse(_stream(request.app.state.bus, stream, devices), media_type="text/event-stream",
                             headers=SSE_HEADERS)
