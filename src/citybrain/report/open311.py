"""Open311 GeoReport v2 at /open311/v2 (JSON and XML)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["open311"])
