"""The application's secret, and the per-purpose keys derived from it.

``CITYBRAIN_SECRET_KEY`` is the one secret a deployment sets (every API node the same). Without it a random key
is created once in ``data_dir/secrets/app.key`` (mode 0600), which serves a single node and the demo. Each use
gets its own key derived with HMAC-SHA256 from the secret and a purpose name, so a key leaked from one use
(say, the proof-of-work challenges) reveals nothing about another (the ID-number hashes).

>>> from types import SimpleNamespace
>>> s = SimpleNamespace(secret_key="correct horse battery staple", data_dir="/nonexistent")
>>> derive_key(s, "report") == derive_key(s, "report") != derive_key(s, "training-id")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Any

_CACHE: dict[str, bytes] = {}
_LOCK = threading.Lock()


def app_secret(settings: Any) -> bytes:
    """``settings.secret_key`` when set, else the node's generated key file (created atomically once)."""
    configured = getattr(settings, "secret_key", None)
    if configured:
        raw = configured.get_secret_value() if hasattr(configured, "get_secret_value") else str(configured)
        if raw:
            return raw.encode("utf-8")
    path = Path(settings.data_dir) / "secrets" / "app.key"
    with _LOCK:
        if str(path) in _CACHE:
            return _CACHE[str(path)]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
                    fh.flush()
                    os.fsync(fh.fileno())
        value = path.read_bytes()
        if len(value) < 32:
            raise RuntimeError(f"{path} is damaged (under 32 bytes): delete it or set CITYBRAIN_SECRET_KEY")
        _CACHE[str(path)] = value
        return value


def derive_key(settings: Any, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` ("report", "training-id", …), derived from the application secret."""
    return hmac.new(app_secret(settings), b"citybrain:" + purpose.encode(), hashlib.sha256).digest()
