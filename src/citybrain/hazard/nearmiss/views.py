"""HTTP routes for near misses and the precursor pyramid."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["near misses"])
