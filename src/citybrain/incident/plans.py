"""Response plans (预案): versioned templates of tasks per incident type and level, and their instantiation.

A plan lists steps; each names one department (or an incident role), applies from a level upward (``level: II``
means at II and I), is due ``within`` a duration of the incident's start (or of the moment the level was
raised, ``relative_to: level``), and may wait for other steps (``depends_on``); steps with no dependency
between them run in parallel. ``parse_plan`` reads YAML and names the path, line and column of every problem;
``dump_plan`` writes YAML that reads back to an equal plan. ``instantiate`` turns a plan into tasks with
absolute deadlines; ``raise_level`` gives only the tasks a higher level adds.

>>> plan = starter_plans()["gas_leak"]
>>> from datetime import UTC, datetime
>>> tasks = instantiate(plan, datetime(2026, 3, 1, 8, 0, tzinfo=UTC), Level.YELLOW)
>>> tasks[0].department, tasks[0].deadline.strftime("%H:%M")
('fire', '08:15')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from citybrain.core.clock import parse_duration
from citybrain.incident.taxonomy import DEPARTMENT_CODES, INCIDENT_TYPES, RESOURCE_KINDS
from citybrain.warning.types import Level

__all__ = [
    "INCIDENT_ROLES", "Plan", "PlanError", "Problem", "Step", "TaskSpec", "dump_plan", "instantiate",
    "latest_plan", "parse_duration", "parse_plan", "raise_level", "resources_needed", "starter_plans", "validate_plan",
]

#: Roles a step may be assigned to instead of a department: the incident's commander, the operations
#: centre's duty officer, and the enterprise responsible for the site (企业主体责任).
INCIDENT_ROLES = ("commander", "duty_officer", "enterprise")


def _duration(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"not a duration: {v!r} (use e.g. 15m, 2h, 1h30m)")
    parse_duration(v)
    return v.strip()


class _AtPath(ValueError):
    """A model-level problem that knows which field below the model it is about."""

    def __init__(self, message: str, path: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.path = path


Duration = Annotated[str, BeforeValidator(_duration)]
LevelName = Annotated[Level, BeforeValidator(Level.parse), PlainSerializer(lambda lv: lv.roman, return_type=str)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A text in Chinese and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Resource(_Model):
    kind: Slug
    count: int = Field(default=1, ge=1, le=100)


class Step(_Model):
    """One step of a plan: who, from which level, due when, after what, with what."""

    key: Slug
    title: Text
    department: str | None = None
    role: str | None = None
    level: LevelName = Level.BLUE  # applies at this level and every more severe one
    within: Duration
    relative_to: Literal["start", "level"] = "start"
    depends_on: list[Slug] = []
    checklist: list[Text] = []
    notify: Text | None = None
    resources: list[Resource] = []

    @model_validator(mode="after")
    def _assignee(self, info: ValidationInfo) -> Step:
        if (self.department is None) == (self.role is None):
            raise _AtPath("give exactly one of department or role", ("department",))
        known = (info.context or {}).get("departments", DEPARTMENT_CODES)
        if self.department is not None and self.department not in known:
            raise _AtPath(f"unknown department {self.department!r}; known: {', '.join(known)}", ("department",))
        if self.role is not None and self.role not in INCIDENT_ROLES:
            raise _AtPath(f"unknown role {self.role!r}; known: {', '.join(INCIDENT_ROLES)}", ("role",))
        kinds = (info.context or {}).get("resource_kinds", RESOURCE_KINDS)
        for i, r in enumerate(self.resources):
            if r.kind not in kinds:
                raise _AtPath(f"unknown resource kind {r.kind!r}; known: {', '.join(kinds)}", ("resources", i, "kind"))
        return self

    @property
    def within_td(self) -> timedelta:
        return parse_duration(self.within)


class Plan(_Model):
    """A versioned plan for one incident type; ``criteria`` says in words what makes each level."""

    key: Slug
    version: int = Field(ge=1)
    incident_type: str
    name: Text
    description: Text | None = None
    criteria: dict[LevelName, Text] = {}
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.incident_type not in INCIDENT_TYPES:
            raise _AtPath(f"unknown incident type {self.incident_type!r}; known: {', '.join(INCIDENT_TYPES)}",
                          ("incident_type",))
        index: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.key in index:
                raise _AtPath(f"duplicate step key {step.key!r} (first at steps[{index[step.key]}])",
                              ("steps", i, "key"))
            index[step.key] = i
        for i, step in enumerate(self.steps):
            for j, dep in enumerate(step.depends_on):
                where = ("steps", i, "depends_on", j)
                if dep not in index:
                    raise _AtPath(f"depends on unknown step {dep!r}", where)
                if dep == step.key:
                    raise _AtPath("a step cannot depend on itself", where)
                other = self.steps[index[dep]]
                if other.level < step.level:  # the dependency only exists at more severe levels
                    raise _AtPath(f"depends on {dep!r}, which applies only from level {other.level.roman}, "
                                  f"but this step applies from {step.level.roman}", where)
                if other.relative_to == step.relative_to and step.within_td < other.within_td:
                    raise _AtPath(f"due within {step.within}, before {dep!r} it waits for ({other.within})",
                                  ("steps", i, "within"))
        cycle = _cycle({s.key: s.depends_on for s in self.steps})
        if cycle:
            raise _AtPath(f"dependency cycle: {' -> '.join(cycle)}", ("steps", index[cycle[0]], "depends_on"))
        return self

    def steps_at(self, level: Level) -> list[Step]:
        """Steps that apply at ``level``, in plan order."""
        return [s for s in self.steps if level <= s.level]


def _cycle(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One dependency cycle as a closed path, or []."""
    state: dict[str, int] = {}  # 1 on the stack, 2 finished
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return [*stack[stack.index(m):], m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return []

    for n in graph:
        if n not in state and (found := visit(n)):
            return found
    return []


# -- YAML in and out ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """Where a plan document is wrong (dotted path, 1-based line and column) and why."""

    path: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        at = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.path or '<document>'}{at}: {self.message}"


class PlanError(ValueError):
    """A plan document that does not validate; ``problems`` gives each one's position."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _path_text(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_at(root: yaml.Node | None, loc: tuple[str | int, ...], *, key: bool) -> yaml.Node | None:
    """The YAML node at ``loc`` (its key node when ``key``), or the deepest existing ancestor."""
    node = root
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(getattr(k, "value", None)) == str(part)), None)
            if pair is None:
                return node
            node = pair[0] if (last and key) else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _problems(exc: ValidationError, root: yaml.Node | None) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc: tuple[str | int, ...] = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _AtPath):
            loc, message = (*loc, *cause.path), str(cause)
        elif err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
        else:
            message = err["msg"].removeprefix("Value error, ")
        node = _node_at(root, loc, key=err["type"] == "extra_forbidden")
        mark = node.start_mark if node is not None else None
        out.append(Problem(_path_text(loc), mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                           message))
    return out


def parse_plan(text: str, *, departments: Iterable[str] | None = None) -> Plan:
    """A plan from YAML (or JSON); ``PlanError`` names the path, line and column of each problem.

    ``departments`` replaces the known department codes (a city with more departments).

    >>> try:
    ...     parse_plan("key: p\\nversion: 1\\nincident_type: fire\\nname: {zh: 火, en: Fire}\\n"
    ...                "steps:\\n  - {key: a, title: {zh: 甲, en: A}, department: fire, within: soon}\\n")
    ... except PlanError as exc:
    ...     print(exc.problems[0])
    steps[0].within (line 6, column 63): not a duration: 'soon' (use e.g. 30s, 10m, 2h, 1d, 1h30m)
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanError([Problem("", mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                                 f"not YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    if not isinstance(data, dict):
        raise PlanError([Problem("", 1, 1, "a plan is a mapping with key, version, incident_type, name and steps")])
    context = {"departments": tuple(departments)} if departments is not None else None
    try:
        return Plan.model_validate(data, context=context)
    except ValidationError as exc:
        raise PlanError(_problems(exc, root)) from None


def validate_plan(data: Mapping[str, Any], *, departments: Iterable[str] | None = None) -> Plan:
    """A plan from JSON-like data (an API body, a stored row); ``PlanError`` names the paths."""
    context = {"departments": tuple(departments)} if departments is not None else None
    try:
        return Plan.model_validate(data, context=context)
    except ValidationError as exc:
        raise PlanError(_problems(exc, None)) from None


def dump_plan(plan: Plan) -> str:
    """The plan as YAML that ``parse_plan`` reads back to an equal plan."""
    data = plan.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


@lru_cache(maxsize=1)
def _starter() -> tuple[Plan, ...]:
    folder = resources.files("citybrain.incident").joinpath("data").joinpath("plans")
    out = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            try:
                out.append(parse_plan(item.read_text(encoding="utf-8")))
            except PlanError as exc:
                raise PlanError([Problem(f"{item.name}: {p.path}", p.line, p.column, p.message)
                                 for p in exc.problems]) from None
    return tuple(out)


def starter_plans() -> dict[str, Plan]:
    """The shipped plans (``incident/data/plans/*.yaml``), by incident type."""
    return {p.incident_type: p for p in _starter()}


def latest_plan(plans: Iterable[Plan], incident_type: str) -> Plan | None:
    """The highest version among ``plans`` for ``incident_type``."""
    return max((p for p in plans if p.incident_type == incident_type), key=lambda p: p.version, default=None)


# -- instantiation ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task to create for an incident, with its absolute deadline; plain data for the service to store."""

    key: str
    title: Mapping[str, str]  # {"zh": ..., "en": ...}
    department: str | None
    role: str | None
    level: Level
    deadline: datetime
    depends_on: tuple[str, ...] = ()
    checklist: tuple[Mapping[str, str], ...] = ()
    notify: Mapping[str, str] | None = None
    resources: tuple[tuple[str, int], ...] = ()
    plan_key: str = ""
    plan_version: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


def _spec(plan: Plan, step: Step, start: datetime, raised_at: datetime) -> TaskSpec:
    base = raised_at if step.relative_to == "level" else start
    return TaskSpec(
        key=step.key,
        title=step.title.model_dump(),
        department=step.department,
        role=step.role,
        level=step.level,
        deadline=base + step.within_td,
        depends_on=tuple(step.depends_on),
        checklist=tuple(c.model_dump() for c in step.checklist),
        notify=step.notify.model_dump() if step.notify else None,
        resources=tuple((r.kind, r.count) for r in step.resources),
        plan_key=plan.key,
        plan_version=plan.version,
    )


def instantiate(plan: Plan, incident_start: datetime, level: Level) -> list[TaskSpec]:
    """The plan's tasks for an incident opened at ``level``, due relative to ``incident_start``."""
    level = Level.parse(level)
    return [_spec(plan, s, incident_start, incident_start) for s in plan.steps_at(level)]


def raise_level(plan: Plan, from_level: Level, to_level: Level, start: datetime, *,
                raised_at: datetime | None = None) -> list[TaskSpec]:
    """Only the tasks ``to_level`` adds to those already instantiated at ``from_level`` (none when lowering).

    Steps with ``relative_to: level`` are due relative to ``raised_at`` (default ``start``), the others
    relative to the incident's ``start``.
    """
    from_level, to_level = Level.parse(from_level), Level.parse(to_level)
    if to_level >= from_level:
        return []
    at = raised_at or start
    return [_spec(plan, s, start, at) for s in plan.steps if to_level <= s.level < from_level]


def resources_needed(tasks: Iterable[TaskSpec]) -> dict[str, int]:
    """Total count per resource kind across ``tasks`` (what dispatch should find units for)."""
    out: dict[str, int] = {}
    for t in tasks:
        for kind, count in t.resources:
            out[kind] = out.get(kind, 0) + count
    return out
