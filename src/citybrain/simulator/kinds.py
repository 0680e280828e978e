"""Sensor kinds and asset classes of the simulator, described as data rather than code branches.

Every magnitude below is engineering common sense for Shanghai's city lifelines, not a measured
dataset; each kind's docstring line says what the numbers are meant to resemble. The signal model
that reads these fields lives in ``signals.py``:

    value = (baseline + daily cycle + peaks) * device scale + device offset + trend + wander + noise

clipped to the physical valid range and rounded to ``decimals``. Hours are Asia/Shanghai local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Anchor = Literal["station", "road", "bridge", "station_or_major"]


@dataclass(frozen=True, slots=True)
class Peak:
    """A Gaussian bump added to the daily profile: centre hour (local), width (h, sigma), height."""

    hour: float
    width_h: float
    height: float


@dataclass(frozen=True, slots=True)
class SensorKind:
    """What one kind of sensor measures and how its clean signal behaves."""

    key: str
    code: str  # short upper-case code used in device ids, e.g. "GAS" -> SIM-GAS-000123
    quantity: str  # the key of the value in a reading's ``values``
    unit: str
    asset_class: str
    name_zh: str
    name_en: str
    baseline: float
    valid_min: float
    valid_max: float
    interval_s: int
    decimals: int
    noise_sigma: float  # white measurement noise, absolute
    noise_rel: float = 0.0  # extra white noise proportional to the clean value (counts)
    cycle_amplitude: float = 0.0  # daily cosine, peaking at cycle_peak_hour
    cycle_peak_hour: float = 14.0
    weekday_peaks: tuple[Peak, ...] = ()
    weekend_peaks: tuple[Peak, ...] = ()
    wander_sigma: float = 0.0  # slow random variation, linearly interpolated between knots
    wander_period_s: int = 3600
    offset_sigma: float = 0.0  # fixed per-device offset (installation zero, elevation, ...)
    scale_sigma: float = 0.0  # fixed per-device log-normal factor on baseline + cycle (place size)
    trend_per_day: float = 0.0  # initial rate of the long-term trend since the epoch
    trend_limit: float | None = None  # saturating trend (consolidation): approaches this value
    extras: tuple[str, ...] = ()  # keys of EXTRA_KINDS reported alongside (battery devices)

    @property
    def typical_sigma(self) -> float:
        """Short-term variability used to size injected faults so they stand out of the noise."""
        return max(self.noise_sigma + self.wander_sigma, 10.0**-self.decimals)


@dataclass(frozen=True, slots=True)
class AssetClass:
    """A kind of monitored asset: which sensors it carries and where it is placed."""

    key: str
    code: str
    name_zh: str
    name_en: str
    kinds: tuple[str, ...]
    anchor: Anchor
    default_count: int  # assets placed in the default (demo) scale
    jitter_m: float  # spread of assets around their anchor


_BATTERY = ("battery", "rssi")
_WEEKDAY_WATER = (Peak(7.5, 1.0, -0.035), Peak(19.0, 1.5, -0.04))
_WEEKEND_WATER = (Peak(9.5, 1.5, -0.03), Peak(19.0, 1.5, -0.04))

# One compact block per kind and class reads as a table; keep the formatter off it.
# fmt: off
KINDS: dict[str, SensorKind] = {
    k.key: k
    for k in (
        # Automated levelling of ground next to a metro pit: settles slowly (consolidation towards
        # about -20 mm, Shanghai soft clay), levelling noise ~0.2 mm; alarms are typically ~20-30 mm.
        SensorKind(
            "pit_settlement", "SET", "settlement", "mm", "construction_pit", "地表沉降", "Ground settlement",
            baseline=0.0, valid_min=-300.0, valid_max=100.0, interval_s=600, decimals=2,
            noise_sigma=0.2, wander_sigma=0.1, wander_period_s=6 * 3600, offset_sigma=1.0,
            trend_per_day=-0.15, trend_limit=-20.0,
        ),
        # Tilt meter on the retaining wall or a nearby building, in per mille (mrad); a small
        # afternoon thermal swing and a slow lean; building alarms are typically a few per mille.
        SensorKind(
            "pit_inclination", "INC", "inclination", "‰", "construction_pit", "倾斜", "Inclination",
            baseline=0.0, valid_min=-50.0, valid_max=50.0, interval_s=600, decimals=3,
            noise_sigma=0.02, cycle_amplitude=0.03, cycle_peak_hour=15.0, offset_sigma=0.3,
            trend_per_day=0.005, trend_limit=0.5,
        ),
        # Phreatic water level relative to ground (negative = below); shallow in Shanghai (~1 m),
        # with slow wander; pit alarms are typically a 0.3-0.5 m change.
        SensorKind(
            "pit_groundwater", "GWL", "groundwater_level", "m", "construction_pit", "地下水位", "Groundwater level",
            baseline=-1.0, valid_min=-40.0, valid_max=2.0, interval_s=600, decimals=3,
            noise_sigma=0.005, cycle_amplitude=0.02, cycle_peak_hour=4.0, wander_sigma=0.02,
            wander_period_s=6 * 3600, offset_sigma=0.3,
        ),
        # Methane in a confined space next to a gas main (valve pit, cable trench), % of the lower
        # explosive limit: near zero with small noise; warning rules grade >10, >25, >50 %LEL.
        SensorKind(
            "gas_methane", "GAS", "methane", "%LEL", "gas_space", "可燃气体浓度", "Methane",
            baseline=0.5, valid_min=0.0, valid_max=100.0, interval_s=60, decimals=1,
            noise_sigma=0.15, wander_sigma=0.15, wander_period_s=1800, offset_sigma=0.2,
            extras=_BATTERY,
        ),
        # Strain gauge on a girder, micro-strain: a daily thermal cycle of a few tens of µε,
        # each gauge zeroed differently at installation.
        SensorKind(
            "bridge_strain", "STR", "strain", "µε", "bridge", "应变", "Strain",
            baseline=0.0, valid_min=-2000.0, valid_max=2000.0, interval_s=60, decimals=1,
            noise_sigma=2.0, cycle_amplitude=35.0, cycle_peak_hour=15.0, wander_sigma=3.0,
            offset_sigma=50.0,
        ),
        # Expansion-joint / bearing displacement, mm: a thermal cycle of a few mm.
        SensorKind(
            "bridge_displacement", "DSP", "displacement", "mm", "bridge", "位移", "Displacement",
            baseline=0.0, valid_min=-150.0, valid_max=150.0, interval_s=60, decimals=2,
            noise_sigma=0.1, cycle_amplitude=4.0, cycle_peak_hour=15.0, wander_sigma=0.2,
            offset_sigma=5.0,
        ),
        # Water-main pressure, MPa: ~0.3 MPa, highest at night, dips at the morning and evening
        # demand peaks (Shanghai's minimum service pressure is about 0.16 MPa); PN16 pipe limit.
        SensorKind(
            "water_pressure", "WPR", "pressure", "MPa", "water_main", "供水压力", "Water pressure",
            baseline=0.30, valid_min=0.0, valid_max=1.6, interval_s=300, decimals=3,
            noise_sigma=0.004, cycle_amplitude=0.015, cycle_peak_hour=3.0,
            weekday_peaks=_WEEKDAY_WATER, weekend_peaks=_WEEKEND_WATER,
            wander_sigma=0.005, offset_sigma=0.03, extras=_BATTERY,
        ),
        # Water depth in a drainage manhole, m: sewage flow follows water use (morning, evening).
        SensorKind(
            "drain_level", "DRN", "water_level", "m", "drainage", "排水管网液位", "Drainage water level",
            baseline=0.30, valid_min=0.0, valid_max=6.0, interval_s=300, decimals=2,
            noise_sigma=0.01, cycle_amplitude=0.04, cycle_peak_hour=20.0,
            weekday_peaks=(Peak(8.0, 1.5, 0.08), Peak(20.5, 2.0, 0.10)),
            weekend_peaks=(Peak(10.0, 2.0, 0.06), Peak(20.5, 2.0, 0.10)),
            wander_sigma=0.02, offset_sigma=0.05, extras=_BATTERY,
        ),
        # Photoelectric smoke detector, obscuration %/m: clean air reads ~0; point detectors
        # typically alarm at a few %/m.
        SensorKind(
            "fire_smoke", "SMK", "smoke", "%/m", "fire_system", "烟雾浓度", "Smoke obscuration",
            baseline=0.05, valid_min=0.0, valid_max=30.0, interval_s=60, decimals=2,
            noise_sigma=0.02, wander_sigma=0.01,
        ),
        # Indoor hydrant / sprinkler main pressure, MPa: static ~0.35 MPa held by tank and pumps;
        # a low-pressure fault (below ~0.1 MPa) is the classic hazard.
        SensorKind(
            "fire_hydrant_pressure", "HYD", "hydrant_pressure", "MPa", "fire_system", "消火栓压力",
            "Hydrant pressure",
            baseline=0.35, valid_min=0.0, valid_max=2.5, interval_s=300, decimals=3,
            noise_sigma=0.003, wander_sigma=0.003, offset_sigma=0.03, extras=_BATTERY,
        ),
        # People counted in a station concourse or square: quiet at night, weekday commuter peaks
        # around 08:30 and 18:00, a broad afternoon peak at weekends; places differ in size.
        SensorKind(
            "crowd_people", "PPL", "people_count", "persons", "crowded_place", "人员数量", "People count",
            baseline=300.0, valid_min=0.0, valid_max=50000.0, interval_s=60, decimals=0,
            noise_sigma=10.0, noise_rel=0.04, cycle_amplitude=250.0, cycle_peak_hour=14.0,
            weekday_peaks=(Peak(8.5, 0.8, 2500.0), Peak(18.0, 1.0, 3000.0), Peak(12.5, 1.5, 400.0)),
            weekend_peaks=(Peak(15.0, 3.0, 1800.0), Peak(20.0, 1.5, 600.0)),
            scale_sigma=0.4,
        ),
    )
}

# Values that battery-powered (NB-IoT / LoRa) devices add to each reading.
EXTRA_KINDS: dict[str, SensorKind] = {
    k.key: k
    for k in (
        # Battery state of charge: starts ~80-96 %, loses ~0.05 %/day (a 5-year cell).
        SensorKind(
            "battery", "BAT", "battery", "%", "", "电量", "Battery",
            baseline=88.0, valid_min=0.0, valid_max=100.0, interval_s=0, decimals=0,
            noise_sigma=0.3, offset_sigma=4.0, trend_per_day=-0.05,
        ),
        # Received signal strength: each site has its own level (-70 to -100 dBm), jitter of a few dB.
        SensorKind(
            "rssi", "RSI", "rssi", "dBm", "", "信号强度", "Signal strength",
            baseline=-85.0, valid_min=-130.0, valid_max=-30.0, interval_s=0, decimals=0,
            noise_sigma=2.5, offset_sigma=8.0,
        ),
    )
}

ASSET_CLASSES: dict[str, AssetClass] = {
    a.key: a
    for a in (
        AssetClass("construction_pit", "PIT", "施工基坑", "pit",
                   ("pit_settlement", "pit_inclination", "pit_groundwater"), "station", 8, 120.0),
        AssetClass("gas_space", "GAS", "燃气相邻空间", "gas-adjacent space", ("gas_methane",), "road", 40, 8.0),
        AssetClass("bridge", "BRG", "桥梁", "bridge", ("bridge_strain", "bridge_displacement"), "bridge", 4, 5.0),
        AssetClass("water_main", "WTR", "供水管网", "water main", ("water_pressure",), "road", 20, 8.0),
        AssetClass("drainage", "DRN", "排水设施", "drainage point", ("drain_level",), "road", 20, 8.0),
        AssetClass("fire_system", "FIR", "消防系统", "fire system",
                   ("fire_smoke", "fire_hydrant_pressure"), "station_or_major", 12, 150.0),
        AssetClass("crowded_place", "CRD", "人员密集场所", "crowded place", ("crowd_people",), "station_or_major",
                   10, 100.0),
    )
}

# fmt: on


def kind(key: str) -> SensorKind:
    """The kind (or extra kind) with this key; KeyError names the unknown key."""
    if key in KINDS:
        return KINDS[key]
    if key in EXTRA_KINDS:
        return EXTRA_KINDS[key]
    raise KeyError(f"unknown sensor kind {key!r}")


def _check() -> None:
    codes = [k.code for k in KINDS.values()]
    assert len(set(codes)) == len(codes), "sensor kind codes must be unique"
    for a in ASSET_CLASSES.values():
        for key in a.kinds:
            assert KINDS[key].asset_class == a.key, f"{key} belongs to {KINDS[key].asset_class}, not {a.key}"
    for k in KINDS.values():
        assert k.valid_min <= k.baseline <= k.valid_max, k.key
        assert all(e in EXTRA_KINDS for e in k.extras), k.key


_check()
