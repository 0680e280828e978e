"""`citybrain bench risk`: the dynamic risk map for the whole city, full and incremental, vs. a naive recomputation."""

from __future__ import annotations

from typing import Any


def run(*, log: Any, **options: Any) -> dict[str, Any]:
    raise NotImplementedError("bench risk is being built")
