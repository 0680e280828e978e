"""Tables of hazards, their rectification, evidence and history; regulations and clauses."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
