"""The ``Bus`` port over NATS JetStream, for running citybrain on more than one machine.

What it adds to the port's guarantees: ``publish`` returns only after JetStream has stored the message
(its PubAck), retrying through a reconnect under one message id so a retry is not stored twice.
A subscriber is a pull consumer with explicit acks: a message is acked only after the handler returned,
and the ack is a request the server confirms (so are NAK and TERM); a failing handler's message is NAKed
with a growing delay and redelivered, and after ``max_deliver`` attempts it is terminated and logged
once. Without ``durable`` a subscriber is ephemeral and sees what is published after it subscribed (as
on the in-memory bus); with ``durable`` (or ``queue``) it is a named consumer: every process subscribing
under that name shares one cursor, so they split the messages, and a restarted worker resumes after the
last acked message (a new durable starts at the oldest retained message). Delivery is at least once, so
handlers must be idempotent (the ingestion pipeline is).
Order is publish order per subscriber until a redelivery, which comes later.

Our subjects are mapped by a prefix (``readings.in`` → ``citybrain.readings.in``) into one stream
(default ``CITYBRAIN``, subjects ``citybrain.>``), so ``*`` and ``>`` mean what they mean in memory.
Messages are JSON; datetimes, dates and times are sent as ISO 8601 strings and arrive as strings.

Failures are of two kinds (docs/scaling.md): the user must act (credentials refused, no JetStream, a
stream or durable configured differently) → ``SettingsError`` naming ``CITYBRAIN_NATS_URL``; or transient
(server unreachable, reconnecting) → retried, logged once per outage, ``Unavailable`` if it outlasts
the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import re
import uuid
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from citybrain.core.bus import Bus, Handler, InMemoryBus
from citybrain.core.errors import SettingsError, Unavailable

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext

    from citybrain.core.settings import Settings

log = logging.getLogger(__name__)

URL_KEY = "CITYBRAIN_NATS_URL"
DEFAULT_STREAM = "CITYBRAIN"
DEFAULT_PREFIX = "citybrain"
Kind = Literal["user_must_act", "transient"]
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Server error texts a retry cannot fix: the user must change credentials, permissions or TLS settings.
_USER_MUST_ACT_TEXT = ("authorization violation", "authentication", "permissions violation", "user credentials")


def classify(exc: BaseException) -> Kind:
    """Sort a client or server failure into "the user must act" or "transient (retry with backoff)".

    >>> classify(nats.errors.Error("nats: 'Authorization Violation'")), classify(ConnectionRefusedError())
    ('user_must_act', 'transient')
    """
    user_types = (nats.errors.AuthorizationError, nats.errors.InvalidUserCredentialsError,
                  nats.errors.SecureConnRequiredError, nats.errors.SecureConnWantedError,
                  nats.errors.SecureConnFailedError)
    if isinstance(exc, user_types):
        return "user_must_act"
    text = str(exc).lower()
    if isinstance(exc, nats.errors.Error) and any(t in text for t in _USER_MUST_ACT_TEXT):
        return "user_must_act"
    return "transient"


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot send a {type(value).__name__} on the bus (JSON only)")


def encode(message: Any) -> bytes:
    """JSON bytes; datetimes as ISO 8601.

    >>> encode({"ts": dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)})
    b'{"ts":"2024-05-01T08:00:00+00:00"}'
    """
    return json.dumps(message, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def _check_pattern(pattern: str) -> None:
    tokens = pattern.split(".")
    if not pattern or any(not t or (">" in t and t != ">") or ("*" in t and t != "*") for t in tokens) \
            or ">" in tokens[:-1]:
        raise ValueError(f"not a subject pattern: {pattern!r} (dot-separated tokens, '*' one, a final '>' the rest)")


# Why the subscriber keeps overlapping pull requests instead of calling nats-py's ``fetch`` in a loop:
# nats-server 2.9.x, when a message is ready but every pull request it holds has just expired (and is
# not swept yet), "puts the message back" by rewinding the consumer cursor (``o.sseq--``) even when the
# message came from the redelivery queue. The redelivery is then lost until ack_wait and the last new
# message is delivered a second time (delivery count 1). Back-to-back fetches expire exactly when a
# NAK delay of the same length ends, so this happened often. With a fresh request sent every
# ``fetch_timeout`` that lives for three of them, the server always holds a valid request while we run.
_PULL_LIFETIME = 3


@dataclasses.dataclass
class JetStreamSubscription:
    """One pull consumer and the task that pulls, hands each message to the handler and settles it."""

    bus: JetStreamBus
    pattern: str
    handler: Handler
    consumer: str
    durable: bool
    inbox: Subscription
    next_subject: str
    task: asyncio.Task[None] | None = None
    puller: asyncio.Task[None] | None = None
    delivered: int = 0
    failed: int = 0
    terminated: int = 0
    _stopping: bool = False
    _handling: int = 0
    _fetch_errors: int = 0
    _last_pull_expires: float = 0.0
    _drained: asyncio.Event | None = None
    _owed: int = 0  # messages asked for and not yet received (requests that expired unserved age out)

    def start(self) -> None:
        name = f"{self.pattern}:{self.consumer}"
        self.puller = asyncio.create_task(self._pull(), name=f"nats-pull:{name}")
        self.task = asyncio.create_task(self.run(), name=f"nats-sub:{name}")

    async def _pull(self) -> None:
        """Ask for as many messages as fit (``batch`` minus those in hand) every ``fetch_timeout``, and at once
        whenever the handler has worked through everything in hand, so a busy consumer is never left waiting
        for the next turn of the clock (that capped it at ``batch`` messages per ``fetch_timeout``)."""
        bus = self.bus
        loop = asyncio.get_running_loop()
        lifetime = _PULL_LIFETIME * bus.fetch_timeout
        self._drained = asyncio.Event()
        early = False  # woken by a drained inbox rather than by the clock
        while not self._stopping:
            self._drained.clear()
            room = bus.batch - self.inbox.pending_msgs - self._handling
            nc = bus._nc
            # an early pull only once every message asked for so far has come, so the server never holds
            # more than the clock's overlapping requests (at most _PULL_LIFETIME x batch messages owed)
            if room > 0 and nc is not None and not (early and self._owed > 0):
                request = {"batch": room, "expires": int(lifetime * 1e9)}
                try:
                    await nc.publish(self.next_subject, json.dumps(request).encode(), reply=self.inbox.subject)
                except Exception as exc:  # reconnecting, closed, …: transient unless it says otherwise
                    self._fetch_errors += 1
                    if self._fetch_errors == 1:
                        log.warning("nats: consumer %s cannot pull (%s: %s); retrying", self.consumer,
                                    type(exc).__name__, exc)
                else:
                    self._owed = min(max(self._owed, 0) + room, _PULL_LIFETIME * bus.batch)
                    self._last_pull_expires = loop.time() + lifetime
                    if self._fetch_errors:
                        log.info("nats: consumer %s pulls again", self.consumer)
                        self._fetch_errors = 0
                    log.debug("nats: consumer %s pulls %d", self.consumer, room)
            try:
                await asyncio.wait_for(self._drained.wait(), bus.fetch_timeout)
                early = True
            except TimeoutError:
                early = False

    async def run(self) -> None:
        """Handle what arrives on the inbox in delivery order; on close, what is already in hand."""
        while not self._stopping or self.inbox.pending_msgs:
            try:
                msg = await self.inbox.next_msg(timeout=min(self.bus.fetch_timeout, 0.5))  # local: cheap
            except nats.errors.TimeoutError:
                continue
            except Exception as exc:  # the connection is closed: nothing more will arrive
                log.debug("nats: consumer %s stops reading (%s)", self.consumer, exc)
                return
            await self._dispatch(msg)

    async def _dispatch(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get("Status"):  # 408 request expired, 409, 100 heartbeat: no message
            log.debug("nats: consumer %s: status %s %s", self.consumer, msg.headers.get("Status"),
                      msg.headers.get("Description", ""))
            return
        self._handling += 1
        self._owed -= 1
        try:
            await self._handle(msg)
        finally:
            self._handling -= 1
            if not self.inbox.pending_msgs and self._drained is not None:
                self._drained.set()  # everything in hand is done: pull the next batch now

    async def _handle(self, msg: Msg) -> None:
        bus = self.bus
        attempt = msg.metadata.num_delivered or 1
        subject = msg.subject[len(bus.prefix) + 1:] if bus.prefix else msg.subject
        log.debug("nats: %s got message %s (attempt %d)", self.pattern, msg.metadata.sequence.stream, attempt)
        try:
            message = json.loads(msg.data)
        except ValueError:
            self.terminated += 1
            log.error("nats: message %s on %s is not JSON; terminated (never redelivered)",
                      msg.metadata.sequence.stream, subject)
            await self._settle(msg, b"+TERM")
            return
        keepalive = asyncio.create_task(self._in_progress(msg))
        try:
            await self.handler(subject, message)
        except Exception:
            self.failed += 1
            if attempt >= bus.max_deliver:
                self.terminated += 1
                log.exception("nats: subscriber %s gave up on message %s on %s after %d attempts; terminated",
                              self.pattern, msg.metadata.sequence.stream, subject, attempt)
                await self._settle(msg, b"+TERM")
            else:
                if self.failed == 1 or self.failed % 1000 == 0:
                    log.exception("nats: subscriber %s failed on %s (attempt %d, %d failures); redelivering later",
                                  self.pattern, subject, attempt, self.failed)
                delay = min(bus.retry_delay * 2 ** (attempt - 1), bus.max_retry_delay)
                await self._settle(msg, b"-NAK " + json.dumps({"delay": int(delay * 1e9)}).encode())
        else:
            self.delivered += 1
            await self._settle(msg, b"+ACK")
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def _in_progress(self, msg: Msg) -> None:
        """Tell the server a slow handler is still working, so the message is not redelivered meanwhile."""
        while True:
            await asyncio.sleep(self.bus.ack_wait / 2)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _settle(self, msg: Msg, verdict: bytes) -> None:
        """Send the ack, NAK or TERM as a request: the server's reply confirms it took effect."""
        nc = self.bus._nc
        try:
            if nc is None or not msg.reply:
                raise nats.errors.ConnectionClosedError
            await nc.request(msg.reply, verdict, timeout=min(self.bus.timeout, 5.0))
        except Exception as exc:  # connection lost: the server redelivers after ack_wait (at least once)
            log.warning("nats: could not settle (%s) a message of %s (%s: %s); it will be redelivered",
                        verdict.split()[0].decode(), self.pattern, type(exc).__name__, exc)

    async def close(self) -> None:
        """Stop pulling, finish what is in hand (settling it), and drop the consumer if it was ephemeral.

        A durable's pull requests outlive the process on the server for up to ``_PULL_LIFETIME`` ×
        ``fetch_timeout``; a message one of them delivers after we unsubscribed would wait out
        ``ack_wait`` before the next worker got it, so for a durable we keep reading until they expired.
        """
        self._stopping = True
        if self._drained is not None:
            self._drained.set()  # wake the puller now rather than at its next turn of the clock
        for task in (self.puller, self.task):
            if task is not None:
                await task
        if self.durable:
            loop = asyncio.get_running_loop()
            while (left := self._last_pull_expires - loop.time()) > 0 or self.inbox.pending_msgs:
                try:
                    msg = await self.inbox.next_msg(timeout=max(left, 0.001))
                except nats.errors.TimeoutError:
                    continue
                except Exception:  # the connection is gone
                    break
                await self._dispatch(msg)
        if self in self.bus._subs:
            self.bus._subs.remove(self)
        with contextlib.suppress(Exception):
            await self.inbox.unsubscribe()
        if not self.durable and self.bus._js is not None:
            with contextlib.suppress(Exception):
                await self.bus._js.delete_consumer(self.bus.stream, self.consumer)


class JetStreamBus:
    """The ``Bus`` port on NATS JetStream; see the module docstring for what it guarantees.

    ``await bus.connect()`` at start-up fails fast (it is otherwise done on first use).
    """

    def __init__(self, url: str, *, stream: str = DEFAULT_STREAM, prefix: str = DEFAULT_PREFIX,
                 name: str = "citybrain", max_age: float = 7 * 24 * 3600, ack_wait: float = 30.0,
                 max_deliver: int = 5, retry_delay: float = 1.0, max_retry_delay: float = 60.0,
                 batch: int = 16, fetch_timeout: float = 1.0, timeout: float = 10.0,
                 reconnect_wait: int = 2) -> None:
        if not urlsplit(url).scheme.startswith(("nats", "tls", "ws")):
            raise SettingsError(f"{URL_KEY} must be nats://[user:password@]host[:port], not {redact(url)!r}")
        if not _NAME.match(stream):
            raise ValueError(f"stream name {stream!r}: letters, digits, '-' and '_' only")
        if prefix:
            _check_pattern(prefix)
            if "*" in prefix or ">" in prefix:
                raise ValueError(f"subject prefix {prefix!r} may not contain wildcards")
        self.url, self.stream, self.prefix, self.name = url, stream, prefix, name
        self.max_age, self.ack_wait, self.max_deliver = max_age, ack_wait, max_deliver
        self.retry_delay, self.max_retry_delay = retry_delay, max_retry_delay
        self.batch, self.fetch_timeout, self.timeout = batch, fetch_timeout, timeout
        self.reconnect_wait = reconnect_wait
        self.published = 0
        self.reconnects = 0
        self.state: Literal["new", "connected", "reconnecting", "user_must_act", "closed"] = "new"
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._subs: list[JetStreamSubscription] = []
        self._lock = asyncio.Lock()
        self._fatal: BaseException | None = None
        self._fatal_event = asyncio.Event()
        self._outage_logged = False

    # -- connection -------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and ensure the stream; ``SettingsError`` if the user must act, ``Unavailable`` if transient."""
        async with self._lock:
            if self._js is not None:
                return
            if self.state == "closed":
                raise Unavailable("the NATS bus is closed")
            nc = NatsClient()
            connecting = asyncio.create_task(nc.connect(
                servers=[self.url], name=self.name, allow_reconnect=True, max_reconnect_attempts=-1,
                reconnect_time_wait=self.reconnect_wait, connect_timeout=max(1, int(self.timeout / 4)),
                error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            ))
            fatal = asyncio.create_task(self._fatal_event.wait())
            done, _ = await asyncio.wait({connecting, fatal}, timeout=self.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            fatal.cancel()
            if connecting not in done or connecting.exception() is not None:
                connecting.cancel()
                with contextlib.suppress(BaseException):
                    await connecting
                with contextlib.suppress(Exception):
                    await nc.close()
                if self._fatal is not None:
                    raise SettingsError(f"{URL_KEY}: the NATS server at {redact(self.url)} refuses us: {self._fatal}")
                cause = connecting.exception() if connecting in done and not connecting.cancelled() else None
                raise Unavailable(f"cannot reach NATS at {redact(self.url)} within {self.timeout:g} s"
                                  + (f": {cause}" if cause else ""))
            js = nc.jetstream(timeout=self.timeout)
            try:
                await self._ensure_stream(js)
            except BaseException:
                await nc.close()
                raise
            self._nc, self._js, self.state = nc, js, "connected"
            log.info("nats: connected to %s, stream %s (subjects %s.>)", redact(self.url), self.stream, self.prefix)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        subjects = [f"{self.prefix}.>"]
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            config = api.StreamConfig(
                name=self.stream, subjects=subjects, retention=api.RetentionPolicy.LIMITS,
                storage=api.StorageType.FILE, max_age=self.max_age, duplicate_window=120.0,
                description="citybrain bus (see docs/scaling.md)",
            )
            try:
                await js.add_stream(config)
            except nats.js.errors.APIError as exc:
                raise SettingsError(f"{URL_KEY}: cannot create JetStream stream {self.stream}: {exc}") from exc
            return
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError) as exc:
            raise SettingsError(f"{URL_KEY}: the server at {redact(self.url)} does not answer JetStream requests "
                                f"({type(exc).__name__}); start nats-server with JetStream enabled (-js)") from exc
        have = info.config.subjects or []
        if subjects[0] not in have:
            raise SettingsError(f"{URL_KEY}: stream {self.stream} exists with subjects {have}, not {subjects}; "
                                "pick another stream name or prefix")

    async def _on_error(self, exc: Exception) -> None:
        if classify(exc) == "user_must_act":
            if self._fatal is None:
                log.error("nats: %s refuses citybrain (%s); fix %s or the server's accounts; still retrying",
                          redact(self.url), exc, URL_KEY)
            self._fatal = exc
            self.state = "user_must_act"
            self._fatal_event.set()
        elif not self._outage_logged:
            self._outage_logged = True
            log.warning("nats: %s: %s (transient; reconnecting every %g s)", redact(self.url), exc,
                        self.reconnect_wait)

    async def _on_disconnected(self) -> None:
        if self.state == "connected":
            self.state = "reconnecting"
            if not self._outage_logged:
                self._outage_logged = True
                log.warning("nats: disconnected from %s; reconnecting", redact(self.url))

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        self.state, self._fatal, self._outage_logged = "connected", None, False
        self._fatal_event.clear()
        log.info("nats: reconnected to %s", redact(self.url))

    async def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            await self.connect()
        assert self._js is not None
        return self._js

    # -- the port ---------------------------------------------------------------------------------------

    def _full(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    async def publish(self, subject: str, message: Any) -> None:
        """Store ``message`` on ``subject``; returns once JetStream acked it, raises ``Unavailable`` otherwise."""
        if "*" in subject or ">" in subject:
            raise ValueError(f"cannot publish to a pattern: {subject!r}")
        _check_pattern(subject)
        js = await self._jetstream()
        data = encode(message)
        headers = {"Nats-Msg-Id": uuid.uuid4().hex}  # the same id on every retry: the stream stores it once
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            left = deadline - loop.time()
            try:
                await js.publish(self._full(subject), data, timeout=max(0.1, min(left, 5.0)), stream=self.stream,
                                 headers=dict(headers))
                self.published += 1
                return
            except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError,
                    nats.js.errors.ServiceUnavailableError, nats.errors.ConnectionReconnectingError,
                    nats.errors.OutboundBufferLimitError) as exc:
                left = deadline - loop.time()
                if left <= 0:
                    raise Unavailable(f"NATS did not store a message on {subject} within {self.timeout:g} s "
                                      f"({attempt} attempts, last: {type(exc).__name__})") from exc
                await asyncio.sleep(min(self.retry_delay * 2 ** (attempt - 1), 2.0, left))
            except nats.js.errors.APIError as exc:  # e.g. stream full, wrong stream: retrying will not help
                raise Unavailable(f"NATS refused a message on {subject}: {exc}") from exc
            except nats.errors.ConnectionClosedError as exc:
                raise Unavailable("the NATS bus is closed") from exc

    async def subscribe(self, pattern: str, handler: Handler, *, queue_size: int = 10_000,
                        durable: str | None = None, queue: str | None = None) -> JetStreamSubscription:
        """Hand matching messages to ``handler`` one at a time; ack after it returned.

        ``durable`` (or ``queue``, the same thing: JetStream queue groups are shared durable consumers)
        names a consumer that outlives this process and is shared by everyone using the name.
        ``queue_size`` bounds the messages handed out but not yet acked (the consumer's max_ack_pending).
        """
        _check_pattern(pattern)
        if durable and queue and durable != queue:
            raise ValueError(f"durable {durable!r} and queue {queue!r} differ; a queue group is a shared durable")
        name = durable or queue
        if name is not None and not _NAME.match(name):
            raise ValueError(f"durable name {name!r}: letters, digits, '-' and '_' only")
        js = await self._jetstream()
        consumer = name or f"eph_{uuid.uuid4().hex}"
        config = api.ConsumerConfig(
            name=consumer, durable_name=name, filter_subject=self._full(pattern),
            deliver_policy=api.DeliverPolicy.ALL if name else api.DeliverPolicy.NEW,
            ack_policy=api.AckPolicy.EXPLICIT, ack_wait=self.ack_wait, max_deliver=self.max_deliver,
            max_ack_pending=queue_size, inactive_threshold=None if name else max(60.0, 10 * self.fetch_timeout),
        )
        try:
            await js.add_consumer(self.stream, config)
        except nats.js.errors.BadRequestError as exc:
            raise SettingsError(f"{URL_KEY}: consumer {consumer} on stream {self.stream} exists with another "
                                f"configuration (pattern {pattern!r}?): {exc}; use another durable name") from exc
        except nats.js.errors.APIError as exc:
            raise Unavailable(f"NATS could not create consumer {consumer}: {exc}") from exc
        assert self._nc is not None
        inbox = await self._nc.subscribe(self._nc.new_inbox(), pending_msgs_limit=max(4 * self.batch, 1024))
        sub = JetStreamSubscription(self, pattern, handler, consumer, name is not None, inbox,
                                    f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{consumer}")
        sub.start()
        self._subs.append(sub)
        return sub

    async def close(self) -> None:
        """Finish and ack the messages in hand, drop ephemeral consumers, then drain the connection."""
        for sub in list(self._subs):
            await sub.close()
        nc, self._nc, self._js = self._nc, None, None
        self.state = "closed"
        if nc is not None and not nc.is_closed:
            try:
                await nc.drain()
            except Exception as exc:
                log.warning("nats: drain failed (%s); closing", exc)
                with contextlib.suppress(Exception):
                    await nc.close()

    def stats(self) -> dict[str, Any]:
        return {
            "published": self.published, "state": self.state, "reconnects": self.reconnects,
            "subscriptions": [
                {"pattern": s.pattern, "consumer": s.consumer, "durable": s.durable, "delivered": s.delivered,
                 "failed": s.failed, "terminated": s.terminated}
                for s in self._subs
            ],
        }


def make_bus(settings: Settings, **options: Any) -> Bus:
    """The in-memory bus when ``CITYBRAIN_NATS_URL`` is unset, else JetStream (``options`` go to it)."""
    if not settings.nats_url:
        return InMemoryBus()
    return JetStreamBus(settings.nats_url, **options)

