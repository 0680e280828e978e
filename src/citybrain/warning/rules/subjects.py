"""A rule's subjects (device, asset or cluster), the ``for`` state machine above their condition, and the
making of signals: labels fixed per subject, summaries in both languages, evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from citybrain.warning.rules import schema as S
from citybrain.warning.rules.leaves import Node
from citybrain.warning.types import DeviceContext, Level, Signal

DEFAULT_STALE_S = 300.0  # Prometheus's look-back: a stream whose interval is unknown is stale after this


def as_utc(ts: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def fingerprint(rule: S.RuleDef) -> str:
    """What a rule's state (and its subjects' identity) depends on; state is dropped on restore when it changed."""
    body = rule.model_dump(mode="json", include={"scope", "quantity", "when", "subject", "for_", "labels"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class _Fmt(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class Subject:
    """One rule's state for one subject (a device, an asset or a cluster)."""

    __slots__ = ("key", "labels", "ctx", "level", "pending", "since", "last_ts", "last", "nodes", "timeout")

    def __init__(self, key: str, labels: dict[str, str], ctx: DeviceContext, nodes: list[Any]) -> None:
        self.key = key
        self.labels = labels
        self.ctx = ctx
        self.level: Level | None = None
        self.pending: float | None = None  # when the condition became more severe than ``level``
        self.since: float | None = None  # when the current activation began
        self.last_ts: float | None = None
        self.last: tuple[str, str, float] | None = None  # device, quantity, value of the last reading
        self.nodes = nodes
        self.timeout: float | None = None  # no-data rules: seconds of silence that fire

    def dump(self, tree: list[Node]) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "ctx": self.ctx.as_dict(),
            "level": None if self.level is None else int(self.level),
            "pending": self.pending,
            "since": self.since,
            "last_ts": self.last_ts,
            "last": list(self.last) if self.last else None,
            "timeout": self.timeout,
            "nodes": [n.dump(s) for n, s in zip(tree, self.nodes, strict=True)],
        }

    @classmethod
    def load(cls, key: str, data: Mapping[str, Any], tree: list[Node]) -> Subject:
        sub = cls(
            key,
            dict(data["labels"]),
            DeviceContext(**data["ctx"]),
            [n.load(s) for n, s in zip(tree, data["nodes"], strict=True)],
        )
        sub.level = None if data["level"] is None else Level(data["level"])
        sub.pending, sub.since, sub.last_ts = data["pending"], data["since"], data["last_ts"]
        sub.last = tuple(data["last"]) if data["last"] else None  # type: ignore[assignment]
        sub.timeout = data.get("timeout")
        return sub


class Emitter:
    """Turns a subject's change into a ``Signal``: labels, summaries in both languages, evidence."""

    def __init__(self, rule: S.RuleDef, units: Mapping[str, str]) -> None:
        self.rule = rule
        self.units = units
        self.quantities = rule.quantities()
        self.annotations: dict[str, Any] = {"name_zh": rule.name.zh, "name_en": rule.name.en}
        if rule.auto_incident is not False:
            self.annotations["auto_incident"] = rule.auto_incident.colour
        if rule.severity_hint:
            self.annotations["severity_hint"] = rule.severity_hint

    def labels(self, scope: str, ctx: DeviceContext, subject_key: str) -> dict[str, str]:
        """A subject's identity, fixed when the subject is first seen so that its fingerprint never moves."""
        out = {"rule": self.rule.key, "scope": scope, "department": ctx.department}
        if scope == "device":
            out["device"] = subject_key
            out["device_type"] = ctx.type_key
            if ctx.asset_key:
                out["asset"] = ctx.asset_key
        elif scope == "asset":
            out["asset"] = subject_key
        else:
            out["cluster"] = subject_key
            out["device_type"] = ctx.type_key
        if ctx.asset_class:
            out["asset_class"] = ctx.asset_class
        if ctx.district:
            out["district"] = ctx.district
        if len(self.quantities) == 1 and self.quantities[0] != S.ANY_QUANTITY:
            out["quantity"] = self.quantities[0]
        out.update(self.rule.labels)
        return out

    def signal(
        self,
        sub: Subject,
        at: float,
        value: float | None,
        evidence: dict[str, Any],
        lon: float | None = None,
        lat: float | None = None,
        devices: int = 1,
    ) -> Signal:
        ctx = sub.ctx
        lv = sub.level
        q = sub.last[1] if sub.last else (self.quantities[0] if self.quantities else "")
        fields = _Fmt(
            value=value if value is not None else "",
            device=ctx.device_id,
            asset=ctx.asset_key or "",
            asset_name=ctx.asset_name or "",
            cluster=sub.labels.get("cluster", ""),
            devices=devices,
            level=lv.colour if lv else "cleared",
            level_roman=lv.roman if lv else "",
            unit=self.units.get(q, ""),
            quantity=q,
            rule=self.rule.key,
            district=ctx.district or "",
            device_type=ctx.type_key,
            asset_class=ctx.asset_class or "",
        )
        ann = dict(self.annotations)
        for lang in ("zh", "en"):
            tpl = getattr(self.rule.summary, lang)
            f = _Fmt(
                fields,
                name=getattr(self.rule.name, lang),
                level_zh=(lv.name_zh if lv else "解除") if lang == "zh" else fields["level"],
            )
            if not tpl:
                tpl = "{name}: {level_zh} {value}{unit}" if lang == "zh" else "{name}: {level} {value}{unit}"
            try:
                ann[f"summary_{lang}"] = tpl.format_map(f)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                ann[f"summary_{lang}"] = tpl
        if sub.since is not None and lv is not None:
            ann["active_since"] = as_utc(sub.since).isoformat()
        return Signal(
            rule=self.rule.key,
            labels=sub.labels,
            level=lv,
            at=as_utc(at),
            value=value,
            lon=ctx.lon if lon is None else lon,
            lat=ctx.lat if lat is None else lat,
            annotations=ann,
            evidence=evidence,
        )


class Settler:
    """The ``for`` state machine above a condition's level; shared by device, asset and cluster subjects."""

    def __init__(self, for_s: float, stale: Mapping[str, float]) -> None:
        self.for_s = for_s
        self.stale = stale

    def settle(self, sub: Subject, target: Level | None, t: float, *, tick: bool = False, fresh: bool = True) -> bool:
        """Move ``sub.level`` towards ``target``; True when the level changed (a signal is due)."""
        cur = sub.level
        if target is not None and (cur is None or target < cur):
            if self.for_s > 0:
                if sub.pending is None:
                    sub.pending = t
                if t - sub.pending < self.for_s:
                    return False
                if tick and not fresh:
                    return False  # the last reading is too old to vouch for the condition now
            start = sub.pending if sub.pending is not None else t
            sub.pending = None
            if cur is None:
                sub.since = start
            sub.level = target
            return True
        sub.pending = None
        if target != cur:
            sub.level = target
            if target is None:
                sub.since = None
            return True
        return False
