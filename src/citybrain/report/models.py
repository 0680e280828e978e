"""Tables of citizen reports, their photos, events and API keys."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
