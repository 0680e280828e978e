"""The notifier port: one immutable ``Notification``, one ``Notifier.send``, two kinds of failure.

Guarantees a ``Notifier`` gives: ``send`` blocks until the channel accepted the notification (HTTP 2xx,
SMTP queued, bus publish confirmed) and returns ``None``, or raises exactly one of
:class:`NotifyTransient` (try again later: the dispatcher backs off with :func:`backoff`) or
:class:`NotifyPermanent` (retrying cannot help: someone must fix the config or the address). A bad
config is refused at construction with :class:`NotifyConfigError` naming the key. ``Notification.id``
is the idempotency key: every channel carries it so a receiver can drop the duplicate a retry may cause.
``send`` blocks, so async code calls it from a worker thread (``anyio.to_thread.run_sync``).
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from citybrain.core.clock import ensure_utc, isoformat_z

Status = Literal["firing", "resolved"]

# Attempts per notification, the first included; with the default schedule the last retry happens
# about half an hour after the first try (5 s, 10 s, 20 s … capped at 10 min).
MAX_ATTEMPTS = 10


class NotifyError(Exception):
    """Base of the two failure kinds; never raised itself."""


class NotifyTransient(NotifyError):
    """The channel may accept it later (timeout, refused connection, HTTP 5xx/408/429, SMTP 4xx).

    ``retry_after`` (seconds) is the receiver's own hint (HTTP ``Retry-After``), if it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotifyPermanent(NotifyError):
    """Retrying cannot help until someone acts (HTTP 4xx, SMTP 5xx, refused credentials, bad config)."""


class NotifyConfigError(NotifyPermanent):
    """A notifier's config is wrong; ``key`` names the offending key.

    >>> str(NotifyConfigError("url", "must be http or https"))
    'url: must be http or https'
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, Mapping):
        return {str(k): _iso(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    return value


@dataclass(frozen=True)
class Notification:
    """One message about one warning group for one receiver (a department key), in both languages.

    ``warnings`` holds plain dicts (``id``, ``fingerprint``, ``labels``, ``level``, ``state``,
    ``starts_at`` as ISO); ``link`` is the dashboard path of the group.

    >>> from datetime import UTC, datetime
    >>> n = Notification(id="ntf-1", group_key="g1", receiver="fire", status="firing", level=2,
    ...                  title_zh="燃气泄漏", title_en="Gas leak", body_zh="", body_en="", warnings=(),
    ...                  link="/warnings/groups/g1", created_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    >>> n.as_json()["created_at"], Notification.from_json(n.as_json()) == n
    ('2026-05-01T08:00:00Z', True)
    """

    id: str
    group_key: str
    receiver: str
    status: Status
    level: int | None
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    warnings: tuple[dict[str, Any], ...]
    link: str
    created_at: datetime

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("notification id must not be empty")
        if self.status not in ("firing", "resolved"):
            raise ValueError(f"status must be 'firing' or 'resolved', not {self.status!r}")
        if self.level is not None and (isinstance(self.level, bool) or self.level not in (1, 2, 3, 4)):
            raise ValueError(f"level must be 1..4 or None, not {self.level!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        object.__setattr__(self, "created_at", ensure_utc(self.created_at))
        object.__setattr__(self, "warnings", tuple(dict(w) for w in self.warnings))

    def __hash__(self) -> int:  # the dicts inside are unhashable; the id identifies a notification
        return hash(self.id)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready data (times as UTC ISO with ``Z``); the webhook body and the in-app message."""
        return {
            "id": self.id,
            "group_key": self.group_key,
            "receiver": self.receiver,
            "status": self.status,
            "level": self.level,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "body_zh": self.body_zh,
            "body_en": self.body_en,
            "warnings": [_iso(w) for w in self.warnings],
            "link": self.link,
            "created_at": isoformat_z(self.created_at),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        """The inverse of :meth:`as_json` (an outbox row keeps the JSON and rebuilds the notification)."""
        created = datetime.fromisoformat(str(data["created_at"]).replace("Z", "+00:00"))
        return cls(
            id=str(data["id"]), group_key=str(data["group_key"]), receiver=str(data["receiver"]),
            status=data["status"], level=data.get("level"),
            title_zh=str(data.get("title_zh", "")), title_en=str(data.get("title_en", "")),
            body_zh=str(data.get("body_zh", "")), body_en=str(data.get("body_en", "")),
            warnings=tuple(dict(w) for w in data.get("warnings", ())), link=str(data.get("link", "")),
            created_at=created,
        )


class Notifier(ABC):
    """A channel. Subclasses set ``kind`` (the registry key), list the config keys holding secrets in
    ``secret_keys``, validate their config in ``__init__`` (raising :class:`NotifyConfigError`) and
    implement :meth:`send`.
    """

    kind: ClassVar[str]
    secret_keys: ClassVar[frozenset[str]] = frozenset()

    config: dict[str, Any]  # the validated config, defaults filled in (set by ``__init__(config)``)

    @abstractmethod
    def send(self, n: Notification) -> None:
        """Deliver ``n`` or raise :class:`NotifyTransient` / :class:`NotifyPermanent`."""

    def public_config(self) -> dict[str, Any]:
        """The validated config with secrets masked, for logs and the settings page."""
        return {k: ("***" if k in self.secret_keys and v else v) for k, v in self.config.items()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.public_config()!r}>"



class ConfigReader:
    """Reads one notifier's config key by key; every refusal names the key, and unknown keys are refused.

    >>> r = ConfigReader({"timeout_s": 0})
    >>> r.number("timeout_s", default=10, minimum=0.1)
    Traceback (most recent call last):
    ...
    citybrain.warning.notify.base.NotifyConfigError: timeout_s: must be at least 0.1
    """

    def __init__(self, config: Mapping[str, Any] | None) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise NotifyConfigError("config", f"must be a mapping, not {type(config).__name__}")
        self._raw = dict(config or {})
        self.values: dict[str, Any] = {}

    def _get(self, key: str, default: Any, required: bool) -> Any:
        if key not in self._raw or self._raw[key] is None:
            if required:
                raise NotifyConfigError(key, "is required")
            return default
        return self._raw[key]

    def text(self, key: str, *, default: str | None = None, required: bool = False,
            check: Callable[[str], str | None] | None = None) -> Any:
        """A string; ``check`` returns an error message or ``None``."""
        value = self._get(key, default, required)
        if value is not None:
            if not isinstance(value, str):
                raise NotifyConfigError(key, f"must be a string, not {type(value).__name__}")
            if required and not value.strip():
                raise NotifyConfigError(key, "must not be empty")
            problem = check(value) if check else None
            if problem:
                raise NotifyConfigError(key, problem)
        self.values[key] = value
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise NotifyConfigError(key, f"must be true or false, not {value!r}")
        self.values[key] = value
        return value

    def number(self, key: str, *, default: float, minimum: float | None = None,
               maximum: float | None = None, integer: bool = False) -> Any:
        value = self._get(key, default, False)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise NotifyConfigError(key, f"must be a number, not {value!r}")
        if integer and value != int(value):
            raise NotifyConfigError(key, f"must be a whole number, not {value!r}")
        if minimum is not None and value < minimum:
            raise NotifyConfigError(key, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise NotifyConfigError(key, f"must be at most {maximum}")
        value = int(value) if integer else float(value)
        self.values[key] = value
        return value

    def texts(self, key: str, *, required: bool = False,
                 check: Callable[[str], str | None] | None = None) -> list[str]:
        """A list of strings (a single string is a list of one)."""
        value = self._get(key, [], required)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, Sequence) or not all(isinstance(v, str) for v in items):
            raise NotifyConfigError(key, "must be a list of strings")
        if required and not items:
            raise NotifyConfigError(key, "must not be empty")
        for item in items:
            problem = check(item) if check else None
            if problem:
                raise NotifyConfigError(key, f"{item!r}: {problem}")
        self.values[key] = list(items)
        return list(items)

    def mapping(self, key: str) -> dict[str, str]:
        """A mapping of strings to strings (extra headers)."""
        value = self._get(key, {}, False)
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise NotifyConfigError(key, "must map strings to strings")
        self.values[key] = dict(value)
        return dict(value)

    def finish(self) -> dict[str, Any]:
        """Refuse keys nobody read (a typo must not silently fall back to a default)."""
        unknown = sorted(set(self._raw) - set(self.values))
        if unknown:
            raise NotifyConfigError(unknown[0], f"unknown key (known: {', '.join(sorted(self.values))})")
        return dict(self.values)


def backoff(attempt: int, *, key: str = "", base_s: float = 5.0, factor: float = 2.0, cap_s: float = 600.0,
            jitter: float = 0.2) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first try) before the next one.

    Exponential (``base_s * factor ** (attempt - 1)``, at most ``cap_s``), shortened by up to ``jitter``
    (a fraction) so that many notifications failing together do not retry together. The jitter is
    derived from ``key`` (the notification id) and the attempt, so the schedule is reproducible.

    >>> [backoff(a, jitter=0) for a in (1, 2, 3, 8, 9, 50)]
    [5.0, 10.0, 20.0, 600.0, 600.0, 600.0]
    >>> backoff(3, key="ntf-1") == backoff(3, key="ntf-1") and 16.0 <= backoff(3, key="ntf-1") <= 20.0
    True
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    if not 0 <= jitter <= 1:
        raise ValueError(f"jitter is a fraction in [0, 1], not {jitter}")
    try:
        delay = min(cap_s, base_s * factor ** (attempt - 1))
    except OverflowError:
        delay = cap_s
    if jitter:
        digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
        delay *= 1 - jitter * fraction
    return delay


def retry_delay(attempt: int, error: NotifyError, *, key: str = "", max_attempts: int = MAX_ATTEMPTS,
                **schedule: float) -> float | None:
    """Seconds until the next try after ``attempt`` failed with ``error``, or ``None`` to give up.

    Permanent errors and exhausted attempts give up; a receiver's ``retry_after`` lengthens the wait
    (never beyond the cap). ``schedule`` passes ``base_s``/``factor``/``cap_s``/``jitter`` to :func:`backoff`.

    >>> retry_delay(1, NotifyTransient("503", retry_after=30), jitter=0)
    30.0
    >>> retry_delay(1, NotifyPermanent("401")), retry_delay(MAX_ATTEMPTS, NotifyTransient("timeout"))
    (None, None)
    """
    if isinstance(error, NotifyPermanent) or attempt >= max_attempts:
        return None
    delay = backoff(attempt, key=key, **schedule)
    hint = getattr(error, "retry_after", None)
    if hint is not None:
        delay = max(delay, min(float(hint), schedule.get("cap_s", 600.0)))
    return delay


def record_attempt(row: Any, *, now: datetime, error: NotifyError | None, key: str) -> str:
    """Record one delivery attempt on an outbox row (``attempts``, ``status``, ``sent_at``, ``last_error``,
    ``next_attempt_at``): sent; pending again after the backoff; or dead. Returns the row's status.

    Every outbox (department notifications, public subscriptions) records its attempts through this one rule.
    """
    row.attempts += 1
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", now, None
        return str(row.status)
    row.last_error = f"{error.__class__.__name__}: {error}"[:2000]
    delay = retry_delay(row.attempts, error, key=key)
    if delay is None:
        row.status = "dead"
    else:
        row.next_attempt_at = now + timedelta(seconds=delay)
    return str(row.status)


__all__ = [
    "MAX_ATTEMPTS", "ConfigReader", "Notification", "Notifier", "NotifyConfigError", "NotifyError",
    "NotifyPermanent", "NotifyTransient", "Status", "backoff", "record_attempt", "retry_delay",
]
