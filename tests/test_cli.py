"""The citybrain command as a user runs it (Typer's runner, a private SQLite database)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from citybrain.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYBRAIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "cli-admin-password-1")
    return tmp_path


@pytest.mark.parametrize("command", [[], ["serve"], ["demo"], ["db"], ["db", "upgrade"], ["db", "current"],
                                     ["users", "create"], ["users", "token"], ["geo", "load"], ["simulate"],
                                     ["bench"], ["import", "readings"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_db_upgrade_then_current(env):
    assert runner.invoke(app, ["db", "current"]).exit_code == 1  # empty database: behind
    up = runner.invoke(app, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert "loaded base map" in up.output
    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0 and "(current)" in current.output


def test_a_bad_setting_is_named(env, monkeypatch):
    monkeypatch.setenv("CITYBRAIN_PORT", "not-a-port")
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 2 and "CITYBRAIN_PORT" in result.output


def test_simulate_then_import_stores_everything_once(env):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    out, truth = env / "r.ndjson", env / "truth.json"
    sim = runner.invoke(app, ["simulate", "--out", str(out), "--hours", "0.25", "--devices", "30",
                              "--truth", str(truth), "--start", "2026-11-29T00:00:00Z"])
    assert sim.exit_code == 0, sim.output
    lines = out.read_text().splitlines()
    assert lines and json.loads(truth.read_text())
    # The simulator's fleet must be registered for its readings to be accepted.
    from datetime import UTC, datetime

    from citybrain.core.database import Database
    from citybrain.core.settings import load_settings
    from citybrain.demo import make_simulator
    from citybrain.sensing import service

    sim_obj = make_simulator(seed=7, devices=30, start=datetime(2026, 11, 29, tzinfo=UTC))
    db = Database(load_settings().sqlalchemy_url)
    with db.session() as s:
        service.register_catalogue(session=s, now=datetime.now(UTC), assets=sim_obj.asset_catalogue(),
                                   devices=sim_obj.device_catalogue())
    first = runner.invoke(app, ["import", "readings", str(out)])
    assert first.exit_code == 0, first.output
    assert f"{len(lines)} readings stored" in first.output
    again = runner.invoke(app, ["import", "readings", str(out)])
    assert again.exit_code == 0 and f"0 readings stored, {len(lines)} already there" in again.output
    bad = env / "bad.ndjson"
    bad.write_text(lines[0] + "\n{not json\n")
    result = runner.invoke(app, ["import", "readings", str(bad)])
    assert result.exit_code == 1 and "line 2" in result.output
    db.dispose()


def test_users_create_and_token(env):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(app, ["users", "create", "firefly", "--roles", "dispatcher", "--department", "fire",
                               "--password", "long-enough-pw"])
    assert made.exit_code == 0, made.output
    bad = runner.invoke(app, ["users", "create", "x2", "--roles", "wizard", "--password", "long-enough-pw"])
    assert bad.exit_code == 1 and "wizard" in bad.output
    token = runner.invoke(app, ["users", "token", "firefly"])
    assert token.exit_code == 0 and token.output.strip().startswith("cbt_")


def test_bench_list_and_unknown(env):
    listed = runner.invoke(app, ["bench", "--list"])
    assert listed.exit_code == 0 and {"spatial", "ingest", "query"} <= set(listed.output.split())
    assert runner.invoke(app, ["bench", "nope", "--json"]).exit_code == 2
