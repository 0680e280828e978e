"""Validation of the precursor methods on real data: NYC motor-vehicle collisions (NYPD, NYC Open Data).

The crash file (../shared/data/nyc_collisions, see its SOURCE.md) is streamed once with the csv module and
only what the analysis needs is kept per crash (time, borough, layer, coordinates). The pyramid's layers are
read from the persons columns: no one injured (the base, like a near miss) : someone injured : someone killed.
Then weekly CUSUM alarms per borough (all crashes, and crashes with an injury or death) and emerging hotspot
cells of 500 m by week (crashes without usable coordinates are skipped and counted). Only whole weeks
(Monday–Sunday, local time) inside the file's span are used for the weekly methods.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from citybrain.analytics import hotspots as hs
from citybrain.analytics import precursors as pc

FILE_GLOB = "*.csv"
NYC_BOUNDS = (-74.30, 40.45, -73.65, 40.95)  # lon/lat extent of the five boroughs
LAYER_NAMES = {"near_miss": "no_injury", "minor": "injury", "serious": "fatal"}
UNKNOWN_BOROUGH = "UNKNOWN"


def locate(data: str | Path | None = None) -> Path:
    """The crash CSV: ``data`` (a file, or a folder holding one), else ``../shared/data/nyc_collisions``."""
    beside_repo = Path(__file__).resolve().parents[3].parent / "shared/data/nyc_collisions"
    candidates = [Path(data)] if data else [Path("../shared/data/nyc_collisions"), beside_repo]
    for c in candidates:
        if c.is_file():
            return c
        if c.is_dir():
            files = sorted(c.glob(FILE_GLOB))
            if files:
                return files[0]
    raise FileNotFoundError(f"no NYC collisions CSV at {', '.join(map(str, candidates))}")


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except ValueError:
        return 0


def layer_of(injured: int, killed: int) -> str:
    """The pyramid layer of one crash: ``serious`` if anyone died, ``minor`` if anyone was hurt, else the base."""
    return "serious" if killed > 0 else "minor" if injured > 0 else "near_miss"


def _when(row: dict[str, str]) -> datetime | None:
    text = (row.get("CRASH_DATETIME") or "").strip()
    try:
        if text:
            return datetime.fromisoformat(text)
        return datetime.strptime(f"{row['CRASH DATE']} {row['CRASH TIME']}", "%m/%d/%Y %H:%M")
    except (KeyError, ValueError):
        return None


def _coords(row: dict[str, str]) -> tuple[float, float] | None:
    try:
        lat, lon = float(row.get("LATITUDE") or "nan"), float(row.get("LONGITUDE") or "nan")
    except ValueError:
        return None
    min_x, min_y, max_x, max_y = NYC_BOUNDS
    if not (min_x <= lon <= max_x and min_y <= lat <= max_y):  # also drops NaN and the (0, 0) placeholders
        return None
    return lon, lat


def read(path: Path) -> Iterator[pc.Record]:
    """One record per crash with a readable time; times are New York local, kept naive."""
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            at = _when(row)
            if at is None:
                continue
            where = _coords(row)
            yield pc.Record(at=at, kind=layer_of(_int(row.get("NUMBER OF PERSONS INJURED")),
                                                 _int(row.get("NUMBER OF PERSONS KILLED"))),
                            district=(row.get("BOROUGH") or "").strip() or UNKNOWN_BOROUGH, type="collision",
                            lon=where[0] if where else None, lat=where[1] if where else None)


def whole_weeks(first: date, last: date) -> tuple[date, int]:
    """The first Monday on or after ``first`` and how many whole weeks fit before ``last`` ends.

    >>> whole_weeks(date(2025, 1, 1), date(2025, 4, 1))
    (datetime.date(2025, 1, 6), 12)
    """
    start = first + timedelta(days=(7 - first.weekday()) % 7)
    return start, max(0, ((last - start).days + 1) // 7)


@dataclass
class NycResult:
    path: str
    crashes: int
    without_coordinates: int
    first_day: date
    last_day: date
    start: date
    weeks: int
    pyramids: list[pc.Pyramid]  # the city first, then each borough
    alarms: list[pc.TrendAlarm]
    hotspots: hs.HotspotReport
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        def pyr(p: pc.Pyramid) -> dict[str, Any]:
            return {"borough": p.key[0] if p.key else "ALL", "no_injury": p.near_miss, "injury": p.minor,
                    "fatal": p.serious, "total": p.total, "no_injury_per_injury": p.near_per_minor,
                    "injury_per_fatal": p.minor_per_serious, "no_injury_per_fatal": p.near_per_serious,
                    "thin_base": p.thin_base}

        return {
            "dataset": "nyc_collisions", "path": self.path, "crashes": self.crashes,
            "without_coordinates": self.without_coordinates, "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(), "from_week": self.start.isoformat(), "weeks": self.weeks,
            "pyramids": [pyr(p) for p in self.pyramids],
            "alarms": [a.as_dict(("borough", "series")) for a in self.alarms],
            "hotspots": {"cells": self.hotspots.cells, "evaluated_weeks": self.hotspots.evaluated_weeks,
                         "found": len(self.hotspots.hotspots), "emerging": len(self.hotspots.emerging),
                         "by_category": _categories(self.hotspots.hotspots),
                         "top": [h.as_dict() for h in self.hotspots.hotspots[:10]]},
            "seconds": round(self.seconds, 2),
        }


def _categories(hotspots: list[hs.Hotspot]) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in hotspots:
        out[h.category] = out.get(h.category, 0) + 1
    return out


def analyse(path: Path, *, baseline_weeks: int = 6, guard_weeks: int = 1, shift: float = 1.5, arl0: float = 520.0,
            recent_weeks: int = 4, min_history_weeks: int = 4, cell_m: float = 500.0) -> NycResult:
    """Pyramids per borough, weekly CUSUM alarms per borough and emerging hotspot cells, from one pass."""
    t0 = time.perf_counter()
    records = list(read(path))
    if not records:
        raise ValueError(f"{path}: no crash with a readable time")
    first = min(r.at for r in records).date()
    last = max(r.at for r in records).date()
    start, weeks = whole_weeks(first, last)
    city = pc.pyramids(records, by=())
    boroughs = pc.pyramids(records, by=("district",))
    series: dict[pc.GroupKey, list[int]] = {}
    for key, counts in pc.weekly_series(records, by=("district",), start=start, weeks=weeks).items():
        series[(key[0], "all")] = counts
    injured = [r for r in records if r.kind != "near_miss"]
    for key, counts in pc.weekly_series(injured, by=("district",), start=start, weeks=weeks).items():
        series[(key[0], "injury_or_fatal")] = counts
    alarms = pc.trend_alarms(series, start=start, baseline_weeks=baseline_weeks, guard_weeks=guard_weeks,
                             shift=shift, arl0=arl0)
    hot = hs.emerging_hotspots(records, grid=hs.Grid(lat0=40.7, size_m=cell_m), start=start, weeks=weeks,
                               recent_weeks=recent_weeks, min_history_weeks=min_history_weeks)
    return NycResult(path=str(path), crashes=len(records), without_coordinates=hot.skipped, first_day=first,
                     last_day=last, start=start, weeks=weeks, pyramids=city + boroughs, alarms=alarms, hotspots=hot,
                     seconds=time.perf_counter() - t0)
