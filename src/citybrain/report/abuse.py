"""Abuse and privacy for public reporting: rate limits, proof-of-work challenges, content flags, masking.

Everything here is pure or in-process and takes time from outside, so tests drive it with a manual clock.

* ``RateLimiter`` — a token bucket per (limit name, client key). The client key is a keyed hash of the IP
  address (web) or of the api_key (Open311), so raw addresses are never kept.
* Proof-of-work — the server signs ``v1.<difficulty>.<expiry>.<random>`` with HMAC-SHA256; the client finds a
  nonce such that ``sha256(challenge + ":" + nonce)`` starts with ``difficulty`` zero bits. The server checks
  the signature, expiry and bits here, and single use in the database (``service.spend_challenge``).
* ``content_flags`` — links, a small zh/en profanity and spam list, repeated text: such reports are kept but
  held for moderation.

>>> secret = b"k" * 32
>>> c = issue_challenge(secret=secret, now=0.0, difficulty=4, ttl_s=60)
>>> nonce = solve(c.challenge, 4)
>>> verify_challenge(secret=secret, challenge=c.challenge, nonce=nonce, now=1.0) == c.expires_at
True
>>> mask_phone("13812345678"), mask_email("zhang.san@example.com"), mask_name("张三丰")
('138****5678', 'z***@example.com', '张**')
>>> [r for r, _ in content_flags("燃气味很重 http://spam.example 加微信")]
['link', 'spam']
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from citybrain.core.errors import FieldError, Invalid
from citybrain.core.ratelimit import Limit, RateLimiter  # noqa: F401 - callers reach both through abuse

# -- rate limiting -------------------------------------------------------------------------------------


#: Per-client limits of the public endpoints (each name is its own bucket).
LIMITS: dict[str, Limit] = {
    "public_read": Limit(120, 60),  # services, nearby, tracking pages
    "challenge": Limit(30, 60),
    "submit": Limit(5, 600),  # new reports from one IP: 5 at once, then one every two minutes
    "me_too": Limit(10, 600),
    "open311_write": Limit(60, 60),  # per api_key: a partner system posting for many citizens
    "open311_read": Limit(300, 60),
}



def client_key(secret: bytes, value: str | None) -> str:
    """A keyed hash of an IP address or api_key: stable per client, not reversible to the address."""
    return hmac.new(secret, (value or "unknown").encode(), hashlib.sha256).hexdigest()[:32]


# -- proof-of-work challenge ---------------------------------------------------------------------------

DEFAULT_DIFFICULTY = 16
CHALLENGE_TTL_S = 600
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Challenge:
    challenge: str
    difficulty: int
    expires_at: float  # seconds since the epoch


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def issue_challenge(*, secret: bytes, now: float, difficulty: int = DEFAULT_DIFFICULTY,
                    ttl_s: float = CHALLENGE_TTL_S) -> Challenge:
    expires = int(now + ttl_s)
    body = f"{_VERSION}.{difficulty}.{expires}.{secrets.token_hex(12)}"
    return Challenge(f"{body}.{_sign(secret, body)}", difficulty, float(expires))


def leading_zero_bits(digest: bytes) -> int:
    """
    >>> leading_zero_bits(bytes([0, 0x1F])), leading_zero_bits(b"\\xff")
    (11, 0)
    """
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def work_digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()


def solve(challenge: str, difficulty: int) -> str:
    """Find a nonce (what the phone page does in JavaScript); for tests and scripted clients."""
    n = 0
    while leading_zero_bits(work_digest(challenge, str(n))) < difficulty:
        n += 1
    return str(n)


def verify_challenge(*, secret: bytes, challenge: str, nonce: str, now: float,
                     min_difficulty: int = 1) -> float:
    """Check signature, expiry and the work; return the expiry (seconds) for the single-use record.

    Raises ``Invalid`` naming ``challenge`` or ``nonce``; single use is checked by the caller in storage.
    """
    bad = Invalid("the proof-of-work challenge is missing, forged or expired: fetch a new one",
                  errors=[FieldError("challenge", "missing, forged or expired")])
    parts = challenge.split(".") if challenge and len(challenge) <= 200 else []
    if len(parts) != 5 or parts[0] != _VERSION:
        raise bad
    body, sig = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_sign(secret, body), sig):
        raise bad
    try:
        difficulty, expires = int(parts[1]), int(parts[2])
    except ValueError:
        raise bad from None
    if expires < now or difficulty < min_difficulty:
        raise bad
    if not nonce or len(nonce) > 64 or leading_zero_bits(work_digest(challenge, nonce)) < difficulty:
        raise Invalid("the nonce does not solve the challenge", errors=[FieldError("nonce", "does not solve")])
    return float(expires)


def challenge_digest(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


# -- content flags -------------------------------------------------------------------------------------

_URL = re.compile(r"(https?://|www\.|\b[a-z0-9-]+\.(com|cn|net|org|top|xyz|io|cc)\b)", re.IGNORECASE)
PROFANITY = ("傻逼", "操你", "妈的", "他妈", "去死", "滚蛋", "fuck", "shit", "bitch", "asshole", "bastard")
SPAM = ("加微信", "加v", "代开发票", "刷单", "兼职日结", "贷款", "博彩", "casino", "viagra", "bitcoin",
        "free money", "click here", "buy now")
_REPEAT = re.compile(r"(.{1,6}?)\1{7,}", re.DOTALL)


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def content_flags(text: str, *, recent_texts: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Reasons to hold a report for a person: [(reason, what matched)], empty when it looks fine.

    ``recent_texts`` are the same client's recent descriptions: sending the same text again is flagged.
    """
    out: list[tuple[str, str]] = []
    low = text.lower()
    if m := _URL.search(text):
        out.append(("link", m.group(0)))
    if hit := next((w for w in PROFANITY if w in low), None):
        out.append(("profanity", hit))
    if hit := next((w for w in SPAM if w in low), None):
        out.append(("spam", hit))
    norm = _normal(text)
    if (m := _REPEAT.search(norm)) is not None:
        out.append(("repeated_text", m.group(1)))
    elif len(norm) >= 8 and any(_normal(t) == norm for t in recent_texts):
        out.append(("repeated_text", "same text as a recent report"))
    return out


# -- masking -------------------------------------------------------------------------------------------


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits of a mobile number ("138****5678"); less of shorter numbers."""
    if not phone:
        return phone
    p = phone.strip()
    if len(p) >= 8:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(0, len(p) - 2) + p[-2:]


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    local, at, domain = email.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[:1] + "*" * max(1, len(name) - 1)
