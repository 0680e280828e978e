"""Assets, devices and their readings: registry, credentials and the queries the dashboard needs.

A device belongs to the department that supervises its asset; department scope (own, shared, or
city-wide) is a WHERE clause, and a hidden asset or device is reported as not found.
"""

from __future__ import annotations

import functools
import hmac
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from shapely.geometry import Point, mapping
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.clock import isoformat_z
from citybrain.core.database import UTCDateTime
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.core.ids import hash_token, new_token
from citybrain.geo import spatial
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise
from citybrain.sensing import rollup
from citybrain.sensing.models import Asset, Device, DeviceTypeRow, Reading, ReadingLatest, ReadingRollup
from citybrain.sensing.pipeline import DeviceInfo, invalidate_device, load_types
from citybrain.sensing.rollup import BUCKETS
from citybrain.sensing.types import ASSET_CLASS_DEPARTMENTS, DEVICE_TYPES, DeviceType

MAX_RAW = 50_000
MAX_POINTS = 5_000


# -- device types -------------------------------------------------------------------------------------


def ensure_device_types(*, session: Session, now: datetime) -> int:
    """Add the built-in types missing from the ``device_type`` table; return how many were added."""
    have = set(session.scalars(sa.select(DeviceTypeRow.key)))
    rows = [DeviceTypeRow(**t.as_row(), created_at=now) for k, t in DEVICE_TYPES.items() if k not in have]
    session.add_all(rows)
    session.flush()
    return len(rows)


def list_device_types(*, session: Session) -> list[DeviceType]:
    return sorted(load_types(session).values(), key=lambda t: t.key)


def _type_or_raise(session: Session, key: str, field: str) -> DeviceType:
    dtype = load_types(session).get(key)
    if dtype is None:
        raise Invalid(f"unknown device type {key!r}", errors=[FieldError(field, f"no device type {key!r}")])
    return dtype


# -- scope ----------------------------------------------------------------------------------------------


def _may_manage(principal: Principal, department_id: int) -> bool:
    return principal.is_admin or principal.city_wide or principal.department_id == department_id


def _asset_scope(principal: Principal) -> Any:
    return department_scope(principal, Asset.department_id, resource_type="asset", id_col=Asset.id)


def _device_scope(principal: Principal) -> Any:
    return department_scope(principal, Device.department_id, resource_type="device", id_col=Device.id)


def _scoped(stmt: Any, scope: Any) -> Any:
    return stmt if scope is None else stmt.where(scope)


# -- assets ---------------------------------------------------------------------------------------------


def asset_dict(asset: Asset) -> dict[str, Any]:
    return {c: getattr(asset, c) for c in ("id", "key", "asset_class", "name_zh", "name_en", "district_code",
                                           "enterprise_id", "department_id", "risk_level", "props", "created_at",
                                           "updated_at")} | {"geometry": mapping(asset.geom)}


def _geometry(data: dict[str, Any], field: str = "body.geometry") -> Any:
    geom = data.pop("geometry", None)
    lon, lat = data.pop("lon", None), data.pop("lat", None)
    if geom is not None:
        try:
            g = spatial.as_geometry(geom)
        except Exception:
            raise Invalid("not a GeoJSON geometry", errors=[FieldError(field, "not a GeoJSON geometry")]) from None
        if g.is_empty or not g.is_valid:
            raise Invalid("invalid geometry", errors=[FieldError(field, "empty or invalid geometry")])
        return g
    if lon is not None and lat is not None:
        return Point(lon, lat)
    return None


def list_assets(
    *, session: Session, principal: Principal, district_code: str | None = None, asset_class: str | None = None,
    risk_level: str | None = None, bbox: spatial.BBox | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Asset], int]:
    where = [c for c in (_asset_scope(principal),) if c is not None]
    if district_code:
        where.append(Asset.district_code == district_code)
    if asset_class:
        where.append(Asset.asset_class == asset_class)
    if risk_level:
        where.append(Asset.risk_level == risk_level)
    if bbox is not None:
        rows = sorted(spatial.within_bbox(session, Asset, bbox, where=where), key=lambda a: a.id)
        return rows[offset:offset + limit], len(rows)
    stmt = sa.select(Asset).where(*where)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(Asset.id).limit(limit).offset(offset))), total


def get_asset_or_raise(*, session: Session, principal: Principal, asset_id: int) -> Asset:
    asset: Asset | None = session.scalar(_scoped(sa.select(Asset).where(Asset.id == asset_id),
                                                 _asset_scope(principal)))
    if asset is None:
        raise NotFound(f"asset {asset_id} not found")
    return asset


def _check_enterprise(session: Session, enterprise_id: int | None) -> None:
    if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
        raise Invalid("unknown enterprise", errors=[FieldError("body.enterprise_id", f"no enterprise {enterprise_id}")])


def create_asset(*, session: Session, now: datetime, principal: Principal, data: dict[str, Any]) -> Asset:
    data = dict(data)
    dept_id = org_service.department_id_for(session=session, code=data.pop("department"), field="body.department")
    if not _may_manage(principal, dept_id):
        raise Forbidden("you may only register assets your own department supervises")
    if session.scalar(sa.select(Asset.id).where(Asset.key == data["key"])):
        raise Conflict(f"asset {data['key']!r} exists", errors=[FieldError("body.key", "already exists")])
    _check_enterprise(session, data.get("enterprise_id"))
    geom = _geometry(data)
    asset = Asset(**data, geom=geom, department_id=dept_id, created_at=now, updated_at=now)
    session.add(asset)
    session.flush()
    return asset


def update_asset(*, session: Session, now: datetime, principal: Principal, asset: Asset, data: dict[str, Any]) -> Asset:
    if not _may_manage(principal, asset.department_id):
        raise Forbidden("only the supervising department may change this asset")
    data = dict(data)
    if "department" in data:
        code = data.pop("department")
        dept_id = org_service.department_id_for(session=session, code=code, field="body.department")
        if not _may_manage(principal, dept_id):
            raise Forbidden("you may not hand an asset to a department you do not manage")
        asset.department_id = dept_id
        # devices follow their asset's supervising department
        for dev in session.scalars(sa.select(Device).where(Device.asset_id == asset.id)):
            dev.department_id = dept_id
            dev.updated_at = now
    if "enterprise_id" in data:
        _check_enterprise(session, data["enterprise_id"])
    if {"lon", "lat"} & data.keys() and "geometry" not in data and not {"lon", "lat"} <= data.keys():
        raise Invalid("give both lon and lat", errors=[FieldError("body.lon", "lon and lat go together")])
    geom = _geometry(data)
    if geom is not None:
        asset.geom = geom
    for key, value in data.items():
        setattr(asset, key, value)
    asset.updated_at = now
    session.flush()
    return asset


# -- devices --------------------------------------------------------------------------------------------


def device_dict(device: Device) -> dict[str, Any]:
    return {c: getattr(device, c) for c in ("id", "key", "type_key", "asset_id", "department_id", "lon", "lat",
                                            "install_date", "status", "created_at", "updated_at",
                                            "last_seen_at")} | {"has_secret": device.secret_hash is not None}


def list_devices(
    *, session: Session, principal: Principal, type_key: str | None = None, status: str | None = None,
    asset_id: int | None = None, district_code: str | None = None, asset_class: str | None = None,
    bbox: spatial.BBox | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Device], int]:
    stmt = _scoped(sa.select(Device), _device_scope(principal))
    if type_key:
        stmt = stmt.where(Device.type_key == type_key)
    if status:
        stmt = stmt.where(Device.status == status)
    if asset_id is not None:
        stmt = stmt.where(Device.asset_id == asset_id)
    if district_code or asset_class:
        assets = sa.select(Asset.id)
        if district_code:
            assets = assets.where(Asset.district_code == district_code)
        if asset_class:
            assets = assets.where(Asset.asset_class == asset_class)
        stmt = stmt.where(Device.asset_id.in_(assets))
    if bbox is not None:
        stmt = stmt.where(Device.lon.between(bbox[0], bbox[2]), Device.lat.between(bbox[1], bbox[3]))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    return list(session.scalars(stmt.order_by(Device.id).limit(limit).offset(offset))), total


def get_device_or_raise(*, session: Session, principal: Principal, device_id: int) -> Device:
    device: Device | None = session.scalar(_scoped(sa.select(Device).where(Device.id == device_id),
                                                   _device_scope(principal)))
    if device is None:
        raise NotFound(f"device {device_id} not found")
    return device


def create_device(*, session: Session, now: datetime, principal: Principal, data: dict[str, Any]) -> Device:
    data = dict(data)
    ensure_device_types(session=session, now=now)
    _type_or_raise(session, data["type_key"], "body.type_key")
    if session.scalar(sa.select(Device.id).where(Device.key == data["key"])):
        raise Conflict(f"device {data['key']!r} exists", errors=[FieldError("body.key", "already exists")])
    department = data.pop("department", None)
    if data.get("asset_id") is not None:
        asset = get_asset_or_raise(session=session, principal=principal, asset_id=data["asset_id"])
        dept_id = asset.department_id
        centre = asset.geom.representative_point()
        data["lon"] = centre.x if data.get("lon") is None else data["lon"]
        data["lat"] = centre.y if data.get("lat") is None else data["lat"]
    elif department:
        dept_id = org_service.department_id_for(session=session, code=department, field="body.department")
    else:
        raise Invalid("a device needs an asset or a department",
                      errors=[FieldError("body.asset_id", "give asset_id (or department for a stand-alone device)")])
    if data.get("lon") is None or data.get("lat") is None:
        raise Invalid("a stand-alone device needs lon and lat", errors=[FieldError("body.lon", "required")])
    if not _may_manage(principal, dept_id):
        raise Forbidden("you may only register devices your own department supervises")
    device = Device(**data, department_id=dept_id, created_at=now, updated_at=now)
    session.add(device)
    session.flush()
    return device


def update_device(*, session: Session, now: datetime, principal: Principal, device: Device,
                  data: dict[str, Any]) -> Device:
    if not _may_manage(principal, device.department_id):
        raise Forbidden("only the supervising department may change this device")
    data = dict(data)
    if data.get("asset_id") is not None:
        asset = get_asset_or_raise(session=session, principal=principal, asset_id=data["asset_id"])
        if not _may_manage(principal, asset.department_id):
            raise Forbidden("you may not move a device onto an asset of another department")
        device.department_id = asset.department_id
    for key, value in data.items():
        if key in ("lon", "lat") and value is None:
            continue
        setattr(device, key, value)
    device.updated_at = now
    session.flush()
    invalidate_device(device.key)
    return device


def rotate_secret(*, session: Session, now: datetime, principal: Principal, device: Device) -> str:
    """Issue a new device credential; the old one stops working. The plain token is returned only here."""
    if not _may_manage(principal, device.department_id):
        raise Forbidden("only the supervising department may issue device credentials")
    secret = new_token(24)
    device.secret_hash = hash_token(secret)
    device.updated_at = now
    session.flush()
    invalidate_device(device.key)
    return secret


def secret_matches(info: DeviceInfo | None, secret: str) -> bool:
    """Constant-time check of ``Authorization: Device <key>:<secret>`` against the stored hash."""
    expected = info.secret_hash if info is not None and info.secret_hash else "0" * 64
    return hmac.compare_digest(expected, hash_token(secret)) and info is not None and info.secret_hash is not None


# -- catalogue (the simulator registers its devices like any fleet import) --------------------------------


def register_catalogue(
    *, session: Session, now: datetime, assets: list[dict[str, Any]], devices: list[dict[str, Any]],
    department_code: str | None = None,
) -> dict[str, int]:
    """Register a fleet in the simulator's catalogue format; already-known keys are left alone.

    Each asset goes to ``department_code`` or, when None, to its class's default department.
    """
    ensure_device_types(session=session, now=now)
    dept_ids: dict[str, int] = {}

    def dept_for(asset_class: str) -> int:
        code = department_code or ASSET_CLASS_DEPARTMENTS.get(asset_class, "ops")
        if code not in dept_ids:
            dept_ids[code] = org_service.department_id_for(session=session, code=code, field="department_code")
        return dept_ids[code]

    known_assets = set(session.scalars(sa.select(Asset.key)))
    new_assets = [
        {"key": a["asset_id"], "asset_class": a["asset_class"], "name_zh": a.get("name_zh") or "",
         "name_en": a.get("name_en") or "", "district_code": a.get("district"), "enterprise_id": None,
         "department_id": dept_for(a["asset_class"]), "risk_level": None, "props": {},
         "created_at": now, "updated_at": now, **spatial.spatial_values(Point(a["lon"], a["lat"]))}
        for a in assets if a["asset_id"] not in known_assets
    ]
    if new_assets:
        session.execute(sa.insert(Asset), new_assets)
    asset_ids = dict(session.execute(sa.select(Asset.key, Asset.id)).all())
    asset_depts = dict(session.execute(sa.select(Asset.id, Asset.department_id)).all())
    types = load_types(session)
    known_devices = set(session.scalars(sa.select(Device.key)))
    new_devices = []
    for d in devices:
        if d["device_id"] in known_devices:
            continue
        if d["kind"] not in types:
            raise Invalid(f"unknown device type {d['kind']!r}", errors=[FieldError("devices.kind", d["kind"])])
        asset_id = asset_ids.get(d["asset_id"])
        if asset_id is None:
            raise Invalid(f"device {d['device_id']} names unknown asset {d['asset_id']}",
                          errors=[FieldError("devices.asset_id", d["asset_id"])])
        new_devices.append({
            "key": d["device_id"], "type_key": d["kind"], "asset_id": asset_id, "lon": d["lon"], "lat": d["lat"],
            "install_date": None, "status": "active", "secret_hash": None, "department_id": asset_depts[asset_id],
            "created_at": now, "updated_at": now, "last_seen_at": None,
        })
    if new_devices:
        session.execute(sa.insert(Device.__table__), new_devices)  # type: ignore[arg-type]
    session.flush()
    return {"assets": len(new_assets), "devices": len(new_devices)}


# -- queries --------------------------------------------------------------------------------------------


def _quantity_or_raise(session: Session, device: Device, quantity: str | None) -> tuple[str, str]:
    dtype = load_types(session).get(device.type_key)
    if dtype is None:
        raise NotFound(f"device type {device.type_key} not found")
    quantity = quantity or dtype.quantity
    if dtype.range_of(quantity) is None:
        raise Invalid(f"{dtype.key} does not report {quantity!r}",
                      errors=[FieldError("query.quantity", f"one of {', '.join(dtype.quantities)}")])
    return quantity, dtype.unit_of(quantity) or ""


def _window(now: datetime, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - timedelta(hours=24)
    if start >= end:
        raise Invalid("start must be before end", errors=[FieldError("query.start", "must be before end")])
    return start, end


def readings(
    *, session: Session, now: datetime, device: Device, quantity: str | None = None, start: datetime | None = None,
    end: datetime | None = None, limit: int = 10_000,
) -> dict[str, Any]:
    """Raw readings in [start, end) (default: the last 24 h), oldest first, at most ``limit``."""
    quantity, unit = _quantity_or_raise(session, device, quantity)
    start, end = _window(now, start, end)
    limit = max(1, min(limit, MAX_RAW))
    rows = session.execute(
        sa.select(Reading.ts, Reading.value, Reading.msg_id)
        .where(Reading.device_id == device.id, Reading.quantity == quantity, Reading.ts >= start, Reading.ts < end)
        .order_by(Reading.ts).limit(limit + 1)
    ).all()
    return {"device_id": device.id, "key": device.key, "quantity": quantity, "unit": unit,
            "start": isoformat_z(start), "end": isoformat_z(end), "truncated": len(rows) > limit,
            "items": [{"ts": isoformat_z(ts), "value": v, "msg_id": m} for ts, v, m in rows[:limit]]}


def latest(
    *, session: Session, principal: Principal, bbox: spatial.BBox | None = None, type_key: str | None = None,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Each visible device (in the box) with its latest value of every quantity it has reported."""
    stmt = sa.select(Device, ReadingLatest).join(ReadingLatest, ReadingLatest.device_id == Device.id)
    stmt = _scoped(stmt, _device_scope(principal))
    if bbox is not None:
        stmt = stmt.where(Device.lon.between(bbox[0], bbox[2]), Device.lat.between(bbox[1], bbox[3]))
    if type_key:
        stmt = stmt.where(Device.type_key == type_key)
    types = load_types(session)
    out: dict[int, dict[str, Any]] = {}
    for dev, lt in session.execute(stmt.order_by(Device.id, ReadingLatest.quantity)):
        entry = out.get(dev.id)
        if entry is None:
            if len(out) >= limit:
                break
            entry = out[dev.id] = {"id": dev.id, "key": dev.key, "type_key": dev.type_key, "asset_id": dev.asset_id,
                                   "status": dev.status, "lon": dev.lon, "lat": dev.lat, "values": {}}
        dtype = types.get(dev.type_key)
        entry["values"][lt.quantity] = {"value": lt.value, "ts": isoformat_z(lt.ts),
                                        "unit": (dtype.unit_of(lt.quantity) if dtype else None) or ""}
    return list(out.values())


def _table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def _epoch(ts: datetime) -> float:
    return ts.timestamp()


def _epoch_sql(col: Any, dialect: str) -> Any:
    """Seconds since 1970 of a timestamp column, exact to the microsecond, in SQL."""
    if dialect == "postgresql":
        return sa.extract("epoch", col)
    # SQLite keeps naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds, then the fraction
    return (sa.cast(sa.func.strftime("%s", col), sa.Integer)
            + sa.cast(sa.func.coalesce(sa.func.nullif(sa.func.substr(col, 20), ""), "0"), sa.Float))


def _aggregate(session: Session, table: sa.Table, key: dict[str, Any], t0: str, cols: tuple[Any, ...], base: float,
               step: float, start: datetime, end: datetime) -> list[Any]:
    """Rows of ``table`` (``key`` and ``t0`` in [start, end)) merged into steps by the database, oldest first.

    One row per step: its index, min/max envelope, sum, count, last value and its time in epoch seconds
    (of the step's newest source row, found again through the primary key). Both scans follow the
    primary key. ``cols`` names min, max, sum, count, last and last timestamp in ``table``.
    """
    dialect = session.get_bind().dialect.name
    src, again = table.alias("src"), table.alias("again")
    mn, mx, sm, cnt = (src.c[c] if isinstance(c, str) else c for c in cols[:4])
    ts = src.c[t0]
    k = (_epoch_sql(ts, dialect) - base) / step
    k = sa.cast(k, sa.Integer) if dialect == "sqlite" else sa.func.floor(k)  # k >= 0: a cast floors it
    g = (sa.select(k.label("step_k"), sa.func.min(mn).label("mn"), sa.func.max(mx).label("mx"),
                   sa.func.sum(sm).label("sm"), sa.func.sum(cnt).label("cnt"), sa.func.max(ts).label("t_last"))
         .where(*(src.c[c] == v for c, v in key.items()), ts >= start, ts < end)
         .group_by(sa.literal_column("step_k")).subquery("g"))
    return list(session.execute(
        sa.select(g.c.step_k, g.c.mn, g.c.mx, g.c.sm, g.c.cnt, again.c[cols[4]], _epoch_sql(again.c[cols[5]], dialect))
        .join(again, sa.and_(*(again.c[c] == v for c, v in key.items()), again.c[t0] == g.c.t_last))
        .order_by(g.c.step_k)
    ))


def _pending(session: Session, position: int, device_id: int, quantity: str, start: datetime,
             end: datetime) -> list[Any]:
    """Raw (ts, value) of one stream in [start, end) stored after the roll-up watermark ``position``."""
    from_, after = rollup.pending_filter(session, position)
    stmt = sa.text(f"SELECT ts, value FROM {from_} WHERE {after} AND device_id = :d AND quantity = :q "  # noqa: S608
                   "AND ts >= :s AND ts < :e").bindparams(  # from_ and after are built from constants and an int
        sa.bindparam("s", type_=UTCDateTime()), sa.bindparam("e", type_=UTCDateTime()),
    ).columns(sa.column("ts", UTCDateTime()), sa.column("value", sa.Float()))
    return list(session.execute(stmt, {"d": device_id, "q": quantity, "s": start, "e": end}))


def _fold_pending(steps: list[Any], pending: list[Any], base: float, step: float) -> list[Any]:
    """Raw rows the worker has not folded yet, merged into the steps read from the roll-ups."""
    if not pending:
        return steps
    merged = {int(k): list(rest) for k, *rest in steps}
    for ts, v in pending:
        e = _epoch(ts)
        k = math.floor((e - base) / step)
        p = merged.get(k)
        if p is None:
            merged[k] = [v, v, v, 1, v, e]
            continue
        p[0], p[1], p[2], p[3] = min(p[0], v), max(p[1], v), p[2] + v, p[3] + 1
        if e > p[5]:
            p[4], p[5] = v, e
    return [(k, *p) for k, p in sorted(merged.items())]


@functools.lru_cache(maxsize=4096)
def _iso_day(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86400))


def _iso_whole(seconds: float) -> str:
    """``isoformat_z`` of a whole second since 1970 (roll-up steps are whole minutes), without a datetime."""
    days, rem = divmod(int(seconds), 86400)
    return f"{_iso_day(days)}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}Z"


def series(
    *, session: Session, now: datetime, device: Device, quantity: str | None = None, start: datetime | None = None,
    end: datetime | None = None, points: int = 500,
) -> dict[str, Any]:
    """At most ``points`` points over [start, end), each with a min/max envelope so no spike is lost.

    The source is the coarsest roll-up that still gives at least points/2 buckets over the window (raw
    rows when even 10-minute buckets are too coarse). When a source row is one step it is read as is;
    otherwise the database merges the rows into equal steps, so Python never loops over the raw rows.
    Roll-ups hold the raw rows up to the worker's watermark (``sensing.rollup``); the few stored after
    it are read raw, from the same consistent view, and merged in, so the newest data is always there.
    """
    quantity, unit = _quantity_or_raise(session, device, quantity)
    start, end = _window(now, start, end)
    points = max(2, min(points, MAX_POINTS))
    span = (end - start).total_seconds()
    source, source_s = "raw", 0
    for bucket, seconds in sorted(BUCKETS, key=lambda b: -b[1]):
        if span / seconds >= points / 2:
            source, source_s = bucket, seconds
            break
    base = _epoch(start) if not source_s else math.floor(_epoch(start) / source_s) * source_s
    step = (_epoch(end) - base) / points  # so that [base, end) splits into at most ``points`` steps
    if source_s:
        step = math.ceil(step / source_s) * source_s  # whole source buckets per step
    key: dict[str, Any] = {"device_id": device.id, "quantity": quantity}
    r = _table(ReadingRollup)
    if not source_s:
        rows = _aggregate(session, _table(Reading), key, "ts",
                          ("value", "value", "value", sa.literal(1), "value", "ts"), base, step, start, end)
        iso = [isoformat_z(datetime.fromtimestamp(base + int(row[0]) * step, UTC)) for row in rows]
    else:
        first = datetime.fromtimestamp(base, UTC)
        covered = datetime.fromtimestamp(math.ceil(_epoch(end) / source_s) * source_s, UTC)  # the last bucket's end
        with rollup.consistent_read(session) as position:
            pending = _pending(session, position, device.id, quantity, first, covered)
            if step == source_s:  # one roll-up row per point (a primary-key range), timestamps left to SQL
                dialect = session.get_bind().dialect.name
                last_ts = _epoch_sql(r.c.last_ts, dialect) if pending else sa.null()
                rows = [(round((t0 - base) / step), *rest) for t0, *rest in session.execute(
                    sa.select(_epoch_sql(r.c.bucket_start, dialect), r.c.min, r.c.max, r.c.sum, r.c.count, r.c.last,
                              last_ts)
                    .where(r.c.device_id == device.id, r.c.quantity == quantity, r.c.bucket == source,
                           r.c.bucket_start >= first, r.c.bucket_start < end)
                    .order_by(r.c.bucket_start)).all()]
            else:
                rows = _aggregate(session, r, key | {"bucket": source}, "bucket_start",
                                  ("min", "max", "sum", "count", "last", "last_ts"), base, step, first, end)
        rows = _fold_pending(rows, pending, base, step)
        iso = [_iso_whole(base + int(row[0]) * step) for row in rows]
    out = [{"t": t, "avg": sm / cnt, "min": mn, "max": mx, "last": last, "count": int(cnt)}
           for t, (_k, mn, mx, sm, cnt, last, _last_ts) in zip(iso, rows, strict=True)]
    return {"device_id": device.id, "key": device.key, "quantity": quantity, "unit": unit, "source": source,
            "step_s": step, "start": isoformat_z(start), "end": isoformat_z(end), "points": out}
