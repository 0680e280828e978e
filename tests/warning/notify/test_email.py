"""The email notifier against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from email.utils import parsedate_to_datetime

import pytest

from citybrain.warning.notify import NotifyConfigError, NotifyPermanent, NotifyTransient
from citybrain.warning.notify.email import EmailNotifier, message_id, subject
from tests.warning.notify.conftest import SmtpServer, free_port, sample

FROM = "城市大脑 <citybrain@city.example>"


def notifier(port: int, **config: object) -> EmailNotifier:
    return EmailNotifier({"host": "127.0.0.1", "port": port, "starttls": False, "from": FROM,
                          "to": ["duty@city.example", "Chief <chief@city.example>"], **config})


def test_the_message_arrives_bilingual_and_recognisable(smtp_server: SmtpServer) -> None:
    n = sample()
    notifier(smtp_server.port, dashboard_url="https://citybrain.city.example/").send(n)
    [got] = smtp_server.handler.messages
    assert got.mail_from == "citybrain@city.example"
    assert got.rcpt_tos == ["duty@city.example", "chief@city.example"]
    raw_headers = got.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # UTF-8 headers travel RFC 2047-encoded
    msg = email.message_from_bytes(got.content, policy=email.policy.default)
    assert msg["Subject"] == "[橙色预警 II] 燃气泄漏 / Orange warning II: Gas leak"
    assert msg["From"].addresses[0].display_name == "城市大脑"
    assert msg["Message-ID"] == "<citybrain.ntf-0001@city.example>"
    assert msg["References"] == "<citybrain.group.grp-gas-xuhui@city.example>"
    assert msg["X-Citybrain-Delivery"] == "ntf-0001"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert parsedate_to_datetime(msg["Date"]) == n.created_at
    assert "+0800" in msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    plain, markup = text.get_content(), html.get_content()
    for part in (plain, markup):
        assert "燃气泄漏" in part and "Gas leak" in part and "徐汇区" in part
        assert "https://citybrain.city.example/warnings/groups/grp-gas-xuhui" in part
        assert "w-1" in part and "w-2" in part
    assert "2026-05-01 15:58 (UTC+8)" in plain  # warnings shown in Shanghai time
    assert "<h2" in markup


def test_a_retry_carries_the_same_message_id(smtp_server: SmtpServer) -> None:
    mailer = notifier(smtp_server.port)
    mailer.send(sample())
    mailer.send(sample())
    first, second = (email.message_from_bytes(m.content, policy=email.policy.default)
                     for m in smtp_server.handler.messages)
    assert first["Message-ID"] == second["Message-ID"]


def test_html_is_escaped(smtp_server: SmtpServer) -> None:
    notifier(smtp_server.port).send(sample(title_en="<script>alert(1)</script>", link='/x"onmouseover="y'))
    msg = email.message_from_bytes(smtp_server.handler.messages[0].content, policy=email.policy.default)
    part = msg.get_body(("html",))
    assert part is not None
    markup = part.get_content()
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert '"onmouseover' not in markup


def test_subjects() -> None:
    assert subject(sample(status="resolved")) == "[橙色预警 II 已解除] 燃气泄漏 / Resolved, orange warning II: Gas leak"
    assert subject(sample(level=None)) == "[预警] 燃气泄漏 / Warning: Gas leak"
    assert subject(sample(level=1, title_zh="暴雨\r\n内涝")) == "[红色预警 I] 暴雨 内涝 / Red warning I: Gas leak"
    assert subject(sample(level=4, title_en="")) == "[蓝色预警 IV] 燃气泄漏 / Blue warning IV: 燃气泄漏"


def test_message_id_of_an_awkward_id_is_a_stable_digest() -> None:
    weird = message_id(sample(id="outbox 42 <x>"), "city.example")
    assert weird == message_id(sample(id="outbox 42 <x>"), "city.example")
    assert weird.startswith("<citybrain.") and " " not in weird and weird.count("<") == 1


@pytest.mark.parametrize(("reply", "kind"), [
    ("550 5.1.1 No such user", NotifyPermanent),
    ("553 5.1.3 Bad address", NotifyPermanent),
    ("451 4.3.0 Try again later", NotifyTransient),
    ("452 4.2.2 Mailbox full", NotifyTransient),
])
def test_recipient_refusals(smtp_server: SmtpServer, reply: str, kind: type[Exception]) -> None:
    smtp_server.handler.rcpt_reply = reply
    with pytest.raises(kind, match=reply.split()[0]):
        notifier(smtp_server.port).send(sample())
    assert smtp_server.handler.messages == []


@pytest.mark.parametrize(("reply", "kind"), [
    ("554 5.6.0 Message rejected", NotifyPermanent),
    ("451 4.7.1 Greylisted", NotifyTransient),
])
def test_data_refusals(smtp_server: SmtpServer, reply: str, kind: type[Exception]) -> None:
    smtp_server.handler.data_reply = reply
    with pytest.raises(kind):
        notifier(smtp_server.port).send(sample())


def test_a_partial_refusal_is_permanent_and_names_the_address(smtp_server: SmtpServer) -> None:
    smtp_server.handler.rcpt_reply, smtp_server.handler.refuse = "550 No such user", {"chief@city.example"}
    with pytest.raises(NotifyPermanent, match="chief@city.example") as err:
        notifier(smtp_server.port).send(sample())
    assert "other recipients got it" in str(err.value)
    assert [m.rcpt_tos for m in smtp_server.handler.messages] == [["duty@city.example"]]


def test_starttls_missing_on_the_server_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(NotifyPermanent, match="STARTTLS"):
        notifier(smtp_server.port, starttls=True).send(sample())


def test_connection_refused_is_transient() -> None:
    with pytest.raises(NotifyTransient, match="127.0.0.1"):
        notifier(free_port()).send(sample())


def test_a_silent_server_times_out_as_transient(silent_port: int) -> None:
    with pytest.raises(NotifyTransient):
        notifier(silent_port, timeout_s=0.2).send(sample())


@pytest.mark.parametrize(("change", "key"), [
    ({"host": None}, "host"),
    ({"host": ""}, "host"),
    ({"port": 0}, "port"),
    ({"port": 25.5}, "port"),
    ({"ssl": True, "starttls": True}, "starttls"),
    ({"ssl": "yes"}, "ssl"),
    ({"username": "ops"}, "password"),
    ({"password": "pw"}, "username"),
    ({"username": "ops", "password": "pw", "starttls": False}, "starttls"),
    ({"from": "not an address"}, "from"),
    ({"from": "ops@city.example\r\nBcc: x@evil.example"}, "from"),
    ({"to": []}, "to"),
    ({"to": ["duty@city.example", "nobody"]}, "to"),
    ({"to": ["用户@例子.中国"]}, "to"),
    ({"dashboard_url": "citybrain.local"}, "dashboard_url"),
    ({"cc": ["x@city.example"]}, "cc"),
])
def test_config_is_checked(change: dict[str, object], key: str) -> None:
    config = {"host": "smtp.city.example", "starttls": False, "from": FROM, "to": ["duty@city.example"], **change}
    with pytest.raises(NotifyConfigError) as err:
        EmailNotifier(config)
    assert err.value.key == key


def test_defaults() -> None:
    base = {"host": "smtp.city.example", "from": FROM, "to": "duty@city.example"}
    submission = EmailNotifier(base)
    assert (submission.starttls, submission.ssl, submission.port, submission.to) == (True, False, 587,
                                                                                    ["duty@city.example"])
    implicit = EmailNotifier({**base, "ssl": True, "username": "ops", "password": "pw"})
    assert (implicit.starttls, implicit.port) == (False, 465)
    assert implicit.public_config()["password"] == "***"
    assert EmailNotifier({**base, "starttls": False}).port == 25
