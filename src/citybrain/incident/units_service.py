"""Units on the city's networks: the unit register, demo seeding, recommendation by travel time on the road
graph, dispatch with its standard times, and a metro incident's impact on the metro graph.

The road ``Router`` and the metro graph are built once per process per city (``router()``, ``metro()``);
both are read-only after building, so threads share them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import networkx as nx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.incident import lifecycle as lc
from citybrain.incident import metro as mt
from citybrain.incident import service
from citybrain.incident import units as un
from citybrain.incident.dispatch import OffMap, Recommendation, Router
from citybrain.incident.models import Incident, Unit, UnitDispatch
from citybrain.incident.taxonomy import INCIDENT_TYPES, RESOURCE_KINDS

# -- the networks, built once ------------------------------------------------------------------------

_LOCK = threading.Lock()
_ROUTERS: dict[str, Router] = {}
_METROS: dict[str, nx.DiGraph] = {}


def router(city: str = "310000") -> Router:
    """The road router of the bundled city (built on first use, then shared)."""
    with _LOCK:
        if city not in _ROUTERS:
            from citybrain.geo.graphs import road_graph
            from citybrain.geo.loaders import load_shanghai

            _ROUTERS[city] = Router(road_graph(load_shanghai().roads, strongly_connected=True))
        return _ROUTERS[city]


def metro(city: str = "310000") -> nx.DiGraph:
    with _LOCK:
        if city not in _METROS:
            from citybrain.geo.graphs import metro_graph
            from citybrain.geo.loaders import load_shanghai

            _METROS[city] = metro_graph(load_shanghai().metro)
        return _METROS[city]


# -- the register ------------------------------------------------------------------------------------


def _check_position(lon: Any, lat: Any, prefix: str = "body") -> None:
    ok = (isinstance(lon, int | float) and isinstance(lat, int | float) and math.isfinite(lon) and math.isfinite(lat)
          and router().on_map(float(lon), float(lat)))
    if not ok:
        msg = f"({lon}, {lat}) is outside the road map (more than {router().max_snap_m:.0f} m from any road)"
        raise Invalid(msg, errors=[FieldError(f"{prefix}.lon", msg), FieldError(f"{prefix}.lat", msg)])


def _may_manage(principal: Principal | None, unit_department_id: int) -> bool:
    return principal is None or principal.city_wide or principal.department_id == unit_department_id


def get_or_raise(*, session: Session, unit_id: int) -> Unit:
    u = session.get(Unit, unit_id)
    if u is None:
        raise NotFound(f"unit {unit_id} not found")
    return u


def list_units(*, session: Session, kind: Sequence[str] | None = None, status: Sequence[str] | None = None,
               department: str | None = None, incident_id: int | None = None) -> list[Unit]:
    stmt = sa.select(Unit)
    if kind:
        stmt = stmt.where(Unit.kind.in_(kind))
    if status:
        stmt = stmt.where(Unit.status.in_(status))
    if department:
        ids = service.department_ids(session=session)
        stmt = stmt.where(Unit.department_id == ids.get(department, -1))
    if incident_id is not None:
        stmt = stmt.where(Unit.incident_id == incident_id)
    return list(session.scalars(stmt.order_by(Unit.key)))


def create(*, session: Session, now: datetime, principal: Principal | None, key: str, kind: str, lon: float,
           lat: float, name: str = "", department: str | None = None, home_lon: float | None = None,
           home_lat: float | None = None) -> Unit:
    if kind not in RESOURCE_KINDS:
        raise Invalid(f"unknown unit kind {kind!r}",
                      errors=[FieldError("body.kind", f"one of {', '.join(RESOURCE_KINDS)}")])
    ids = service.department_ids(session=session)
    code = department or RESOURCE_KINDS[kind].department
    if code not in ids:
        raise Invalid(f"unknown department {code!r}", errors=[FieldError("body.department", "no such department")])
    if not _may_manage(principal, ids[code]):
        raise Forbidden(f"you may only register units of your own department, not {code}")
    _check_position(lon, lat)
    if home_lon is not None or home_lat is not None:
        _check_position(home_lon, home_lat, "body.home")
    if session.scalar(sa.select(Unit.id).where(Unit.key == key)) is not None:
        raise Conflict(f"unit {key!r} exists", errors=[FieldError("body.key", "already exists")])
    u = Unit(key=key, kind=kind, name=name or key, department_id=ids[code], status=un.AVAILABLE, since=now,
             lon=float(lon), lat=float(lat), position_at=now, home_lon=float(home_lon if home_lon is not None else lon),
             home_lat=float(home_lat if home_lat is not None else lat), created_at=now, updated_at=now)
    session.add(u)
    session.flush()
    return u


def update(*, session: Session, now: datetime, principal: Principal | None, unit: Unit,
           changes: Mapping[str, Any]) -> Unit:
    """Name, position (AVL) and home station; a position outside the map is refused."""
    if not _may_manage(principal, unit.department_id):
        raise Forbidden("only the unit's department (or the operations centre) updates it")
    if "lon" in changes or "lat" in changes:
        lon, lat = changes.get("lon", unit.lon), changes.get("lat", unit.lat)
        _check_position(lon, lat)
        unit.lon, unit.lat, unit.position_at = float(lon), float(lat), now
    if "home_lon" in changes or "home_lat" in changes:
        hlon, hlat = changes.get("home_lon", unit.home_lon), changes.get("home_lat", unit.home_lat)
        _check_position(hlon, hlat, "body.home")
        unit.home_lon, unit.home_lat = float(hlon), float(hlat)
    if changes.get("name"):
        unit.name = changes["name"]
    unit.updated_at = now
    session.flush()
    return unit


# Real places of central Shanghai within the bundled road extract (People's Square and around); each unit
# stands on the road node nearest its place, so positions are deterministic and always routable.
DEMO_PLACES: tuple[tuple[str, float, float], ...] = (
    ("人民广场", 121.4737, 31.2304), ("南京东路", 121.4790, 31.2380), ("大世界", 121.4797, 31.2305),
    ("新天地", 121.4745, 31.2215), ("黄陂南路", 121.4700, 31.2245), ("成都北路", 121.4650, 31.2330),
    ("上海博物馆", 121.4757, 31.2282), ("外滩源", 121.4855, 31.2400), ("豫园北", 121.4860, 31.2290),
    ("淮海中路", 121.4680, 31.2225), ("西藏中路", 121.4772, 31.2350), ("福州路", 121.4810, 31.2360),
    ("延安东路", 121.4830, 31.2330), ("老西门", 121.4800, 31.2230), ("新闸路", 121.4640, 31.2390),
)
#: (kind, how many): fire engines, police cars and emergency teams — 30 in all.
DEMO_FLEET: tuple[tuple[str, int, str], ...] = (
    ("fire_engine", 12, "FE"), ("police_car", 12, "PC"), ("emergency_team", 6, "ET"),
)


def seed_demo_units(*, session: Session, now: datetime) -> int:
    """Register the demo fleet around central Shanghai (idempotent by key); returns how many were added."""
    r = router()
    ids = service.department_ids(session=session)
    have = set(session.scalars(sa.select(Unit.key)))
    added = 0
    n = 0
    for kind, count, prefix in DEMO_FLEET:
        spec = RESOURCE_KINDS[kind]
        for i in range(count):
            place, plon, plat = DEMO_PLACES[(n * 7) % len(DEMO_PLACES)]  # spread each kind across the places
            n += 1
            key = f"{prefix}-{i + 1:02d}"
            if key in have or spec.department not in ids:
                continue
            node = r.snap(plon, plat).node
            lon, lat = r.graph.nodes[node]["x"], r.graph.nodes[node]["y"]
            session.add(Unit(key=key, kind=kind, name=f"{place} {spec.name_zh} {i + 1}",
                             department_id=ids[spec.department], status=un.AVAILABLE, since=now, lon=lon, lat=lat,
                             position_at=now,
                             home_lon=lon, home_lat=lat, created_at=now, updated_at=now))
            added += 1
    session.flush()
    return added


# -- recommendation and dispatch ---------------------------------------------------------------------


def recommend_units(*, session: Session, incident: Incident, kinds: Collection[str] | None = None,
                    k: int = 3) -> list[Recommendation]:
    """The ``k`` available units (of ``kinds``) that reach the incident first on the roads, fastest first."""
    for i, kind in enumerate(kinds or ()):
        if kind not in RESOURCE_KINDS:
            raise Invalid(f"unknown unit kind {kind!r}", errors=[FieldError(f"query.kinds[{i}]", "unknown kind")])
    if not 1 <= k <= 50:
        raise Invalid("k must be 1..50", errors=[FieldError("query.k", "between 1 and 50")])
    units = list_units(session=session, kind=list(kinds) if kinds else None, status=[un.AVAILABLE])
    try:
        return router().recommend(units, incident.lon, incident.lat, kinds=set(kinds) if kinds else None, k=k)
    except OffMap as exc:
        raise Conflict(f"the incident is outside the road map: {exc}") from None


def _current(session: Session, unit: Unit) -> UnitDispatch | None:
    return session.get(UnitDispatch, unit.dispatch_id) if unit.dispatch_id is not None else None


def unit_state(session: Session, unit: Unit) -> un.UnitState:
    d = _current(session, unit)
    return un.UnitState(status=unit.status, since=unit.since, incident=unit.incident_id,
                        call_at=d.call_at if d else None, dispatched_at=d.dispatched_at if d else None,
                        en_route_at=d.en_route_at if d else None, on_scene_at=d.on_scene_at if d else None,
                        cleared_at=d.cleared_at if d else None, reason=unit.reason)


def _apply(session: Session, unit: Unit, event: un.UnitEvent, now: datetime) -> list[un.UnitChange]:
    try:
        s, changes = un.unit_transition(unit_state(session, unit), event, now)
    except lc.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    unit.status, unit.since, unit.reason, unit.updated_at = s.status, s.since, s.reason, now
    unit.incident_id = int(s.incident) if s.incident is not None else None
    return changes


def dispatch_unit(*, session: Session, now: datetime, principal: Principal | None, incident: Incident, unit: Unit,
                  call_at: datetime | None = None) -> UnitDispatch:
    """Send an available (or returning) unit; the call time defaults to the incident's report."""
    if not _may_manage(principal, unit.department_id):
        raise Forbidden("only the unit's department (or the operations centre) dispatches it")
    if incident.status not in lc.OPEN_STATUSES:
        raise Conflict(f"the incident is {incident.status}; units are no longer sent to it")
    call = min(call_at or incident.reported_at, now)
    by = service.actor_of(principal)
    changes = _apply(session, unit, un.Dispatch(incident.id, call, by), now)
    try:
        route = router().route((unit.lon, unit.lat), (incident.lon, incident.lat))
        eta, length = route.eta_s, route.length_m
    except (OffMap, nx.NetworkXNoPath):
        eta = length = None
    d = UnitDispatch(unit_id=unit.id, incident_id=incident.id, call_at=call, dispatched_at=now, eta_s=eta,
                     route_length_m=length, dispatched_by=by)
    session.add(d)
    session.flush()
    unit.dispatch_id = d.id
    for c in changes:
        service.record(session, incident, "unit_dispatched", now, c.actor,
                       {"unit": unit.key, "kind": unit.kind, "eta_s": eta, **c.detail}, unit_id=unit.id)
    incident.updated_at = now
    session.flush()
    return d


UNIT_STATUS_ACTIONS = ("en_route", "on_scene", "cleared", "returning", "available", "stood_down", "out_of_service")


def set_status(*, session: Session, now: datetime, principal: Principal | None, unit: Unit, status: str,
               reason: str = "") -> Unit:
    """Move a unit on (en route, on scene, cleared, back available, stood down, out of service), times kept."""
    if not _may_manage(principal, unit.department_id):
        raise Forbidden("only the unit's department (or the operations centre) updates it")
    by = service.actor_of(principal)
    events: dict[str, un.UnitEvent] = {
        "en_route": un.EnRoute(by), "on_scene": un.Arrive(by), "cleared": un.Clear(by), "returning": un.Clear(by),
        "available": un.Back(by), "stood_down": un.StandDown(by, reason), "out_of_service": un.OutOfService(by, reason)}
    if status not in events:
        raise Invalid(f"unknown unit status {status!r}",
                      errors=[FieldError("body.status", f"one of {', '.join(UNIT_STATUS_ACTIONS)}")])
    incident_id, d = unit.incident_id, _current(session, unit)
    changes = _apply(session, unit, events[status], now)
    if d is not None:
        stamp = {"en_route": "en_route_at", "on_scene": "on_scene_at", "cleared": "cleared_at",
                 "stood_down": "stood_down_at"}.get(changes[0].kind)
        if stamp:
            setattr(d, stamp, now)
    inc = session.get(Incident, incident_id) if incident_id is not None else None
    if changes[0].kind == "on_scene" and inc is not None:
        unit.lon, unit.lat, unit.position_at = inc.lon, inc.lat, now
    if unit.status == un.AVAILABLE:
        unit.dispatch_id = None
        if changes[0].kind == "available":
            unit.lon, unit.lat, unit.position_at = unit.home_lon, unit.home_lat, now
    if inc is not None:
        for c in changes:
            service.record(session, inc, f"unit_{c.kind}", now, c.actor, {"unit": unit.key, **c.detail},
                           unit_id=unit.id)
        inc.updated_at = now
    session.flush()
    return unit


def dispatches(*, session: Session, incident: Incident) -> list[tuple[UnitDispatch, Unit]]:
    return [(d, u) for d, u in session.execute(
        sa.select(UnitDispatch, Unit).join(Unit, Unit.id == UnitDispatch.unit_id)
        .where(UnitDispatch.incident_id == incident.id).order_by(UnitDispatch.id)).all()]


def unit_dict(u: Unit, codes: Mapping[int, str]) -> dict[str, Any]:
    return {"id": u.id, "key": u.key, "kind": u.kind, "name": u.name, "department": codes.get(u.department_id),
            "status": u.status, "since": u.since, "reason": u.reason, "lon": u.lon, "lat": u.lat,
            "position_at": u.position_at,
            "home_lon": u.home_lon, "home_lat": u.home_lat, "incident_id": u.incident_id, "updated_at": u.updated_at}


def dispatch_dict(d: UnitDispatch, u: Unit) -> dict[str, Any]:
    return {"id": d.id, "unit_id": u.id, "unit": u.key, "kind": u.kind, "status": u.status if u.dispatch_id == d.id
            else "released", "call_at": d.call_at, "dispatched_at": d.dispatched_at, "en_route_at": d.en_route_at,
            "on_scene_at": d.on_scene_at, "cleared_at": d.cleared_at, "stood_down_at": d.stood_down_at,
            "eta_s": d.eta_s, "route_length_m": d.route_length_m, "dispatched_by": d.dispatched_by}


def recommendation_dict(r: Recommendation, codes: Mapping[int, str]) -> dict[str, Any]:
    return {"unit": unit_dict(r.unit, codes), "eta_s": round(r.route.eta_s, 1),
            "length_m": round(r.route.length_m, 1),
            "route": {"type": "LineString", "coordinates": [list(p) for p in r.route.geometry]}}


# -- metro impact ------------------------------------------------------------------------------------

METRO_NEAREST_M = 800.0


def _closure(g: nx.DiGraph, incident: Incident) -> mt.Closure:
    from citybrain.geo.coords import distance_m

    labels = dict(incident.labels or {})
    names: list[Any] = [labels["station"]] if labels.get("station") else []
    names += list(labels.get("stations") or [])
    try:
        stations = tuple(dict.fromkeys(mt.find_station(g, str(n)) for n in names))
        segments: tuple[tuple[str, str], ...] = ()
        seg = labels.get("segment")
        if seg:
            a, b = (seg.split("|") if isinstance(seg, str) else seg)[:2]
            segments = ((mt.find_station(g, str(a).strip()), mt.find_station(g, str(b).strip())),)
    except (KeyError, ValueError) as exc:
        raise Conflict(f"the incident's metro labels do not name stations of the network: {exc}") from None
    if stations or segments:
        return mt.Closure(stations, segments)
    itype = INCIDENT_TYPES.get(incident.incident_type)
    if itype is None or itype.domain not in ("metro", "construction"):
        raise Conflict("not a metro incident: no station or segment in its labels")
    code, d = min(((c, distance_m((incident.lon, incident.lat), (data["lon"], data["lat"])))
                   for c, data in g.nodes(data=True)), key=lambda cd: cd[1])
    if d > METRO_NEAREST_M:
        raise Conflict(f"no metro station within {METRO_NEAREST_M:.0f} m; name the station in the labels")
    return mt.Closure(stations=(code,))


def metro_impact(*, incident: Incident, k: int = 2) -> dict[str, Any]:
    """Closed stations and lines, the k-hop reach, and alternatives between the stations either side."""
    if not 0 <= k <= 10:
        raise Invalid("k must be 0..10", errors=[FieldError("query.k", "between 0 and 10")])
    g = metro()
    closure = _closure(g, incident)
    imp = mt.impact(g, closure)
    reach = mt.k_hop_impact(g, closure, k)

    def station(code: str) -> dict[str, Any]:
        n = g.nodes[code]
        return {"code": code, "name_en": n["name_en"], "name_zh": n["name_zh"], "lines": list(n["lines"]),
                "lon": n["lon"], "lat": n["lat"]}

    by_hop: dict[str, list[str]] = {}
    for code, hops in sorted(reach.items(), key=lambda kv: (kv[1], kv[0])):
        by_hop.setdefault(str(hops), []).append(code)
    alts = []
    for a in mt.alternatives(g, closure):
        alts.append({"origin": station(a.origin), "destination": station(a.destination),
                     "normal_minutes": a.normal_minutes, "minutes": a.minutes, "extra_minutes": a.extra_minutes,
                     "affected": a.affected, "path": [g.nodes[c]["name_en"] for c in a.path],
                     "normal_path": [g.nodes[c]["name_en"] for c in a.normal_path]})
    return {"incident_id": incident.id, "k": k, "stations": [station(c) for c in imp.stations],
            "segments": [list(s) for s in closure.segments], "lines": list(imp.lines), "by_hop": by_hop,
            "reach": [{**station(c), "hops": h} for c, h in sorted(reach.items(), key=lambda kv: (kv[1], kv[0]))],
            "alternatives": alts}
