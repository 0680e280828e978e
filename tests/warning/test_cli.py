"""The rule and CAP commands as a user runs them."""

from __future__ import annotations

from typer.testing import CliRunner

from citybrain.cli import app
from tests.support import shared_data

runner = CliRunner()


def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "cli-admin-password-1")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


def test_rules_seed_export_validate_import(tmp_path, monkeypatch):
    _env(tmp_path, monkeypatch)
    seeded = runner.invoke(app, ["rules", "seed"])
    assert seeded.exit_code == 0 and "installed" in seeded.output
    assert "nothing installed" in runner.invoke(app, ["rules", "seed"]).output
    exported = runner.invoke(app, ["rules", "export"])
    assert exported.exit_code == 0 and "rules:" in exported.output
    path = tmp_path / "rules.yaml"
    path.write_text(exported.output, encoding="utf-8")
    ok = runner.invoke(app, ["rules", "validate", str(path)])
    assert ok.exit_code == 0 and "rules OK" in ok.output
    again = runner.invoke(app, ["rules", "import", str(path)])
    assert again.exit_code == 0 and "created 0" in again.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - key: x\n    name: {zh: 甲, en: a}\n    quantity: methane\n"
                   "    when: {kind: threshold, levels: {red: 5, blue: 50}}\n", encoding="utf-8")
    refused = runner.invoke(app, ["rules", "validate", str(bad)])
    assert refused.exit_code == 1 and "bad.yaml:5" in refused.output


def test_import_cap(tmp_path, monkeypatch):
    _env(tmp_path, monkeypatch)
    examples = shared_data() / "cap" / "examples"
    ok = runner.invoke(app, ["import", "cap", str(examples / "weather.cap")])
    assert ok.exit_code == 0, ok.output
    refused = runner.invoke(app, ["import", "cap", str(examples / "xee.cap")])
    assert refused.exit_code == 1 and "refused" in refused.output
