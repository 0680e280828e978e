"""Warnings in and out as CAP 1.2, and the public Atom feed.

Out: ``cap_for(warning)`` maps one warning to a CAP alert (zh-CN and en info blocks, a circle around
its place, times with +08:00) — see docs/cap.md for the level mapping. In: ``ingest_cap`` turns an
external alert (e.g. a meteorological warning) into signals for the lifecycle: an ``Alert``/``Update``
opens or updates one warning per alert identifier, a ``Cancel`` resolves the warnings it references,
and a warning whose CAP ``expires`` has passed is resolved by ``expire_external``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid
from citybrain.warning import cap, service
from citybrain.warning import lifecycle as lc
from citybrain.warning.atom import AtomEntry, atom_feed
from citybrain.warning.models import Warning
from citybrain.warning.types import Level, Signal

SENDER = "citybrain@city.example"
CATEGORY_BY_CLASS = {"gas_space": "Safety", "fire_system": "Fire", "drainage": "Met", "water_main": "Infra",
                     "bridge": "Infra", "construction_pit": "Infra", "crowded_place": "Safety"}
INSTRUCTIONS = {
    "zh": "请远离相关区域，服从现场人员指挥；如发现险情请拨打 110 / 119。",
    "en": "Keep away from the area and follow instructions on site; report danger on 110 / 119.",
}


def identifier(w: Warning) -> str:
    return f"citybrain-warning-{w.id}"


def cap_for(w: Warning, *, sender: str = SENDER, base_url: str = "") -> bytes:
    level = Level(w.level)
    labels = w.labels or {}
    status = "Exercise" if w.exercise else "Actual"
    msg_type = "Cancel" if w.state == lc.RESOLVED else ("Update" if w.updated_at > w.starts_at else "Alert")
    references = [(sender, identifier(w), w.starts_at)] if msg_type != "Alert" else []
    circle = (w.lon, w.lat, 500.0) if w.lon is not None and w.lat is not None else None
    where = labels.get("asset") or labels.get("device") or labels.get("cluster") or labels.get("district") or ""
    alert = cap.from_warning(
        identifier=identifier(w) + (f"-{int(w.updated_at.timestamp())}" if msg_type != "Alert" else ""),
        sender=sender, sent=w.updated_at, level=level, status=status, msg_type=msg_type, references=references,
        event_zh=w.summary_zh or w.rule_key, event_en=w.summary_en or w.rule_key,
        headline_zh=f"{level.name_zh}预警：{w.summary_zh or w.rule_key}",
        headline_en=f"{level.colour.capitalize()} warning: {w.summary_en or w.rule_key}",
        description_zh=w.summary_zh or None, description_en=w.summary_en or None,
        instruction_zh=INSTRUCTIONS["zh"], instruction_en=INSTRUCTIONS["en"], onset=w.fired_at or w.starts_at,
        area_desc_zh=f"{where} 周边 500 米" if where else "相关区域",
        area_desc_en=f"within 500 m of {where}" if where else "affected area", circle=circle,
        category=CATEGORY_BY_CLASS.get(labels.get("asset_class", ""), "Safety"),
        web=f"{base_url}/#/warnings/{w.id}" if base_url else None)
    return cap.to_xml(alert)


def ingest_cap(*, session: Session, now: datetime, data: bytes, department: str = "emergency",
               directory: service.Directory | None = None) -> dict[str, Any]:
    """Warnings from an external CAP alert; ``Invalid`` (with the parser's reason) if it is refused."""
    try:
        alert = cap.parse(data)
    except cap.CapError as exc:
        where = f" (line {exc.line})" if getattr(exc, "line", None) else ""
        raise Invalid(f"CAP alert refused: {exc}{where}", errors=[FieldError("body", str(exc))]) from None
    signals: list[Signal] = []
    if alert.msg_type == "Cancel" or alert.msg_type == "Ack" or alert.msg_type == "Error":
        for ref in (alert.references or "").split():
            parts = ref.split(",")
            if len(parts) >= 2:
                signals.append(Signal("cap", _labels(parts[0], parts[1], department), None, now))
    else:
        info = _pick(alert.infos)
        if info is None:
            raise Invalid("CAP alert has no info block", errors=[FieldError("body.info", "missing")])
        level = cap.cap_to_level(info.severity, info.urgency)
        if level is None:
            raise Invalid(f"CAP severity {info.severity!r} maps to no warning level",
                          errors=[FieldError("body.info.severity", "Unknown")])
        zh = next((i for i in alert.infos if i.language.lower().startswith("zh")), None)
        en = next((i for i in alert.infos if i.language.lower().startswith("en")), None) or info
        key = _first_reference(alert) or alert.identifier
        lon, lat = _centre(info)
        signals.append(Signal(
            "cap", _labels(alert.sender, key, department), level, now, None, lon, lat,
            {"summary_zh": (zh or info).headline or (zh or info).event, "summary_en": en.headline or en.event,
             "public": alert.scope == "Public", "exercise": alert.status == "Exercise",
             "cap_identifier": alert.identifier, "cap_sender": alert.sender,
             "expires": info.expires.isoformat() if info.expires else None,
             "instruction": info.instruction},
            {"event": info.event, "severity": info.severity, "urgency": info.urgency, "certainty": info.certainty,
             "areas": [a.area_desc for a in info.areas]}))
    applied = service.apply_signals(session=session, signals=signals, now=now, directory=directory, source="cap")
    return {"identifier": alert.identifier, "msg_type": alert.msg_type,
            "warnings": [w.id for w in applied.warnings], "ignored": applied.ignored}


def _labels(sender: str, identifier_: str, department: str) -> dict[str, str]:
    return {"rule": "cap", "scope": "area", "department": department, "cap_sender": sender,
            "cap_identifier": identifier_}


def _first_reference(alert: cap.CapAlert) -> str | None:
    """Updates refer to the original alert: keep one warning per original identifier."""
    if alert.msg_type == "Update" and alert.references:
        parts = alert.references.split()[0].split(",")
        if len(parts) >= 2:
            return parts[1]
    return None


def _pick(infos: tuple[cap.CapInfo, ...]) -> cap.CapInfo | None:
    return next((i for i in infos if i.language.lower().startswith("zh")), infos[0] if infos else None)


def _centre(info: cap.CapInfo) -> tuple[float | None, float | None]:
    for area in info.areas:
        for circle in area.circles:
            return circle[1], circle[0]
        for polygon in area.polygons:
            pts = list(polygon)
            if pts:
                return sum(p[1] for p in pts) / len(pts), sum(p[0] for p in pts) / len(pts)
    return None, None


def expire_external(*, session: Session, now: datetime) -> int:
    """Resolve open CAP-sourced warnings whose ``expires`` has passed."""
    due = [w for w in session.scalars(sa.select(Warning).where(Warning.source == "cap",
                                                               Warning.state.in_(lc.OPEN_STATES)))
           if (w.annotations or {}).get("expires") and datetime.fromisoformat(w.annotations["expires"]) <= now]
    return service.resolve_all(session=session, now=now, warnings=due, by="expired", reason="CAP expires passed")


def public_warnings(*, session: Session, district: str | None = None, limit: int = 200) -> list[Warning]:
    """Warnings marked public that are firing or acknowledged, most severe and newest first."""
    stmt = sa.select(Warning).where(Warning.public.is_(True), Warning.state.in_((lc.FIRING, lc.ACKNOWLEDGED)))
    if district:
        stmt = stmt.where(Warning.district_code == district)
    return list(session.scalars(stmt.order_by(Warning.level, Warning.updated_at.desc()).limit(limit)))


def public_feed(*, session: Session, now: datetime, base_url: str, lang: str = "zh-CN",
                district: str | None = None) -> bytes:
    rows = public_warnings(session=session, district=district)
    zh = lang.lower().startswith("zh")
    entries = []
    for w in rows:
        level = Level(w.level)
        title = (f"{level.name_zh}预警：{w.summary_zh}" if zh
                 else f"{level.colour.capitalize()} warning: {w.summary_en}")
        entries.append(AtomEntry(
            id=f"tag:citybrain,2026:warning/{w.id}", title=title, updated=w.updated_at, published=w.starts_at,
            summary=(w.summary_zh if zh else w.summary_en) or None,
            content=INSTRUCTIONS["zh" if zh else "en"], link=f"{base_url}/public/warnings/{w.id}",
            cap_link=f"{base_url}/api/v1/public/warnings/{w.id}.cap", categories=(level.colour,)))
    title = "城市公共安全预警" if zh else "City public-safety warnings"
    return atom_feed(feed_id=f"tag:citybrain,2026:public-warnings:{district or 'all'}:{lang}", title=title,
                     updated=max((w.updated_at for w in rows), default=now),
                     link_self=f"{base_url}/api/v1/public/warnings.atom", link_alternate=f"{base_url}/",
                     entries=entries, lang=lang)
