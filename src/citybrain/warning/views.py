"""HTTP routes for warnings, their live stream, silences, and the public warnings (mounted under /api/v1).

``warning:read`` lists and reads within the caller's department scope; ``warning:act`` acknowledges,
resolves, escalates, comments and silences. The public routes (``/public/warnings…``) are deliberately
unauthenticated: they carry only warnings marked public, in plain language, as JSON, Atom and CAP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from citybrain.auth.permissions import Principal
from citybrain.core.bus import Bus
from citybrain.core.clock import ensure_utc
from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, set_audit
from citybrain.warning import lifecycle as lc
from citybrain.warning import publishing, service, silences
from citybrain.warning.cap import CAP_MEDIA_TYPE
from citybrain.warning.flows import CHANGED_SUBJECT, _wire
from citybrain.warning.models import Warning
from citybrain.warning.schemas import (
    AcknowledgeBody,
    ActionBody,
    CommentBody,
    SilenceCreate,
    SilenceRead,
    WarningDetail,
    WarningEventRead,
    WarningRead,
)
from citybrain.warning.types import Level

router = APIRouter(tags=["warnings"])
public_router = APIRouter(tags=["public"])
LEVELS = ("red", "orange", "yellow", "blue")


def _read(session: Any, w: Warning, request: Request | None = None) -> WarningRead:
    """The warning as the API shows it; with ``request``, also announced on ``warnings.changed`` so every
    open dashboard sees people's actions as they happen, not only the engine's."""
    data = service.as_dict(w, departments=service.department_codes(session=session))
    if request is not None:
        session.flush()
        with contextlib.suppress(RuntimeError):  # not in a worker thread of the app: nothing to announce to
            anyio.from_thread.run(request.app.state.bus.publish, CHANGED_SUBJECT, [_wire(data)])
    return WarningRead.model_validate(data)


@router.get("/warnings", response_model=Page[WarningRead])
def list_warnings(principal: Permitted("warning:read"), session: DbSession,
                  state: list[str] = Query([], description="pending, firing, acknowledged, resolved; or 'open'"),
                  level: list[str] = Query([], description="red, orange, yellow, blue (or I-IV)"),
                  district: str | None = None, rule: str | None = None, department: str | None = None,
                  device_id: int | None = None, asset_id: int | None = None, suppressed: bool | None = None,
                  limit: int = 50, offset: int = 0) -> Page[WarningRead]:
    states: list[str] = []
    for i, s in enumerate(state):
        if s == "open":
            states += list(lc.OPEN_STATES)
        elif s in lc.STATES:
            states.append(s)
        else:
            raise Invalid(f"unknown state {s!r}", errors=[FieldError(f"query.state[{i}]", "unknown state")])
    levels = []
    for i, v in enumerate(level):
        try:
            levels.append(int(Level.parse(v)))
        except ValueError as exc:
            raise Invalid(str(exc), errors=[FieldError(f"query.level[{i}]", "unknown level")]) from None
    limit, offset = page_window(limit, offset)
    rows, total = service.list_warnings(session=session, principal=principal, state=states, level=levels,
                                        district=district, rule=rule, department=department, device_id=device_id,
                                        asset_id=asset_id, suppressed=suppressed, limit=limit, offset=offset)
    codes = service.department_codes(session=session)
    return Page(items=[WarningRead.model_validate(service.as_dict(w, departments=codes)) for w in rows], total=total,
                limit=limit, offset=offset)


@router.get("/warnings/summary")
def summary(principal: Permitted("warning:read"), session: DbSession) -> dict[str, Any]:
    """Open warnings counted by level and state (the dashboard's header), counted in the database."""
    counts = service.open_counts(session=session, principal=principal)
    by_level = {lv: 0 for lv in LEVELS}
    by_state = {s: 0 for s in lc.OPEN_STATES}
    suppressed = 0
    for level, state, muted, n in counts:
        by_level[Level(level).colour] += n
        by_state[state] += n
        suppressed += n if muted else 0
    return {"open": sum(by_state.values()), "by_level": by_level, "by_state": by_state, "suppressed": suppressed}


@router.get("/warnings/{warning_id}", response_model=WarningDetail)
def get_warning(warning_id: int, principal: Permitted("warning:read"), session: DbSession) -> WarningDetail:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    data = service.as_dict(w, departments=service.department_codes(session=session))
    data["history"] = [service.event_dict(e) for e in service.history(session=session, warning=w)]
    return WarningDetail.model_validate(data)


@router.get("/warnings/{warning_id}/history", response_model=list[WarningEventRead])
def get_history(warning_id: int, principal: Permitted("warning:read"), session: DbSession) -> list[WarningEventRead]:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    return [WarningEventRead.model_validate(service.event_dict(e)) for e in service.history(session=session, warning=w)]


@router.get("/warnings/{warning_id}/cap", response_class=Response,
            responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "CAP 1.2 XML"}})
def get_cap(warning_id: int, request: Request, principal: Permitted("warning:read"), session: DbSession) -> Response:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    return Response(publishing.cap_for(w, base_url=str(request.base_url).rstrip("/")), media_type=CAP_MEDIA_TYPE)


@router.post("/warnings/{warning_id}/acknowledge", response_model=WarningRead)
def acknowledge(warning_id: int, body: AcknowledgeBody, request: Request, principal: Permitted("warning:act"),
                session: DbSession, clock: ClockDep) -> WarningRead:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    service.acknowledge(session=session, now=clock.now(), principal=principal, warning=w, comment=body.comment,
                        assignee=body.assignee)
    set_audit(request, resource_type="warning", resource_id=w.id, action="acknowledge", assignee=body.assignee)
    return _read(session, w, request)


@router.post("/warnings/{warning_id}/resolve", response_model=WarningRead)
def resolve(warning_id: int, body: ActionBody, request: Request, principal: Permitted("warning:act"),
            session: DbSession, clock: ClockDep) -> WarningRead:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    service.resolve(session=session, now=clock.now(), principal=principal, warning=w, comment=body.comment)
    set_audit(request, resource_type="warning", resource_id=w.id, action="resolve")
    return _read(session, w, request)


@router.post("/warnings/{warning_id}/escalate", response_model=WarningRead)
def escalate(warning_id: int, body: ActionBody, request: Request, principal: Permitted("warning:act"),
             session: DbSession, clock: ClockDep) -> WarningRead:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    now = clock.now()
    service.escalate(session=session, now=now, principal=principal, warning=w, comment=body.comment)
    from citybrain.warning import outbox
    from citybrain.warning.config import load_config

    outbox.plan_escalation(session=session, now=now, warning=w, targets=load_config(session=session).escalation_targets)
    set_audit(request, resource_type="warning", resource_id=w.id, action="escalate", step=w.escalation_step)
    return _read(session, w, request)


@router.post("/warnings/{warning_id}/comments", response_model=WarningEventRead, status_code=status.HTTP_201_CREATED)
def add_comment(warning_id: int, body: CommentBody, request: Request, principal: Permitted("warning:act"),
                session: DbSession, clock: ClockDep) -> WarningEventRead:
    w = service.get_or_raise(session=session, principal=principal, warning_id=warning_id)
    ev = service.comment(session=session, now=clock.now(), principal=principal, warning=w, text=body.text)
    session.flush()
    set_audit(request, resource_type="warning", resource_id=w.id, action="comment")
    return WarningEventRead.model_validate(service.event_dict(ev))


# -- live stream -------------------------------------------------------------------------------------

HEARTBEAT_S = 15.0
BUFFER = 1000


class WarningStream:
    """One client's view of ``warnings.changed``, filtered to the departments it may see."""

    def __init__(self, principal: Principal, codes: dict[int, str]) -> None:
        self.all = principal.city_wide
        self.department = codes.get(principal.department_id or -1)
        self.buffer: deque[dict[str, Any]] = deque(maxlen=BUFFER)
        self.wake = asyncio.Event()

    async def offer(self, _subject: str, message: Any) -> None:
        for w in message if isinstance(message, list) else [message]:
            if isinstance(w, dict) and (self.all or w.get("department") == self.department):
                self.buffer.append(w)
                self.wake.set()


async def _events(bus: Bus, stream: WarningStream) -> AsyncIterator[str]:
    subscription = await bus.subscribe(CHANGED_SUBJECT, stream.offer, queue_size=BUFFER)
    try:
        yield "retry: 5000\nevent: ready\ndata: {}\n\n"
        while True:
            try:
                await asyncio.wait_for(stream.wake.wait(), timeout=HEARTBEAT_S)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            stream.wake.clear()
            while stream.buffer:
                data = json.dumps(stream.buffer.popleft(), ensure_ascii=False, separators=(",", ":"))
                yield f"event: warning\ndata: {data}\n\n"
    finally:
        with anyio.CancelScope(shield=True):
            await subscription.close()


@router.get("/stream/warnings", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}})
def stream_warnings(request: Request, principal: Permitted("warning:read"), session: DbSession) -> StreamingResponse:
    """Every change of a warning the caller may see, as it happens (``event: warning``)."""
    stream = WarningStream(principal, service.department_codes(session=session))
    return StreamingResponse(_events(request.app.state.bus, stream), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- silences ----------------------------------------------------------------------------------------


@router.get("/silences", response_model=Page[SilenceRead])
def list_silences(principal: Permitted("warning:read"), session: DbSession, clock: ClockDep,
                  active: bool | None = None, limit: int = 50, offset: int = 0) -> Page[SilenceRead]:
    limit, offset = page_window(limit, offset)
    now = clock.now()
    rows, total = silences.list_silences(session=session, principal=principal, now=now, active=active, limit=limit,
                                         offset=offset)
    return Page(items=[SilenceRead.model_validate(silences.as_dict(s, now)) for s in rows], total=total, limit=limit,
                offset=offset)


@router.post("/silences", response_model=SilenceRead, status_code=status.HTTP_201_CREATED)
def create_silence(body: SilenceCreate, request: Request, principal: Permitted("warning:act"), session: DbSession,
                   clock: ClockDep) -> SilenceRead:
    now = clock.now()
    s = silences.create(session=session, now=now, principal=principal, matchers=body.matchers,
                        starts_at=ensure_utc(body.starts_at) if body.starts_at else None,
                        ends_at=ensure_utc(body.ends_at), comment=body.comment)
    set_audit(request, resource_type="silence", resource_id=s.id, matchers=body.matchers)
    return SilenceRead.model_validate(silences.as_dict(s, now))


@router.delete("/silences/{silence_id}", response_model=SilenceRead)
def expire_silence(silence_id: int, request: Request, principal: Permitted("warning:act"), session: DbSession,
                   clock: ClockDep) -> SilenceRead:
    now = clock.now()
    s = silences.get_or_raise(session=session, principal=principal, silence_id=silence_id)
    silences.expire(session=session, now=now, silence=s)
    set_audit(request, resource_type="silence", resource_id=s.id, action="expire")
    return SilenceRead.model_validate(silences.as_dict(s, now))


# -- public ------------------------------------------------------------------------------------------


def _public(session: Any, warning_id: int) -> Warning:
    w = session.get(Warning, warning_id)
    if w is None or not w.public or w.state not in (lc.FIRING, lc.ACKNOWLEDGED):
        raise NotFound(f"public warning {warning_id} not found")
    return w


@public_router.get("/public/warnings.atom", response_class=Response,
                   responses={200: {"content": {"application/atom+xml": {}}}})
def public_atom(request: Request, session: DbSession, clock: ClockDep, district: str | None = None,
                lang: str = Query("zh-CN", pattern="^(zh-CN|en)$")) -> Response:
    """Public: the Atom feed of current public warnings (optionally one district)."""
    base = str(request.base_url).rstrip("/")
    body = publishing.public_feed(session=session, now=clock.now(), base_url=base, lang=lang, district=district)
    return Response(body, media_type="application/atom+xml")


@public_router.get("/public/warnings/{warning_id}.cap", response_class=Response,
                   responses={200: {"content": {CAP_MEDIA_TYPE: {}}}})
def public_cap(warning_id: int, request: Request, session: DbSession) -> Response:
    """Public: one public warning as CAP 1.2."""
    w = _public(session, warning_id)
    return Response(publishing.cap_for(w, base_url=str(request.base_url).rstrip("/")), media_type=CAP_MEDIA_TYPE)
