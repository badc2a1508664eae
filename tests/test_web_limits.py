"""The HTTP server of a real App, over real sockets on 127.0.0.1: slow heads and bodies are cut off, the
connection cap holds, the body limit applies on every route, deep JSON is a 400, a replayed Telegram
update is answered once, and a client's broken request never logs a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import App, server_limits_from
from bot.config import DigestSettings, ServerSettings, Settings, SlackSettings, TelegramSettings
from bot.httpguard import Refused, json_too_deep, loads_json
from bot.web import ServerLimits
from tests.conftest import ROOT, free_port
from tests.fakes.fake_slack import FakeSlack, signed_headers
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram, webhook_body

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "600000001:AAweb-limits-test-token-0123456789abcdef"
SECRET = "web-limits-webhook-secret_42"
SIGNING = "web-limits-signing-secret-77e1"
LIMIT = 4096
PRIVATE = 31337
ROUTES = ["/telegram/webhook", "/slack/commands", "/slack/events"]


@dataclasses.dataclass
class Service:
    app: App
    port: int
    telegram: FakeTelegram
    slack: FakeSlack

    def headers_for(self, path: str, body: bytes) -> list[bytes]:
        """What a genuine sender puts on `path`: the webhook secret, or Slack's signature over `body`."""
        if path == "/telegram/webhook":
            return [b"Content-Type: application/json", f"X-Telegram-Bot-Api-Secret-Token: {SECRET}".encode()]
        kind = "application/json" if path == "/slack/events" else "application/x-www-form-urlencoded"
        return [f"Content-Type: {kind}".encode(),
                *(f"{name}: {value}".encode() for name, value in signed_headers(SIGNING, body).items())]

    def nothing_ran(self) -> bool:
        return self.telegram.total_sent() == 0 and self.slack.all_posts() == [] and self.slack.ephemerals == []

    @property
    def open_connections(self) -> int:
        assert self.app.web_server is not None
        return self.app.web_server.open_connections


ServiceFactory = Callable[..., Awaitable[Service]]


def settings_for(tmp_path: Path, telegram: FakeTelegram, slack: FakeSlack) -> Settings:
    (tmp_path / "digests").mkdir(exist_ok=True)
    return Settings(
        timezone="Asia/Shanghai", language="en", store="memory://", base_dir=tmp_path,
        digests=DigestSettings(source="./digests", catch_up=0),
        telegram=TelegramSettings(token=TOKEN, base_url=telegram.base_url, updates="webhook",
                                  webhook_url="https://bot.example.com/telegram/webhook", webhook_secret=SECRET),
        slack=SlackSettings(token=slack.token, signing_secret=SIGNING, base_url=slack.base_url),
        server=ServerSettings(host="127.0.0.1", port=free_port(), max_body_bytes=LIMIT),
    )


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Starts `digestbot run`'s App in this process; keyword arguments override its server limits."""
    stack = contextlib.AsyncExitStack()

    async def start(**limits: Any) -> Service:
        telegram = await stack.enter_async_context(FakeTelegram(TOKEN, limits=FakeLimits(scale=50.0)))
        slack = await stack.enter_async_context(FakeSlack())
        settings = settings_for(tmp_path, telegram, slack)
        app = App(settings, server_limits=dataclasses.replace(server_limits_from(settings.server), **limits))
        await app.open()
        running = asyncio.create_task(app.run())

        async def stop() -> None:
            app.stop()
            with contextlib.suppress(Exception):
                await running
            await app.close()

        stack.push_async_callback(stop)
        service = Service(app, settings.server.port, telegram, slack)
        for _ in range(200):
            if running.done():
                running.result()
            if app.web_server is not None and telegram.webhook.get("url") and await http_status(service.port) == 200:
                return service
            await asyncio.sleep(0.05)
        raise AssertionError("the service did not start")

    async with stack:
        yield start


# -- raw HTTP, byte for byte ----------------------------------------------------------------------

async def http_status(port: int, path: str = "/healthz") -> int:
    try:
        return (await exchange(port, request_head("GET", path)))[0]
    except OSError:
        return 0


def request_head(method: str, path: str, headers: Sequence[bytes] = (), *, length: int | None = None,
                 chunked: bool = False, close: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers]
    if close:
        lines.append(b"Connection: close")
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[start:start + size] for start in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


async def read_status(reader: asyncio.StreamReader) -> int:
    """The status of the answer, or 0 when the server closed without one."""
    try:
        line = await asyncio.wait_for(reader.readline(), 15)
    except ConnectionError:
        return 0
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0


async def exchange(port: int, *parts: bytes) -> tuple[int, bytes]:
    """Send the bytes, then read (status, everything until the server closes or 15 s pass)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):
            for part in parts:
                writer.write(part)
                await writer.drain()
        status = await read_status(reader)
        rest = b""
        with contextlib.suppress(ConnectionError, TimeoutError):
            rest = await asyncio.wait_for(reader.read(1 << 20), 2)
        return status, rest
    finally:
        writer.close()


async def trickle(port: int, first: bytes, drip: bytes, drips: int) -> tuple[int, int]:
    """Send `first`, then `drip` every 0.1 s until the server answers or closes: (status, drips sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(first)
        await writer.drain()
        for sent in range(drips):
            try:
                line = await asyncio.wait_for(reader.readline(), 0.1)
            except TimeoutError:
                writer.write(drip)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                continue
            except ConnectionError:
                return 0, sent
            return (int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else 0), sent
        return -1, drips
    finally:
        writer.close()


def update_body(update: dict[str, Any]) -> bytes:
    return webhook_body(update)


# -- slow clients ---------------------------------------------------------------------------------

async def test_a_request_head_sent_slowly_is_cut_off(start_service: ServiceFactory) -> None:
    service = await start_service(header_timeout=0.5)

    status, drips = await trickle(service.port, b"POST /telegram/webhook HTTP/1.1\r\nHost: x\r\n",
                                  b"X-Slow: a\r\n", drips=200)

    assert status == 408 and drips < 200
    # A connection that says nothing at all is cut off the same way.
    status, drips = await trickle(service.port, b"", b"", drips=200)
    assert status == 408 and drips < 200
    assert service.nothing_ran()
    assert await http_status(service.port) == 200


async def test_a_body_sent_slowly_is_cut_off_on_every_route(start_service: ServiceFactory) -> None:
    service = await start_service(body_timeout=0.5, header_timeout=30.0)
    body = b"x" * 200
    for path in ROUTES:
        head = request_head("POST", path, service.headers_for(path, body), length=len(body))

        status, drips = await trickle(service.port, head + body[:10], b"x", drips=190)

        assert (status, drips < 190) == (408, True), path
    assert service.nothing_ran()
    assert await http_status(service.port) == 200


async def test_the_connection_cap_holds_and_frees_up(start_service: ServiceFactory) -> None:
    service = await start_service(max_connections=3, header_timeout=30.0)
    held = [await asyncio.open_connection("127.0.0.1", service.port) for _ in range(3)]
    for _, writer in held:
        writer.write(b"GET /healthz HTTP/1.1\r\n")      # a head under way: not idle, cannot give way
        await writer.drain()
    await until(lambda: service.open_connections == 3)

    assert await http_status(service.port) in (0, 503)
    assert service.open_connections == 3

    reader, writer = held.pop()
    writer.close()
    await until_async(lambda: http_status(service.port), 200)
    for reader, writer in held:
        writer.write(b"Host: x\r\n\r\n")
        assert await read_status(reader) == 200          # the held connections were served all along
        writer.close()


async def test_kept_alive_idle_connections_give_way_to_new_clients(start_service: ServiceFactory) -> None:
    service = await start_service(max_connections=2, header_timeout=30.0)
    idle = []
    for _ in range(2):
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        writer.write(request_head("GET", "/healthz", close=False))
        assert await read_status(reader) == 200
        idle.append((reader, writer))
    await until(lambda: service.open_connections == 2)

    assert await http_status(service.port) == 200

    closed = 0
    for reader, writer in idle:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), 1)     # the rest of the answer, then EOF if closed
            closed += reader.at_eof()
        writer.close()
    assert closed >= 1


# -- the body limit -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ROUTES)
async def test_a_body_over_the_limit_is_refused_on_every_route(start_service: ServiceFactory, path: str) -> None:
    service = await start_service()
    body = large_body(path)
    headers = service.headers_for(path, body)

    declared, _ = await exchange(service.port, request_head("POST", path, headers, length=len(body)), body)
    unannounced, _ = await exchange(service.port, request_head("POST", path, headers, chunked=True), chunked(body))

    assert (declared, unannounced) == (413, 413)
    assert service.nothing_ran()


@pytest.mark.parametrize("path", ROUTES)
async def test_a_content_length_that_lies_never_lets_more_through(start_service: ServiceFactory, path: str) -> None:
    service = await start_service(body_timeout=0.5)
    body = large_body(path)
    headers = service.headers_for(path, body)

    # Says 10 bytes, sends 200 KB: the route sees 10 bytes (not a valid request), the rest is junk.
    understated, _ = await exchange(service.port, request_head("POST", path, headers, length=10), body)
    # Says a size within the limit, sends less and waits: the body deadline answers.
    overstated, _ = await exchange(service.port, request_head("POST", path, headers, length=LIMIT), body[:100])

    # 0: the server answered and closed on the unread rest, which may reset the connection first.
    assert understated in (0, 400, 401) and overstated == 408
    assert service.nothing_ran()


async def test_routes_that_take_no_body_refuse_a_declared_one_over_the_limit(start_service: ServiceFactory) -> None:
    service = await start_service()
    status, _ = await exchange(service.port, request_head("POST", "/metrics", length=10 * LIMIT))
    assert status == 413


def large_body(path: str) -> bytes:
    if path == "/slack/commands":
        return urlencode({"user_id": "U1", "channel_id": "C1", "text": "x" * 200_000}).encode()
    return json.dumps({"update_id": 1, "padding": "x" * 200_000}).encode()


# -- JSON nesting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/telegram/webhook", "/slack/events"])
async def test_deeply_nested_json_within_the_limit_is_a_bad_request(
        start_service: ServiceFactory, path: str, caplog: pytest.LogCaptureFixture) -> None:
    service = await start_service()
    body = b'{"update_id": 7, "type": "event_callback", "event": ' + b"[" * 1800 + b"]" * 1800 + b"}"
    assert len(body) < LIMIT

    status, answer = await exchange(service.port, request_head("POST", path, service.headers_for(path, body),
                                                               length=len(body)), body)

    assert status == 400 and b"nested" in answer
    assert service.nothing_ran()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


# -- Telegram redeliveries ------------------------------------------------------------------------

async def test_an_update_posted_again_is_answered_once(start_service: ServiceFactory) -> None:
    service = await start_service()
    first = service.telegram.message_update("/help", chat=PRIVATE, user=PRIVATE)
    body = update_body(first)
    head = request_head("POST", "/telegram/webhook", service.headers_for("/telegram/webhook", body),
                        length=len(body))
    for _ in range(3):
        assert (await exchange(service.port, head, body))[0] == 200
    then = service.telegram.message_update("/item abc", chat=PRIVATE, user=PRIVATE)
    later = update_body(then)
    assert (await exchange(service.port, request_head("POST", "/telegram/webhook", service.headers_for(
        "/telegram/webhook", later), length=len(later)), later))[0] == 200

    # One chat's commands are answered in the order they came, so a repeat would have come first.
    messages = await service.telegram.wait_for_messages(PRIVATE, 2)
    assert len(messages) == 2 and "abc" in messages[1].text


# -- broken requests ------------------------------------------------------------------------------

BROKEN = {
    "not HTTP at all": [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n"],
    "a header line too long": [b"GET /healthz HTTP/1.1\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n"],
    "junk after a good request": [request_head("GET", "/healthz", close=False) + b"BLAH BLAH\x00\r\n\r\n"],
    "broken chunked framing": [request_head("POST", "/telegram/webhook", [
        f"X-Telegram-Bot-Api-Secret-Token: {SECRET}".encode()], chunked=True) + b"zz\r\nhello\r\n"],
}


async def test_broken_requests_log_no_traceback(start_service: ServiceFactory,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service = await start_service()
    caplog.clear()
    for name, parts in BROKEN.items():
        status, _ = await exchange(service.port, *parts)
        assert status in (0, 200, 400), name     # 0: reset by the server over the unread junk
    await reset_mid_body(service.port)
    await until_async(lambda: http_status(service.port), 200)

    assert "Traceback" not in caplog.text
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
    quiet = [record for record in caplog.records if record.name == "aiohttp.server"]
    assert len(quiet) <= 1 and all(record.levelno <= logging.INFO for record in quiet)
    assert service.nothing_ran()


async def reset_mid_body(port: int) -> None:
    """A client that declares a body, sends part of it and resets the connection."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    headers = [b"Content-Type: application/json", f"X-Telegram-Bot-Api-Secret-Token: {SECRET}".encode()]
    await loop.sock_sendall(sock, request_head("POST", "/telegram/webhook", headers, length=1000) + b'{"upd')
    await asyncio.sleep(0.2)
    sock.close()        # SO_LINGER 0: an RST, not a FIN


# -- accept() out of descriptors ------------------------------------------------------------------

SERVE_WITH_FEW_DESCRIPTORS = """
import asyncio, logging, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from bot.web import ServerLimits, WebServer, build_web_app

async def main():
    cap = None if sys.argv[2] == "default" else int(sys.argv[2])
    limits = ServerLimits(max_connections=cap, header_timeout=60)
    server = WebServer(build_web_app([], {}, 4096), limits, "127.0.0.1", int(sys.argv[1]))
    await server.start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await server.stop()

asyncio.run(main())
"""


@pytest.mark.parametrize("cap", ["1000", "default"])
async def test_running_out_of_descriptors_is_one_line_not_a_flood(cap: str) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_WITH_FEW_DESCRIPTORS, str(port), cap, cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    clients: list[socket.socket] = []
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"ready\n"
        for _ in range(100):
            client = socket.socket()
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("127.0.0.1", port))
            clients.append(client)
        # asyncio retries a failed accept() every second: a few seconds are a few retries.
        await asyncio.sleep(3.5)
    finally:
        for client in clients:
            client.close()
        _, errors = await asyncio.wait_for(process.communicate(b"\n"), 30)
    log = errors.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    if cap == "default":
        # A quarter of the 64 descriptors: the cap refuses long before accept() runs dry.
        assert "cannot accept" not in log
        assert log.count("refused a connection") == 1, log
    else:
        assert log.count("cannot accept connections") == 1, log


# -- waiting --------------------------------------------------------------------------------------

async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def until_async(probe: Callable[[], Awaitable[int]], expected: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (got := await probe()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {got}, expected {expected}")
        await asyncio.sleep(0.05)


def test_default_limits_come_from_the_server_settings() -> None:
    limits = server_limits_from(ServerSettings(max_body_bytes=2048))
    assert limits == ServerLimits(max_body_bytes=2048)
    assert 4 <= limits.connection_cap() <= 256


# -- the nesting check on its own -----------------------------------------------------------------

def nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(item) for item in value.values()), default=0)
    return 0


# Strings full of the characters a naive bracket count would trip on.
tricky_text = st.text(alphabet='[]{}"\\\\/ab\u00e9\n', max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values, limit=st.integers(min_value=1, max_value=8))
def test_the_nesting_check_agrees_with_the_decoded_value(value: object, limit: int) -> None:
    body = json.dumps(value, ensure_ascii=bool(limit % 2)).encode()
    assert json_too_deep(body, limit) is (nesting(value) > limit)
    if nesting(value) <= limit:
        assert loads_json(body, limit) == value
    else:
        with pytest.raises(Refused) as refused:
            loads_json(body, limit)
        assert refused.value.status == 400


@pytest.mark.parametrize("body", [b"[" * 100_000, b"]" * 100_000 + b"[" * 100_000, b'"' + b"[" * 100_000,
                                  b'["\\' + b'"' * 100_000, b"{" * 50_000 + b"]" * 50_000])
def test_malformed_deep_text_is_refused_without_decoding(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        loads_json(body)
    assert refused.value.status == 400
