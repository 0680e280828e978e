"""Public warnings in plain language, per district, with what to do and a per-district Atom feed.

Which warnings are public is decided by the warning engine (``warning.publishing.public_warnings``: marked
public, firing or acknowledged); this module only says them the way a resident reads them: "黄浦区：燃气泄漏
橙色预警 — 请勿使用明火……", with the matching safety article, and marks drills (演练) as such.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid
from citybrain.geo.models import GeoFeature
from citybrain.incident.taxonomy import INCIDENT_TYPES
from citybrain.public.articles import article_for, warning_type
from citybrain.warning import lifecycle as lc
from citybrain.warning import publishing
from citybrain.warning.atom import AtomEntry, atom_feed
from citybrain.warning.models import Warning
from citybrain.warning.types import Level

SHANGHAI = ZoneInfo("Asia/Shanghai")
API = "/api/v1/public"
DistrictNames = dict[str, tuple[str, str]]


def district_names(*, session: Session) -> DistrictNames:
    """District code -> (name_zh, name_en) from the loaded base map."""
    rows = session.execute(sa.select(GeoFeature.code, GeoFeature.name_zh, GeoFeature.name_en)
                           .where(GeoFeature.layer == "districts", GeoFeature.code.is_not(None))
                           .order_by(GeoFeature.code))
    return {code: (zh or code, en or code) for code, zh, en in rows}


def check_district(*, session: Session, code: str | None, field: str) -> str | None:
    """``code`` if it is a district of the base map (None passes); ``Invalid`` naming ``field`` otherwise."""
    if code is None:
        return None
    if code not in district_names(session=session):
        raise Invalid(f"unknown district {code!r}", errors=[FieldError(field, "not a district code (e.g. 310101)")])
    return code


def feed_path(district: str) -> str:
    return f"{API}/warnings/{district}.atom"


def page_path(district: str | None, warning_id: int | None = None) -> str:
    path = f"/public?district={district}" if district else "/public"
    return path + (f"#w-{warning_id}" if warning_id is not None else "")


def local_time(value: datetime) -> str:
    """An instant as Shanghai wall time, the way the public page shows it.

    >>> from datetime import UTC
    >>> local_time(datetime(2026, 11, 30, 1, 5, tzinfo=UTC))
    '2026-11-30 09:05'
    """
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def plain(w: Warning, *, districts: DistrictNames) -> dict[str, Any]:
    """One public warning as a resident reads it, both languages, with the article that says what to do."""
    level = Level(w.level)
    itype_key = warning_type(rule_key=w.rule_key, labels=w.labels)
    itype = INCIDENT_TYPES.get(itype_key) if itype_key else None
    article = article_for(itype_key) if itype_key else None
    name_zh, name_en = districts.get(w.district_code or "", ("本市", "The city"))
    what_zh = itype.name_zh if itype else "安全"
    what_en = itype.name_en.lower() if itype else "safety"
    headline_zh = f"{name_zh}：{what_zh}{level.name_zh}预警"
    headline_en = f"{name_en}: {level.colour} {what_en} warning"
    if w.exercise:
        headline_zh, headline_en = f"【演练】{headline_zh}", f"[EXERCISE] {headline_en}"
    action_zh = article.action_zh if article else publishing.INSTRUCTIONS["zh"]
    action_en = article.action_en if article else publishing.INSTRUCTIONS["en"]
    return {
        "id": w.id, "level": level.colour, "level_roman": level.roman, "level_zh": level.name_zh,
        "summary_zh": w.summary_zh, "summary_en": w.summary_en, "district": w.district_code,
        "district_name_zh": name_zh if w.district_code else None,
        "district_name_en": name_en if w.district_code else None,
        "lon": w.lon, "lat": w.lat, "starts_at": w.starts_at, "updated_at": w.updated_at,
        "since_local": local_time(w.starts_at), "type": itype_key, "exercise": w.exercise,
        "state": "resolved" if w.state == lc.RESOLVED else "active",
        "headline_zh": headline_zh, "headline_en": headline_en, "action_zh": action_zh, "action_en": action_en,
        "text_zh": f"{headline_zh} — {action_zh}", "text_en": f"{headline_en} — {action_en}",
        "instruction_zh": action_zh, "instruction_en": action_en,
        "do_now_zh": list(article.do_now_zh) if article else [],
        "do_now_en": list(article.do_now_en) if article else [],
        "call": list(article.call) if article else ["110", "119"],
        "article": ({"key": article.key, "title_zh": article.title_zh, "title_en": article.title_en,
                     "url": article.path} if article else None),
        "cap": f"{API}/warnings/{w.id}.cap",
        "feed": feed_path(w.district_code) if w.district_code else None,
        "page": page_path(w.district_code, w.id),
    }


def current_warnings(*, session: Session, district: str | None = None) -> list[dict[str, Any]]:
    """The public warnings now (optionally of one district), in plain language, most severe first."""
    districts = district_names(session=session)
    return [plain(w, districts=districts) for w in publishing.public_warnings(session=session, district=district)]


def by_district(items: list[dict[str, Any]], *, districts: DistrictNames) -> list[dict[str, Any]]:
    """Group plain warnings by district (districts with a warning first, in code order)."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item["district"], []).append(item)
    out = []
    for code in sorted(groups, key=lambda c: (c is None, c or "")):
        zh, en = districts.get(code or "", ("全市", "City-wide"))
        out.append({"district": code, "name_zh": zh, "name_en": en, "warnings": groups[code],
                    "feed": feed_path(code) if code else None})
    return out


def district_feed(*, session: Session, now: datetime, base_url: str, district: str, lang: str = "zh-CN") -> bytes:
    """The Atom feed of one district's current public warnings (entries link to the public page and CAP)."""
    districts = district_names(session=session)
    zh = lang.lower().startswith("zh")
    rows = publishing.public_warnings(session=session, district=district)
    entries = []
    for w in rows:
        p = plain(w, districts=districts)
        entries.append(AtomEntry(
            id=f"tag:citybrain,2026:warning/{w.id}", title=p["headline_zh"] if zh else p["headline_en"],
            updated=w.updated_at, published=w.starts_at, summary=p["action_zh"] if zh else p["action_en"],
            content="\n".join(p["do_now_zh"] if zh else p["do_now_en"]) or None,
            link=base_url + p["page"], cap_link=base_url + p["cap"], categories=(Level(w.level).colour,)))
    name_zh, name_en = districts.get(district, (district, district))
    return atom_feed(
        feed_id=f"tag:citybrain,2026:public-warnings:{district}:{lang}",
        title=f"{name_zh}公共安全预警" if zh else f"{name_en}: public-safety warnings",
        updated=max((w.updated_at for w in rows), default=now),
        link_self=f"{base_url}{feed_path(district)}" + ("" if zh else "?lang=en"),
        link_alternate=base_url + page_path(district), entries=entries, lang=lang)
