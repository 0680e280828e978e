"""Tables of inspection plans, checklists and inspection records."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
