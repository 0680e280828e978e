"""Safety articles: every shipped one complete in both languages, matched to the types of warnings."""

from __future__ import annotations

import pytest

from citybrain.incident.taxonomy import INCIDENT_TYPES
from citybrain.public.articles import ArticleError, all_articles, article_for, parse_article

REQUIRED = {"gas-leak", "fire-escape", "flood-waterlogging", "crowd-safety", "metro-evacuation", "hazmat-shelter",
            "structural-danger", "electric-safety"}


def test_the_shipped_articles_are_complete_and_bilingual():
    arts = {a.key: a for a in all_articles()}
    assert set(arts) >= REQUIRED
    for a in arts.values():
        assert a.title_zh != a.title_en and a.do_now_zh and len(a.do_now_zh) == len(a.do_now_en)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in a.body_zh)  # Chinese text
        assert a.body_en.isascii() or "—" in a.body_en or "…" in a.body_en
        assert len(a.body_zh) > 150 and len(a.body_en) > 300
        assert a.call


@pytest.mark.parametrize(("what", "key"), [
    ("gas_leak", "gas-leak"), ("fire", "fire-escape"), ("waterlogging", "flood-waterlogging"),
    ("crowd_crush", "crowd-safety"), ("metro_disruption", "metro-evacuation"), ("hazmat_release", "hazmat-shelter"),
    ("road_collapse", "structural-danger"), ("utility_outage", "electric-safety"), ("fire-smoke", "fire-escape"),
    ("bridge-strain", "structural-danger"), ("crowded_place", "crowd-safety")])
def test_article_for_a_type_rule_or_asset_class(what, key):
    assert article_for(what).key == key


def test_types_without_advice_have_no_article():
    assert article_for("public_security") is None and article_for("sensor-quality-methane") is None
    assert all(t in INCIDENT_TYPES for a in all_articles() for t in a.types)


def test_a_bullet_that_yaml_read_as_a_mapping_is_refused():
    doc = {"key": "x", "types": [], "call": ["110"], **{k: {"zh": "a", "en": "b"} for k in
                                                       ("title", "action", "summary", "body")},
           "do_now": {"zh": ["ok"], "en": [{"Respect the cordon": "do not enter"}]}}
    with pytest.raises(ArticleError, match="do_now.en"):
        parse_article(doc, where="x.yaml")

