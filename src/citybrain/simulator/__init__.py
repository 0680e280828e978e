"""A seeded, deterministic sensor simulator for a city district, emitting real device payloads.

Used by the embedded demo, tests and benchmarks: the readings go through the same ingestion
path as real devices, and every injected fault comes with a ground-truth record.
"""

from .engine import DEFAULT_START, Simulator
from .faults import FAULT_KINDS, GAS_GRADES_LEL, Fault, write_ground_truth
from .kinds import ASSET_CLASSES, EXTRA_KINDS, KINDS, AssetClass, Peak, SensorKind
from .placement import Asset, Device, Placement, asset_counts, place
from .runner import RunStats, run

__all__ = [
    "ASSET_CLASSES",
    "DEFAULT_START",
    "EXTRA_KINDS",
    "FAULT_KINDS",
    "GAS_GRADES_LEL",
    "KINDS",
    "Asset",
    "AssetClass",
    "Device",
    "Fault",
    "Peak",
    "Placement",
    "RunStats",
    "SensorKind",
    "Simulator",
    "asset_counts",
    "place",
    "run",
    "write_ground_truth",
]
