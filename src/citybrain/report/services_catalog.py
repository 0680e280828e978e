"""The safety categories citizens report (Open311 "services"), described as data in ``data/services.yaml``.

A category carries what the Open311 list and definition endpoints publish (code, names, group, type,
keywords, attributes) and what the platform needs to act on a report: the radius and time window within
which two reports are likely one incident, and the default time limit of the case.

>>> codes = [s.code for s in services()]
>>> codes[0], codes[-1], len(codes)
('gas_smell', 'other', 11)
>>> get("manhole_missing").duplicate_radius_m
50.0
>>> check_attributes(get("gas_smell"), {"smell_strength": "strong"})
{'smell_strength': 'strong'}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from citybrain.core.errors import FieldError, Invalid

DATATYPES = frozenset({"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"})
TYPES = frozenset({"realtime", "batch", "blackbox"})


@dataclass(frozen=True, slots=True)
class AttributeValue:
    key: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Attribute:
    """One Open311 service-definition attribute (``variable`` is always true: the citizen answers it)."""

    code: str
    datatype: str
    required: bool
    description_zh: str
    description_en: str
    order: int
    values: tuple[AttributeValue, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceDef:
    code: str
    name_zh: str
    name_en: str
    group: str
    description_zh: str
    description_en: str
    keywords: tuple[str, ...]
    type: str
    duplicate_radius_m: float
    duplicate_window_h: float
    time_limit_h: float
    notice_zh: str
    notice_en: str
    attributes: tuple[Attribute, ...]

    @property
    def metadata(self) -> bool:
        """Open311 ``metadata``: whether the definition endpoint has attributes to ask."""
        return bool(self.attributes)

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh

    def description(self, lang: str = "zh") -> str:
        return self.description_en if lang == "en" else self.description_zh

    def notice(self, lang: str = "zh") -> str:
        return self.notice_en if lang == "en" else self.notice_zh


def _attribute(raw: dict[str, Any], order: int, where: str) -> Attribute:
    datatype = str(raw["datatype"])
    if datatype not in DATATYPES:
        raise ValueError(f"{where}: unknown datatype {datatype!r}")
    values = tuple(AttributeValue(str(v["key"]), str(v["name_zh"]), str(v["name_en"])) for v in raw.get("values") or ())
    if datatype.endswith("valuelist") and not values:
        raise ValueError(f"{where}: a {datatype} needs values")
    return Attribute(code=str(raw["code"]), datatype=datatype, required=bool(raw.get("required", False)),
                     description_zh=str(raw.get("description_zh", "")),
                     description_en=str(raw.get("description_en", "")), order=order, values=values)


def parse(documents: list[dict[str, Any]]) -> tuple[ServiceDef, ...]:
    """Build the catalogue from its YAML form; raise ``ValueError`` naming the entry at fault."""
    out, seen = [], set()
    for i, raw in enumerate(documents):
        where = f"services[{i}]"
        code = str(raw["code"])
        if code in seen:
            raise ValueError(f"{where}: duplicate code {code!r}")
        seen.add(code)
        if raw.get("type", "realtime") not in TYPES:
            raise ValueError(f"{where}: unknown type {raw.get('type')!r}")
        out.append(ServiceDef(
            code=code, name_zh=str(raw["name_zh"]), name_en=str(raw["name_en"]), group=str(raw.get("group", "")),
            description_zh=str(raw.get("description_zh", "")), description_en=str(raw.get("description_en", "")),
            keywords=tuple(str(k) for k in raw.get("keywords") or ()), type=str(raw.get("type", "realtime")),
            duplicate_radius_m=float(raw["duplicate_radius_m"]), duplicate_window_h=float(raw["duplicate_window_h"]),
            time_limit_h=float(raw["time_limit_h"]), notice_zh=str(raw.get("notice_zh") or ""),
            notice_en=str(raw.get("notice_en") or ""),
            attributes=tuple(_attribute(a, n + 1, f"{where}.attributes[{n}]")
                             for n, a in enumerate(raw.get("attributes") or ())),
        ))
    return tuple(out)


@lru_cache(maxsize=1)
def _catalogue() -> tuple[ServiceDef, ...]:
    text = resources.files("citybrain.report").joinpath("data", "services.yaml").read_text(encoding="utf-8")
    return parse(yaml.safe_load(text))


def services() -> list[ServiceDef]:
    """Every category, in the order the reporting page shows them."""
    return list(_catalogue())


def find(code: str) -> ServiceDef | None:
    return next((s for s in _catalogue() if s.code == code), None)


def get(code: str, *, field: str = "service_code") -> ServiceDef:
    """The category ``code``; ``Invalid`` naming ``field`` when there is none."""
    found = find(code)
    if found is None:
        raise Invalid(f"unknown service_code {code!r}", errors=[FieldError(field, "unknown service_code")])
    return found


def check_attributes(service: ServiceDef, given: dict[str, str], *, prefix: str = "attribute",
                     enforce_required: bool = True) -> dict[str, Any]:
    """Validate answers to the category's attributes: required present, list values known, numbers numeric.

    Unknown attribute codes are refused so a typo does not pass silently; the field is ``attribute[code]``.
    ``enforce_required=False`` (the phone page, which keeps reporting to a minimum) lets required ones be absent.
    """
    known = {a.code: a for a in service.attributes}
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for code, value in given.items():
        attr = known.get(code)
        if attr is None:
            errors.append(FieldError(f"{prefix}[{code}]", "unknown attribute for this service"))
            continue
        keys = {v.key for v in attr.values}
        if attr.datatype == "singlevaluelist" and value not in keys:
            errors.append(FieldError(f"{prefix}[{code}]", f"must be one of {sorted(keys)}"))
        elif attr.datatype == "multivaluelist":
            parts = [p for p in value.split(",") if p]
            if not parts or any(p not in keys for p in parts):
                errors.append(FieldError(f"{prefix}[{code}]", f"must be among {sorted(keys)}"))
            else:
                out[code] = parts
            continue
        elif attr.datatype == "number":
            try:
                float(value)
            except ValueError:
                errors.append(FieldError(f"{prefix}[{code}]", "must be a number"))
        elif len(value) > 500:
            errors.append(FieldError(f"{prefix}[{code}]", "at most 500 characters"))
        out[code] = value
    for attr in service.attributes:
        if enforce_required and attr.required and not given.get(attr.code):
            errors.append(FieldError(f"{prefix}[{attr.code}]", "required"))
    if errors:
        raise Invalid("invalid attributes: " + ", ".join(e.field for e in errors), errors=errors)
    return out
