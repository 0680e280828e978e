"""HTTP routes for cases (立案 → 派遣 → 处置 → 反馈 → 核查 → 结案) and their routing table."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["cases"])
