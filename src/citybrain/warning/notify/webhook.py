"""Webhook notifier: POST the notification as JSON, signed so the receiver can trust and de-duplicate it.

Headers: ``X-Citybrain-Timestamp`` (Unix seconds), ``X-Citybrain-Signature: sha256=<hex>`` (HMAC-SHA256
with the shared secret over ``"<timestamp>.<body>"``) and ``X-Citybrain-Delivery`` (the notification id,
the same on every retry). Receivers check with :func:`verify_signature`; docs/notify.md shows how.
Redirects are not followed (a signed body must not wander to another host): a 3xx is permanent.

>>> body = b'{"id":"ntf-1"}'
>>> header = sign("0123456789abcdef", 1770000000, body)
>>> verify_signature("0123456789abcdef", "1770000000", body, header, now=1770000100)
True
>>> verify_signature("0123456789abcdef", "1770000000", body + b" ", header, now=1770000100)
False
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from citybrain import __version__
from citybrain.core.clock import Clock, SystemClock, ensure_utc
from citybrain.warning.notify.base import (
    ConfigReader,
    Notification,
    Notifier,
    NotifyConfigError,
    NotifyPermanent,
    NotifyTransient,
)

SIGNATURE_HEADER = "X-Citybrain-Signature"
TIMESTAMP_HEADER = "X-Citybrain-Timestamp"
DELIVERY_HEADER = "X-Citybrain-Delivery"
MIN_SECRET_LENGTH = 16
_RESERVED_HEADERS = {"content-type", "content-length", "host", "user-agent"}


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str | int, body: bytes | str, header: str | None, *,
                     now: datetime | float, tolerance_s: float = 300) -> bool:
    """Whether ``header`` is our signature of ``body`` at ``timestamp``, made within ``tolerance_s`` of ``now``.

    For receivers: pass the raw request body (before any JSON parsing) and the two headers as received.
    The comparison takes constant time; a timestamp too old (a replay) or too far ahead is refused.
    """
    if not header or not secret:
        return False
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    now_s = ensure_utc(now).timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - ts) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, ts, raw).encode("ascii"), header.strip().encode("utf-8", "replace"))


def _check_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"must be an http or https URL, not {parts.scheme or 'no'} scheme"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry credentials (put them in 'headers')"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has a bad port"
    return None


def _check_secret(secret: str) -> str | None:
    if len(secret) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class WebhookNotifier(Notifier):
    """POSTs ``Notification.as_json()`` to ``url``, signed with ``secret``.

    Config: ``url`` (http/https, required), ``secret`` (≥16 characters, required), ``timeout_s``
    (default 10), ``headers`` (extra request headers, e.g. an ``Authorization`` the receiver wants).
    ``clock`` (keyword) supplies the signing time.
    """

    kind: ClassVar[str] = "webhook"
    secret_keys: ClassVar[frozenset[str]] = frozenset({"secret", "headers"})

    def __init__(self, config: Mapping[str, Any], *, clock: Clock | None = None) -> None:
        r = ConfigReader(config)
        self.url: str = r.text("url", required=True, check=_check_url)
        self.secret: str = r.text("secret", required=True, check=_check_secret)
        self.timeout_s: float = r.number("timeout_s", default=10.0, minimum=0.1, maximum=120.0)
        self.headers = r.mapping("headers")
        for name, value in self.headers.items():
            if name.lower() in _RESERVED_HEADERS or name.lower().startswith("x-citybrain-"):
                raise NotifyConfigError("headers", f"{name!r} is set by the notifier")
            if any(c in name + value for c in "\r\n") or not name.strip():
                raise NotifyConfigError("headers", f"{name!r} is not a valid header")
        self.config = r.finish()
        self.clock: Clock = clock or SystemClock()
        self._opener = urllib.request.build_opener(_NoRedirect())

    def request(self, n: Notification) -> urllib.request.Request:
        """The signed request :meth:`send` makes (separate so the bytes can be inspected)."""
        body = json.dumps(n.as_json(), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
        ts = int(self.clock.now().timestamp())
        headers = {
            **self.headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"citybrain/{__version__}",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(self.secret, ts, body),
            DELIVERY_HEADER: n.id,
        }
        # The scheme was checked in __init__ (http/https only), so S310's file: concern does not apply.
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310

    def send(self, n: Notification) -> None:
        req = self.request(n)
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                resp.read(65536)
        except urllib.error.HTTPError as e:
            try:
                snippet = e.read(300) if e.fp else b""
            except (OSError, http.client.HTTPException):
                snippet = b""
            finally:
                e.close()
            raise self._http_failure(e.code, e.headers, snippet) from None
        except urllib.error.URLError as e:
            raise _network_failure(e.reason, self.url) from e
        except (OSError, http.client.HTTPException) as e:  # timeouts, resets, malformed responses
            raise _network_failure(e, self.url) from e

    def _http_failure(self, status: int, headers: Any, snippet: bytes) -> Exception:
        text = snippet.decode("utf-8", "replace").strip()
        what = f"{self.url} answered {status}" + (f": {text[:200]}" if text else "")
        if status in (408, 425, 429) or status >= 500:
            return NotifyTransient(what, retry_after=self._retry_after(headers))
        if 300 <= status < 400:
            return NotifyPermanent(f"{what} (redirects are not followed; configure the final URL)")
        return NotifyPermanent(what)

    def _retry_after(self, headers: Any) -> float | None:
        value = headers.get("Retry-After") if headers is not None else None
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (ensure_utc(when) - self.clock.now()).total_seconds())


def _network_failure(reason: object, url: str) -> Exception:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return NotifyPermanent(f"{url}: TLS certificate refused: {reason.verify_message or reason}")
    if isinstance(reason, ValueError):
        return NotifyPermanent(f"{url}: {reason}")
    return NotifyTransient(f"{url}: {reason or type(reason).__name__}")
