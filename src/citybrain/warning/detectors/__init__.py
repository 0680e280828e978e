"""Streaming anomaly detectors, one per module, found by themselves (see ``base.Detector``).

``registry()`` imports every module of this package and returns each ``Detector`` subclass by its
``name``; ``make(name, **params)`` builds one; ``restore(state)`` rebuilds one from ``state()`` (which
records the name under ``"detector"``).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from citybrain.warning.detectors.base import Detector, Threshold

__all__ = ["Detector", "Threshold", "make", "registry", "restore"]


@cache
def registry() -> dict[str, type[Detector]]:
    found: dict[str, type[Detector]] = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name == "base" or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Detector) and obj is not Detector
                    and obj.__module__ == module.__name__):
                found[obj.name] = obj
    return found


def make(name: str, **params: Any) -> Detector:
    try:
        cls = registry()[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(sorted(registry()))}") from None
    return cls(**params)


def restore(state: dict[str, Any]) -> Detector:
    name = state.get("detector")
    if not isinstance(name, str) or name not in registry():
        raise ValueError(f"state names no known detector: {name!r}")
    return registry()[name].restore(state)
