"""Public routes: current warnings by district, subscriptions, safety knowledge."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["public"])
