"""JsonRequest, the bot's HTTP requests to the Bot API, through a real telegram.Bot against a recording server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from telegram import Bot, InputFile, LinkPreviewOptions
from telegram.error import NetworkError, TimedOut

from bot.platforms.base import TransientError
from bot.platforms.telegram.errors import send_error
from bot.platforms.telegram.request import JsonRequest
from tests.fakes import serve_local

TOKEN = "123456789:AAHk-request-test-token-0123456789abcdef"
# The request does not care which method it carries; one PTB has no wrapper for keeps do_api_request quiet.
METHOD = "anyMethod"
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private", "first_name": "Reader"}, "text": "x"}


@dataclass
class Arrived:
    """What reached the server: content types and bodies in order, and how long to wait before answering."""

    content_types: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    at_once: int = 0
    most_at_once: int = 0


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Arrived]]:
    arrived = Arrived()

    async def method(request: web.Request) -> web.Response:
        arrived.content_types.append(request.content_type)
        arrived.bodies.append(await request.read())
        arrived.at_once += 1
        arrived.most_at_once = max(arrived.most_at_once, arrived.at_once)
        try:
            await asyncio.sleep(arrived.delay)
        finally:
            arrived.at_once -= 1
        return web.json_response({"ok": True, "result": MESSAGE})

    async def file(request: web.Request) -> web.Response:
        return web.Response(body=b"file bytes")

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    app.router.add_get("/file/bot{token}/{path}", file)
    runner, port = await serve_local(app)
    yield f"http://127.0.0.1:{port}", arrived
    await runner.cleanup()


def bot_for(base: str, read_timeout: float = 5.0, pool_timeout: float = 5.0, concurrent: int = 32) -> Bot:
    request = JsonRequest(connect_timeout=5.0, read_timeout=read_timeout, write_timeout=5.0,
                          pool_timeout=pool_timeout, concurrent=concurrent)
    return Bot(TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request,
               get_updates_request=JsonRequest(connect_timeout=5.0, read_timeout=5.0, write_timeout=5.0,
                                               pool_timeout=5.0))


async def test_a_call_without_files_goes_as_one_json_body(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    bot = bot_for(base)
    await bot.request.initialize()
    try:
        await bot.do_api_request(METHOD, api_kwargs={
            "chat_id": 42, "text": "日报 <b>GPU</b>", "parse_mode": "HTML",
            "link_preview_options": LinkPreviewOptions(is_disabled=True), "allow_paid_broadcast": True})
    finally:
        await bot.request.shutdown()

    assert arrived.content_types == ["application/json"]
    # Nested objects as JSON objects, not JSON strings inside JSON; the text as UTF-8.
    assert json.loads(arrived.bodies[0]) == {"chat_id": 42, "text": "日报 <b>GPU</b>", "parse_mode": "HTML",
                                              "link_preview_options": {"is_disabled": True},
                                              "allow_paid_broadcast": True}
    assert "日报".encode() in arrived.bodies[0]


async def test_a_call_with_a_file_goes_as_multipart_and_a_download_as_a_get(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    bot = bot_for(base)
    await bot.request.initialize()
    try:
        await bot.do_api_request(METHOD, api_kwargs={
            "chat_id": 42, "document": InputFile(b"report body", filename="report.txt")})
        downloaded = await bot.request.retrieve(f"{base}/file/bot{TOKEN}/report.txt")
    finally:
        await bot.request.shutdown()

    assert arrived.content_types == ["multipart/form-data"]
    assert b"report body" in arrived.bodies[0] and b'name="chat_id"' in arrived.bodies[0]
    assert downloaded == b"file bytes"


async def test_httpx_failures_become_ptbs_errors_with_their_cause(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    arrived.delay = 1.0
    bot = bot_for(base, read_timeout=0.1)
    await bot.request.initialize()
    try:
        with pytest.raises(TimedOut) as slow:
            await bot.do_api_request(METHOD, api_kwargs={"chat_id": 42, "text": "x"})
        with pytest.raises(NetworkError) as refused:
            # Nothing listens on port 1: the connection is refused before anything is sent.
            await bot.request.post("http://127.0.0.1:1/bot/anyMethod")
    finally:
        await bot.request.shutdown()

    assert isinstance(slow.value.__cause__, httpx.ReadTimeout)
    assert isinstance(refused.value.__cause__, httpx.ConnectError)


async def test_requests_beyond_the_concurrent_ones_wait_their_turn(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    arrived.delay = 0.05
    bot = bot_for(base, concurrent=3)
    await bot.request.initialize()
    try:
        answers = await asyncio.gather(*(bot.do_api_request(METHOD, api_kwargs={"chat_id": 42, "text": str(n)})
                                         for n in range(12)))
    finally:
        await bot.request.shutdown()
    assert len(answers) == len(arrived.bodies) == 12
    assert arrived.most_at_once == 3


async def test_a_request_that_never_got_its_turn_is_known_not_sent(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    arrived.delay = 1.0
    bot = bot_for(base, pool_timeout=0.1, concurrent=1)
    await bot.request.initialize()
    try:
        first = asyncio.ensure_future(bot.do_api_request(METHOD, api_kwargs={"chat_id": 42, "text": "first"}))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut) as waited:
            await bot.do_api_request(METHOD, api_kwargs={"chat_id": 42, "text": "second"})
        await first
    finally:
        await bot.request.shutdown()
    assert isinstance(waited.value.__cause__, httpx.PoolTimeout)
    assert isinstance(send_error(waited.value, str), TransientError)
    assert [json.loads(body)["text"] for body in arrived.bodies] == ["first"]


async def test_a_turn_taken_before_the_gate_is_the_one_the_call_uses(server: tuple[str, Arrived]) -> None:
    base, arrived = server
    arrived.delay = 0.05
    bot = bot_for(base, concurrent=1)
    request = bot.request
    assert isinstance(request, JsonRequest)
    await request.initialize()
    order: list[str] = []

    async def send(name: str) -> None:
        async with request.slot():
            order.append(f"{name} gate")        # what a sender asks last, once its turn has come
            # With one turn, a call that waited for a turn of its own here would wait for ever.
            await asyncio.wait_for(bot.do_api_request(METHOD, api_kwargs={"chat_id": 42, "text": name}), 5)
            order.append(f"{name} sent")

    try:
        await asyncio.gather(send("first"), send("second"))
    finally:
        await request.shutdown()
    assert order == ["first gate", "first sent", "second gate", "second sent"]
    assert arrived.most_at_once == 1


async def test_a_closed_request_opens_again(server: tuple[str, Arrived]) -> None:
    base, _ = server
    bot = bot_for(base)
    await bot.request.initialize()
    await bot.request.shutdown()
    with pytest.raises(NetworkError) as closed:
        await bot.request.post(f"{base}/bot{TOKEN}/getMe")
    assert isinstance(closed.value.__cause__, RuntimeError)
    await bot.request.initialize()
    try:
        assert await bot.request.post(f"{base}/bot{TOKEN}/getMe") == MESSAGE
    finally:
        await bot.request.shutdown()
