"""Shapes shared by the warning stages: what a rule sees (an observation) and what it says (a signal).

The rule engine turns observations into signals; the lifecycle turns signals into warnings. Both sides
depend only on this module, so each can be tested with the other faked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """The four warning levels of Chinese emergency practice; I (red) is the most severe.

    >>> Level.parse("orange"), Level.parse(2), Level.parse("II")
    (<Level.ORANGE: 2>, <Level.ORANGE: 2>, <Level.ORANGE: 2>)
    >>> Level.RED < Level.BLUE   # a smaller number is more severe
    True
    """

    RED = 1  # I 级 特别严重
    ORANGE = 2  # II 级 严重
    YELLOW = 3  # III 级 较重
    BLUE = 4  # IV 级 一般

    @property
    def colour(self) -> str:
        return self.name.lower()

    @property
    def roman(self) -> str:
        return ("I", "II", "III", "IV")[self.value - 1]

    @property
    def name_zh(self) -> str:
        return ("红色", "橙色", "黄色", "蓝色")[self.value - 1]

    @classmethod
    def parse(cls, value: Any) -> Level:
        """A level from its colour, Roman numeral or number; ValueError names what was given."""
        if isinstance(value, Level):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
            return cls(value)
        if isinstance(value, str):
            v = value.strip()
            for level in cls:
                if v.lower() == level.colour or v.upper() == level.roman or v == level.name_zh or v == str(level.value):
                    return level
        raise ValueError(f"not a warning level: {value!r} (use red/orange/yellow/blue, I-IV or 1-4)")


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """What the rules know of a device besides its readings (from the registry, cached by the engine's host)."""

    device_id: str  # the device key, as on the wire
    device_pk: int
    type_key: str
    department: str  # key of the supervising department
    lon: float
    lat: float
    asset_key: str | None = None
    asset_class: str | None = None
    asset_name: str | None = None
    district: str | None = None  # district code

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (``dataclasses.asdict`` deep-copies; these are all plain values)."""
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Observation:
    """One value of one accepted reading."""

    device: DeviceContext
    quantity: str
    ts: datetime  # aware, UTC
    value: float


@dataclass(frozen=True, slots=True)
class Signal:
    """A rule's verdict on one subject at one time: active at ``level``, or cleared (``level is None``).

    ``labels`` are the warning's identity (their fingerprint dedupes): always ``rule``, ``scope``
    (device / asset / area) and ``department``, plus whichever of ``device``, ``asset``, ``asset_class``,
    ``device_type``, ``quantity`` and ``district`` describe the subject. ``annotations`` carry the
    human text (``summary_zh``, ``summary_en``) and hints such as ``auto_incident``; ``evidence`` holds
    the values and device ids that made the verdict.
    """

    rule: str
    labels: Mapping[str, str]
    level: Level | None
    at: datetime
    value: float | None = None
    lon: float | None = None
    lat: float | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.level is not None
