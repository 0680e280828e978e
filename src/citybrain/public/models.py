"""Tables of public subscriptions and safety-knowledge articles."""

from __future__ import annotations

from citybrain.core.database import Base  # noqa: F401
