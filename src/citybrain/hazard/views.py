"""HTTP routes for hazards and regulations."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["hazards"])
