"""Our own error vocabulary; ``citybrain.api`` maps each to an RFC 9457 problem+json response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field: ``field`` is a dotted path such as ``body.location.lon`` or ``query.bbox``."""

    field: str
    message: str
    type: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


class CityBrainError(Exception):
    """Base of every error a service may raise on purpose."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal"

    def __init__(self, detail: str = "", *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors or [])
        self.extra = extra


class Invalid(CityBrainError):
    status, title, slug = 422, "Invalid input", "invalid"


class BadRequest(CityBrainError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(CityBrainError):
    status, title, slug = 401, "Authentication required", "unauthorized"


class Forbidden(CityBrainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(CityBrainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(CityBrainError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(CityBrainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(CityBrainError):
    status, title, slug = 429, "Too many requests", "too-many-requests"


class Unavailable(CityBrainError):
    status, title, slug = 503, "Service unavailable", "unavailable"


class SettingsError(CityBrainError):
    """A configuration value is wrong; the message names the key (e.g. ``CITYBRAIN_PORT``)."""

    title, slug = "Configuration error", "settings"


@dataclass(slots=True)
class Problem:
    """An RFC 9457 problem document."""

    status: int
    title: str
    detail: str
    type: str = "about:blank"
    instance: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.instance:
            body["instance"] = self.instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


PROBLEM_BASE = "https://citybrain.dev/problems/"


def problem_for(exc: CityBrainError, *, instance: str | None = None) -> Problem:
    return Problem(
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type=PROBLEM_BASE + exc.slug,
        instance=instance,
        errors=[e.as_dict() for e in exc.errors],
        extra=dict(exc.extra),
    )
