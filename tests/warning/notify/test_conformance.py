"""Every notifier the registry finds keeps the shared contract (after river's ``checks/``).

A new notifier module needs a live endpoint, a dead endpoint and one bad config below; the test
fails for a kind that has none, so nobody can add a channel without testing it against a real server.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from citybrain.warning import notify
from citybrain.warning.notify import Notifier, NotifyConfigError, NotifyTransient, make, registry
from citybrain.warning.notify.inapp import bus_sink
from tests.warning.notify.conftest import SECRET, free_port, sample

KINDS = sorted(registry())

# kind -> (config, a key, what to set it to so the config is refused for that key)
BAD: dict[str, tuple[dict[str, Any], str, Any]] = {
    "webhook": ({"url": "http://127.0.0.1:9/x", "secret": SECRET}, "url", "ftp://example.org/hook"),
    "email": ({"host": "127.0.0.1", "from": "citybrain@city.example", "to": ["duty@city.example"]}, "to", []),
    "inapp": ({}, "subject_prefix", "notifications.*"),
}


def live(kind: str, request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any], Callable[[], list[Any]]]:
    """Config and deps for a working local endpoint, and how to read what it received."""
    if kind == "webhook":
        http = request.getfixturevalue("http_server")
        return {"url": http.url, "secret": SECRET}, {}, lambda: http.requests
    if kind == "email":
        smtp = request.getfixturevalue("smtp_server")
        config = {"host": "127.0.0.1", "port": smtp.port, "starttls": False,
                  "from": "citybrain@city.example", "to": ["duty@city.example"]}
        return config, {}, lambda: smtp.handler.messages
    if kind == "inapp":
        bus = request.getfixturevalue("bus_thread")
        return {}, {"sink": bus.sink}, bus.drain
    pytest.fail(f"no live endpoint for notifier {kind!r}: add one to {__name__}")


def dead(kind: str, request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and deps pointing at an endpoint that is down."""
    if kind == "webhook":
        return {"url": f"http://127.0.0.1:{free_port()}/hook", "secret": SECRET, "timeout_s": 2}, {}
    if kind == "email":
        return {"host": "127.0.0.1", "port": free_port(), "starttls": False, "timeout_s": 2,
                "from": "citybrain@city.example", "to": ["duty@city.example"]}, {}
    if kind == "inapp":
        from citybrain.core.bus import InMemoryBus

        return {}, {"sink": bus_sink(InMemoryBus(), request.getfixturevalue("stopped_loop"), timeout_s=1)}
    pytest.fail(f"no dead endpoint for notifier {kind!r}: add one to {__name__}")


def test_the_registry_finds_the_three_channels() -> None:
    assert {"webhook", "email", "inapp"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_documented_and_uniquely_named(kind: str) -> None:
    cls = registry()[kind]
    assert cls.kind == kind and issubclass(cls, Notifier)
    assert [c.kind for c in registry().values()].count(kind) == 1
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
    assert (inspect.getmodule(cls).__doc__ or "").strip(), f"{cls.__module__} has no docstring"
    assert (cls.send.__doc__ or Notifier.send.__doc__), "send is undocumented"


@pytest.mark.parametrize("kind", KINDS)
def test_bad_config_names_the_key(kind: str, request: pytest.FixtureRequest) -> None:
    base, key, bad_value = BAD.get(kind) or pytest.fail(f"no bad config for notifier {kind!r}: add one to BAD")
    deps = live(kind, request)[1]
    make(kind, base, **deps)  # the base config itself is fine
    with pytest.raises(NotifyConfigError) as err:
        make(kind, {**base, key: bad_value}, **deps)
    assert err.value.key == key and key in str(err.value)
    with pytest.raises(NotifyConfigError) as err:  # a typo never falls back to a default silently
        make(kind, {**base, "tiemout_s": 3}, **deps)
    assert err.value.key == "tiemout_s"
    with pytest.raises(NotifyConfigError) as err:
        make(kind, ["not", "a", "mapping"], **deps)
    assert err.value.key == "config"


@pytest.mark.parametrize("kind", KINDS)
def test_send_to_a_working_endpoint(kind: str, request: pytest.FixtureRequest) -> None:
    config, deps, received = live(kind, request)
    notifier = make(kind, config, **deps)
    n = sample()
    before = n.as_json()
    notifier.send(n)
    got = received()
    assert len(got) == 1
    assert n.id.encode() in repr(got[0]).encode()  # the idempotency key travels with every message
    assert n.as_json() == before


@pytest.mark.parametrize("kind", KINDS)
def test_send_to_a_dead_endpoint_is_transient(kind: str, request: pytest.FixtureRequest) -> None:
    config, deps = dead(kind, request)
    with pytest.raises(NotifyTransient):
        make(kind, config, **deps).send(sample())


@pytest.mark.parametrize("kind", KINDS)
def test_secrets_stay_out_of_logs(kind: str, request: pytest.FixtureRequest) -> None:
    config, deps, _ = live(kind, request)
    notifier = make(kind, config, **deps)
    shown = notifier.public_config()
    assert set(shown) >= set(config)
    for key in type(notifier).secret_keys:
        if notifier.config.get(key):
            assert shown[key] == "***"
            assert str(notifier.config[key]) not in repr(notifier)


def test_unknown_kind_names_the_kind() -> None:
    with pytest.raises(NotifyConfigError) as err:
        make("fax", {})
    assert err.value.key == "kind" and "webhook" in str(err.value)


def test_package_exports_the_port() -> None:
    for name in notify.__all__:
        assert hasattr(notify, name)
