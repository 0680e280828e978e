"""The notification value and the config reader every notifier uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from citybrain.warning.notify import Notification
from citybrain.warning.notify.base import ConfigReader, NotifyConfigError
from tests.warning.notify.conftest import sample


def test_json_round_trip() -> None:
    n = sample()
    data = n.as_json()
    assert data["created_at"] == "2026-05-01T08:00:00Z"
    assert data["warnings"][0]["labels"] == {"device": "gas-001", "district": "310104"}
    assert Notification.from_json(data) == n
    assert hash(Notification.from_json(data)) == hash(n)


def test_times_become_utc_and_datetimes_in_warnings_become_iso() -> None:
    local = datetime(2026, 5, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    n = sample(created_at=local, warnings=[{"id": "w", "starts_at": local}])
    assert n.created_at == local and n.created_at.tzinfo == UTC
    assert isinstance(n.warnings, tuple)
    assert n.as_json()["warnings"] == [{"id": "w", "starts_at": "2026-05-01T08:00:00Z"}]


def test_the_caller_cannot_change_it_afterwards() -> None:
    warning = {"id": "w", "level": 2}
    n = sample(warnings=[warning])
    warning["level"] = 1
    assert n.warnings[0]["level"] == 2
    with pytest.raises(AttributeError):
        n.status = "resolved"


@pytest.mark.parametrize(("change", "message"), [
    ({"status": "pending"}, "status"),
    ({"level": 5}, "level"),
    ({"level": True}, "level"),
    ({"id": ""}, "id"),
    ({"created_at": datetime(2026, 5, 1, 8, 0)}, "timezone"),
])
def test_invalid_notifications_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample(**change)


def test_config_reader_names_every_key() -> None:
    r = ConfigReader({"a": "x", "n": 3, "flag": True, "list": "one", "extra": 1})
    assert r.text("a", required=True) == "x"
    assert r.number("n", default=1, integer=True) == 3
    assert r.flag("flag", default=False) is True
    assert r.texts("list") == ["one"]
    assert r.text("absent", default="d") == "d"
    with pytest.raises(NotifyConfigError) as err:
        r.finish()
    assert err.value.key == "extra"
    with pytest.raises(NotifyConfigError, match="n: must be at most 2"):
        ConfigReader({"n": 3}).number("n", default=1, maximum=2)
    with pytest.raises(NotifyConfigError, match="v: must be a number"):
        ConfigReader({"v": float("nan")}).number("v", default=1)
