"""Device types described as data: what a device measures, in which unit and physical range.

The built-in table is derived from the simulator's sensor kinds (one source of truth); the same rows
are kept in the ``device_type`` table so that new types can be added without code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from citybrain.simulator.kinds import EXTRA_KINDS, KINDS

DEFAULT_RAW_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True)
class Extra:
    """A value a device reports beside its main quantity (battery, signal strength)."""

    quantity: str
    unit: str
    valid_min: float
    valid_max: float


@dataclass(frozen=True, slots=True)
class DeviceType:
    key: str
    quantity: str
    unit: str
    valid_min: float
    valid_max: float
    interval_s: int
    asset_classes: tuple[str, ...]
    name_zh: str
    name_en: str
    extras: tuple[Extra, ...] = ()
    raw_retention_days: int = DEFAULT_RAW_RETENTION_DAYS  # raw readings older are pruned (roll-ups: longer)

    def range_of(self, quantity: str) -> tuple[float, float] | None:
        """The physical range of one of this type's quantities, or None if it does not report it."""
        if quantity == self.quantity:
            return (self.valid_min, self.valid_max)
        for e in self.extras:
            if e.quantity == quantity:
                return (e.valid_min, e.valid_max)
        return None

    def unit_of(self, quantity: str) -> str | None:
        if quantity == self.quantity:
            return self.unit
        return next((e.unit for e in self.extras if e.quantity == quantity), None)

    @property
    def quantities(self) -> tuple[str, ...]:
        return (self.quantity, *(e.quantity for e in self.extras))

    def as_row(self) -> dict[str, Any]:
        return {
            "key": self.key, "quantity": self.quantity, "unit": self.unit, "valid_min": self.valid_min,
            "valid_max": self.valid_max, "interval_s": self.interval_s, "asset_classes": list(self.asset_classes),
            "name_zh": self.name_zh, "name_en": self.name_en, "raw_retention_days": self.raw_retention_days,
            "extras": [{"quantity": e.quantity, "unit": e.unit, "valid_min": e.valid_min, "valid_max": e.valid_max}
                       for e in self.extras],
        }

    @classmethod
    def from_row(cls, row: Any) -> DeviceType:
        return cls(
            key=row.key, quantity=row.quantity, unit=row.unit, valid_min=row.valid_min, valid_max=row.valid_max,
            interval_s=row.interval_s, asset_classes=tuple(row.asset_classes or ()), name_zh=row.name_zh,
            name_en=row.name_en, extras=tuple(Extra(**e) for e in (row.extras or ())),
            raw_retention_days=getattr(row, "raw_retention_days", None) or DEFAULT_RAW_RETENTION_DAYS,
        )


def _from_kind(key: str) -> DeviceType:
    k = KINDS[key]
    extras = tuple(
        Extra(EXTRA_KINDS[e].quantity, EXTRA_KINDS[e].unit, EXTRA_KINDS[e].valid_min, EXTRA_KINDS[e].valid_max)
        for e in k.extras
    )
    return DeviceType(k.key, k.quantity, k.unit, k.valid_min, k.valid_max, k.interval_s, (k.asset_class,),
                      k.name_zh, k.name_en, extras)


DEVICE_TYPES: dict[str, DeviceType] = {key: _from_kind(key) for key in KINDS}

# Which department supervises an asset class by default (the demo registers its catalogue with these).
ASSET_CLASS_DEPARTMENTS: dict[str, str] = {
    "construction_pit": "housing",
    "gas_space": "emergency",
    "bridge": "transport",
    "water_main": "water",
    "drainage": "water",
    "fire_system": "fire",
    "crowded_place": "police",
}

RISK_LEVELS = ("red", "orange", "yellow", "blue")


def in_range(value: float, bounds: tuple[float, float]) -> bool:
    return math.isfinite(value) and bounds[0] <= value <= bounds[1]
