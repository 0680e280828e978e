"""Regulations (法规) and their clauses: imported from a structured YAML file, seeded from the shipped starter set.

The file is a mapping with a ``regulations`` list; each regulation has ``code``, ``kind`` (law, regulation,
rule, standard), ``title_zh`` and optionally ``title_en``, ``issuer``, ``number`` (主席令第88号), ``effective``
(a date) and ``clauses``: each with ``number`` (第四十一条), optionally ``ordinal`` (derived from the number
when omitted), ``text_zh`` (only the exact official text) and ``summary_en``. Every error names its position
(``line 12: regulations[1].clauses[0].number: …``). Importing updates regulations and clauses it names and
never deletes a clause (hazards and enforcement actions may cite it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.hazard.models import Regulation, RegulationClause

KINDS = ("law", "regulation", "rule", "standard")
KIND_NAMES = {"law": ("法律", "law"), "regulation": ("行政法规", "administrative regulation"),
              "rule": ("部门规章", "departmental rule"), "standard": ("标准", "standard")}
STARTER = Path(__file__).parent / "data" / "regulations.yaml"
_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_ordinal(number: str) -> int | None:
    """The article number in ``第四十一条`` (or ``第41条``); None if it is not of that shape.

    >>> [chinese_ordinal(n) for n in ("第四十一条", "第十条", "第一百零二条", "第41条", "5.1")]
    [41, 10, 102, 41, None]
    """
    m = re.fullmatch(r"第(.+?)条", number.strip())
    if not m:
        return None
    body = m.group(1)
    if body.isdigit():
        return int(body)
    total, digit = 0, None
    for ch in body:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            return None
    total += digit or 0
    return total or None


# -- parsing with positions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClauseSpec:
    number: str
    ordinal: int
    text_zh: str | None = None
    summary_en: str | None = None


@dataclass(frozen=True, slots=True)
class RegulationSpec:
    code: str
    kind: str
    title_zh: str
    title_en: str = ""
    issuer: str = ""
    number: str = ""
    effective_on: date | None = None
    clauses: tuple[ClauseSpec, ...] = field(default_factory=tuple)


class _Doc:
    """YAML values with the line each path starts on, so errors can name the position."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}
        self.errors: list[FieldError] = []
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "file"
            raise Invalid(f"{source}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})",
                          errors=[FieldError(where, "not valid YAML")]) from None
        self.value = self._walk(node, "") if node is not None else None

    def _walk(self, node: yaml.Node, path: str) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in node.value:
                key = str(k.value)
                out[key] = self._walk(v, f"{path}.{key}" if path else key)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._walk(v, f"{path}[{i}]") for i, v in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node)

    def error(self, path: str, message: str) -> None:
        line = self.lines.get(path) or self.lines.get(path.rsplit(".", 1)[0])
        self.errors.append(FieldError(f"line {line}: {path}" if line else path, message))


def _text(doc: _Doc, item: dict[str, Any], key: str, path: str, *, required: bool = False,
          limit: int = 300) -> str | None:
    v = item.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            doc.error(f"{path}.{key}", "required")
        return None
    if not isinstance(v, str | int | float) or isinstance(v, bool):
        doc.error(f"{path}.{key}", "must be text")
        return None
    s = str(v).strip()
    if len(s) > limit:
        doc.error(f"{path}.{key}", f"longer than {limit} characters")
        return None
    return s


def parse(text: str, *, source: str = "regulations.yaml") -> list[RegulationSpec]:
    """Validate a regulations document; ``Invalid`` lists every error with its line and path.

    >>> parse("regulations:\\n  - code: x\\n    kind: law\\n    clauses:\\n      - number: 第三条\\n")
    Traceback (most recent call last):
    ...
    citybrain.core.errors.Invalid: regulations.yaml: line 2: regulations[0].title_zh: required
    """
    doc = _Doc(text, source)
    root = doc.value
    if not isinstance(root, dict) or not isinstance(root.get("regulations"), list):
        raise Invalid(f"{source}: a mapping with a 'regulations' list is needed",
                      errors=[FieldError("regulations", "a list of regulations is needed")])
    known = {"code", "kind", "title_zh", "title_en", "issuer", "number", "effective", "clauses"}
    clause_keys = {"number", "ordinal", "text_zh", "summary_en"}
    specs: list[RegulationSpec] = []
    codes: set[str] = set()
    for i, item in enumerate(root["regulations"]):
        path = f"regulations[{i}]"
        if not isinstance(item, dict):
            doc.error(path, "must be a mapping")
            continue
        for extra in sorted(set(item) - known):
            doc.error(f"{path}.{extra}", "unknown field")
        code = _text(doc, item, "code", path, required=True, limit=60)
        if code is not None and not _CODE.match(code):
            doc.error(f"{path}.code", "lower-case letters, digits, '.', '_' or '-'")
        elif code is not None and code in codes:
            doc.error(f"{path}.code", f"{code!r} appears twice")
        codes.add(code or "")
        kind = _text(doc, item, "kind", path, required=True)
        if kind is not None and kind not in KINDS:
            doc.error(f"{path}.kind", f"one of {', '.join(KINDS)}")
        title_zh = _text(doc, item, "title_zh", path, required=True, limit=200)
        effective = item.get("effective")
        if effective is not None and not isinstance(effective, date):
            doc.error(f"{path}.effective", "a date such as 2021-09-01")
            effective = None
        clauses: list[ClauseSpec] = []
        ordinals: set[int] = set()
        raw_clauses = item.get("clauses") or []
        if not isinstance(raw_clauses, list):
            doc.error(f"{path}.clauses", "must be a list")
            raw_clauses = []
        for j, c in enumerate(raw_clauses):
            cpath = f"{path}.clauses[{j}]"
            if not isinstance(c, dict):
                doc.error(cpath, "must be a mapping")
                continue
            for extra in sorted(set(c) - clause_keys):
                doc.error(f"{cpath}.{extra}", "unknown field")
            number = _text(doc, c, "number", cpath, required=True, limit=40)
            ordinal = c.get("ordinal")
            if ordinal is None and number is not None:
                ordinal = chinese_ordinal(number)
                if ordinal is None:
                    doc.error(f"{cpath}.ordinal", f"cannot derive it from {number!r}: give it")
            elif ordinal is not None and (not isinstance(ordinal, int) or isinstance(ordinal, bool) or ordinal < 1):
                doc.error(f"{cpath}.ordinal", "a positive integer")
                ordinal = None
            if ordinal is not None and ordinal in ordinals:
                doc.error(f"{cpath}.ordinal", f"{ordinal} appears twice in this regulation")
            text_zh = _text(doc, c, "text_zh", cpath, limit=20_000)
            summary = _text(doc, c, "summary_en", cpath, limit=2_000)
            if number is not None and isinstance(ordinal, int):
                ordinals.add(ordinal)
                clauses.append(ClauseSpec(number, ordinal, text_zh, summary))
        if code and kind in KINDS and title_zh:
            specs.append(RegulationSpec(code, kind, title_zh, _text(doc, item, "title_en", path) or "",
                                        _text(doc, item, "issuer", path, limit=200) or "",
                                        _text(doc, item, "number", path, limit=80) or "", effective, tuple(clauses)))
    if doc.errors:
        first = doc.errors[0]
        raise Invalid(f"{source}: {first.field}: {first.message}"
                      + (f" (and {len(doc.errors) - 1} more)" if len(doc.errors) > 1 else ""), errors=doc.errors)
    return specs


# -- storing -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    regulations_added: int
    regulations_updated: int
    clauses_added: int
    clauses_updated: int


def store(*, session: Session, now: datetime, specs: Sequence[RegulationSpec], update: bool = True) -> ImportResult:
    """Insert new regulations and clauses; with ``update``, also rewrite the ones named (by code, ordinal)."""
    existing = {r.code: r for r in session.scalars(sa.select(Regulation))}
    reg_added = reg_updated = cl_added = cl_updated = 0
    for spec in specs:
        reg = existing.get(spec.code)
        fields = dict(kind=spec.kind, title_zh=spec.title_zh, title_en=spec.title_en, issuer=spec.issuer,
                      number=spec.number, effective_on=spec.effective_on)
        if reg is None:
            reg = Regulation(code=spec.code, created_at=now, updated_at=now, **fields)
            session.add(reg)
            session.flush()
            reg_added += 1
        elif update:
            changed = any(getattr(reg, k) != v for k, v in fields.items())
            if changed:
                for k, v in fields.items():
                    setattr(reg, k, v)
                reg.updated_at = now
                reg_updated += 1
        else:
            continue
        have = {c.ordinal: c for c in session.scalars(sa.select(RegulationClause)
                                                      .where(RegulationClause.regulation_id == reg.id))}
        for c in spec.clauses:
            row = have.get(c.ordinal)
            if row is None:
                session.add(RegulationClause(regulation_id=reg.id, number=c.number, ordinal=c.ordinal,
                                             text_zh=c.text_zh, summary_en=c.summary_en))
                cl_added += 1
            elif (row.number, row.text_zh, row.summary_en) != (c.number, c.text_zh, c.summary_en):
                row.number, row.text_zh, row.summary_en = c.number, c.text_zh, c.summary_en
                cl_updated += 1
    session.flush()
    return ImportResult(reg_added, reg_updated, cl_added, cl_updated)


def import_text(*, session: Session, now: datetime, text: str, source: str = "regulations.yaml") -> ImportResult:
    """Validate and store a regulations document (updating what it names)."""
    return store(session=session, now=now, specs=parse(text, source=source))


def seed(*, session: Session, now: datetime) -> int:
    """Add the shipped starter regulations that are missing (idempotent); return how many were added."""
    specs = parse(STARTER.read_text(encoding="utf-8"), source=STARTER.name)
    return store(session=session, now=now, specs=specs, update=False).regulations_added


# -- reading -------------------------------------------------------------------------------------------


def list_regulations(*, session: Session, kind: str | None = None, q: str | None = None) -> list[Regulation]:
    stmt = sa.select(Regulation)
    if kind:
        stmt = stmt.where(Regulation.kind == kind)
    if q:
        stmt = stmt.where(sa.or_(Regulation.title_zh.contains(q), Regulation.title_en.contains(q),
                                 Regulation.code.contains(q)))
    return list(session.scalars(stmt.order_by(Regulation.kind, Regulation.code)))


def get_regulation_or_raise(*, session: Session, regulation_id: int) -> Regulation:
    reg = session.get(Regulation, regulation_id)
    if reg is None:
        raise NotFound(f"regulation {regulation_id} not found")
    return reg


def clauses_of(*, session: Session, regulation_ids: Sequence[int]) -> dict[int, list[RegulationClause]]:
    out: dict[int, list[RegulationClause]] = {i: [] for i in regulation_ids}
    if regulation_ids:
        for c in session.scalars(sa.select(RegulationClause).where(RegulationClause.regulation_id.in_(regulation_ids))
                                 .order_by(RegulationClause.ordinal)):
            out[c.regulation_id].append(c)
    return out


def get_clause_or_raise(*, session: Session, clause_id: int) -> RegulationClause:
    c = session.get(RegulationClause, clause_id)
    if c is None:
        raise NotFound(f"clause {clause_id} not found")
    return c


def check_clause_ids(*, session: Session, clause_ids: Sequence[int], field: str) -> list[int]:
    """The distinct ids, all existing; ``Invalid`` naming ``field`` otherwise."""
    ids = sorted(set(clause_ids))
    if not ids:
        return []
    found = set(session.scalars(sa.select(RegulationClause.id).where(RegulationClause.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"unknown clause ids {missing}", errors=[FieldError(field, f"no clause with id {missing[0]}")])
    return ids


def clause_dict(c: RegulationClause, reg: Regulation | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": c.id, "regulation_id": c.regulation_id, "number": c.number, "ordinal": c.ordinal,
                           "text_zh": c.text_zh, "summary_en": c.summary_en}
    if reg is not None:
        out["regulation_code"], out["regulation_title_zh"], out["regulation_title_en"] = (
            reg.code, reg.title_zh, reg.title_en)
    return out


def regulation_dict(r: Regulation, clauses: Sequence[RegulationClause] | None = None) -> dict[str, Any]:
    zh, en = KIND_NAMES.get(r.kind, (r.kind, r.kind))
    out: dict[str, Any] = {"id": r.id, "code": r.code, "kind": r.kind, "kind_zh": zh, "kind_en": en,
                           "title_zh": r.title_zh, "title_en": r.title_en, "issuer": r.issuer, "number": r.number,
                           "effective_on": r.effective_on}
    if clauses is not None:
        out["clauses"] = [clause_dict(c) for c in clauses]
        out["clause_count"] = len(clauses)
    return out


def clauses_by_id(*, session: Session, clause_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Clauses with their regulation's code and titles, for showing what a hazard or action cites."""
    if not clause_ids:
        return []
    rows = session.execute(sa.select(RegulationClause, Regulation).join(Regulation)
                           .where(RegulationClause.id.in_(list(clause_ids)))
                           .order_by(Regulation.code, RegulationClause.ordinal))
    return [clause_dict(c, r) for c, r in rows]
