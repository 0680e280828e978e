"""Real local endpoints for the notifier tests: an HTTP server, an SMTP server and a bus on its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from citybrain.core.bus import InMemoryBus
from citybrain.warning.notify import Notification
from citybrain.warning.notify.inapp import bus_sink

SECRET = "s3cret-s3cret-s3cret"


def sample(**changes: Any) -> Notification:
    """A firing orange notification about a gas leak, with two warnings."""
    values: dict[str, Any] = dict(
        id="ntf-0001", group_key="grp-gas-xuhui", receiver="urban", status="firing", level=2,
        title_zh="燃气泄漏", title_en="Gas leak",
        body_zh="徐汇区 2 处燃气浓度超限。", body_en="Gas concentration above limit at 2 sites in Xuhui.",
        warnings=(
            {"id": "w-1", "fingerprint": "fp-1", "labels": {"device": "gas-001", "district": "310104"},
             "level": 2, "state": "firing", "starts_at": "2026-05-01T07:58:00Z"},
            {"id": "w-2", "fingerprint": "fp-2", "labels": {"device": "gas-002"},
             "level": 3, "state": "firing", "starts_at": "2026-05-01T07:59:30Z"},
        ),
        link="/warnings/groups/grp-gas-xuhui", created_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
    )
    values.update(changes)
    return Notification(**values)


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 204
    reply_headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    state = HttpServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            for k, v in state.reply_headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/citybrain"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers: a timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class SmtpHandler:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.rcpt_reply: str | None = None  # answer RCPT with this instead of 250
        self.refuse: set[str] = set()  # only these recipients (empty: everyone) get rcpt_reply
        self.data_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply and (not self.refuse or address in self.refuse):
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: SmtpHandler


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer(port, handler)
    controller.stop()


@dataclass
class BusThread:
    bus: InMemoryBus
    loop: asyncio.AbstractEventLoop
    received: list[tuple[str, Any]]

    def sink(self, subject: str, message: dict[str, Any]) -> None:
        bus_sink(self.bus, self.loop, timeout_s=2)(subject, message)

    def drain(self) -> list[tuple[str, Any]]:
        asyncio.run_coroutine_threadsafe(self.bus.drain(), self.loop).result(5)
        return self.received


@pytest.fixture
def bus_thread() -> Iterator[BusThread]:
    """An in-memory bus on an event loop in its own thread, the way the app runs it, with one subscriber."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bus = InMemoryBus()
    received: list[tuple[str, Any]] = []

    async def collect(subject: str, message: Any) -> None:
        received.append((subject, message))

    asyncio.run_coroutine_threadsafe(bus.subscribe("notifications.inapp.*", collect), loop).result(5)
    yield BusThread(bus, loop, received)
    asyncio.run_coroutine_threadsafe(bus.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def stopped_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop nobody runs: a bus behind it is unreachable."""
    loop = asyncio.new_event_loop()
    yield loop
    with contextlib.suppress(Exception):
        loop.close()
