"""Tables of courses, sessions, attendance and certificates."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
