"""First-party HTTP routes for citizen reports (the phone page's API, staff views)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["reports"])
