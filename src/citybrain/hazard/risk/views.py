"""HTTP routes for risk points and assessments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["risk"])
