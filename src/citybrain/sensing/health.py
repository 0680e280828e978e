"""Device health: is each device sending, sending something plausible, and likely to keep sending?

The rules are pure functions of one device's facts and the time (``assess``), with the thresholds as
data (``HealthPolicy``). ``fleet_health`` gathers the facts of every visible device in a handful of
set-based queries (devices, then latest battery, signal and flat-line run lengths) and applies
the rules in memory, so a fleet of 100,000 devices costs the same few statements as one of ten.

States, worst first (``SEVERITY``); a device's ``state`` is the worst of its ``problems``:

* ``inactive`` / ``maintenance`` -- the device's registry status. They come first because they explain
  the rest: a device switched off or under maintenance is expected to be silent or wrong.
* ``offline`` -- nothing received for ``offline_after_intervals`` × the type's interval. The clock starts
  at the last message (``device.last_seen_at``, the platform's receive time) or, for a device never
  seen, at its installation (the later of ``install_date`` and registration).
* ``stuck`` -- the main quantity's last ``stuck_after_intervals`` readings all carried one and the same
  value (``reading_latest.repeats``, kept by the pipeline).
* ``low_battery`` / ``weak_signal`` -- the latest ``battery`` / ``rssi`` extras below the policy's floor.
* ``ok`` -- none of the above.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.geo.spatial import BBox
from citybrain.sensing.models import Asset, Device, ReadingLatest
from citybrain.sensing.pipeline import load_types

SEVERITY: tuple[str, ...] = ("inactive", "maintenance", "offline", "stuck", "low_battery", "weak_signal", "ok")
STATES = SEVERITY
HEALTHY_STATES = frozenset({"ok", "low_battery", "weak_signal"})  # still sensing; coverage counts these
_RANK = {s: i for i, s in enumerate(SEVERITY)}


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds of the health rules, as data."""

    offline_after_intervals: int = 3
    stuck_after_intervals: int = 30
    low_battery_pct: float = 20.0
    weak_rssi_dbm: float = -110.0
    battery_quantity: str = "battery"
    rssi_quantity: str = "rssi"


DEFAULT_POLICY = HealthPolicy()


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the rules look at for one device (gathered in bulk by ``fleet_health``).

    ``flat_count`` is how many readings in a row, up to the latest, carried the main quantity's latest
    value (``fleet_health`` fills it only when it reaches the policy's threshold, else 0).
    """

    status: str
    interval_s: int
    installed_at: datetime
    last_seen_at: datetime | None = None
    battery: float | None = None
    rssi: float | None = None
    flat_count: int = 0


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    device_id: int
    key: str
    type_key: str
    asset_id: int | None
    asset_class: str | None
    district_code: str | None
    lon: float
    lat: float
    state: str
    problems: tuple[str, ...]
    last_seen_at: datetime | None
    battery: float | None
    rssi: float | None


def assess(facts: DeviceFacts, now: datetime, policy: HealthPolicy = DEFAULT_POLICY) -> tuple[str, ...]:
    """Every problem of one device, worst first (empty when healthy).

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> assess(DeviceFacts("active", 60, t, last_seen_at=t, battery=15.0), t + timedelta(minutes=5))
    ('offline', 'low_battery')
    """
    problems: list[str] = []
    if facts.status in ("inactive", "maintenance"):
        problems.append(facts.status)
    silent_since = facts.last_seen_at or facts.installed_at
    limit = timedelta(seconds=policy.offline_after_intervals * facts.interval_s)
    if facts.interval_s > 0 and now - silent_since >= limit:  # a type without a schedule is never late
        problems.append("offline")
    if facts.flat_count >= policy.stuck_after_intervals:
        problems.append("stuck")
    if facts.battery is not None and facts.battery < policy.low_battery_pct:
        problems.append("low_battery")
    if facts.rssi is not None and facts.rssi < policy.weak_rssi_dbm:
        problems.append("weak_signal")
    return tuple(sorted(problems, key=_RANK.__getitem__))


def worst(problems: Iterable[str]) -> str:
    """The state of a device with these problems (``ok`` when there are none)."""
    return min(problems, key=_RANK.__getitem__, default="ok")


# -- gathering facts in bulk ---------------------------------------------------------------------------


def _installed_at(created_at: datetime, install_date: date | None) -> datetime:
    if install_date is None:
        return created_at
    return max(created_at, datetime.combine(install_date, time(0), UTC))


def visible_devices(
    stmt: Any, *, principal: Principal, bbox: BBox | None = None, district: str | None = None,
    asset_class: str | None = None, joined_asset: bool = False,
) -> Any:
    """Add department scope and the map filters to a statement that selects from ``device``."""
    scope = department_scope(principal, Device.department_id, resource_type="device", id_col=Device.id)
    if scope is not None:
        stmt = stmt.where(scope)
    if (district or asset_class) and not joined_asset:
        stmt = stmt.join(Asset, Asset.id == Device.asset_id)
    if district:
        stmt = stmt.where(Asset.district_code == district)
    if asset_class:
        stmt = stmt.where(Asset.asset_class == asset_class)
    if bbox is not None:
        stmt = stmt.where(Device.lon.between(bbox[0], bbox[2]), Device.lat.between(bbox[1], bbox[3]))
    return stmt


def fleet_health(
    session: Session, now: datetime, *, principal: Principal, bbox: BBox | None = None, district: str | None = None,
    asset_class: str | None = None, policy: HealthPolicy = DEFAULT_POLICY,
) -> list[DeviceHealth]:
    """The health of every device the principal may see (in the box / district / asset class), by id."""
    def visible(stmt: Any, joined_asset: bool = False) -> Any:
        return visible_devices(stmt, principal=principal, bbox=bbox, district=district, asset_class=asset_class,
                               joined_asset=joined_asset)

    types = load_types(session)
    base = sa.select(
        Device.id, Device.key, Device.type_key, Device.asset_id, Device.lon, Device.lat, Device.status,
        Device.last_seen_at, Asset.asset_class, Asset.district_code,
        # only a device never seen needs its installation time (saves decoding 2 timestamps a row)
        sa.case((Device.last_seen_at.is_(None), Device.created_at)).label("created_at"),
        sa.case((Device.last_seen_at.is_(None), Device.install_date)).label("install_date"),
    ).outerjoin(Asset, Asset.id == Device.asset_id)
    devices = session.execute(visible(base, joined_asset=True).order_by(Device.id)).all()
    if not devices:
        return []

    # One query: the latest battery and signal, and every latest value repeated often enough to be stuck
    # (only the type's main quantity counts; a type without a schedule is never judged).
    extras: dict[int, dict[str, float]] = {}
    flat: dict[int, int] = {}
    extra_quantities = (policy.battery_quantity, policy.rssi_quantity)
    lt = ReadingLatest
    q_latest = sa.select(lt.device_id, Device.type_key, lt.quantity, lt.value, lt.repeats).join(
        Device, Device.id == lt.device_id
    ).where(sa.or_(lt.quantity.in_(extra_quantities), lt.repeats >= policy.stuck_after_intervals))
    for device_id, type_key, quantity, value, repeats in session.execute(visible(q_latest)):
        dtype = types.get(type_key)
        if repeats >= policy.stuck_after_intervals and dtype and dtype.interval_s > 0 and quantity == dtype.quantity:
            flat[device_id] = repeats
        if quantity in extra_quantities:
            extras.setdefault(device_id, {})[quantity] = value

    out: list[DeviceHealth] = []
    for d in devices:
        dtype = types.get(d.type_key)
        ex = extras.get(d.id, {})
        facts = DeviceFacts(
            status=d.status, interval_s=dtype.interval_s if dtype else 0,
            installed_at=d.last_seen_at or _installed_at(d.created_at, d.install_date), last_seen_at=d.last_seen_at,
            battery=ex.get(policy.battery_quantity), rssi=ex.get(policy.rssi_quantity), flat_count=flat.get(d.id, 0),
        )
        problems = assess(facts, now, policy)
        out.append(DeviceHealth(
            device_id=d.id, key=d.key, type_key=d.type_key, asset_id=d.asset_id, asset_class=d.asset_class,
            district_code=d.district_code, lon=d.lon, lat=d.lat, state=worst(problems), problems=problems,
            last_seen_at=d.last_seen_at, battery=facts.battery, rssi=facts.rssi,
        ))
    return out


# -- summaries -------------------------------------------------------------------------------------------

#: Per-device rejected-reading rates need the device on each dead letter, which is not stored yet.
OUT_OF_RANGE_UNKNOWN: dict[str, Any] = {
    "rate": 0.0, "known": False, "reason": "dead letters do not record their device yet",
}


def summarise(items: Iterable[DeviceHealth]) -> dict[str, Any]:
    """Counts per state: overall, by district and by asset class (``null`` keys become ``"none"``)."""
    total: Counter[str] = Counter()
    by_district: dict[str, Counter[str]] = {}
    by_class: dict[str, Counter[str]] = {}
    for h in items:
        total[h.state] += 1
        by_district.setdefault(h.district_code or "none", Counter())[h.state] += 1
        by_class.setdefault(h.asset_class or "none", Counter())[h.state] += 1

    def shape(c: Counter[str]) -> dict[str, int]:
        return {"total": sum(c.values()), **{s: c.get(s, 0) for s in SEVERITY}}

    return {
        **shape(total),
        "by_district": {k: shape(v) for k, v in sorted(by_district.items())},
        "by_asset_class": {k: shape(v) for k, v in sorted(by_class.items())},
        "out_of_range": dict(OUT_OF_RANGE_UNKNOWN),
    }


def health_summary(
    session: Session, now: datetime, *, principal: Principal, bbox: BBox | None = None, district: str | None = None,
    asset_class: str | None = None, policy: HealthPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """``fleet_health`` counted per state, by district and by asset class."""
    items = fleet_health(session, now, principal=principal, bbox=bbox, district=district, asset_class=asset_class,
                         policy=policy)
    return summarise(items)
