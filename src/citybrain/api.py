"""Builds the FastAPI application: the one place where settings, storage, bus and routes are wired."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import citybrain
from citybrain.analytics.views import router as analytics_router
from citybrain.auth.audit.middleware import AuditMiddleware
from citybrain.auth.audit.views import router as audit_router
from citybrain.auth.views import router as auth_router
from citybrain.core import migrate
from citybrain.core.bus import Bus
from citybrain.core.clock import Clock, SystemClock
from citybrain.core.database import Database
from citybrain.core.errors import PROBLEM_BASE, CityBrainError, PayloadTooLarge, Problem, problem_for
from citybrain.core.ids import new_id
from citybrain.core.nats_bus import make_bus
from citybrain.core.settings import Settings, load_settings
from citybrain.geo import service as geo_service
from citybrain.geo.views import router as geo_router
from citybrain.hazard.inspection.pages import router as inspection_pages_router
from citybrain.hazard.inspection.views import router as inspection_router
from citybrain.hazard.nearmiss.views import router as nearmiss_router
from citybrain.hazard.risk.views import router as risk_router
from citybrain.hazard.views import router as hazard_router
from citybrain.incident.intake_views import router as incident_intake_router
from citybrain.incident.views import router as incident_router
from citybrain.org.views import router as org_router
from citybrain.public.pages import router as public_pages_router
from citybrain.public.views import router as public_router
from citybrain.report.case_views import router as case_router
from citybrain.report.open311 import router as open311_router
from citybrain.report.pages import router as report_pages_router
from citybrain.report.views import router as report_router
from citybrain.sensing.monitoring_views import router as monitoring_router
from citybrain.sensing.pipeline import Pipeline
from citybrain.sensing.stream_views import router as stream_router
from citybrain.sensing.views import router as sensing_router
from citybrain.training.views import router as training_router
from citybrain.warning.config_views import router as warning_config_router
from citybrain.warning.views import public_router as public_warning_router
from citybrain.warning.views import router as warning_router
from citybrain.web.views import mount_static
from citybrain.web.views import router as web_router

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


class BackgroundService(Protocol):
    """Something that runs beside the API for the app's lifetime (simulator, MQTT bridge, workers)."""

    name: str

    async def start(self, app: FastAPI) -> None: ...

    async def stop(self) -> None: ...


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem.as_dict(), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        errors.append({"field": _field_path(err.get("loc", ())), "message": msg, "type": err.get("type", "invalid")})
    if malformed:
        problem = Problem(400, "Malformed JSON", "the request body is not valid JSON", PROBLEM_BASE + "malformed-json",
                          request.url.path, errors)
    else:
        fields = ", ".join(e["field"] for e in errors)
        problem = Problem(422, "Invalid input", f"invalid: {fields}", PROBLEM_BASE + "invalid", request.url.path,
                          errors)
    return problem_response(problem)


async def _citybrain_handler(request: Request, exc: CityBrainError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="citybrain"'} if exc.status == 401 else None
    if exc.status == 429 and exc.extra.get("retry_after_s") is not None:
        headers = {"Retry-After": str(max(1, int(exc.extra["retry_after_s"])))}
    return problem_response(problem_for(exc, instance=request.url.path), headers)


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    problem = Problem(exc.status_code, str(exc.detail), str(exc.detail), "about:blank", request.url.path)
    return problem_response(problem, getattr(exc, "headers", None))


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers this outside every middleware, so the usual headers are added here.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    headers = {**SECURITY_HEADERS, "x-request-id": str(getattr(request.state, "request_id", "") or new_id())}
    return problem_response(Problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                                    PROBLEM_BASE + "internal", request.url.path), headers)


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413, by Content-Length up front or while streaming.

    The limit is ``max_bytes`` for every body but file uploads (``multipart/form-data``), which may reach
    ``max_upload_bytes``: a few phone photos are larger than any JSON or reading batch should be, and each
    photo is checked again on its own (``core.images``).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max(max_upload_bytes or max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for key, value in scope.get("headers", []):
            if key == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                limit = self.max_upload_bytes
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    exc = PayloadTooLarge(f"request body over {limit} bytes")
                    response = problem_response(problem_for(exc, instance=scope["path"]))
                    await response(scope, receive, send)
                    return
        seen, too_large, answered = 0, False, False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise PayloadTooLarge(f"request body over {limit} bytes")
            return message

        async def answer_413() -> None:
            nonlocal answered
            answered = True
            exc = PayloadTooLarge(f"request body over {limit} bytes")
            await problem_response(problem_for(exc, instance=scope["path"]))(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            # A framework may turn the error raised while reading into a 400: answer 413 instead.
            if too_large:
                if not answered:
                    await answer_413()
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLarge:
            if not answered:
                await answer_413()


class SecurityHeadersMiddleware:
    """Request id, and the headers every response should carry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {b"x-request-id": request_id.encode(),
                         **{k.encode(): v.encode() for k, v in SECURITY_HEADERS.items()}}
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


@asynccontextmanager
async def running(services: Sequence[BackgroundService], app: Any) -> AsyncIterator[None]:
    """Start ``services`` in order, then stop those that started in reverse, each failure logged (``serve``,
    ``demo`` and ``citybrain worker`` alike)."""
    started: list[BackgroundService] = []
    try:
        for svc in services:
            await svc.start(app)
            started.append(svc)
        # Start-up objects (models, the base map, the rule engine) live as long as the process: keep them
        # out of the collector's full passes, which otherwise pause the event loop for ~100 ms.
        gc.freeze()
        yield
    finally:
        for svc in reversed(started):
            try:
                await svc.stop()
            except Exception:
                log.exception("stopping %s failed", svc.name)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    bus: Bus | None = None,
    services: Sequence[BackgroundService] = (),
) -> FastAPI:
    """The whole platform as one ASGI app. Every collaborator can be passed in (tests, demo, workers)."""
    settings = settings or load_settings()
    database = database or Database(settings.sqlalchemy_url, pool_size=settings.db_pool_size)
    clock = clock or SystemClock()
    bus = bus or make_bus(settings)  # in-memory, or NATS JetStream when CITYBRAIN_NATS_URL is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(services, app):
            yield

    app = FastAPI(
        title="citybrain",
        version=citybrain.__version__,
        description="Urban operational-safety platform (城市大脑): sense → warn → act → close → learn.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.clock = clock
    app.state.bus = bus
    app.state.cache = {"sensing.pipeline": Pipeline(database, clock, bus)}  # one pipeline for HTTP, MQTT, bus
    app.state.services = list(services)

    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(CityBrainError, _citybrain_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled_handler)

    # Order (outermost first): security headers → audit → body limit → routes, so a 413 is audited too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)

    # monitoring before sensing: /devices/health must not be taken for /devices/{device_id}; public before
    # public_warning: its /public/warnings answers the engine's list plus plain language and advice
    for router in (auth_router, org_router, audit_router, geo_router, monitoring_router, sensing_router,
                   stream_router, warning_router, warning_config_router, public_router, public_warning_router,
                   incident_router, incident_intake_router, hazard_router, risk_router, inspection_router,
                   nearmiss_router, analytics_router, report_router, case_router, training_router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(open311_router)  # /open311/v2: the standard's own path, outside /api/v1

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    head = migrate.head_revision(database.engine)  # the code's revision never changes while it runs

    @app.get("/readyz", tags=["system"])
    def readyz() -> JSONResponse:
        """The database answers and its schema is at the latest migration."""
        try:
            database.ping()
            current = migrate.current_revision(database.engine)
        except Exception as exc:
            log.warning("readiness: database unreachable: %s", exc.__class__.__name__)
            return problem_response(Problem(503, "Not ready", f"database unreachable ({exc.__class__.__name__})",
                                            PROBLEM_BASE + "not-ready", "/readyz", extra={"database": "down"}))
        if current != head:
            return problem_response(Problem(
                503, "Not ready", f"database schema at {current}, code expects {head}: run `citybrain db upgrade`",
                PROBLEM_BASE + "not-ready", "/readyz", extra={"database": "up", "migration": current, "head": head}))
        return JSONResponse({"status": "ready", "database": database.dialect, "migration": current})

    @app.get(f"{API_PREFIX}/meta", tags=["system"])
    def meta() -> dict[str, Any]:
        """Public: what the dashboard needs before login (city, layers, time zone)."""
        with database.session() as session:
            bounds = geo_service.bounds(session=session)
            counts = geo_service.layer_counts(session=session)
        layers = [{"name": s.name, "title_zh": s.title_zh, "title_en": s.title_en, "kind": s.kind,
                   "count": counts.get(s.name, 0), "url": f"{API_PREFIX}/geo/layers/{s.name}"}
                  for s in geo_service.BASE_LAYERS]
        return {
            "name": "citybrain",
            "version": citybrain.__version__,
            "city": {"code": settings.city_code, "name_zh": settings.city_name_zh, "name_en": settings.city_name_en,
                     "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2] if bounds else None,
                     "bounds": list(bounds) if bounds else None},
            "timezone": settings.timezone,
            "env": settings.env,
            "layers": layers,
        }

    app.include_router(report_pages_router)  # /report, /track: the citizen's pages
    app.include_router(public_pages_router)  # /public: warnings by district in plain language, safety knowledge
    app.include_router(inspection_pages_router)  # /inspect: the inspector's phone form
    app.include_router(web_router)
    mount_static(app)
    return app

