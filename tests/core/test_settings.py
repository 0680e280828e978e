"""Settings: one typed object from CITYBRAIN_* variables (or .env), safe defaults, errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from citybrain.core.errors import SettingsError
from citybrain.core.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CITYBRAIN_* variable from the outside, no stray .env, and a private XDG data home."""
    for key in list(os.environ):
        if key.startswith("CITYBRAIN_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_defaults_are_an_embedded_sqlite_on_localhost_in_shanghai(clean_env: Path) -> None:
    s = Settings()

    assert s.env == "development"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.timezone == "Asia/Shanghai" and s.tz.key == "Asia/Shanghai"
    assert s.data_dir == clean_env / "xdg" / "citybrain"
    assert s.sqlalchemy_url == f"sqlite:///{clean_env / 'xdg' / 'citybrain' / 'citybrain.db'}"
    assert s.is_sqlite
    assert s.admin_password is None
    assert (s.login_max_failures, s.login_lockout_minutes, s.session_ttl_hours) == (5, 15.0, 12.0)
    assert s.max_body_bytes == 2 * 1024 * 1024


def test_variables_are_read_with_the_citybrain_prefix_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_PORT", "9001")
    monkeypatch.setenv("CITYBRAIN_HOST", "192.0.2.10")
    monkeypatch.setenv("CITYBRAIN_TIMEZONE", "UTC")
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "from-the-environment")
    monkeypatch.setenv("HOST", "10.9.9.9")
    monkeypatch.setenv("PORT", "1234")

    s = load_settings()

    assert (s.host, s.port, s.timezone) == ("192.0.2.10", 9001, "UTC")
    assert s.admin_password is not None and s.admin_password.get_secret_value() == "from-the-environment"
    assert "from-the-environment" not in repr(s)  # a secret never shows in logs


def test_a_dotenv_file_is_read_and_the_environment_wins(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("CITYBRAIN_CITY_CODE=320100\nCITYBRAIN_PORT=7000\n", encoding="utf-8")
    monkeypatch.setenv("CITYBRAIN_PORT", "7001")

    s = load_settings()

    assert (s.city_code, s.port) == ("320100", 7001)


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://cb:pw@db:5432/citybrain", "postgresql+psycopg://cb:pw@db:5432/citybrain"),
    ("postgresql://cb@db/citybrain", "postgresql+psycopg://cb@db/citybrain"),
    ("postgresql+psycopg://cb@db/citybrain", "postgresql+psycopg://cb@db/citybrain"),
    ("sqlite:////var/lib/citybrain/x.db", "sqlite:////var/lib/citybrain/x.db"),
])
def test_database_urls_are_normalised_to_psycopg(monkeypatch: pytest.MonkeyPatch, given: str, expected: str) -> None:
    monkeypatch.setenv("CITYBRAIN_DATABASE_URL", given)

    s = load_settings()

    assert s.sqlalchemy_url == expected
    assert s.is_sqlite is expected.startswith("sqlite")


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1"])
def test_a_bad_port_is_a_settings_error_naming_citybrain_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("CITYBRAIN_PORT", port)

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "CITYBRAIN_PORT" in str(info.value)


def test_several_bad_values_are_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_PORT", "x")
    monkeypatch.setenv("CITYBRAIN_ENV", "staging")

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "CITYBRAIN_PORT" in str(info.value) and "CITYBRAIN_ENV" in str(info.value)


@pytest.mark.parametrize("zone", [
    "../etc/passwd",
    "Mars/Olympus_Mons",
])
def test_an_unknown_timezone_is_named(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("CITYBRAIN_TIMEZONE", zone)

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "CITYBRAIN_TIMEZONE" in str(info.value)
    assert zone in str(info.value)


@pytest.mark.parametrize("password", ["changeme", "ChangeMe", "citybrain", "short-pw-1"])
def test_production_refuses_a_placeholder_admin_password(monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    monkeypatch.setenv("CITYBRAIN_ENV", "production")
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", password)

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "CITYBRAIN_ADMIN_PASSWORD" in str(info.value)
    assert password not in str(info.value)  # the message names the key, never the secret


def test_production_accepts_a_real_password_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_ENV", "production")

    assert load_settings().admin_password is None  # one is generated and printed once at first start
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "a-long-and-unguessable-one")
    assert load_settings().admin_password is not None


def test_outside_production_a_placeholder_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_ADMIN_PASSWORD", "changeme")

    assert load_settings().admin_password.get_secret_value() == "changeme"  # type: ignore[union-attr]


def test_production_refuses_insecure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_ENV", "production")
    monkeypatch.setenv("CITYBRAIN_COOKIE_SECURE", "never")

    with pytest.raises(SettingsError, match="CITYBRAIN_COOKIE_SECURE"):
        load_settings()
