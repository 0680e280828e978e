"""Safety knowledge for the public: short bilingual articles shipped as data (``data/articles/*.yaml``).

Each article says in plain words what to do now (a few bullets), why (a longer body) and which emergency
numbers to call; ``types`` lists the incident types (``incident.taxonomy``) whose warnings it explains.
``article_for`` finds the article for a warning's type, rule key or asset class, so the public page and
the CAP instruction can tell people what to do.

>>> article_for("gas_leak").key, article_for("gas-cluster").key, article_for("drainage").key
('gas-leak', 'gas-leak', 'flood-waterlogging')
>>> article_for("sensor-no-data") is None, article_for(None) is None
(True, True)
>>> "119" in article_for("fire").action_zh
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from citybrain.incident.taxonomy import INCIDENT_TYPES, incident_type_for

__all__ = ["Article", "ArticleError", "all_articles", "article_for", "get_article", "warning_type"]


class ArticleError(ValueError):
    """A shipped article file is malformed; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Article:
    """One safety-knowledge article in both languages."""

    key: str
    types: tuple[str, ...]
    call: tuple[str, ...]
    title_zh: str
    title_en: str
    action_zh: str  # one line: what to do, for a warning headline
    action_en: str
    summary_zh: str
    summary_en: str
    do_now_zh: tuple[str, ...]
    do_now_en: tuple[str, ...]
    body_zh: str
    body_en: str

    @property
    def path(self) -> str:
        """The public HTML page of the article."""
        return f"/public/articles/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "types": list(self.types), "call": list(self.call), "title_zh": self.title_zh,
                "title_en": self.title_en, "action_zh": self.action_zh, "action_en": self.action_en,
                "summary_zh": self.summary_zh, "summary_en": self.summary_en, "do_now_zh": list(self.do_now_zh),
                "do_now_en": list(self.do_now_en), "body_zh": self.body_zh, "body_en": self.body_en,
                "url": self.path, "api": f"/api/v1/public/articles/{self.key}"}


def _text(doc: Mapping[str, Any], key: str, lang: str, where: str) -> str:
    part = doc.get(key)
    value = part.get(lang) if isinstance(part, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise ArticleError(f"{where}: {key}.{lang} must be non-empty text")
    return value.strip()


def _bullets(doc: Mapping[str, Any], lang: str, where: str) -> tuple[str, ...]:
    part = doc.get("do_now")
    items = part.get(lang) if isinstance(part, Mapping) else None
    # A bullet with an unquoted ": " would load as a mapping: refuse it rather than show it wrong.
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise ArticleError(f"{where}: do_now.{lang} must be a non-empty list of text (quote items holding ': ')")
    return tuple(i.strip() for i in items)


def parse_article(doc: Any, *, where: str = "article") -> Article:
    """An ``Article`` from one loaded YAML document; ``ArticleError`` names what is wrong."""
    if not isinstance(doc, Mapping):
        raise ArticleError(f"{where}: must be a mapping")
    key = doc.get("key")
    if not isinstance(key, str) or not key.replace("-", "").isalnum() or key != key.lower():
        raise ArticleError(f"{where}: key must be lower-case letters, digits and '-'")
    types = doc.get("types") or []
    if not isinstance(types, list) or any(t not in INCIDENT_TYPES for t in types):
        raise ArticleError(f"{where}: types must be incident types ({', '.join(INCIDENT_TYPES)})")
    call = doc.get("call") or []
    if not isinstance(call, list) or not all(isinstance(c, str) and c.isdigit() for c in call):
        raise ArticleError(f"{where}: call must be a list of quoted phone numbers")
    return Article(
        key=key, types=tuple(types), call=tuple(call),
        title_zh=_text(doc, "title", "zh", where), title_en=_text(doc, "title", "en", where),
        action_zh=_text(doc, "action", "zh", where), action_en=_text(doc, "action", "en", where),
        summary_zh=_text(doc, "summary", "zh", where), summary_en=_text(doc, "summary", "en", where),
        do_now_zh=_bullets(doc, "zh", where), do_now_en=_bullets(doc, "en", where),
        body_zh=_text(doc, "body", "zh", where), body_en=_text(doc, "body", "en", where))


@cache
def _catalogue() -> dict[str, Article]:
    folder = files("citybrain.public") / "data" / "articles"
    out: dict[str, Article] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        article = parse_article(yaml.safe_load(entry.read_text(encoding="utf-8")), where=entry.name)
        if article.key in out:
            raise ArticleError(f"{entry.name}: key {article.key!r} is used twice")
        out[article.key] = article
    return out


def all_articles() -> list[Article]:
    """Every shipped article, in key order."""
    return list(_catalogue().values())


def get_article(key: str) -> Article | None:
    return _catalogue().get(key)


@cache
def _by_type() -> dict[str, Article]:
    out: dict[str, Article] = {}
    for article in _catalogue().values():
        for t in article.types:
            out.setdefault(t, article)
    return out


def article_for(warning_type: str | None) -> Article | None:
    """The article for an incident type (``gas_leak``), a warning rule key (``gas-cluster``) or an asset class
    (``drainage``); ``None`` when no article explains it (e.g. sensor faults)."""
    if not warning_type:
        return None
    table = _by_type()
    if warning_type in table:
        return table[warning_type]
    itype = incident_type_for(rule=warning_type) or incident_type_for(asset_class=warning_type)
    return table.get(itype.key) if itype is not None else None


def warning_type(*, rule_key: str | None, labels: Mapping[str, Any] | None) -> str | None:
    """The incident type a warning speaks of: an explicit ``type`` label, else its rule, else its asset class.

    >>> warning_type(rule_key="drain-waterlogging", labels={}), warning_type(rule_key="cap", labels={"type": "fire"})
    ('waterlogging', 'fire')
    """
    labels = labels or {}
    for key in ("type", "incident_type"):
        explicit = labels.get(key)
        if isinstance(explicit, str) and explicit in INCIDENT_TYPES:
            return explicit
    itype = incident_type_for(rule=rule_key, asset_class=labels.get("asset_class"))
    return itype.key if itype is not None else None
