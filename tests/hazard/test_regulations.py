"""Regulations: the YAML format with positioned errors, the shipped starter set, updates by import."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from citybrain.core.errors import Invalid
from citybrain.hazard import regulations as regs
from citybrain.hazard.models import Regulation, RegulationClause

GOOD = """\
regulations:
  - code: local-gas-rule
    kind: rule
    title_zh: 某市燃气安全规定
    effective: 2024-01-01
    clauses:
      - number: 第十二条
        summary_en: "Summary: inspect valves yearly."
      - number: 附则一
        ordinal: 900
"""


def test_a_good_file_parses_with_derived_ordinals():
    [spec] = regs.parse(GOOD)
    assert (spec.code, spec.kind, str(spec.effective_on)) == ("local-gas-rule", "rule", "2024-01-01")
    assert [(c.number, c.ordinal, c.text_zh) for c in spec.clauses] == [("第十二条", 12, None), ("附则一", 900, None)]


@pytest.mark.parametrize("text, position", [
    (GOOD.replace("kind: rule", "kind: edict"), "line 3: regulations[0].kind"),
    (GOOD.replace("      - number: 附则一\n        ordinal: 900\n", "      - number: 附则一\n"),
     "line 9: regulations[0].clauses[1].ordinal"),
    (GOOD.replace("    title_zh: 某市燃气安全规定\n", ""), "line 2: regulations[0].title_zh"),
    (GOOD.replace("effective: 2024-01-01", "effective: soon"), "line 5: regulations[0].effective"),
    (GOOD.replace("        summary_en", "        sumary_en"), "line 8: regulations[0].clauses[0].sumary_en"),
    (GOOD.replace("第十二条", "第十二条\n        ordinal: 900"), "line 11: regulations[0].clauses[1].ordinal"),
    ("regulations: [a: b: c", "line 1"),
    ("- just a list\n", "regulations"),
])
def test_errors_name_the_position(text: str, position: str):
    with pytest.raises(Invalid) as caught:
        regs.parse(text, source="x.yaml")
    assert caught.value.errors[0].field == position, caught.value.errors
    assert caught.value.detail.startswith("x.yaml: ")


def test_the_shipped_set_is_valid_and_cites_the_articles_on_hazards():
    specs = {s.code: s for s in regs.parse(regs.STARTER.read_text(encoding="utf-8"))}
    law = specs["work-safety-law-2021"]
    assert (law.number, str(law.effective_on)) == ("主席令第88号", "2021-09-01")
    assert {41, 102} <= {c.ordinal for c in law.clauses}
    assert "hazard-rules-sawsa-16" in specs and "fire-protection-law" in specs and "urban-gas-regulation" in specs
    for spec in specs.values():  # nothing claims to be the legal text; every summary says it is one
        for c in spec.clauses:
            assert c.text_zh is None and c.summary_en and c.summary_en.startswith("Summary:")


def test_seed_is_idempotent_and_import_updates(session, clock):
    now = clock.now()
    # first-run preparation seeded the starter set already; seeding again adds nothing
    assert regs.seed(session=session, now=now) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Regulation)) == 4
    n_clauses = session.scalar(sa.select(sa.func.count()).select_from(RegulationClause))
    result = regs.import_text(session=session, now=now, text=GOOD)
    assert (result.regulations_added, result.clauses_added) == (1, 2)
    changed = GOOD.replace("inspect valves yearly", "inspect valves twice a year").replace(
        "title_zh: 某市燃气安全规定", "title_zh: 某市燃气安全管理规定")
    result = regs.import_text(session=session, now=now, text=changed)
    assert (result.regulations_updated, result.clauses_updated, result.clauses_added) == (1, 1, 0)
    reg = session.scalar(sa.select(Regulation).where(Regulation.code == "local-gas-rule"))
    assert reg is not None and reg.title_zh == "某市燃气安全管理规定"
    assert session.scalar(sa.select(sa.func.count()).select_from(RegulationClause)) == n_clauses + 2
    assert [r.code for r in regs.list_regulations(session=session, kind="law")] == [
        "fire-protection-law", "work-safety-law-2021"]
