"""Notification channels, one module each, found by themselves (see ``base.Notifier``).

``registry()`` imports every module of this package and returns each ``Notifier`` subclass by its
``kind``; ``make(kind, config, **deps)`` builds one (``deps`` are run-time collaborators that are not
config, such as the in-app notifier's ``sink``).

>>> sorted(registry())
['email', 'inapp', 'webhook']
>>> make("pager", {})
Traceback (most recent call last):
...
citybrain.warning.notify.base.NotifyConfigError: kind: unknown notifier 'pager'; known: email, inapp, webhook
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Any

from citybrain.warning.notify.base import (
    MAX_ATTEMPTS,
    Notification,
    Notifier,
    NotifyConfigError,
    NotifyError,
    NotifyPermanent,
    NotifyTransient,
    backoff,
    retry_delay,
)

__all__ = [
    "MAX_ATTEMPTS", "Notification", "Notifier", "NotifyConfigError", "NotifyError", "NotifyPermanent",
    "NotifyTransient", "backoff", "make", "registry", "retry_delay",
]


@cache
def registry() -> dict[str, type[Notifier]]:
    found: dict[str, type[Notifier]] = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name == "base" or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for obj in vars(module).values():
            mine = obj.__module__ == module.__name__ if isinstance(obj, type) else False
            if mine and issubclass(obj, Notifier) and obj is not Notifier:
                if obj.kind in found:
                    raise RuntimeError(f"notifier kind {obj.kind!r} is claimed by {found[obj.kind]} and {obj}")
                found[obj.kind] = obj
    return found


def make(kind: str, config: Mapping[str, Any], **deps: Any) -> Notifier:
    """A notifier of ``kind`` built from ``config``; an unknown kind or a bad config raises ``NotifyConfigError``."""
    try:
        cls = registry()[kind]
    except KeyError:
        raise NotifyConfigError("kind", f"unknown notifier {kind!r}; known: {', '.join(sorted(registry()))}") from None
    return cls(config, **deps)  # type: ignore[call-arg]
