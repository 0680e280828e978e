"""Evidence sources for what the platform already records: warnings, incidents and silent devices.

Weights (one scale with the domains' own sources, see ``analytics.evidence``):

* ``warning`` — an open (pending, firing or acknowledged) warning that is not an exercise, at its own
  position, else its device's: red 25, orange 15, yellow 8, blue 3. A *silenced* warning counts half (the
  notifications are muted, usually for maintenance, but the condition the rule saw is still there); an
  *inhibited* one counts nothing (a more severe warning about the same place already carries it, so
  counting both would count one condition twice).
* ``incident`` — a real incident (not an exercise, not a false alarm) reported in the last 365 days:
  level I 20, II 12, III 6, IV 3, halved every 90 days of age.
* ``sensing_gap`` — an active device with a reporting schedule that has been silent for
  ``offline_after_intervals`` of its intervals (the ``offline`` rule of ``sensing.health``): 2 each; the
  risk map caps the kind at 10 per cell.

``all_sources()`` adds the domains' sources (hazards, assessments, near misses) when their modules import.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics.evidence import Evidence, EvidenceSource
from citybrain.sensing.health import DEFAULT_POLICY, HealthPolicy

log = logging.getLogger(__name__)

WARNING_WEIGHTS = {1: 25.0, 2: 15.0, 3: 8.0, 4: 3.0}  # by warning.types.Level value (1 = red)
SILENCED_FACTOR = 0.5
INCIDENT_WEIGHTS = {1: 20.0, 2: 12.0, 3: 6.0, 4: 3.0}  # level I … IV
INCIDENT_WINDOW = timedelta(days=365)
INCIDENT_HALF_LIFE_DAYS = 90.0
SENSING_GAP_WEIGHT = 2.0
_LEVEL_ZH = ("红色", "橙色", "黄色", "蓝色")
_LEVEL_EN = ("red", "orange", "yellow", "blue")
_ROMAN = ("I", "II", "III", "IV")

#: The domains' sources, written beside their tables: (module, class).
DOMAIN_SOURCES: tuple[tuple[str, str], ...] = (
    ("citybrain.hazard.risk.evidence", "AssessmentEvidence"),
    ("citybrain.hazard.evidence", "HazardEvidence"),
    ("citybrain.hazard.nearmiss.evidence", "NearMissEvidence"),
)


# -- warnings ----------------------------------------------------------------------------------------------


def warning_weight(level: int, *, silenced: bool = False, inhibited: bool = False) -> float:
    """
    >>> warning_weight(1), warning_weight(2, silenced=True), warning_weight(3, inhibited=True)
    (25.0, 7.5, 0.0)
    """
    if inhibited:
        return 0.0
    w = WARNING_WEIGHTS.get(level, 0.0)
    return w * SILENCED_FACTOR if silenced else w


def warning_evidence(*, warning_id: int, level: int, state: str, lon: float | None, lat: float | None,
                     district_code: str | None = None, summary_zh: str = "", summary_en: str = "",
                     silenced: bool = False, inhibited: bool = False, exercise: bool = False) -> Evidence | None:
    """One warning as evidence, or None when it adds none (resolved, exercise, inhibited, no position).

    The lead's warning flows can call this with a warning's columns and hand the result to
    ``analytics.service.apply`` (or ``withdraw(ref=f"warning:{id}")`` on None).
    """
    weight = warning_weight(level, silenced=silenced, inhibited=inhibited)
    if state == "resolved" or exercise or weight <= 0 or lon is None or lat is None:
        return None
    i = min(max(level, 1), 4) - 1
    zh = f"{_LEVEL_ZH[i]}预警" + (f"：{summary_zh}" if summary_zh else "")
    en = f"{_LEVEL_EN[i]} warning" + (f": {summary_en}" if summary_en else "")
    if silenced:
        zh, en = zh + "（已静默，计一半）", en + " (silenced, counted half)"
    return Evidence(kind="warning", ref=f"warning:{warning_id}", lon=float(lon), lat=float(lat), weight=weight,
                    label_zh=zh[:200], label_en=en[:200], district_code=district_code)


class WarningEvidence:
    """Open warnings (see the module docstring for weights)."""

    kind = "warning"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        from citybrain.sensing.models import Device
        from citybrain.warning.models import Warning

        stmt = sa.select(
            Warning.id, Warning.level, Warning.state, Warning.lon, Warning.lat, Device.lon, Device.lat,
            Warning.district_code, Warning.summary_zh, Warning.summary_en, Warning.silenced_by, Warning.inhibited_by,
        ).outerjoin(Device, Device.id == Warning.device_id).where(
            Warning.state != "resolved", Warning.exercise.is_(False), Warning.inhibited_by.is_(None),
        )
        for wid, level, state, lon, lat, dlon, dlat, district, zh, en, silenced_by, _ in session.execute(stmt):
            e = warning_evidence(warning_id=wid, level=level, state=state, lon=lon if lon is not None else dlon,
                                 lat=lat if lat is not None else dlat, district_code=district, summary_zh=zh or "",
                                 summary_en=en or "", silenced=silenced_by is not None)
            if e is not None:
                yield e


# -- incidents ---------------------------------------------------------------------------------------------


def incident_weight(level: int, age: timedelta) -> float:
    """Level weight halved every 90 days; 0 outside the 365-day window.

    >>> incident_weight(1, timedelta(0)), incident_weight(2, timedelta(days=90)), incident_weight(4, timedelta(366))
    (20.0, 6.0, 0.0)
    """
    if age > INCIDENT_WINDOW:
        return 0.0
    days = max(age.total_seconds(), 0.0) / 86400.0
    return round(INCIDENT_WEIGHTS.get(level, 0.0) * 0.5 ** (days / INCIDENT_HALF_LIFE_DAYS), 3)


class IncidentEvidence:
    """Real incidents of the last year, decaying with age."""

    kind = "incident"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        from citybrain.incident.models import Incident

        stmt = sa.select(
            Incident.id, Incident.level, Incident.lon, Incident.lat, Incident.district_code, Incident.reported_at,
            Incident.title_zh, Incident.title_en, Incident.incident_type,
        ).where(Incident.exercise.is_(False), Incident.false_alarm.is_(False),
                Incident.reported_at >= now - INCIDENT_WINDOW, Incident.reported_at <= now)
        for iid, level, lon, lat, district, reported_at, title_zh, title_en, itype in session.execute(stmt):
            age = now - _aware(reported_at)
            weight = incident_weight(level, age)
            if weight <= 0:
                continue
            roman = _ROMAN[min(max(level, 1), 4) - 1]
            days = int(age.total_seconds() // 86400)
            yield Evidence(
                kind="incident", ref=f"incident:{iid}", lon=lon, lat=lat, weight=weight,
                label_zh=f"{roman}级事件：{title_zh or itype}（{days} 天前）"[:200],
                label_en=f"level {roman} incident: {title_en or itype} ({days} days ago)"[:200],
                district_code=district,
            )


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


# -- sensing gaps --------------------------------------------------------------------------------------------


class SensingGapEvidence:
    """Active devices silent for longer than their type's schedule allows (the health ``offline`` rule)."""

    kind = "sensing_gap"

    def __init__(self, policy: HealthPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        from citybrain.sensing.models import Asset, Device, DeviceTypeRow

        types = session.execute(sa.select(DeviceTypeRow.key, DeviceTypeRow.interval_s, DeviceTypeRow.name_zh,
                                          DeviceTypeRow.name_en).where(DeviceTypeRow.interval_s > 0)).all()
        for type_key, interval_s, name_zh, name_en in types:
            cutoff = now - timedelta(seconds=self.policy.offline_after_intervals * interval_s)
            # a device never seen counts from its registration (health also honours install_date; close enough)
            stmt = sa.select(Device.id, Device.key, Device.lon, Device.lat, Asset.district_code).outerjoin(
                Asset, Asset.id == Device.asset_id
            ).where(Device.type_key == type_key, Device.status == "active",
                    sa.func.coalesce(Device.last_seen_at, Device.created_at) <= cutoff)
            for did, key, lon, lat, district in session.execute(stmt):
                yield Evidence(kind="sensing_gap", ref=f"device:{did}", lon=lon, lat=lat, weight=SENSING_GAP_WEIGHT,
                               label_zh=f"{name_zh}离线：{key}"[:200], label_en=f"{name_en} offline: {key}"[:200],
                               district_code=district)


# -- all of them ----------------------------------------------------------------------------------------------


def domain_sources() -> list[EvidenceSource]:
    """The hazard, assessment and near-miss sources whose modules import; a missing one is logged and skipped."""
    out: list[EvidenceSource] = []
    for module, name in DOMAIN_SOURCES:
        try:
            cls = getattr(importlib.import_module(module), name)
            out.append(cls())
        except Exception as exc:  # being written in parallel, or broken: the map still works without it
            log.warning("risk map: evidence source %s.%s unavailable (%s: %s)", module, name,
                        exc.__class__.__name__, exc)
    return out


def all_sources() -> list[EvidenceSource]:
    """Every source the risk map collects from."""
    return [*domain_sources(), WarningEvidence(), IncidentEvidence(), SensingGapEvidence()]


def collect_all(*, session: Session, now: datetime, sources: Iterable[EvidenceSource] | None = None
                ) -> Iterator[Evidence]:
    """Every source's evidence in turn; a source that fails is logged and skipped (the map shows the rest)."""
    for source in all_sources() if sources is None else sources:
        try:
            with session.begin_nested():
                items = list(source.collect(session=session, now=now))
        except Exception:
            log.exception("risk map: evidence source %r failed", getattr(source, "kind", source))
            continue
        yield from items
