"""Shipped inspection checklists (排查清单), one YAML file per kind of target, loaded once.

Each item has an ``id``, ``text_zh`` / ``text_en``, the hazard ``category`` a failed answer opens and a
``clause`` hint (the regulation the hazard is judged against by default).

>>> sorted(all_checklists())
['building_fire', 'construction_site', 'gas', 'hazchem_storage', 'metro_construction']
>>> cl = get("gas")
>>> cl.item("odour").category, 6 <= len(cl.items) <= 12
('gas', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text_zh: str
    text_en: str
    category: str
    clause: str


@dataclass(frozen=True, slots=True)
class Checklist:
    key: str
    version: int
    name_zh: str
    name_en: str
    asset_classes: tuple[str, ...]
    risk_categories: tuple[str, ...]
    items: tuple[Item, ...]

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "version": self.version, "name_zh": self.name_zh, "name_en": self.name_en,
                "asset_classes": list(self.asset_classes), "risk_categories": list(self.risk_categories),
                "items": [{"id": i.id, "text_zh": i.text_zh, "text_en": i.text_en, "category": i.category,
                           "clause": i.clause} for i in self.items]}


def parse(doc: Mapping[str, Any]) -> Checklist:
    items = tuple(Item(str(i["id"]), str(i["text_zh"]), str(i["text_en"]), str(i["category"]),
                       str(i.get("clause", ""))) for i in doc["items"])
    if len({i.id for i in items}) != len(items):
        raise ValueError(f"checklist {doc.get('key')!r}: item ids must be unique")
    return Checklist(str(doc["key"]), int(doc.get("version", 1)), str(doc["name_zh"]), str(doc["name_en"]),
                     tuple(doc.get("asset_classes") or ()), tuple(doc.get("risk_categories") or ()), items)


@lru_cache(maxsize=1)
def all_checklists() -> dict[str, Checklist]:
    folder = resources.files(__name__)
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            cl = parse(yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[cl.key] = cl
    return out


def get(key: str) -> Checklist:
    """The checklist with this key; ``KeyError`` if there is none."""
    return all_checklists()[key]


def for_target(*, asset_class: str | None = None, risk_category: str | None = None) -> Checklist | None:
    """The first checklist meant for an asset class or a risk point's category, if any."""
    for cl in all_checklists().values():
        if (asset_class and asset_class in cl.asset_classes) or (risk_category and risk_category in
                                                                 cl.risk_categories):
            return cl
    return None
