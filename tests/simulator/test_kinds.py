from __future__ import annotations

from citybrain.simulator import ASSET_CLASSES, EXTRA_KINDS, KINDS, SensorKind

REQUIRED_QUANTITIES = {
    "settlement",
    "inclination",
    "groundwater_level",
    "methane",
    "strain",
    "displacement",
    "pressure",
    "water_level",
    "smoke",
    "hydrant_pressure",
    "people_count",
}


def test_required_quantities_are_described() -> None:
    assert {k.quantity for k in KINDS.values()} >= REQUIRED_QUANTITIES


def test_kinds_are_consistent_data() -> None:
    for key, k in {**KINDS, **EXTRA_KINDS}.items():
        assert isinstance(k, SensorKind) and k.key == key
        assert k.valid_min < k.valid_max
        assert k.valid_min <= k.baseline <= k.valid_max
        assert k.noise_sigma > 0 and k.decimals >= 0
    for k in KINDS.values():
        assert k.interval_s > 0 and 86400 % k.interval_s == 0  # readings align with days
        assert k.key in ASSET_CLASSES[k.asset_class].kinds


def test_battery_devices_report_battery_and_rssi() -> None:
    assert KINDS["gas_methane"].extras == ("battery", "rssi")
    assert EXTRA_KINDS["battery"].trend_per_day < 0  # slow decline
    assert not KINDS["bridge_strain"].extras  # wired


def test_settlement_trends_down_and_people_peak_at_rush_hours() -> None:
    assert KINDS["pit_settlement"].trend_per_day < 0
    peaks = {p.hour for p in KINDS["crowd_people"].weekday_peaks}
    assert {8.5, 18.0} <= peaks
    assert KINDS["crowd_people"].weekday_peaks != KINDS["crowd_people"].weekend_peaks
