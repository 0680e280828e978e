"""De-duplication of incidents: a new report of the same type near an open incident, soon after it, is linked.

"Near" and "soon" come from the incident type (``IncidentType.dedupe_radius_m``, ``dedupe_window``; 300 m and
30 min unless the type says otherwise). Distance is great-circle on WGS84 coordinates; time is measured
from the incident's latest report, so a burst of reports about one gas leak stays one incident while it
continues. Both bounds are inclusive.

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
>>> open_ = [OpenIncident("INC-1", "gas_leak", 121.4737, 31.2304, t)]
>>> find_duplicate(Candidate("gas_leak", 121.4747, 31.2304), open_, t + timedelta(minutes=10)).id
'INC-1'
>>> find_duplicate(Candidate("fire", 121.4747, 31.2304), open_, t + timedelta(minutes=10)) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from citybrain.geo.coords import distance_m
from citybrain.incident.taxonomy import DEFAULT_DEDUPE_RADIUS_M, DEFAULT_DEDUPE_WINDOW, INCIDENT_TYPES

__all__ = ["Candidate", "IncidentLike", "OpenIncident", "dedupe_bounds", "find_duplicate"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What is about to become an incident: its type, where, and when it was observed (default: now)."""

    incident_type: str
    lon: float
    lat: float
    at: datetime | None = None


class IncidentLike(Protocol):
    """What dedupe reads of an open incident (a table row or an ``OpenIncident``)."""

    @property
    def incident_type(self) -> str: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def reported_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: str | int
    incident_type: str
    lon: float
    lat: float
    reported_at: datetime
    last_report_at: datetime | None = None  # latest linked report; the window runs from here


I = TypeVar("I", bound=IncidentLike)  # noqa: E741


def dedupe_bounds(incident_type: str) -> tuple[float, timedelta]:
    """(radius in metres, time window) for a type; the defaults for a type not in the taxonomy."""
    t = INCIDENT_TYPES.get(incident_type)
    return (t.dedupe_radius_m, t.dedupe_window) if t else (DEFAULT_DEDUPE_RADIUS_M, DEFAULT_DEDUPE_WINDOW)


def find_duplicate(candidate: Candidate, open_incidents: Iterable[I], now: datetime, *,
                   radius_m: float | None = None, window: timedelta | None = None) -> I | None:
    """The open incident ``candidate`` duplicates (to link to), or ``None`` to open a new one.

    Same type, within the radius and the window (of the incident's latest report, either side: a late
    report of an earlier observation still matches). Among several, the nearest wins, then the latest.
    ``radius_m``/``window`` override the type's bounds.
    """
    default_r, default_w = dedupe_bounds(candidate.incident_type)
    r = default_r if radius_m is None else radius_m
    w = default_w if window is None else window
    at = candidate.at or now
    best: tuple[float, float, I] | None = None
    for inc in open_incidents:
        if inc.incident_type != candidate.incident_type:
            continue
        last = getattr(inc, "last_report_at", None) or inc.reported_at
        if abs(at - last) > w:
            continue
        d = distance_m((candidate.lon, candidate.lat), (inc.lon, inc.lat))
        if d > r:
            continue
        key = (d, -last.timestamp())
        if best is None or key < best[:2]:
            best = (key[0], key[1], inc)
    return best[2] if best else None
