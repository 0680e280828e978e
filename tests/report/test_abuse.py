"""Abuse and privacy: token buckets per client on a manual clock, proof-of-work challenges (forged, expired,
unsolved, reused), content flags in Chinese and English, masking, and a flood answered 429 for one client only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citybrain.core.errors import Invalid
from citybrain.report import abuse

SECRET = b"s" * 32


class Tick:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_empties_for_one_client_only_and_refills_with_time() -> None:
    tick = Tick()
    limiter = abuse.RateLimiter(clock=tick, limits={"x": abuse.Limit(3, 30)})
    assert [limiter.hit("x", "a") for _ in range(3)] == [None, None, None]
    wait = limiter.hit("x", "a")
    assert wait == 10  # one token every 10 s
    assert limiter.hit("x", "b") is None  # another client is unaffected
    tick.t += 10
    assert limiter.hit("x", "a") is None and limiter.hit("x", "a") == 10


def test_the_limiter_forgets_idle_clients_when_it_is_full() -> None:
    tick = Tick()
    limiter = abuse.RateLimiter(clock=tick, limits={"x": abuse.Limit(1, 1)}, max_buckets=10)
    for i in range(10):
        limiter.hit("x", str(i))
    tick.t += 5
    limiter.hit("x", "new")
    assert len(limiter._buckets) == 1


def test_client_keys_are_stable_keyed_hashes() -> None:
    a = abuse.client_key(SECRET, "10.0.0.1")
    assert a == abuse.client_key(SECRET, "10.0.0.1") != abuse.client_key(SECRET, "10.0.0.2")
    assert "10.0.0.1" not in a and a != abuse.client_key(b"t" * 32, "10.0.0.1")


def test_a_solved_challenge_verifies_and_tampering_does_not() -> None:
    c = abuse.issue_challenge(secret=SECRET, now=100.0, difficulty=6, ttl_s=60)
    nonce = abuse.solve(c.challenge, 6)
    assert abuse.leading_zero_bits(abuse.work_digest(c.challenge, nonce)) >= 6
    assert abuse.verify_challenge(secret=SECRET, challenge=c.challenge, nonce=nonce, now=120.0) == 160.0
    wrong = [
        (dict(challenge=c.challenge, nonce=nonce, now=161.0), "challenge"),  # expired
        (dict(challenge=c.challenge.replace("v1.6.", "v1.1."), nonce="0", now=120.0), "challenge"),  # easier: forged
        (dict(challenge=c.challenge[:-1] + ("1" if c.challenge.endswith("0") else "0"), nonce=nonce, now=120.0),
         "challenge"),  # signature changed
        (dict(challenge="", nonce=nonce, now=120.0), "challenge"),
        (dict(challenge=c.challenge, nonce="", now=120.0), "nonce"),
    ]
    bad_nonce = next(str(n) for n in range(1000)
                     if abuse.leading_zero_bits(abuse.work_digest(c.challenge, str(n))) < 6)
    wrong.append((dict(challenge=c.challenge, nonce=bad_nonce, now=120.0), "nonce"))
    for kw, field in wrong:
        with pytest.raises(Invalid) as exc:
            abuse.verify_challenge(secret=SECRET, **kw)
        assert exc.value.errors[0].field == field
    with pytest.raises(Invalid):
        abuse.verify_challenge(secret=b"other" * 8, challenge=c.challenge, nonce=nonce, now=120.0)


def test_content_flags_catch_links_profanity_spam_and_repetition() -> None:
    assert abuse.content_flags("人民广场地铁口积水很深，车过不去") == []
    assert abuse.content_flags("see www.example.com")[0][0] == "link"
    assert [r for r, _ in abuse.content_flags("你个傻逼")] == ["profanity"]
    assert [r for r, _ in abuse.content_flags("FREE MONEY for you")] == ["spam"]
    assert [r for r, _ in abuse.content_flags("哈哈哈哈哈哈哈哈哈哈")] == ["repeated_text"]
    assert abuse.content_flags("窨井盖没了很危险", recent_texts=("窨井盖 没了很危险",))[0][0] == "repeated_text"
    assert abuse.content_flags("电话 10000000 号楼") == []  # digits repeated a few times are fine


def test_masking() -> None:
    assert abuse.mask_phone("13812345678") == "138****5678"
    assert abuse.mask_phone("+8613812345678") == "+86*******5678"
    assert abuse.mask_phone("12345") == "***45" and abuse.mask_phone(None) is None
    assert abuse.mask_email("a@b.cn") == "a***@b.cn" and abuse.mask_name("Li") == "L*"


def test_a_flood_from_one_client_gets_429_with_retry_after_and_another_client_does_not(app) -> None:
    with TestClient(app, client=("203.0.113.5", 5000)) as flood, TestClient(app, client=("198.51.100.7", 5000)) as calm:
        answers = [flood.get("/api/v1/public/challenge").status_code for _ in range(31)]
        assert answers[:30] == [200] * 30 and answers[30] == 429
        r = flood.get("/api/v1/public/challenge")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 429
        assert calm.get("/api/v1/public/challenge").status_code == 200
        app.state.clock.advance(seconds=int(r.headers["retry-after"]))
        assert flood.get("/api/v1/public/challenge").status_code == 200
