"""Tables of case routing (category x area -> department) and case time limits."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
