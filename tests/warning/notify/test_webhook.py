"""The webhook notifier against a real HTTP server on 127.0.0.1, and the receiver's signature check."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from citybrain.core.clock import ManualClock
from citybrain.warning.notify import NotifyConfigError, NotifyPermanent, NotifyTransient
from citybrain.warning.notify.webhook import WebhookNotifier, sign, verify_signature
from tests.warning.notify.conftest import SECRET, HttpServer, free_port, sample

NOW = datetime(2026, 5, 1, 8, 0, 5, tzinfo=UTC)


def notifier(url: str, **config: object) -> WebhookNotifier:
    return WebhookNotifier({"url": url, "secret": SECRET, **config}, clock=ManualClock(NOW))


def test_posts_the_signed_notification(http_server: HttpServer) -> None:
    n = sample()
    notifier(http_server.url, headers={"Authorization": "Bearer abc"}).send(n)
    [req] = http_server.requests
    assert req.method == "POST" and req.path == "/hooks/citybrain"
    assert json.loads(req.body) == n.as_json()
    assert json.loads(req.body)["title_zh"] == "燃气泄漏"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["X-Citybrain-Delivery"] == n.id
    assert req.headers["X-Citybrain-Timestamp"] == str(int(NOW.timestamp()))
    assert req.headers["X-Citybrain-Signature"].startswith("sha256=")
    assert req.headers["Authorization"] == "Bearer abc"
    assert req.headers["User-Agent"].startswith("citybrain/")


def test_the_receiver_verifies_the_genuine_signature_only(http_server: HttpServer) -> None:
    notifier(http_server.url).send(sample())
    [req] = http_server.requests
    ts, sig = req.headers["X-Citybrain-Timestamp"], req.headers["X-Citybrain-Signature"]
    later = NOW.replace(second=50)
    assert verify_signature(SECRET, ts, req.body, sig, now=later)
    assert verify_signature(SECRET, ts, req.body.decode(), sig, now=later.timestamp())
    tampered = req.body.replace("燃气泄漏".encode(), "演练".encode())
    assert not verify_signature(SECRET, ts, tampered, sig, now=later)
    assert not verify_signature(SECRET, str(int(ts) + 1), req.body, sig, now=later)  # timestamp is signed too
    assert not verify_signature("another-secret-0000", ts, req.body, sig, now=later)
    assert not verify_signature(SECRET, ts, req.body, sig.upper(), now=later)
    assert not verify_signature(SECRET, ts, req.body, None, now=later)
    assert not verify_signature(SECRET, "yesterday", req.body, sig, now=later)


def test_a_replay_outside_the_window_is_refused() -> None:
    body, ts = b'{"id":"ntf-1"}', 1_770_000_000
    header = sign(SECRET, ts, body)
    assert verify_signature(SECRET, ts, body, header, now=ts + 300)
    assert not verify_signature(SECRET, ts, body, header, now=ts + 301)
    assert not verify_signature(SECRET, ts, body, header, now=ts - 301)  # from the future
    assert verify_signature(SECRET, ts, body, header, now=ts + 3000, tolerance_s=3600)


def test_a_retry_is_the_same_delivery_with_a_fresh_signature(http_server: HttpServer) -> None:
    clock = ManualClock(NOW)
    hook = WebhookNotifier({"url": http_server.url, "secret": SECRET}, clock=clock)
    hook.send(sample())
    clock.advance(seconds=10)
    hook.send(sample())
    first, second = http_server.requests
    assert first.body == second.body
    assert first.headers["X-Citybrain-Delivery"] == second.headers["X-Citybrain-Delivery"]
    assert first.headers["X-Citybrain-Signature"] != second.headers["X-Citybrain-Signature"]


@pytest.mark.parametrize(("status", "kind"), [
    (500, NotifyTransient), (502, NotifyTransient), (503, NotifyTransient), (408, NotifyTransient),
    (429, NotifyTransient), (400, NotifyPermanent), (401, NotifyPermanent), (403, NotifyPermanent),
    (404, NotifyPermanent), (410, NotifyPermanent), (422, NotifyPermanent),
])
def test_status_classification(http_server: HttpServer, status: int, kind: type[Exception]) -> None:
    http_server.status = status
    with pytest.raises(kind) as err:
        notifier(http_server.url).send(sample())
    assert str(status) in str(err.value)
    assert not isinstance(err.value, NotifyTransient if kind is NotifyPermanent else NotifyPermanent)


def test_retry_after_is_passed_on(http_server: HttpServer) -> None:
    http_server.status, http_server.reply_headers = 429, {"Retry-After": "30"}
    with pytest.raises(NotifyTransient) as err:
        notifier(http_server.url).send(sample())
    assert err.value.retry_after == 30.0
    http_server.status, http_server.reply_headers = 503, {"Retry-After": "Fri, 01 May 2026 08:02:05 GMT"}
    with pytest.raises(NotifyTransient) as err:
        notifier(http_server.url).send(sample())
    assert err.value.retry_after == 120.0


def test_redirects_are_not_followed(http_server: HttpServer) -> None:
    http_server.status, http_server.reply_headers = 307, {"Location": "http://127.0.0.1:9/elsewhere"}
    with pytest.raises(NotifyPermanent, match="redirect"):
        notifier(http_server.url).send(sample())
    assert len(http_server.requests) == 1


def test_connection_refused_is_transient() -> None:
    with pytest.raises(NotifyTransient, match="127.0.0.1"):
        notifier(f"http://127.0.0.1:{free_port()}/hook").send(sample())


def test_a_silent_server_times_out_as_transient(silent_port: int) -> None:
    with pytest.raises(NotifyTransient):
        notifier(f"http://127.0.0.1:{silent_port}/hook", timeout_s=0.2).send(sample())


@pytest.mark.parametrize(("change", "key"), [
    ({"url": "ftp://example.org/hook"}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "https://user:pw@example.org/hook"}, "url"),
    ({"url": "https://example.org:99999/hook"}, "url"),
    ({"url": None}, "url"),
    ({"secret": "too-short"}, "secret"),
    ({"secret": 1234567890123456789}, "secret"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"timeout_s": "10"}, "timeout_s"),
    ({"headers": {"X-Citybrain-Delivery": "x"}}, "headers"),
    ({"headers": {"Content-Type": "text/plain"}}, "headers"),
    ({"headers": {"X-Evil": "a\r\nInjected: 1"}}, "headers"),
    ({"headers": ["Authorization: x"]}, "headers"),
    ({"retries": 3}, "retries"),
])
def test_config_is_checked(change: dict[str, object], key: str) -> None:
    config = {"url": "https://hooks.city.example/citybrain", "secret": SECRET, **change}
    with pytest.raises(NotifyConfigError) as err:
        WebhookNotifier(config)
    assert err.value.key == key


def test_defaults_and_masking() -> None:
    hook = WebhookNotifier({"url": "https://hooks.city.example/x", "secret": SECRET, "headers": {"Authorization": "t"}})
    assert hook.config["timeout_s"] == 10.0
    assert hook.public_config() == {"url": "https://hooks.city.example/x", "secret": "***", "timeout_s": 10.0,
                                    "headers": "***"}
