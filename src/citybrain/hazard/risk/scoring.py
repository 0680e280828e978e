"""Risk assessment as pure arithmetic: the LEC method and the 5 × 5 likelihood × severity matrix.

LEC (作业条件危险性评价法) multiplies three factors taken from fixed value sets, D = L × E × C:
L (likelihood of an accident), E (exposure frequency) and C (consequence). The matrix multiplies a
likelihood and a severity of 1–5 each. A score falls into a band, and a band names a level on the national
four-colour scale (red 重大 / orange 较大 / yellow 一般 / blue 低).

Bands are data (``Band``) and replaceable (the ``risk_config`` table keeps the city's own); ``check_bands``
refuses a set that overlaps, leaves a gap or does not cover the method's range. LEC scores are continuous
and a band holds ``low <= D < high`` (the top band also its ``high``); matrix scores are whole numbers and a
band holds ``low..high`` inclusive, so the next band starts at ``high + 1``.

>>> r = assess("lec", {"L": 6, "E": 6, "C": 15})
>>> r.score, r.level, r.band.name_zh
(540.0, 'red', '极其危险')
>>> r = assess("matrix", {"likelihood": 3, "severity": 4})
>>> r.score, r.level, r.band.name_zh
(12.0, 'yellow', '一般')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_BANDS", "LEC_C", "LEC_E", "LEC_L", "LEVELS", "LEVEL_NAMES", "MATRIX_VALUES", "METHODS", "Assessment",
    "Band", "Problem", "ScoringError", "assess", "band_for", "bands_from_json", "bands_to_json", "check_bands",
    "factor_values", "score_range",
]

LEC_L = (0.1, 0.2, 0.5, 1.0, 3.0, 6.0, 10.0)
LEC_E = (0.5, 1.0, 2.0, 3.0, 6.0, 10.0)
LEC_C = (1.0, 3.0, 7.0, 15.0, 40.0, 100.0)
MATRIX_VALUES = (1, 2, 3, 4, 5)
METHODS = ("lec", "matrix")
LEVELS = ("red", "orange", "yellow", "blue")  # most severe first
#: The national four-colour names of a level (重大/较大/一般/低风险).
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "red": ("重大风险", "major risk"),
    "orange": ("较大风险", "significant risk"),
    "yellow": ("一般风险", "moderate risk"),
    "blue": ("低风险", "low risk"),
}
_FACTORS: dict[str, dict[str, tuple[float, ...]]] = {
    "lec": {"L": LEC_L, "E": LEC_E, "C": LEC_C},
    "matrix": {"likelihood": tuple(float(v) for v in MATRIX_VALUES),
               "severity": tuple(float(v) for v in MATRIX_VALUES)},
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad input: ``field`` is relative (``L``, ``bands[2].high``), ``message`` says what is wrong."""

    field: str
    message: str


class ScoringError(ValueError):
    """Refused factors or bands; ``problems`` name each bad field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float
    level: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Assessment:
    method: str
    factors: dict[str, float]
    score: float
    band: Band
    formula: str = field(default="")

    @property
    def level(self) -> str:
        return self.band.level


DEFAULT_BANDS: dict[str, tuple[Band, ...]] = {
    "lec": (
        Band(0.0, 20.0, "blue", "稍有危险", "slightly dangerous"),
        Band(20.0, 70.0, "blue", "一般危险", "possibly dangerous"),
        Band(70.0, 160.0, "yellow", "显著危险", "significantly dangerous"),
        Band(160.0, 320.0, "orange", "高度危险", "highly dangerous"),
        Band(320.0, 10000.0, "red", "极其危险", "extremely dangerous"),
    ),
    "matrix": (
        Band(1, 8, "blue", "低", "low"),
        Band(9, 14, "yellow", "一般", "moderate"),
        Band(15, 19, "orange", "较大", "significant"),
        Band(20, 25, "red", "重大", "major"),
    ),
}


def score_range(method: str) -> tuple[float, float]:
    """The lowest and highest score the method can give.

    >>> score_range("lec"), score_range("matrix")
    ((0.05, 10000.0), (1.0, 25.0))
    """
    lo = hi = 1.0
    for values in _FACTORS[_method(method)].values():
        lo, hi = lo * min(values), hi * max(values)
    return round(lo, 6), round(hi, 6)


def factor_values(method: str) -> dict[str, list[float]]:
    """Each factor of ``method`` and the values it may take.

    >>> factor_values("matrix")["severity"]
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    return {k: list(v) for k, v in _FACTORS[_method(method)].items()}


def _method(method: str) -> str:
    if method not in METHODS:
        raise ScoringError([Problem("method", f"one of {', '.join(METHODS)}")])
    return method


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(str(value).strip()) if isinstance(value, str) else None
        except ValueError:
            return None
    return float(value)


def _factors(method: str, factors: Mapping[str, Any]) -> dict[str, float]:
    allowed = _FACTORS[method]
    problems = [Problem(str(k), f"not a factor of {method} (use {', '.join(allowed)})")
                for k in factors if k not in allowed]
    out: dict[str, float] = {}
    for name, values in allowed.items():
        if name not in factors:
            problems.append(Problem(name, "missing"))
            continue
        v = _number(factors[name])
        if v is None or not any(abs(v - x) < 1e-9 for x in values):
            shown = ", ".join(f"{x:g}" for x in values)
            problems.append(Problem(name, f"{factors[name]!r} is not one of {shown}"))
            continue
        out[name] = v
    if problems:
        raise ScoringError(problems)
    return out


def band_for(score: float, bands: Sequence[Band], method: str) -> Band:
    """The band holding ``score`` (bands already checked by ``check_bands``).

    >>> band_for(70, DEFAULT_BANDS["lec"], "lec").name_zh, band_for(69.9, DEFAULT_BANDS["lec"], "lec").name_zh
    ('显著危险', '一般危险')
    """
    ordered = sorted(bands, key=lambda b: b.low)
    for i, b in enumerate(ordered):
        last = i == len(ordered) - 1
        if method == "matrix" and b.low <= score <= b.high:
            return b
        if method != "matrix" and b.low <= score and (score < b.high or (last and score <= b.high)):
            return b
    raise ScoringError([Problem("score", f"{score:g} is in no band")])


def assess(method: str, factors: Mapping[str, Any], bands: Sequence[Band] | None = None) -> Assessment:
    """Score ``factors`` by ``method`` and place the score in ``bands`` (the defaults when None).

    Out-of-range or unknown factors raise ``ScoringError`` naming each factor.

    >>> assess("lec", {"L": 3, "E": 6, "C": 7}).score
    126.0
    >>> try:
    ...     assess("lec", {"L": 4, "E": 6, "C": 7})
    ... except ScoringError as exc:
    ...     print(exc.problems[0].field, "-", exc.problems[0].message)
    L - 4 is not one of 0.1, 0.2, 0.5, 1, 3, 6, 10
    >>> assess("matrix", {"likelihood": 5, "severity": 4}).level
    'red'
    """
    method = _method(method)
    f = _factors(method, factors)
    score = 1.0
    for v in f.values():
        score *= v
    score = round(score, 6)
    band = band_for(score, bands if bands is not None else DEFAULT_BANDS[method], method)
    formula = " × ".join(f"{k}={v:g}" for k, v in f.items())
    return Assessment(method, f, score, band, f"{'D' if method == 'lec' else 'R'} = {formula} = {score:g}")


def check_bands(method: str, bands: Sequence[Band]) -> tuple[Band, ...]:
    """Bands sorted by ``low`` if they are contiguous, do not overlap and cover the method's range.

    >>> check_bands("matrix", [Band(1, 10, "blue", "低", "low"), Band(11, 25, "red", "高", "high")])[1].low
    11
    >>> try:
    ...     check_bands("matrix", [Band(1, 10, "blue", "低", "low"), Band(12, 25, "red", "高", "high")])
    ... except ScoringError as exc:
    ...     print(exc.problems[0].field, "-", exc.problems[0].message)
    bands[1].low - leaves a gap: the band before ends at 10, so this one must start at 11
    """
    method = _method(method)
    lo, hi = score_range(method)
    problems: list[Problem] = []
    if not bands:
        raise ScoringError([Problem("bands", "at least one band is needed")])
    order = sorted(range(len(bands)), key=lambda i: (bands[i].low, bands[i].high))
    for i, b in enumerate(bands):
        if b.level not in LEVELS:
            problems.append(Problem(f"bands[{i}].level", f"one of {', '.join(LEVELS)}"))
        if not b.name_zh.strip() or not b.name_en.strip():
            problems.append(Problem(f"bands[{i}].name_zh" if not b.name_zh.strip() else f"bands[{i}].name_en",
                                    "a name is needed"))
        if method == "matrix" and (b.low != int(b.low) or b.high != int(b.high)):
            problems.append(Problem(f"bands[{i}].low", "matrix bands are whole numbers"))
        if b.high < b.low or (method == "lec" and b.high == b.low):
            problems.append(Problem(f"bands[{i}].high", f"must be above low ({b.low:g})"))
    step = 1 if method == "matrix" else 0
    for prev_i, i in zip(order, order[1:], strict=False):
        want = bands[prev_i].high + step
        if bands[i].low < want:
            problems.append(Problem(f"bands[{i}].low", f"overlaps the band ending at {bands[prev_i].high:g}"))
        elif bands[i].low > want:
            problems.append(Problem(f"bands[{i}].low", f"leaves a gap: the band before ends at "
                                                       f"{bands[prev_i].high:g}, so this one must start at {want:g}"))
    if bands[order[0]].low > lo:
        problems.append(Problem(f"bands[{order[0]}].low", f"the lowest band must start at or below {lo:g}"))
    if bands[order[-1]].high < hi:
        problems.append(Problem(f"bands[{order[-1]}].high", f"the highest band must reach {hi:g}"))
    if problems:
        raise ScoringError(problems)
    return tuple(bands[i] for i in order)


def bands_to_json(bands: Sequence[Band]) -> list[dict[str, Any]]:
    return [{"low": b.low, "high": b.high, "level": b.level, "name_zh": b.name_zh, "name_en": b.name_en}
            for b in bands]


def bands_from_json(rows: Sequence[Mapping[str, Any]]) -> list[Band]:
    """Bands from stored or submitted JSON; a missing or mistyped field is a ``ScoringError`` naming it."""
    out, problems = [], []
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            problems.append(Problem(f"bands[{i}]", "an object with low, high, level, name_zh, name_en"))
            continue
        low, high = _number(r.get("low")), _number(r.get("high"))
        if low is None:
            problems.append(Problem(f"bands[{i}].low", "a number is needed"))
        if high is None:
            problems.append(Problem(f"bands[{i}].high", "a number is needed"))
        if low is not None and high is not None:
            out.append(Band(low, high, str(r.get("level", "")), str(r.get("name_zh", "")), str(r.get("name_en", ""))))
    if problems:
        raise ScoringError(problems)
    return out
