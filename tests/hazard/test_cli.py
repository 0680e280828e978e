"""`citybrain hazard …` as a user runs it, against the test database."""

from __future__ import annotations

from typer.testing import CliRunner

from citybrain.cli import app
from tests.hazard.test_regulations import GOOD

runner = CliRunner()


def test_import_list_and_sweep(database, tmp_path, monkeypatch):
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", database.url)
    bad, good = tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text(GOOD.replace("kind: rule", "kind: edict"), encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["hazard", "regulations", "import", str(bad)])
    assert result.exit_code == 1 and "line 3: regulations[0].kind" in result.output
    result = runner.invoke(app, ["hazard", "regulations", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "clauses: 2 added" in result.output
    listed = runner.invoke(app, ["hazard", "regulations", "list"])
    assert listed.exit_code == 0 and "local-gas-rule" in listed.output
    swept = runner.invoke(app, ["hazard", "sweep"])
    assert swept.exit_code == 0 and "0 reminder(s)/escalation(s) recorded" in swept.output
