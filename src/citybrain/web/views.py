"""Serve the dashboard page and its static assets.

``router`` answers ``GET /`` with the single-page dashboard; ``mount_static(app)`` mounts ``/static``.
Both resolve files through the installed package, so they work from a wheel as well as a checkout.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

router = APIRouter(include_in_schema=False)

#: MapLibre builds its worker from a blob: URL; everything else comes from our own origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

INDEX_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=1)
def _index_html() -> str:
    return (files("citybrain.web") / "templates" / "index.html").read_text(encoding="utf-8")


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def index() -> HTMLResponse:
    """The dashboard shell; data comes from the JSON API after load."""
    return HTMLResponse(_index_html(), headers=INDEX_HEADERS)


class DashboardStaticFiles(StaticFiles):
    """StaticFiles with cache rules: vendored libraries are versioned and cacheable, our code revalidates."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            vendored = path.replace("\\", "/").startswith("vendor/")
            response.headers["Cache-Control"] = "public, max-age=86400" if vendored else "no-cache"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount_static(app: FastAPI, *, path: str = "/static") -> None:
    """Mount the dashboard's static files (JS, CSS, i18n, vendored libraries) at ``path``."""
    app.mount(path, DashboardStaticFiles(packages=[("citybrain.web", "static")]), name="static")
