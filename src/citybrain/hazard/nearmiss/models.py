"""Table of near misses and minor accidents."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
