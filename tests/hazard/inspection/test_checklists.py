"""The shipped checklists: every one loads, has 6-12 items with both languages and a hazard category."""

from __future__ import annotations

import re

import pytest

from citybrain.hazard import service as hazard_service
from citybrain.hazard.inspection import checklists


@pytest.mark.parametrize("key", ["gas", "construction_site", "building_fire", "metro_construction",
                                 "hazchem_storage"])
def test_each_shipped_checklist_is_complete(key: str) -> None:
    cl = checklists.get(key)
    assert 6 <= len(cl.items) <= 12
    for item in cl.items:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", item.id)
        assert item.text_zh and item.text_en and item.clause
        assert item.category in hazard_service.CATEGORIES, item.category  # routes to a supervising department


def test_checklists_are_found_by_asset_class_and_category() -> None:
    assert checklists.for_target(asset_class="gas_space").key == "gas"  # type: ignore[union-attr]
    assert checklists.for_target(risk_category="hazardous_chemicals").key == "hazchem_storage"  # type: ignore[union-attr]
    assert checklists.for_target(asset_class="bridge") is None
    with pytest.raises(KeyError):
        checklists.get("nope")
