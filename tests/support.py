"""Helpers shared by tests: where the shared data lives and how to skip (which CI's strict mode fails)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("CITYBRAIN_STRICT_TESTS") == "1"


def shared_data() -> Path:
    """``../shared/data`` beside the checkout (or ``CITYBRAIN_SHARED_DATA``); skip if absent."""
    candidates = [os.environ.get("CITYBRAIN_SHARED_DATA"), ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    pytest.skip("../shared/data is not here (a user's clone has none); CI's strict mode fails this skip")


def chromium_path() -> str:
    path = os.environ.get("CITYBRAIN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("headless Chromium (Debian package 'chromium') is not installed")
    return path


def server_url(url: str, default_port: int, what: str) -> str:
    """``url`` if something listens at its host and port; else skip naming ``what`` (strict CI fails it)."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1).close()
    except OSError:
        pytest.skip(f"no {what} at {url}; CI's strict mode fails this skip")
    return url
