"""The dynamic risk map (风险四色图 + 动态风险指数): evidence weights summed per grid cell and per district.

``RiskMap.build`` places every item at once; ``add`` / ``remove`` / ``replace`` then change one item and
recompute only its cell (O(items in that cell)) and its district (O(1)). Weights are kept as integer
thousandths, so any sequence of incremental changes gives exactly the totals of a fresh build.

A cell's score is the sum of its items' weights, each kind capped per cell where ``caps`` says so (a
cluster of silent sensors must not paint a cell red by itself). A district's score is its items' raw sum
divided by its area in cells — the mean score of a 500 m cell there — so a large district is not red
merely for being large. Colours come from the score through ``Bands``; every cell and district explains
its colour: the contributions by kind, the top items with their labels, and the *baseline* (assessed risk
alone) beside the dynamic colour, so a user sees what live evidence added.

>>> from citybrain.analytics.evidence import Evidence
>>> m = RiskMap.build([
...     Evidence("assessment", "risk_point:1", 121.47, 31.23, 40.0, "重大风险点", "major risk point", "310101"),
...     Evidence("warning", "warning:9", 121.4701, 31.2301, 25.0, "红色预警", "red warning", "310101"),
... ])
>>> cell = m.cell_of(121.47, 31.23)
>>> m.score(cell), m.colour(cell), m.baseline_colour(cell)
(65.0, 'red', 'orange')
>>> _ = m.remove("warning:9")
>>> m.colour(cell)
'orange'
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from citybrain.analytics.evidence import Evidence
from citybrain.analytics.grid import SHANGHAI, BBox, Grid

SCALE = 1000  # weights are held as integer thousandths


@dataclass(frozen=True, slots=True)
class Colour:
    key: str
    level: int  # 0 none … 4 red: larger is worse
    name_zh: str
    name_en: str


COLOURS: dict[str, Colour] = {c.key: c for c in (
    Colour("none", 0, "无", "none"),
    Colour("blue", 1, "低风险", "low risk"),
    Colour("yellow", 2, "一般风险", "moderate risk"),
    Colour("orange", 3, "较大风险", "significant risk"),
    Colour("red", 4, "重大风险", "major risk"),
)}

KIND_LABELS: dict[str, tuple[str, str]] = {
    "assessment": ("风险评估", "assessed risk"),
    "hazard": ("隐患", "hazards"),
    "warning": ("预警", "warnings"),
    "incident": ("事件", "incidents"),
    "near_miss": ("未遂事件", "near misses"),
    "sensing_gap": ("感知盲区", "sensing gaps"),
}


@dataclass(frozen=True, slots=True)
class Bands:
    """Score thresholds: ≥ red → red, ≥ orange → orange, ≥ yellow → yellow, > 0 → blue, else none."""

    red: float = 60.0
    orange: float = 30.0
    yellow: float = 10.0

    def colour(self, score: float) -> str:
        """
        >>> Bands().colour(60), Bands().colour(29.9), Bands().colour(0.5), Bands().colour(0)
        ('red', 'yellow', 'blue', 'none')
        """
        if score >= self.red:
            return "red"
        if score >= self.orange:
            return "orange"
        if score >= self.yellow:
            return "yellow"
        return "blue" if score > 0 else "none"


CELL_BANDS = Bands()
DISTRICT_BANDS = Bands(red=10.0, orange=5.0, yellow=2.0)  # on the mean score per cell of the district
DEFAULT_CAPS: Mapping[str, float] = {"sensing_gap": 10.0}
BASELINE_KINDS: tuple[str, ...] = ("assessment",)


def colour_level(key: str) -> int:
    """The rank of a colour name (ValueError for an unknown one)."""
    try:
        return COLOURS[key].level
    except KeyError:
        raise ValueError(f"unknown colour {key!r}: one of {', '.join(COLOURS)}") from None


@dataclass(slots=True)
class _Area:
    """The items of one cell or district and their per-kind sums (integer thousandths)."""

    items: dict[str, Evidence] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    baseline: int = 0


def _milli(weight: float) -> int:
    return round(weight * SCALE)


class RiskMap:
    """Evidence summed per cell of ``grid`` and per district; see the module docstring."""

    def __init__(self, *, grid: Grid = SHANGHAI, bands: Bands = CELL_BANDS, district_bands: Bands = DISTRICT_BANDS,
                 caps: Mapping[str, float] | None = None, baseline_kinds: Iterable[str] = BASELINE_KINDS,
                 district_cells: Mapping[str, float] | None = None) -> None:
        self.grid = grid
        self.bands = bands
        self.district_bands = district_bands
        self.caps = {k: _milli(v) for k, v in (DEFAULT_CAPS if caps is None else caps).items()}
        self.baseline_kinds = frozenset(baseline_kinds)
        self.district_cells = dict(district_cells or {})
        self._cells: dict[str, _Area] = {}
        self._districts: dict[str, _Area] = {}
        self._where: dict[str, str] = {}  # ref → cell id

    # -- building and changing -------------------------------------------------------------------------------

    @classmethod
    def build(cls, evidence: Iterable[Evidence], **config: Any) -> RiskMap:
        """A map of all the evidence at once (a later item with the same ref replaces an earlier one)."""
        m = cls(**config)
        cell_of = m.grid.cell_of
        for e in evidence:
            old = m._where.get(e.ref)
            if old is not None:
                del m._cells[old].items[e.ref]
            cell = cell_of(e.lon, e.lat)
            m._where[e.ref] = cell
            area = m._cells.get(cell)
            if area is None:
                area = m._cells[cell] = _Area()
            area.items[e.ref] = e
        for cell_id, area in list(m._cells.items()):
            if area.items:
                m._recompute_cell(area)
            else:
                del m._cells[cell_id]
        for area in m._cells.values():
            for e in area.items.values():
                m._district_delta(e, +1)
        return m

    def add(self, evidence: Evidence) -> str:
        """Place one item (replacing an item of the same ref); returns its cell id."""
        if evidence.ref in self._where:
            self.remove(evidence.ref)
        cell = self.grid.cell_of(evidence.lon, evidence.lat)
        area = self._cells.get(cell)
        if area is None:
            area = self._cells[cell] = _Area()
        area.items[evidence.ref] = evidence
        self._where[evidence.ref] = cell
        self._recompute_cell(area)
        self._district_delta(evidence, +1)
        return cell

    def remove(self, ref: str) -> Evidence | None:
        """Take one item out; returns it (None if the map does not hold it)."""
        cell = self._where.pop(ref, None)
        if cell is None:
            return None
        area = self._cells[cell]
        evidence = area.items.pop(ref)
        if area.items:
            self._recompute_cell(area)
        else:
            del self._cells[cell]
        self._district_delta(evidence, -1)
        return evidence

    def replace(self, evidence: Evidence) -> str:
        """The item's new state (moved, reweighted or relabelled); same as ``add``."""
        return self.add(evidence)

    def _recompute_cell(self, area: _Area) -> None:
        by_kind: dict[str, int] = {}
        counts: dict[str, int] = {}
        for e in area.items.values():
            by_kind[e.kind] = by_kind.get(e.kind, 0) + _milli(e.weight)
            counts[e.kind] = counts.get(e.kind, 0) + 1
        area.by_kind, area.counts = by_kind, counts
        area.total = sum(self._capped(k, v) for k, v in by_kind.items())
        area.baseline = sum(self._capped(k, v) for k, v in by_kind.items() if k in self.baseline_kinds)

    def _capped(self, kind: str, milli: int) -> int:
        cap = self.caps.get(kind)
        return milli if cap is None else min(cap, milli)

    def _district_delta(self, e: Evidence, sign: int) -> None:
        code = e.district_code
        if code is None:
            return
        area = self._districts.get(code)
        if area is None:
            area = self._districts[code] = _Area()
        w = _milli(e.weight)
        if sign > 0:
            area.items[e.ref] = e
        else:
            area.items.pop(e.ref, None)
        area.by_kind[e.kind] = area.by_kind.get(e.kind, 0) + sign * w
        area.counts[e.kind] = area.counts.get(e.kind, 0) + sign
        if area.counts[e.kind] == 0:
            del area.by_kind[e.kind], area.counts[e.kind]
        area.total += sign * w
        if e.kind in self.baseline_kinds:
            area.baseline += sign * w
        if not area.items:
            del self._districts[code]

    # -- reading -------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """How many items the map holds."""
        return len(self._where)

    def __contains__(self, ref: object) -> bool:
        return ref in self._where

    def cell_of(self, lon: float, lat: float) -> str:
        return self.grid.cell_of(lon, lat)

    def cell_ids(self) -> list[str]:
        """The cells holding any evidence."""
        return list(self._cells)

    def district_codes(self) -> list[str]:
        return list(self._districts)

    def score(self, cell_id: str) -> float:
        area = self._cells.get(cell_id)
        return 0.0 if area is None else area.total / SCALE

    def colour(self, cell_id: str) -> str:
        return self.bands.colour(self.score(cell_id))

    def baseline_colour(self, cell_id: str) -> str:
        area = self._cells.get(cell_id)
        return self.bands.colour(0.0 if area is None else area.baseline / SCALE)

    def district_score(self, code: str) -> float:
        """The district's mean score per cell of its area (per cell holding evidence when the area is unknown)."""
        area = self._districts.get(code)
        if area is None:
            return 0.0
        return area.total / SCALE / self._district_size(code)

    def _district_size(self, code: str) -> float:
        size = self.district_cells.get(code)
        if size:
            return max(1.0, size)
        area = self._districts.get(code)
        return float(max(1, len({self._where[r] for r in area.items}))) if area else 1.0

    def district_colour(self, code: str) -> str:
        return self.district_bands.colour(self.district_score(code))

    def cell_snapshot(self, cell_id: str) -> dict[str, Any]:
        """The numbers of one cell (what a full rebuild must reproduce): score, baseline, sums and counts by kind."""
        area = self._cells.get(cell_id) or _Area()
        return {"score": area.total / SCALE, "baseline": area.baseline / SCALE,
                "by_kind": {k: v / SCALE for k, v in sorted(area.by_kind.items())},
                "counts": dict(sorted(area.counts.items())), "refs": sorted(area.items)}

    def district_snapshot(self, code: str) -> dict[str, Any]:
        area = self._districts.get(code) or _Area()
        return {"total": area.total / SCALE, "baseline": area.baseline / SCALE,
                "by_kind": {k: v / SCALE for k, v in sorted(area.by_kind.items())},
                "counts": dict(sorted(area.counts.items())), "refs": sorted(area.items)}

    def cells(self, *, bbox: BBox | None = None, min_colour: str = "blue") -> Iterator[dict[str, Any]]:
        """Each cell with evidence (in the box, at least ``min_colour``) as a short summary."""
        floor = colour_level(min_colour)
        box = self.grid.index_range(bbox) if bbox is not None else None
        for cell_id, area in self._cells.items():
            if box is not None:
                row, col = self.grid.parse(cell_id)
                if not (box[0] <= row <= box[2] and box[1] <= col <= box[3]):
                    continue
            colour = self.bands.colour(area.total / SCALE)
            if COLOURS[colour].level < floor:
                continue
            yield self._summary(cell_id, area, colour, self.bands.colour(area.baseline / SCALE), area.total / SCALE)

    def districts(self, *, min_colour: str = "blue") -> Iterator[dict[str, Any]]:
        floor = colour_level(min_colour)
        for code, area in self._districts.items():
            score = self.district_score(code)
            colour = self.district_bands.colour(score)
            if COLOURS[colour].level < floor:
                continue
            base = self.district_bands.colour(area.baseline / SCALE / self._district_size(code))
            yield self._summary(code, area, colour, base, score)

    @staticmethod
    def _summary(key: str, area: _Area, colour: str, baseline_colour: str, score: float) -> dict[str, Any]:
        return {"id": key, "colour": colour, "level": COLOURS[colour].level, "score": round(score, 3),
                "baseline_colour": baseline_colour, "counts": dict(area.counts)}

    # -- explaining ----------------------------------------------------------------------------------------

    def explain_cell(self, cell_id: str, *, top: int = 10) -> dict[str, Any]:
        """Why the cell has its colour: score, baseline, contributions by kind, the heaviest items."""
        self.grid.parse(cell_id)
        area = self._cells.get(cell_id) or _Area()
        score, baseline = area.total / SCALE, area.baseline / SCALE
        out = self._explain(area, score, baseline, self.bands, top, capped=True)
        lon, lat = self.grid.centre(cell_id)
        return {"id": cell_id, "kind": "cell", "centre": [round(lon, 6), round(lat, 6)],
                "polygon": self.grid.polygon(cell_id), **out}

    def explain_district(self, code: str, *, top: int = 10) -> dict[str, Any]:
        area = self._districts.get(code) or _Area()
        size = self._district_size(code)
        out = self._explain(area, area.total / SCALE / size, area.baseline / SCALE / size, self.district_bands, top,
                            capped=False)
        return {"id": code, "kind": "district", "total": area.total / SCALE, "area_cells": round(size, 1), **out}

    def _explain(self, area: _Area, score: float, baseline: float, bands: Bands, top: int,
                 *, capped: bool) -> dict[str, Any]:
        colour, base_colour = bands.colour(score), bands.colour(baseline)
        contributions = []
        for kind, milli in sorted(area.by_kind.items(), key=lambda kv: -kv[1]):
            zh, en = KIND_LABELS.get(kind, (kind, kind))
            counted = self._capped(kind, milli) if capped else milli
            contributions.append({"kind": kind, "name_zh": zh, "name_en": en, "count": area.counts.get(kind, 0),
                                  "weight": milli / SCALE, "counted": counted / SCALE,
                                  "capped": counted < milli})
        heaviest = heapq.nlargest(top, area.items.values(), key=lambda e: (e.weight, e.ref))
        items = [{"ref": e.ref, "kind": e.kind, "weight": e.weight, "label_zh": e.label_zh, "label_en": e.label_en,
                  "lon": e.lon, "lat": e.lat, "district": e.district_code} for e in heaviest]
        c, b = COLOURS[colour], COLOURS[base_colour]
        parts_zh = "、".join(f"{x['name_zh']} {x['counted']:g}" for x in contributions) or "无证据"
        parts_en = ", ".join(f"{x['name_en']} {x['counted']:g}" for x in contributions) or "no evidence"
        return {
            "colour": colour, "level": c.level, "band_zh": c.name_zh, "band_en": c.name_en,
            "score": round(score, 3), "baseline_score": round(baseline, 3), "baseline_colour": base_colour,
            "dynamic_added": round(score - baseline, 3), "raised_by_live_evidence": c.level > b.level,
            "items": len(area.items), "contributions": contributions, "top": items,
            "summary_zh": f"{c.name_zh}（得分 {score:.1f}，评估基线 {b.name_zh}）：{parts_zh}",
            "summary_en": f"{c.name_en} (score {score:.1f}, assessed baseline {b.name_en}): {parts_en}",
        }

    def summary(self, *, top: int = 10) -> dict[str, Any]:
        """Cells per colour (dynamic and baseline) and the ``top`` highest-scoring cells."""
        counts = dict.fromkeys(COLOURS, 0)
        baseline = dict.fromkeys(COLOURS, 0)
        for area in self._cells.values():
            counts[self.bands.colour(area.total / SCALE)] += 1
            baseline[self.bands.colour(area.baseline / SCALE)] += 1
        counts.pop("none")
        baseline.pop("none")
        best = heapq.nlargest(top, self._cells.items(), key=lambda kv: (kv[1].total, kv[0]))
        return {
            "cells_with_evidence": len(self._cells), "items": len(self._where), "cells_by_colour": counts,
            "baseline_cells_by_colour": baseline,
            "top": [self._summary(k, a, self.bands.colour(a.total / SCALE), self.bands.colour(a.baseline / SCALE),
                                  a.total / SCALE) for k, a in best],
        }
