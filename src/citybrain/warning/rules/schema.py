"""The rule language: pydantic models of a rule and its conditions, parsed from YAML/JSON with positions.

A rule says which streams it watches (``scope`` and ``quantity``), what must be true (``when``: one
condition, possibly composite), for how long (``for``) and what to say (``summary``, ``labels``).
``RuleDef.model_dump(mode="json")`` is plain JSON and ``RuleDef.model_validate`` reads it back, so a rule
can live as a JSON document in a table; ``parsing.parse_rules`` reads YAML and names the line and column
of every problem. See docs/rules.md for the language reference.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from citybrain.core.clock import duration_seconds
from citybrain.warning.types import Level

# -- small types ---------------------------------------------------------------------------------



class FieldProblem(ValueError):
    """A validation failure that knows the path below the field being validated (e.g. ``("red",)``)."""

    def __init__(self, message: str, subpath: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.subpath = subpath


def _duration(v: Any) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        duration_seconds(v)
        return f"{v:g}s"
    if not isinstance(v, str):
        raise ValueError(f"not a duration: {v!r} (use e.g. 30s, 10m, 2h, 1d)")
    duration_seconds(v)
    return v.strip()


Duration = Annotated[str, BeforeValidator(_duration)]
LevelName = Annotated[Level, BeforeValidator(Level.parse), PlainSerializer(lambda lv: lv.colour, return_type=str)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]
RESERVED_LABELS = frozenset(
    {"rule", "scope", "department", "device", "asset", "cluster", "district", "device_type", "asset_class", "quantity"}
)
ANY_QUANTITY = "*"  # no_data only: a reading of any quantity counts
LEVEL_ORDER = ("blue", "yellow", "orange", "red")  # least to most severe
TEMPLATE_FIELDS = frozenset(
    {"value", "device", "asset", "asset_name", "cluster", "devices", "level", "level_zh", "level_roman", "unit",
     "quantity", "rule", "district", "device_type", "asset_class", "name"}
)


def _listify(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


StrList = Annotated[list[str], BeforeValidator(_listify)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Text(_Model):
    """A text in Chinese and English."""

    zh: str
    en: str


class Templates(_Model):
    """Summary templates in Chinese and English; ``{value}``, ``{device}``, ``{level}``... are filled in."""

    zh: str = ""
    en: str = ""

    @field_validator("zh", "en")
    @classmethod
    def _fields_known(cls, v: str) -> str:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(v) if f is not None}
        except ValueError as exc:
            raise ValueError(f"bad template: {exc}") from None
        bad = sorted(n for n in names if n.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS)
        if bad:
            raise ValueError(f"unknown template fields {bad}; known: {sorted(TEMPLATE_FIELDS)}")
        return v


class Scope(_Model):
    """Which devices a rule applies to: a device must match every field given (an empty scope matches all)."""

    device: StrList = []
    device_type: StrList = []
    asset_class: StrList = []
    district: StrList = []


class LevelMap(_Model):
    """A number per warning level (any subset)."""

    blue: float | None = None
    yellow: float | None = None
    orange: float | None = None
    red: float | None = None

    def items(self) -> list[tuple[Level, float]]:
        """(level, number) pairs from least to most severe, only those given."""
        return [(Level.parse(k), v) for k in LEVEL_ORDER if (v := getattr(self, k)) is not None]


# -- conditions ----------------------------------------------------------------------------------


class _Graded(_Model):
    """Grading of a number into levels: ``direction`` above/below, ``levels``, and ``clear`` or ``hysteresis``."""

    direction: Literal["above", "below"] = "above"
    levels: LevelMap
    clear: LevelMap | None = None
    hysteresis: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_levels(self) -> _Graded:
        items = self.levels.items()
        if not items:
            raise FieldProblem("give at least one of blue, yellow, orange, red", ("levels",))
        up = self.direction == "above"
        for (lo, a), (hi, b) in zip(items, items[1:], strict=False):
            if (b <= a) if up else (b >= a):
                word = "above" if up else "below"
                raise FieldProblem(
                    f"levels must be monotonic: {hi.colour} ({b:g}) must be {word} {lo.colour} ({a:g}) "
                    f"for direction {self.direction}",
                    ("levels", hi.colour),
                )
        if self.clear is not None and self.hysteresis is not None:
            raise FieldProblem("give clear or hysteresis, not both", ("hysteresis",))
        if self.clear is not None:
            given = dict(items)
            for level, c in self.clear.items():
                if level not in given:
                    raise FieldProblem(f"clear.{level.colour} has no level to clear", ("clear", level.colour))
                if (c > given[level]) if up else (c < given[level]):
                    raise FieldProblem(
                        f"clear.{level.colour} ({c:g}) must not be {'above' if up else 'below'} its level "
                        f"({given[level]:g})",
                        ("clear", level.colour),
                    )
        return self

    def clearing(self) -> dict[Level, float]:
        """The clearing threshold of each given level (the level's own threshold when none is set)."""
        out = {}
        sign = -1.0 if self.direction == "above" else 1.0
        explicit = dict(self.clear.items()) if self.clear else {}
        for level, thr in self.levels.items():
            if level in explicit:
                out[level] = explicit[level]
            else:
                out[level] = thr + sign * (self.hysteresis or 0.0)
        return out


class Threshold(_Graded):
    """The value itself, graded into levels."""

    kind: Literal["threshold"]
    quantity: str | None = None


class Rate(_Graded):
    """The change of the value per ``per``, fitted (least squares) over the last ``window``, graded."""

    kind: Literal["rate"]
    quantity: str | None = None
    per: Duration = "1h"
    window: Duration
    min_span: Duration | None = None  # the readings must cover this much of the window (default: half)
    method: Literal["slope", "delta"] = "slope"

    @model_validator(mode="after")
    def _positive(self) -> Rate:
        if duration_seconds(self.per) <= 0:
            raise FieldProblem("per must be positive", ("per",))
        if duration_seconds(self.window) <= 0:
            raise FieldProblem("window must be positive", ("window",))
        return self


class NoData(_Model):
    """No reading for ``after`` (or ``k`` x the device type's interval): fires from ``tick``, cleared by a reading."""

    kind: Literal["no_data"]
    quantity: str | None = None
    after: Duration | None = None
    k: float | None = Field(default=None, gt=0)
    level: LevelName = Level.YELLOW

    @model_validator(mode="after")
    def _one_of(self) -> NoData:
        if (self.after is None) == (self.k is None):
            raise FieldProblem("give exactly one of after (a duration) or k (times the device type's interval)")
        return self


class Stuck(_Model):
    """The value has not moved (within ``tolerance``) for ``n`` consecutive readings (a frozen sensor)."""

    kind: Literal["stuck"]
    quantity: str | None = None
    n: int = Field(ge=2)
    tolerance: float = Field(default=0.0, ge=0)
    level: LevelName = Level.BLUE


class Anomaly(_Model):
    """A streaming detector's score reaching ``threshold`` (default: the detector's shipped one)."""

    kind: Literal["anomaly"]
    quantity: str | None = None
    detector: str
    params: dict[str, Any] = {}
    threshold: float | None = Field(default=None, gt=0, le=1)
    transform: Literal["value", "diff"] = "value"  # diff: score the change since the previous reading
    level: LevelName = Level.BLUE
    min_consecutive: int = Field(default=1, ge=1)
    hold: Duration | None = None  # stay active this long after the last anomalous reading

    @field_validator("detector")
    @classmethod
    def _known(cls, v: str) -> str:
        from citybrain.warning.detectors import registry

        if v not in registry():
            raise ValueError(f"unknown detector {v!r}; known: {', '.join(sorted(registry())) or '(none)'}")
        return v

    @model_validator(mode="after")
    def _buildable(self) -> Anomaly:
        from citybrain.warning.detectors import make

        try:
            make(self.detector, **self.params)
        except (TypeError, ValueError) as exc:
            raise FieldProblem(f"detector {self.detector} refuses these params: {exc}", ("params",)) from None
        return self


class Count(_Model):
    """The inner condition true on at least ``n`` evaluations within ``window``."""

    kind: Literal["count"]
    when: Condition
    n: int = Field(ge=1)
    window: Duration
    level: LevelName | None = None  # default: the least severe level among the counted hits


class All(_Model):
    """Every sub-condition active (level: the least severe of theirs)."""

    kind: Literal["all"]
    conditions: list[Condition] = Field(min_length=1)


class Any_(_Model):
    """At least one sub-condition active (level: the most severe of theirs)."""

    kind: Literal["any"]
    conditions: list[Condition] = Field(min_length=1)


class Spatial(_Model):
    """The inner condition active on ``min_devices`` devices within ``radius_m`` of each other within ``window``."""

    kind: Literal["spatial"]
    when: Condition
    min_devices: int = Field(default=2, ge=2)
    radius_m: float = Field(gt=0)
    window: Duration
    level: LevelName | None = None  # default: the most severe level among the members


Condition = Annotated[
    Threshold | Rate | NoData | Stuck | Anomaly | Count | All | Any_ | Spatial, Field(discriminator="kind")
]
CONDITION_KINDS = ("threshold", "rate", "no_data", "stuck", "anomaly", "count", "all", "any", "spatial")
LEAVES = (Threshold, Rate, NoData, Stuck, Anomaly)

for _m in (Count, All, Any_, Spatial):
    _m.model_rebuild()


def walk(cond: Any, path: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...], Any]]:
    """Every condition in a tree with its path below ``when`` (pre-order)."""
    yield path, cond
    if isinstance(cond, Count | Spatial):
        yield from walk(cond.when, (*path, "when"))
    elif isinstance(cond, All | Any_):
        for i, c in enumerate(cond.conditions):
            yield from walk(c, (*path, "conditions", i))


# -- the rule ------------------------------------------------------------------------------------


class RuleDef(_Model):
    """One rule. ``model_dump(mode="json")`` is JSON-storable and ``model_validate`` reads it back."""

    key: Slug
    name: Text
    enabled: bool = True
    scope: Scope = Scope()
    quantity: str | None = None
    when: Condition
    for_: Duration | None = Field(default=None, alias="for")
    labels: dict[str, str] = {}
    subject: Literal["device", "asset", "area"] = "device"
    summary: Templates = Templates()
    auto_incident: LevelName | Literal[False] = False
    severity_hint: str | None = None
    description: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(v) & RESERVED_LABELS)
        if bad:
            raise ValueError(f"labels {bad} are set by the engine; choose other names")
        for k in v:
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k):
                raise FieldProblem(f"label name {k!r} must be a word (letters, digits, _)", (k,))
        return v

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> RuleDef:
        root = self.when
        for path, cond in walk(root):
            where = ("when", *path)
            if isinstance(cond, Spatial) and path:
                raise FieldProblem("spatial must be the outermost condition", where)
            if isinstance(cond, NoData) and path:
                raise FieldProblem("no_data must be the whole condition (it fires on time, not on readings)", where)
            if isinstance(cond, LEAVES) and cond.quantity is None and self.quantity is None:
                raise FieldProblem("no quantity: set the rule's quantity or this condition's", (*where, "quantity"))
            if isinstance(cond, LEAVES) and not isinstance(cond, NoData) and ANY_QUANTITY in (cond.quantity,
                                                                                            self.quantity):
                raise FieldProblem(f"quantity {ANY_QUANTITY!r} (every quantity) is for no_data only",
                                   (*where, "quantity") if cond.quantity else ("quantity",))
        if isinstance(root, Spatial):
            if self.subject == "asset":
                raise FieldProblem("a spatial rule's subject is the area (cluster)", ("subject",))
            self.subject = "area"
        elif self.subject == "area":
            raise FieldProblem("subject area needs a spatial condition", ("subject",))
        known = (info.context or {}).get("known_quantities") if info else None
        if known:
            self._check_quantities(known)
        return self

    def _check_quantities(self, known: Mapping[str, Iterable[str]]) -> None:
        types = self.scope.device_type
        unknown_types = [t for t in types if t not in known]
        if unknown_types:
            i = types.index(unknown_types[0])
            raise FieldProblem(
                f"unknown device type {unknown_types[0]!r}; known: {', '.join(sorted(known))}",
                ("scope", "device_type", i) if len(types) > 1 else ("scope", "device_type"),
            )
        allowed = {q for t in (types or known) for q in known[t]} | {ANY_QUANTITY}
        if self.quantity is not None and self.quantity not in allowed:
            raise FieldProblem(self._unknown(self.quantity, types, allowed), ("quantity",))
        for path, cond in walk(self.when):
            q = getattr(cond, "quantity", None)
            if q is not None and q not in allowed:
                raise FieldProblem(self._unknown(q, types, allowed), ("when", *path, "quantity"))

    @staticmethod
    def _unknown(q: str, types: list[str], allowed: set[str]) -> str:
        where = f"device types {types}" if types else "any known device type"
        return f"unknown quantity {q!r} for {where}; known: {', '.join(sorted(allowed))}"

    def quantities(self) -> list[str]:
        """The quantities the rule reads, in order of first use."""
        out: list[str] = []
        for _, cond in walk(self.when):
            if isinstance(cond, LEAVES):
                q = cond.quantity or self.quantity
                if q is not None and q not in out:
                    out.append(q)
        return out

    @property
    def for_s(self) -> float:
        return duration_seconds(self.for_) if self.for_ else 0.0


class RuleSet(_Model):
    rules: list[RuleDef]
