"""Incident types as data: who leads, who takes part, the usual level and how close two reports must be to be one.

Each type is a frozen description (home-assistant style), not a code branch. Department codes are those seeded
by ``citybrain.org.service.DEFAULT_DEPARTMENTS``. The second half maps what the warning engine speaks of (rule
keys, asset classes) to the incident a warning would open, so "open an incident from this warning" needs no
guessing.

>>> t = INCIDENT_TYPES["gas_leak"]
>>> t.name_zh, t.lead, t.default_level.roman, t.dedupe_radius_m
('燃气泄漏', 'fire', 'III', 300.0)
>>> incident_type_for(rule="gas-cluster").key, incident_type_for(asset_class="drainage").key
('gas_leak', 'waterlogging')
>>> incident_type_for(rule="sensor-no-data") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from citybrain.warning.types import Level

__all__ = [
    "ASSET_CLASS_INCIDENT_TYPES",
    "DEPARTMENT_CODES",
    "INCIDENT_TYPES",
    "RESOURCE_KINDS",
    "RULE_INCIDENT_TYPES",
    "IncidentType",
    "ResourceKind",
    "get_type",
    "incident_type_for",
]

#: Department codes an incident type or plan may name (kept equal to org's seeded departments by a test).
DEPARTMENT_CODES: tuple[str, ...] = (
    "ops", "police", "fire", "emergency", "urban", "governance", "housing", "transport", "water", "metro",
)

DEFAULT_DEDUPE_RADIUS_M = 300.0
DEFAULT_DEDUPE_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class IncidentType:
    """One kind of incident: names, domain, the lead and participating departments, level and dedupe reach.

    ``dedupe_radius_m`` and ``dedupe_window`` say when a new report of this type is the same incident as an
    open one (see ``citybrain.incident.dedupe``).
    """

    key: str
    name_zh: str
    name_en: str
    domain: str  # lifeline, fire, construction, metro, crowd, hazmat, public_security
    lead: str  # department code leading the response
    participants: tuple[str, ...]  # other departments taking part (lead excluded)
    default_level: Level = Level.YELLOW
    dedupe_radius_m: float = DEFAULT_DEDUPE_RADIUS_M
    dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW

    @property
    def departments(self) -> tuple[str, ...]:
        """The lead first, then the participants."""
        return (self.lead, *self.participants)


def _t(key: str, zh: str, en: str, domain: str, lead: str, participants: tuple[str, ...], level: Level,
       radius_m: float = DEFAULT_DEDUPE_RADIUS_M, window_min: float = 30) -> IncidentType:
    return IncidentType(key, zh, en, domain, lead, participants, level, radius_m, timedelta(minutes=window_min))


# Leads follow Shanghai practice: fire rescue (119) commands on scene for gas, fire and hazmat releases until
# the hazard is under control; the housing and construction commission regulates gas supply and construction
# sites (incl. metro works); the water authority runs drainage; metro operations runs its own network.
# Reach: a pit's settlement basin or a chemical plume covers more ground, and develops over hours, than a fire
# in one building; a flooding street stays one incident through a rainstorm.
INCIDENT_TYPES: Mapping[str, IncidentType] = {
    t.key: t
    for t in (
        _t("gas_leak", "燃气泄漏", "Gas leak", "lifeline", "fire",
           ("housing", "police", "emergency", "ops"), Level.YELLOW),
        _t("fire", "火灾", "Fire", "fire", "fire", ("police", "emergency", "ops"), Level.YELLOW, 200, 60),
        _t("structural_danger", "建筑物构筑物结构险情", "Structural danger (building, bridge)", "lifeline",
           "housing", ("fire", "police", "emergency", "urban", "transport", "ops"), Level.YELLOW, 200, 120),
        _t("metro_construction_collapse", "轨交工程基坑坍塌风险", "Metro-construction collapse risk",
           "construction", "housing", ("metro", "fire", "police", "water", "emergency", "transport", "ops"),
           Level.ORANGE, 500, 360),
        _t("metro_disruption", "轨道交通运营中断", "Metro operation disruption", "metro", "metro",
           ("transport", "police", "ops"), Level.YELLOW, 500, 60),
        _t("waterlogging", "道路积水内涝", "Waterlogging", "lifeline", "water",
           ("urban", "transport", "police", "fire", "emergency", "ops"), Level.BLUE, 500, 180),
        _t("crowd_crush", "人员密集场所拥挤踩踏风险", "Crowd crush risk", "crowd", "police",
           ("governance", "metro", "transport", "emergency", "fire", "ops"), Level.ORANGE),
        _t("hazmat_release", "危险化学品泄漏", "Hazardous-chemical release", "hazmat", "fire",
           ("emergency", "police", "water", "ops"), Level.ORANGE, 1000, 60),
        _t("public_security", "社会治安事件", "Public-security event", "public_security", "police",
           ("governance", "urban", "ops"), Level.BLUE),
        _t("road_collapse", "道路塌陷", "Road collapse (sinkhole)", "lifeline", "transport",
           ("police", "water", "housing", "fire", "urban", "ops"), Level.YELLOW, 200, 120),
        _t("utility_outage", "供水供电等公用设施中断", "Power or utility outage", "lifeline", "ops",
           ("water", "housing", "police"), Level.BLUE, 1000, 120),
    )
}

#: Warning rule keys (warning/rules/demo_rules.yaml) -> incident type; ``None`` means never an incident
#: (instrument faults and defects are hazards or maintenance, not emergencies).
RULE_INCIDENT_TYPES: Mapping[str, str | None] = {
    "gas-methane-high": "gas_leak",
    "gas-cluster": "gas_leak",
    "pit-settlement-total": "metro_construction_collapse",
    "pit-settlement-rate": "metro_construction_collapse",
    "pit-inclination": "metro_construction_collapse",
    "pit-settlement-and-dewatering": "metro_construction_collapse",
    "bridge-displacement": "structural_danger",
    "bridge-strain": "structural_danger",
    "bridge-strain-anomaly": "structural_danger",
    "water-pressure-low": "utility_outage",
    "water-pressure-drop": "utility_outage",
    "drain-waterlogging": "waterlogging",
    "fire-smoke": "fire",
    "fire-hydrant-pressure-low": None,  # a fire-protection defect: a hazard to rectify (issue 6)
    "crowd-dense": "crowd_crush",
}
_NEVER_PREFIXES = ("sensor-",)
_NEVER_SUFFIXES = ("-no-data",)

#: Monitored asset classes (simulator/kinds.py) -> the incident their warnings point to.
ASSET_CLASS_INCIDENT_TYPES: Mapping[str, str] = {
    "gas_space": "gas_leak",
    "construction_pit": "metro_construction_collapse",
    "bridge": "structural_danger",
    "water_main": "utility_outage",
    "drainage": "waterlogging",
    "fire_system": "fire",
    "crowded_place": "crowd_crush",
}


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """A kind of unit or equipment a plan may ask for and dispatch may send, and the department that owns it."""

    key: str
    name_zh: str
    name_en: str
    department: str


RESOURCE_KINDS: Mapping[str, ResourceKind] = {
    r.key: r
    for r in (
        ResourceKind("fire_engine", "消防车", "Fire engine", "fire"),
        ResourceKind("rescue_vehicle", "抢险救援车", "Rescue vehicle", "fire"),
        ResourceKind("aerial_ladder", "登高平台消防车", "Aerial ladder truck", "fire"),
        ResourceKind("hazmat_unit", "危化品处置车", "Hazmat unit", "fire"),
        ResourceKind("police_car", "警车", "Police car", "police"),
        ResourceKind("traffic_police", "交警", "Traffic police", "police"),
        ResourceKind("ambulance", "救护车", "Ambulance", "emergency"),
        ResourceKind("emergency_team", "应急救援队", "Emergency team", "emergency"),
        ResourceKind("gas_repair_crew", "燃气抢修队", "Gas repair crew", "housing"),
        ResourceKind("structural_engineer", "结构工程师", "Structural engineer", "housing"),
        ResourceKind("grouting_team", "注浆加固队", "Grouting team", "housing"),
        ResourceKind("pump_truck", "排涝泵车", "Pump truck", "water"),
        ResourceKind("drainage_crew", "排水抢修队", "Drainage crew", "water"),
        ResourceKind("road_repair_crew", "道路抢修队", "Road repair crew", "transport"),
        ResourceKind("shuttle_bus", "应急接驳公交", "Shuttle bus", "transport"),
        ResourceKind("metro_rescue_team", "地铁抢险队", "Metro rescue team", "metro"),
        ResourceKind("station_staff", "车站疏导人员", "Station crowd staff", "metro"),
        ResourceKind("urban_patrol", "城管队员", "Urban management patrol", "urban"),
        ResourceKind("drone", "无人机", "Drone", "ops"),
        ResourceKind("gas_detector", "可燃气体检测仪", "Gas detector", "fire"),
        ResourceKind("power_generator", "应急发电车", "Emergency generator", "ops"),
    )
}


def get_type(key: str) -> IncidentType:
    """The incident type ``key``; ``KeyError`` lists the known keys."""
    try:
        return INCIDENT_TYPES[key]
    except KeyError:
        raise KeyError(f"unknown incident type {key!r}; known: {', '.join(INCIDENT_TYPES)}") from None


def incident_type_for(*, rule: str | None = None, asset_class: str | None = None) -> IncidentType | None:
    """The incident type a warning of ``rule`` on an asset of ``asset_class`` would open, or ``None``.

    A known rule decides (including a rule known never to open an incident); data-quality and no-data rules
    never do; otherwise the asset class decides.
    """
    if rule is not None:
        if rule in RULE_INCIDENT_TYPES:
            key = RULE_INCIDENT_TYPES[rule]
            return INCIDENT_TYPES[key] if key is not None else None
        if rule.startswith(_NEVER_PREFIXES) or rule.endswith(_NEVER_SUFFIXES):
            return None
    if asset_class is not None and asset_class in ASSET_CLASS_INCIDENT_TYPES:
        return INCIDENT_TYPES[ASSET_CLASS_INCIDENT_TYPES[asset_class]]
    return None
