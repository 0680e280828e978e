"""Reading and writing rule documents: YAML/JSON in, ``RuleDef`` out, every problem with its position.

Pydantic validates; the composed YAML nodes give each problem's line and column, found by following the
error's location through the document (union tags dropped, unknown keys pointed at their key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from citybrain.warning.rules.schema import CONDITION_KINDS, FieldProblem, RuleDef

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same result, faster

@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a rule document was refused: where (path, 1-based line and column) and why."""

    path: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        at = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.path or '<document>'}{at}: {self.message}"


class RuleError(ValueError):
    """Rules that do not parse; ``problems`` names each one's position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def format_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(node: yaml.Node | None, loc: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], yaml.Node | None]:
    """Follow ``loc`` through composed YAML nodes; drop union tags; return the clean path and deepest node."""
    clean: list[str | int] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                kind = next((v.value for k, v in node.value if getattr(k, "value", None) == "kind"), None)
                if part == kind or part in CONDITION_KINDS:
                    continue  # pydantic's tag of a discriminated union, not a key
                key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
                clean.append(part)
                return tuple(clean), key or node
            clean.append(part)
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            clean.append(part)
            if part >= len(node.value):
                return tuple(clean), node
            node = node.value[part]
        else:
            if isinstance(part, str) and part in CONDITION_KINDS:
                continue
            clean.append(part)
    return tuple(clean), node


def _key_node(node: yaml.Node | None, parent: yaml.Node | None, name: str | int) -> yaml.Node | None:
    """For an unknown field the useful position is its key, not its value."""
    if isinstance(parent, yaml.MappingNode):
        return next((k for k, _ in parent.value if getattr(k, "value", None) == name), node)
    return node


def _problems(exc: ValidationError, root: yaml.Node | None, prefix: tuple[str | int, ...]) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc = (*loc, *cause.subpath)
        message = str(cause) if isinstance(cause, FieldProblem) else err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
        elif err["type"] == "union_tag_invalid":
            message = f"unknown condition kind {err['input'].get('kind')!r}; known: {', '.join(CONDITION_KINDS)}"
        elif err["type"] == "union_tag_not_found":
            message = f"a condition needs a kind: one of {', '.join(CONDITION_KINDS)}"
        clean, node = _locate(root, loc)
        if err["type"] == "extra_forbidden" and len(clean) >= 1:
            _, parent = _locate(root, clean[:-1])
            node = _key_node(node, parent, clean[-1])
        mark = node.start_mark if node is not None else None
        out.append(
            Problem(
                format_path((*prefix, *clean)),
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
                message,
            )
        )
    return out


def parse_rules(text: str, *, known_quantities: Mapping[str, Iterable[str]] | None = None) -> list[RuleDef]:
    """Rules from a YAML (or JSON) document: a list of rules or a mapping with ``rules:``.

    Raises ``RuleError`` listing every problem with its path (``rules[2].when.levels.red``), line and
    column. ``known_quantities`` maps device type -> its quantities, to refuse quantities a scoped device
    type does not report.

    >>> try:
    ...     parse_rules("- {key: x, name: {zh: 甲, en: X}, quantity: q, when: {kind: nope}}")
    ... except RuleError as exc:
    ...     print(exc.problems[0].path, exc.problems[0].line, exc.problems[0].column)
    rules[0].when 1 53
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 -- a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        msg = f"{getattr(exc, 'problem', None) or exc}"
        raise RuleError(
            [Problem("", mark.line + 1 if mark else None, mark.column + 1 if mark else None, f"not YAML: {msg}")]
        ) from None
    if data is None:
        return []
    rules_node: yaml.Node | None = root
    if isinstance(data, dict):
        if set(data) != {"rules"}:
            extra = sorted(set(data) - {"rules"})
            node = _key_node(None, root, extra[0]) if extra else root
            m = node.start_mark if node is not None else None
            raise RuleError(
                [Problem(extra[0] if extra else "rules", m.line + 1 if m else None, m.column + 1 if m else None,
                         "a rule document is a list of rules or a mapping with the one key 'rules'")]
            )
        data = data["rules"] or []
        rules_node = _locate(root, ("rules",))[1]
    if not isinstance(data, list):
        raise RuleError([Problem("rules", 1, 1, "rules must be a list")])
    context = {"known_quantities": dict(known_quantities)} if known_quantities else None
    problems: list[Problem] = []
    out: list[RuleDef] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        try:
            rule = RuleDef.model_validate(item, context=context)
        except ValidationError as exc:
            node = rules_node.value[i] if isinstance(rules_node, yaml.SequenceNode) else None
            problems.extend(_problems(exc, node, ("rules", i)))
            continue
        if rule.key in seen:
            node = rules_node.value[i] if isinstance(rules_node, yaml.SequenceNode) else None
            _, knode = _locate(node, ("key",))
            m = knode.start_mark if knode is not None else None
            problems.append(Problem(f"rules[{i}].key", m.line + 1 if m else None, m.column + 1 if m else None,
                                    f"duplicate key {rule.key!r} (first at rules[{seen[rule.key]}])"))
        seen[rule.key] = i
        out.append(rule)
    if problems:
        raise RuleError(problems)
    return out


def validate_rule(data: Mapping[str, Any], *, known_quantities: Mapping[str, Iterable[str]] | None = None) -> RuleDef:
    """One rule from JSON-like data (e.g. an API body or a stored row); ``RuleError`` names the paths."""
    context = {"known_quantities": dict(known_quantities)} if known_quantities else None
    try:
        return RuleDef.model_validate(data, context=context)
    except ValidationError as exc:
        raise RuleError(_problems(exc, None, ())) from None


def dump_rules(rules: Iterable[RuleDef]) -> str:
    """Rules as a YAML document (``rules:`` list) that ``parse_rules`` reads back to equal rules."""
    docs = [r.model_dump(mode="json", exclude_defaults=True) for r in rules]
    return yaml.safe_dump({"rules": docs}, allow_unicode=True, sort_keys=False, width=120)
