"""Warning rules: the language (``schema``, ``parsing``), its evaluators (``leaves``, ``conditions``,
``spatial``, ``subjects``) and the engine (``engine``).

``parse_rules(text)`` reads YAML/JSON rules (``RuleError`` names each problem's position);
``RuleEngine(rules).observe(observations)`` returns a ``Signal`` whenever a subject's state changes and
``tick(now)`` lets time pass. ``demo_rules()`` is the starter set shipped for the simulated fleet.
"""

from __future__ import annotations

from importlib import resources

from citybrain.warning.rules.engine import RuleEngine, RuleFailure
from citybrain.warning.rules.parsing import Problem, RuleError, dump_rules, parse_rules, validate_rule
from citybrain.warning.rules.schema import RuleDef, duration_seconds

__all__ = [
    "Problem",
    "RuleDef",
    "RuleEngine",
    "RuleError",
    "RuleFailure",
    "demo_rules",
    "demo_rules_text",
    "dump_rules",
    "duration_seconds",
    "parse_rules",
    "validate_rule",
]


def demo_rules_text() -> str:
    """The YAML of the starter rule set shipped with the package."""
    return resources.files(__package__).joinpath("demo_rules.yaml").read_text(encoding="utf-8")


def demo_rules() -> list[RuleDef]:
    """The starter rule set for the simulated Shanghai fleet, parsed."""
    return parse_rules(demo_rules_text())
