"""The phone-friendly reporting and tracking pages (deliberately public), included at the app root.

``GET /report`` files a report (category, place from the phone or a pin on the bundled base map, up to three
photos, the proof-of-work solved in the browser, "me too" on a nearby duplicate); ``GET /track/{code}`` shows the
case's public timeline and lets the citizen rate or reopen it. Both pages are static shells: their data comes from
the public JSON API (``/api/v1/public/...``), their scripts are files under ``/report/static/`` (no inline script),
and they carry the dashboard's Content-Security-Policy.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from citybrain.web.views import INDEX_HEADERS

router = APIRouter(include_in_schema=False, tags=["pages"])
PAGES = ("report", "track")
_static = StaticFiles(packages=[("citybrain.report", "static")])


@lru_cache(maxsize=len(PAGES))
def _page(name: str) -> str:
    return (files("citybrain.report") / "templates" / f"{name}.html").read_text(encoding="utf-8")


@router.api_route("/report", methods=["GET", "HEAD"], response_class=HTMLResponse)
def report_page() -> HTMLResponse:
    """File a citizen report (简体中文 first, English on the toggle)."""
    return HTMLResponse(_page("report"), headers=INDEX_HEADERS)


@router.api_route("/track/{tracking_code}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def track_page(tracking_code: str) -> HTMLResponse:
    """Follow a report by its tracking code (the page reads the code from its own URL)."""
    return HTMLResponse(_page("track"), headers=INDEX_HEADERS)


@router.api_route("/report/static/{path:path}", methods=["GET", "HEAD"])
async def report_static(path: str, request: Request) -> Response:
    """The pages' scripts, styles and symbols (StaticFiles refuses paths outside the folder)."""
    response = await _static.get_response(path, request.scope)
    if response.status_code in (200, 304):
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
