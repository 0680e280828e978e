"""The phone-friendly reporting and tracking pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["pages"])
