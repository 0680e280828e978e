"""The phone-friendly inspection form: ``GET /inspect`` and its own static files under ``/inspect/static/``.

The page is plain HTML with a vanilla-JS module (no CDN, no framework). It talks to the JSON API with the
session cookie and sends the session's CSRF token (from ``GET /api/v1/auth/me`` or the login answer) on
writes. Without a valid session the same page opens on its login form. Mounted at the root (no /api/v1).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from citybrain.auth import service as auth_service
from citybrain.core.errors import CityBrainError, NotFound
from citybrain.deps import SESSION_COOKIE

router = APIRouter(include_in_schema=False)

STATIC_FILES = {"inspect.js": "text/javascript; charset=utf-8", "inspect.css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "; ".join([
        "default-src 'self'", "img-src 'self' data: blob:", "style-src 'self'", "script-src 'self'",
        "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
        "frame-ancestors 'none'"]),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=4)
def _static(name: str) -> str:
    return resources.files("citybrain.hazard.inspection").joinpath("static").joinpath(name).read_text("utf-8")


def _logged_in(request: Request) -> bool:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    try:
        with request.app.state.db.session() as session:
            auth_service.resolve(session=session, now=request.app.state.clock.now(), token=token,
                                 kind=auth_service.SESSION)
    except CityBrainError:
        return False
    return True


@router.get("/inspect", response_class=HTMLResponse)
def inspect_page(request: Request) -> HTMLResponse:
    """The inspection form (简体中文 first, English toggle); the login form when there is no valid session."""
    mode = "form" if _logged_in(request) else "login"
    html = _static("inspect.html").replace("{{MODE}}", mode)
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/inspect/static/{name}")
def inspect_static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFound("no such file")
    return Response(_static(name), media_type=STATIC_FILES[name],
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
