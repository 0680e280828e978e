"""HTTP routes for inspections."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inspections"])
