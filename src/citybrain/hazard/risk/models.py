"""Tables of risk points, assessments and control measures."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
