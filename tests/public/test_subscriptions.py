"""Subscriptions: confirm and unsubscribe by token, delivery planned once per warning state, sent by email
(a local SMTP server) and webhook (a local HTTP server) with retries."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
import sqlalchemy as sa

from citybrain.core.errors import Invalid, NotFound
from citybrain.public import subscriptions as subs
from citybrain.public.models import PublicDelivery, PublicSubscription
from citybrain.warning.models import Warning
from citybrain.warning.notify.webhook import verify_signature
from tests.public.conftest import make_warning

API = "/api/v1/public/subscriptions"
BASE = "https://citybrain.city.example"


def smtp_config(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "starttls": False, "from": "城市大脑 <citybrain@city.example>"}


def send(database, clock, smtp_server=None, **kw):
    return subs.send_due(database=database, now=clock.now, base_url=BASE, clock=clock,
                         email=smtp_config(smtp_server.port) if smtp_server else None, **kw)


def statuses(database) -> list[tuple[str, str]]:
    with database.session() as s:
        return [(d.state, d.status) for d in subs.deliveries(session=s)]


def test_email_is_confirmed_then_told_of_a_warning_with_unsubscribe_link(database, clock, smtp_server):
    with database.session() as s:
        done = subs.subscribe(session=s, now=clock.now(), kind="email", target="Li.Wei@Example.org",
                              district="310101", min_level="yellow")
        assert done.created and done.subscription.status == "pending" and done.confirm_token
        token, unsub = done.confirm_token, done.subscription.unsubscribe_token
        again = subs.subscribe(session=s, now=clock.now(), kind="email", target="li.wei@example.org",
                               district="310101")
        assert not again.created and again.confirm_token is None  # no second mail while one is pending
    assert send(database, clock, smtp_server) == {"sent": 1, "pending": 0, "dead": 0}
    [mail] = smtp_server.handler.messages
    assert mail.rcpt_tos == ["li.wei@example.org"]
    msg = email.message_from_bytes(mail.content, policy=email.policy.default)
    plain = msg.get_body(("plain",)).get_content()
    assert f"{BASE}{API}/confirm/{token}" in plain and f"{BASE}{API}/unsubscribe/{unsub}" in plain
    assert msg["List-Unsubscribe"] == f"<{BASE}{API}/unsubscribe/{unsub}>"

    with database.session() as s:
        w = make_warning(s, clock.now(), rule="gas-cluster", district="310101", level=2)
        assert subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w.id) == 0  # not confirmed yet
        subs.confirm(session=s, now=clock.now(), token=token)
        with pytest.raises(NotFound):
            subs.confirm(session=s, now=clock.now(), token=token)  # used once
        assert subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w.id) == 1
        assert subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w.id) == 0  # idempotent
        wid = w.id
    assert send(database, clock, smtp_server)["sent"] == 1
    msg = email.message_from_bytes(smtp_server.handler.messages[1].content, policy=email.policy.default)
    assert "黄浦区：燃气泄漏橙色预警" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    assert "请勿使用明火" in text and "Unsubscribe: " in text and f"{BASE}/public/articles/gas-leak" in text

    with database.session() as s:
        s.get(Warning, wid).state = "resolved"
        assert subs.deliver_public_warning(session=s, now=clock.now(), warning_id=wid) == 1
        subs.unsubscribe(session=s, now=clock.now(), token=unsub)
    assert send(database, clock, smtp_server)["sent"] == 0
    assert statuses(database) == [("confirm", "sent"), ("firing:2", "sent"), ("resolved", "cancelled")]


def test_matching_by_district_level_and_drills(database, clock):
    with database.session() as s:
        def sub(district, level, drills=False):
            return subs.subscribe(session=s, now=clock.now(), kind="webhook", target="https://8.8.8.8/hook",
                                  district=district, min_level=level, include_exercise=drills).subscription.id
        everything, red_only = sub("310101", "blue"), sub("310104", "red")
        drills = subs.subscribe(session=s, now=clock.now(), kind="webhook", target="https://8.8.4.4/hook",
                                district="310104", include_exercise=True).subscription.id
        orange = make_warning(s, clock.now(), district="310104", level=2)
        red = make_warning(s, clock.now(), district="310104", level=1)
        drill = make_warning(s, clock.now(), district="310104", level=1, exercise=True)
        private = make_warning(s, clock.now(), district="310101", level=1, public=False)
        for w in (orange, red, drill, private):
            subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w.id)
        got = {(d.subscription_id, d.warning_id) for d in subs.deliveries(session=s)}
    assert got == {(drills, orange.id), (red_only, red.id), (drills, red.id), (drills, drill.id)}
    assert everything not in {sid for sid, _ in got}


def test_webhook_is_signed_retried_on_failure_and_dead_on_refusal(database, clock, http_server):
    with database.session() as s:
        with pytest.raises(Invalid) as refused:
            subs.subscribe(session=s, now=clock.now(), kind="webhook", target=http_server.url, district="310101")
        assert refused.value.errors[0].field == "body.target" and "private" in refused.value.errors[0].message
        done = subs.subscribe(session=s, now=clock.now(), kind="webhook", target=http_server.url, district="310101",
                              allow_private=True)
        assert done.subscription.status == "active" and len(done.secret) >= 16
        secret = done.secret
        w = make_warning(s, clock.now(), rule="drain-waterlogging", district="310101", level=3)
        assert subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w.id) == 1
    # Sending re-checks the address: without the allowance a loopback URL is refused for good.
    http_server.status = 503
    assert send(database, clock, allow_private=True) == {"sent": 0, "pending": 1, "dead": 0}
    with database.session() as s:
        [row] = subs.deliveries(session=s)
        assert row.attempts == 1 and row.next_attempt_at > clock.now() and "503" in row.last_error
    assert send(database, clock, allow_private=True)["pending"] == 0  # not due yet: nothing sent
    clock.advance(minutes=1)
    http_server.status = 204
    assert send(database, clock, allow_private=True)["sent"] == 1
    first, second = http_server.requests
    assert first.headers["X-Citybrain-Delivery"] == second.headers["X-Citybrain-Delivery"]
    assert verify_signature(secret, second.headers["X-Citybrain-Timestamp"], second.body,
                            second.headers["X-Citybrain-Signature"], now=clock.now())
    body = json.loads(second.body)
    assert body["title_zh"] == "黄浦区：道路积水内涝黄色预警" and "/unsubscribe/" in body["body_en"]

    with database.session() as s:
        w2 = make_warning(s, clock.now(), rule="fire-smoke", district="310101", level=2)
        subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w2.id)
    http_server.status = 410
    assert send(database, clock, allow_private=True)["dead"] == 1
    with database.session() as s:
        w3 = make_warning(s, clock.now(), rule="fire-smoke", district="310101", level=1)
        subs.deliver_public_warning(session=s, now=clock.now(), warning_id=w3.id)
    assert send(database, clock)["dead"] == 1  # the address is loopback: refused at send time too
    with database.session() as s:
        assert "private" in s.scalars(sa.select(PublicDelivery.last_error).order_by(PublicDelivery.id.desc())).first()


def test_bad_input_names_the_field(database, clock):
    with database.session() as s:
        cases = [({"kind": "email", "target": "not-an-address"}, "body.target"),
                 ({"kind": "webhook", "target": "ftp://8.8.8.8/x"}, "body.target"),
                 ({"kind": "webhook", "target": "http://localhost/x"}, "body.target"),
                 ({"kind": "webhook", "target": "http://[::ffff:10.0.0.1]/x"}, "body.target"),
                 ({"kind": "email", "target": "a@example.org", "district": "999"}, "body.district"),
                 ({"kind": "email", "target": "a@example.org", "min_level": "purple"}, "body.min_level")]
        for extra, field in cases:
            kw = {"district": "310101", **extra}
            with pytest.raises(Invalid) as err:
                subs.subscribe(session=s, now=clock.now(), **kw)
            assert err.value.errors[0].field == field, extra


def test_api_subscribe_confirm_unsubscribe_and_rate_limit(client, database, clock):
    r = client.post(API, json={"kind": "email", "target": "resident@example.org", "district": "310101"})
    assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["subscription"] is None
    with database.session() as s:
        sub = s.scalars(sa.select(PublicSubscription)).one()
        [confirm] = subs.deliveries(session=s)
        link = confirm.payload["link"]
        unsub = sub.unsubscribe_token
    page = client.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "订阅成功" in page.text and page.headers["content-security-policy"]
    assert client.get(link).status_code == 404  # used once
    gone = client.post(f"{API}/unsubscribe/{unsub}")  # one-click (RFC 8058)
    assert gone.status_code == 200 and gone.json()["status"] == "unsubscribed"
    assert client.get(f"{API}/unsubscribe/nope").status_code == 404

    hook = client.post(API, json={"kind": "webhook", "target": "http://127.0.0.1:9/x", "district": "310101"})
    assert hook.status_code == 422 and hook.json()["errors"][0]["field"] == "body.target"
    ok = client.post(API, json={"kind": "webhook", "target": "https://8.8.8.8/hook", "district": "310104",
                                "min_level": "orange"})
    assert ok.status_code == 201 and ok.json()["secret"] and ok.json()["subscription"]["min_level"] == "orange"
    assert ok.json()["subscription"]["unsubscribe"].startswith(f"{API}/unsubscribe/")
    same = client.post(API, json={"kind": "webhook", "target": "https://8.8.8.8/hook", "district": "310104"})
    assert same.status_code == 200 and same.json()["subscription"] is None and same.json()["secret"] is None
    # Five subscriptions per address per ten minutes: the three above, one more, then 429.
    assert client.post(API, json={"kind": "email", "target": "r0@example.org", "district": "310101"}) \
        .status_code == 202
    limited = client.post(API, json={"kind": "email", "target": "r9@example.org", "district": "310101"})
    assert limited.status_code == 429
    clock.advance(minutes=2)
    assert client.post(API, json={"kind": "email", "target": "r9@example.org", "district": "310101"}) \
        .status_code == 202
    with database.session() as s:
        actions = s.execute(sa.text("SELECT resource_type, status_code FROM audit_log WHERE resource_type = "
                                    "'public_subscription' ORDER BY id")).all()
    assert len(actions) >= 6 and any(status == 429 for _, status in actions)


def test_unsubscribed_address_can_subscribe_again(database, clock):
    with database.session() as s:
        first = subs.subscribe(session=s, now=clock.now(), kind="email", target="a@example.org", district="310101")
        old_token = first.subscription.unsubscribe_token
        subs.unsubscribe(session=s, now=clock.now(), token=old_token)
        clock.advance(hours=1)
        again = subs.subscribe(session=s, now=clock.now(), kind="email", target="a@example.org", district="310101")
        assert again.created and again.subscription.id == first.subscription.id
        assert again.subscription.status == "pending" and again.subscription.unsubscribe_token != old_token
        [row] = subs.deliveries(session=s)
        assert row.state == "confirm" and row.status == "pending" and row.created_at == clock.now()
