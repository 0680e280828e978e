"""Identifiers and secrets: sortable ids for messages, random tokens, and token hashing."""

from __future__ import annotations

import hashlib
import os
import secrets
import time

_B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str = "") -> str:
    """A time-sortable, collision-resistant id (48-bit ms timestamp + 80 random bits, Crockford base32).

    >>> a, b = new_id("w_"), new_id("w_")
    >>> a.startswith("w_") and len(a) == 28 and a != b
    True
    """
    n = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_B32[n & 31])
        n >>= 5
    return prefix + "".join(reversed(chars))


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """Tokens are stored only as their SHA-256 (they are long random strings, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
