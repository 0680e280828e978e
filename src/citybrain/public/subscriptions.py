"""Citizens' subscriptions to public warnings of a district, and their delivery.

A subscription names a district, a minimum level and one address: an email (pending until its owner
follows the confirmation link) or a webhook URL (active at once, signed with a secret shown only in the
answer to the subscription; private, loopback and link-local addresses are refused unless allowed).
Every message carries the subscription's unsubscribe link.

Delivery has two halves, like ``warning.outbox``: ``deliver_public_warning`` plans one ``public_delivery``
row per matching active subscription and warning state (idempotent: the row's unique key is
(subscription, warning, state)); ``send_due`` sends due rows outside any transaction through the existing
email and webhook notifiers and records the outcome: sent, retried later with backoff, or dead.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.clock import Clock, SystemClock
from citybrain.core.database import Database
from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.public import service as public_service
from citybrain.public.models import PublicDelivery, PublicSubscription
from citybrain.warning import lifecycle as lc
from citybrain.warning.models import Warning
from citybrain.warning.notify.base import Notification as Message
from citybrain.warning.notify.base import (
    Notifier,
    NotifyConfigError,
    NotifyError,
    NotifyPermanent,
    NotifyTransient,
    record_attempt,
)
from citybrain.warning.notify.email import EmailNotifier
from citybrain.warning.notify.webhook import MIN_SECRET_LENGTH, WebhookNotifier
from citybrain.warning.types import Level

log = logging.getLogger(__name__)
KINDS = ("email", "webhook")
PENDING, ACTIVE, UNSUBSCRIBED = "pending", "active", "unsubscribed"
CONFIRM = "confirm"
API = "/api/v1/public/subscriptions"
BLOCKED_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")
Resolver = Callable[[str], list[str]]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def check_webhook_url(url: str, *, allow_private: bool = False, resolve: Resolver = _resolve) -> str | None:
    """Why ``url`` may not receive public webhooks, or ``None``.

    The webhook notifier's own URL rules apply (http/https, a host, no credentials); then every address the
    host has must be public, so a subscription cannot make the server call into its own network.

    >>> check_webhook_url("https://8.8.8.8/hook") is None
    True
    >>> check_webhook_url("http://127.0.0.1:8080/x"), check_webhook_url("ftp://8.8.8.8/")[:27]
    ('must not point to a private, loopback or link-local address', 'must be an http or https UR')
    >>> check_webhook_url("http://127.0.0.1:8080/x", allow_private=True) is None
    True
    """
    try:
        WebhookNotifier({"url": url, "secret": "x" * MIN_SECRET_LENGTH})
    except NotifyConfigError as exc:
        return str(exc).removeprefix("url: ")
    if allow_private:
        return None
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    private = "must not point to a private, loopback or link-local address"
    addresses = [host] if _is_ip(host) else None
    if addresses is None:
        if host == "localhost" or host.endswith(BLOCKED_NAMES):
            return private
        try:
            addresses = resolve(host)
        except (OSError, UnicodeError):
            return f"host {host!r} does not resolve"
        if not addresses:
            return f"host {host!r} does not resolve"
    for addr in addresses:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return private
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_email(address: str) -> str | None:
    try:
        EmailNotifier({"host": "localhost", "starttls": False, "from": "check@example.org", "to": [address]})
    except NotifyConfigError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


# -- subscribing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What ``subscribe`` did; ``secret`` (webhook) is shown only here, ``confirm_token`` goes by mail."""

    subscription: PublicSubscription
    created: bool
    secret: str | None = None
    confirm_token: str | None = None


def subscribe(*, session: Session, now: datetime, kind: str, target: str, district: str, min_level: Any = 4,
              include_exercise: bool = False, lang: str = "zh-CN", secret: str | None = None,
              allow_private: bool = False, resolve: Resolver = _resolve) -> Subscribed:
    """Subscribe ``target`` to ``district``'s public warnings at ``min_level`` or more severe.

    An email address is sent a confirmation link and stays pending until it is followed; asking again for
    the same address and district changes nothing and sends no other mail. A webhook is active at once.
    ``Invalid`` names the bad field.
    """
    if kind not in KINDS:
        raise Invalid(f"unknown kind {kind!r}", errors=[FieldError("body.kind", "email or webhook")])
    target = target.strip()
    problem = (_check_email(target) if kind == "email"
               else check_webhook_url(target, allow_private=allow_private, resolve=resolve))
    if problem:
        raise Invalid(f"{kind} {problem}", errors=[FieldError("body.target", problem)])
    if kind == "email":
        target = target.lower()
    try:
        level = Level.parse(min_level)
    except ValueError as exc:
        raise Invalid(str(exc), errors=[FieldError("body.min_level", "red/orange/yellow/blue, I-IV or 1-4")]) from None
    if lang not in ("zh-CN", "en"):
        raise Invalid(f"unknown language {lang!r}", errors=[FieldError("body.lang", "zh-CN or en")])
    if secret is not None and (len(secret) < MIN_SECRET_LENGTH or len(secret) > 128):
        raise Invalid("secret too short or too long",
                      errors=[FieldError("body.secret", f"{MIN_SECRET_LENGTH} to 128 characters")])
    public_service.check_district(session=session, code=district, field="body.district")
    existing = session.scalar(sa.select(PublicSubscription).where(
        PublicSubscription.kind == kind, PublicSubscription.target == target,
        PublicSubscription.district_code == district))
    if existing is not None and existing.status != UNSUBSCRIBED:
        # Left as it is: whoever asks again may not be its owner (changing it needs its unsubscribe link).
        return Subscribed(existing, created=False)
    sub = existing or PublicSubscription(kind=kind, target=target, district_code=district, created_at=now)
    sub.min_level, sub.include_exercise, sub.lang, sub.updated_at = int(level), include_exercise, lang, now
    sub.unsubscribe_token = secrets.token_urlsafe(32)
    sub.unsubscribed_at = None
    confirm_token = new_secret = None
    if kind == "email":
        confirm_token = secrets.token_urlsafe(32)
        sub.status, sub.confirm_token_hash, sub.confirmed_at, sub.secret = PENDING, _hash(confirm_token), None, None
    else:
        new_secret = secret or secrets.token_urlsafe(32)
        sub.status, sub.secret, sub.confirmed_at, sub.confirm_token_hash = ACTIVE, new_secret, now, None
    session.add(sub)
    session.flush()
    if confirm_token is not None:
        _plan(session, now, sub, None, CONFIRM, _confirm_payload(session, sub, confirm_token, now))
    return Subscribed(sub, created=True, secret=new_secret, confirm_token=confirm_token)


def confirm(*, session: Session, now: datetime, token: str) -> PublicSubscription:
    """Activate the pending email subscription the token belongs to (used once)."""
    sub = session.scalar(sa.select(PublicSubscription).where(PublicSubscription.confirm_token_hash == _hash(token)))
    if sub is None or sub.status != PENDING:
        raise NotFound("this confirmation link is unknown or already used")
    sub.status, sub.confirmed_at, sub.confirm_token_hash, sub.updated_at = ACTIVE, now, None, now
    return sub


def unsubscribe(*, session: Session, now: datetime, token: str) -> PublicSubscription:
    """Stop the subscription the token belongs to; pending messages to it are cancelled. Idempotent."""
    sub = session.scalar(sa.select(PublicSubscription).where(PublicSubscription.unsubscribe_token == token))
    if sub is None:
        raise NotFound("this unsubscribe link is unknown")
    if sub.status != UNSUBSCRIBED:
        sub.status, sub.unsubscribed_at, sub.confirm_token_hash, sub.updated_at = UNSUBSCRIBED, now, None, now
        session.execute(sa.update(PublicDelivery).where(PublicDelivery.subscription_id == sub.id,
                                                        PublicDelivery.status == "pending")
                        .values(status="cancelled"))
    return sub


def subscription_dict(sub: PublicSubscription) -> dict[str, Any]:
    """What a subscriber may be told about their subscription (never the token hashes)."""
    return {"id": sub.id, "kind": sub.kind, "target": sub.target, "district": sub.district_code,
            "min_level": Level(sub.min_level).colour, "include_exercise": sub.include_exercise, "lang": sub.lang,
            "status": sub.status, "created_at": sub.created_at, "confirmed_at": sub.confirmed_at,
            "unsubscribe": f"{API}/unsubscribe/{sub.unsubscribe_token}"}


# -- planning ----------------------------------------------------------------------------------------


def _confirm_payload(session: Session, sub: PublicSubscription, token: str, now: datetime) -> dict[str, Any]:
    zh, en = public_service.district_names(session=session).get(sub.district_code, (sub.district_code,) * 2)
    return {"type": CONFIRM, "status": "firing", "level": None, "created_at": now.isoformat(),
            "title_zh": f"请确认订阅{zh}公共安全预警", "title_en": f"Please confirm: public-safety warnings for {en}",
            "lines_zh": [f"有人（希望是您本人）用这个邮箱订阅了{zh}的公共安全预警。",
                         "确认订阅请打开下面的链接；如果不是您本人操作，请忽略本邮件，我们不会再发送。"],
            "lines_en": [f"Someone (we hope you) subscribed this address to public-safety warnings for {en}.",
                         "Open the link below to confirm; if it was not you, ignore this mail and nothing more "
                         "will be sent."],
            "link": f"{API}/confirm/{token}", "link_label": "confirm",
            "group": f"public-sub-{sub.id}"}


def _warning_payload(w: Warning, state: str, item: dict[str, Any], now: datetime) -> dict[str, Any]:
    resolved = state == "resolved"
    title_zh = ("【已解除】" if resolved else "") + item["headline_zh"]
    title_en = ("[Lifted] " if resolved else "") + item["headline_en"]
    if resolved:
        lines_zh = [f"{item['headline_zh']}已解除。感谢您的配合。"]
        lines_en = [f"The {item['headline_en']} has been lifted. Thank you for your cooperation."]
    else:
        lines_zh = [f"{item['action_zh']}。", *[f"· {b}" for b in item["do_now_zh"]]]
        lines_en = [f"{item['action_en']}.", *[f"· {b}" for b in item["do_now_en"]]]
        lines_zh.append(f"发布时间：{item['since_local']}（北京时间）")
        lines_en.append(f"Issued: {item['since_local']} (Beijing time)")
    return {"type": "warning", "status": "resolved" if resolved else "firing", "level": w.level,
            "warning_id": w.id, "exercise": w.exercise, "created_at": now.isoformat(),
            "title_zh": title_zh, "title_en": title_en, "lines_zh": lines_zh, "lines_en": lines_en,
            "link": item["page"], "article": item["article"]["url"] if item["article"] else None,
            "group": f"public-warning-{w.id}"}


def _plan(session: Session, now: datetime, sub: PublicSubscription, warning_id: int | None, state: str,
          payload: dict[str, Any]) -> bool:
    exists = session.scalar(sa.select(PublicDelivery.id).where(
        PublicDelivery.subscription_id == sub.id, PublicDelivery.state == state,
        PublicDelivery.warning_id.is_(None) if warning_id is None else PublicDelivery.warning_id == warning_id))
    if exists is not None and warning_id is not None:
        return False
    if exists is not None:  # a re-subscription after unsubscribing: one new confirmation
        session.execute(sa.delete(PublicDelivery).where(PublicDelivery.id == exists))
    session.add(PublicDelivery(subscription_id=sub.id, warning_id=warning_id, state=state, kind=sub.kind,
                               status="pending", attempts=0, next_attempt_at=now,
                               payload={**payload, "unsubscribe": f"{API}/unsubscribe/{sub.unsubscribe_token}"},
                               created_at=now))
    return True


def warning_state(w: Warning) -> str | None:
    """The state a subscriber hears about: ``firing:<level>`` while active, ``resolved`` after; else None."""
    if w.state in (lc.FIRING, lc.ACKNOWLEDGED) and w.silenced_by is None and w.inhibited_by is None:
        return f"firing:{w.level}"
    if w.state == lc.RESOLVED:
        return "resolved"
    return None


def deliver_public_warning(*, session: Session, now: datetime, warning_id: int) -> int:
    """Plan one message per matching active subscription for the warning's current state; returns how many.

    Matching: the warning is public, of the subscription's district and at least as severe as its minimum
    level; drills (exercise warnings) only to subscriptions that asked for them. A resolution goes only to
    those told of the warning. Calling it again for the same state plans nothing new.
    """
    w = session.get(Warning, warning_id)
    if w is None:
        raise NotFound(f"warning {warning_id} not found")
    state = warning_state(w)
    if not w.public or state is None or not w.district_code:
        return 0
    stmt = sa.select(PublicSubscription).where(PublicSubscription.status == ACTIVE,
                                               PublicSubscription.district_code == w.district_code)
    if w.exercise:
        stmt = stmt.where(PublicSubscription.include_exercise.is_(True))
    if state == "resolved":
        told = sa.select(PublicDelivery.subscription_id).where(PublicDelivery.warning_id == w.id,
                                                               PublicDelivery.state.like("firing:%"))
        stmt = stmt.where(PublicSubscription.id.in_(told))
    else:
        stmt = stmt.where(PublicSubscription.min_level >= w.level)
    subs = list(session.scalars(stmt.order_by(PublicSubscription.id)))
    if not subs:
        return 0
    item = public_service.plain(w, districts=public_service.district_names(session=session))
    payload = _warning_payload(w, state, item, now)
    made = sum(_plan(session, now, sub, w.id, state, payload) for sub in subs)
    session.flush()
    return made


# -- sending -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    kind: str
    target: str
    secret: str | None
    attempts: int
    payload: dict[str, Any]


def due(*, session: Session, now: datetime, limit: int = 100) -> list[Due]:
    """Pending rows whose time has come; rows of a subscription no longer active are cancelled instead."""
    rows = session.execute(
        sa.select(PublicDelivery, PublicSubscription).join(PublicSubscription,
                                                           PublicSubscription.id == PublicDelivery.subscription_id)
        .where(PublicDelivery.status == "pending", PublicDelivery.next_attempt_at <= now)
        .order_by(PublicDelivery.next_attempt_at, PublicDelivery.id).limit(limit))
    out = []
    for d, sub in rows:
        wanted = sub.status == ACTIVE or (sub.status == PENDING and d.state == CONFIRM)
        if not wanted:
            d.status = "cancelled"
            continue
        out.append(Due(d.id, d.kind, sub.target, sub.secret, d.attempts, dict(d.payload)))
    return out


def record(*, session: Session, now: datetime, delivery_id: int, error: NotifyError | None) -> str:
    """Record one attempt: sent, pending again after a backoff, or dead."""
    row = session.get(PublicDelivery, delivery_id)
    if row is None:
        return "gone"
    return record_attempt(row, now=now, error=error, key=f"pub-{row.id}")


def _absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path if path.startswith("/") else path


def compose(due_row: Due, *, base_url: str) -> Message:
    """The notifier message for one row; links absolute, the unsubscribe link in both languages' text."""
    p = due_row.payload
    unsubscribe = _absolute(base_url, p["unsubscribe"])
    link = _absolute(base_url, p["link"])
    lines_zh, lines_en = list(p["lines_zh"]), list(p["lines_en"])
    if p.get("type") == CONFIRM:
        lines_zh.append(f"确认订阅：{link}")
        lines_en.append(f"Confirm: {link}")
    else:
        lines_zh.append(f"详情：{link}")
        lines_en.append(f"Details: {link}")
        if p.get("article"):
            lines_zh.append(f"安全知识：{_absolute(base_url, p['article'])}")
            lines_en.append(f"What to do: {_absolute(base_url, p['article'])}")
    lines_zh.append(f"退订：{unsubscribe}")
    lines_en.append(f"Unsubscribe: {unsubscribe}")
    created = datetime.fromisoformat(p["created_at"])
    return Message(id=f"pub-{due_row.id}", group_key=p["group"], receiver="public", status=p["status"],
                   level=p.get("level"), title_zh=p["title_zh"], title_en=p["title_en"], body_zh="\n".join(lines_zh),
                   body_en="\n".join(lines_en), warnings=(), link=link, created_at=created)


class PublicEmailNotifier(EmailNotifier):
    """The email notifier, plus the unsubscribe headers mail clients show as a button (RFC 2369 / 8058)."""

    def __init__(self, config: Mapping[str, Any], *, unsubscribe_url: str) -> None:
        super().__init__(config)
        self.unsubscribe_url = unsubscribe_url

    def message(self, n: Message) -> EmailMessage:
        msg = super().message(n)
        msg["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return msg


def notifier_for(due_row: Due, *, base_url: str, email: Mapping[str, Any] | None, clock: Clock,
                 allow_private: bool = False, resolve: Resolver = _resolve) -> Notifier:
    """The configured notifier for one row; ``NotifyPermanent`` when it cannot be built."""
    if due_row.kind == "email":
        if email is None:
            raise NotifyTransient("no SMTP server is configured for public subscriptions")
        unsubscribe = _absolute(base_url, due_row.payload["unsubscribe"])
        return PublicEmailNotifier({**email, "to": [due_row.target]}, unsubscribe_url=unsubscribe)
    problem = check_webhook_url(due_row.target, allow_private=allow_private, resolve=resolve)
    if problem:  # checked again at send time: the name may point elsewhere now
        raise NotifyPermanent(f"{due_row.target}: {problem}")
    return WebhookNotifier({"url": due_row.target, "secret": due_row.secret or "", "timeout_s": 10.0}, clock=clock)


def send_due(*, database: Database, now: Callable[[], datetime], base_url: str,
             email: Mapping[str, Any] | None = None, allow_private: bool = False, clock: Clock | None = None,
             limit: int = 100, resolve: Resolver = _resolve) -> dict[str, int]:
    """Send what is due: read in one transaction, send with none open, record each outcome.

    ``email`` is the SMTP config of ``EmailNotifier`` without ``to`` (host, port, from, starttls, …);
    ``base_url`` makes links absolute (e.g. ``https://citybrain.city.example``).
    """
    counts = {"sent": 0, "pending": 0, "dead": 0}
    with database.session() as session:
        rows = due(session=session, now=now(), limit=limit)
    for r in rows:
        error: NotifyError | None = None
        try:
            notifier_for(r, base_url=base_url, email=email, clock=clock or SystemClock(),
                         allow_private=allow_private, resolve=resolve).send(compose(r, base_url=base_url))
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a notifier bug must not stop the others; it is retried like a fault
            log.exception("public delivery %s failed", r.id)
            error = NotifyTransient(f"{exc.__class__.__name__}: {exc}")
        with database.session() as session:
            status = record(session=session, now=now(), delivery_id=r.id, error=error)
        counts[status] = counts.get(status, 0) + 1
        if isinstance(error, NotifyPermanent):
            log.warning("public delivery %s is dead: %s", r.id, error)
    return counts


def deliveries(*, session: Session, subscription_id: int | None = None) -> list[PublicDelivery]:
    stmt = sa.select(PublicDelivery).order_by(PublicDelivery.id)
    if subscription_id is not None:
        stmt = stmt.where(PublicDelivery.subscription_id == subscription_id)
    return list(session.scalars(stmt))
