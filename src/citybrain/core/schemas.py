"""Base classes for API shapes: inputs refuse unknown fields; pages carry their total."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class InputModel(BaseModel):
    """Every Create/Update schema: unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def page_window(limit: int, offset: int, *, maximum: int = 500) -> tuple[int, int]:
    """Clamp a requested page to 1..maximum rows from a non-negative offset.

    >>> page_window(10_000, -5)
    (500, 0)
    """
    return max(1, min(limit, maximum)), max(0, offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
