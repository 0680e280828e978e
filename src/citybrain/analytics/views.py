"""HTTP routes for the risk map and precursor analytics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
