"""Small builders for rule-engine tests: devices, observation streams, rules from YAML snippets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from citybrain.warning.rules import RuleDef, parse_rules
from citybrain.warning.types import DeviceContext, Observation, Signal

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def device(
    device_id: str = "GAS-1",
    type_key: str = "gas_methane",
    *,
    asset: str | None = "A-1",
    asset_class: str | None = "gas_space",
    district: str | None = "310101",
    department: str = "emergency",
    lon: float = 121.47,
    lat: float = 31.23,
    pk: int = 1,
) -> DeviceContext:
    return DeviceContext(device_id, pk, type_key, department, lon, lat, asset, asset_class, None, district)


def rules(yaml_text: str) -> list[RuleDef]:
    return parse_rules(yaml_text)


def series(dev: DeviceContext, quantity: str, values: Sequence[float], *, step_s: float = 60, start: datetime = T0,
           ) -> list[Observation]:
    return [Observation(dev, quantity, start + timedelta(seconds=i * step_s), float(v)) for i, v in enumerate(values)]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def levels(signals: Iterable[Signal]) -> list[str | None]:
    return [s.level.colour if s.level else None for s in signals]
