"""Sends that time out, through the real clients against the fakes: no answer after the request went
out is MaybeSent (it may be there), a connection that never came about is TransientError."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.config import SlackSettings, TelegramSettings
from bot.platforms.base import MaybeSent, SendError, TransientError
from bot.platforms.slack import SlackChannel, SlackRateLimit
from bot.platforms.telegram import TelegramChannel
from bot.store.memory import MemoryStore
from tests.conftest import free_port
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_telegram import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456789:AAHk-timeouts-test-token-0123456789abcdef"
CHAT = "424242"
CHANNEL = "C0NEWS"
HTML = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


@contextlib.contextmanager
def unanswered_port(port: int = 0) -> Iterator[int]:
    """A port whose SYNs go unanswered: a listener that never accepts, its one-slot queue already full.

    Linux drops a SYN while the accept queue is full, so a client's connect() waits until its own
    connect timeout: the request certainly never went out.
    """
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield int(listener.getsockname()[1])
    finally:
        filler.close()
        listener.close()


async def send_error(channel: TelegramChannel | SlackChannel, chat: str, payload: dict[str, Any]) -> SendError:
    with pytest.raises(SendError) as raised:
        await channel.send(chat, payload)
    assert TOKEN not in raised.value.reason
    return raised.value


# -- Telegram -----------------------------------------------------------------------------------

@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake_telegram.base_url, updates="off"),
                              connect_timeout=0.5, send_timeout=0.3)
    try:
        yield channel
    finally:
        await channel.stop()


async def test_telegram_no_answer_after_the_request_went_out_is_maybe_sent(
        fake_telegram: FakeTelegram, telegram: TelegramChannel) -> None:
    fake_telegram.hang(CHAT, seconds=1.0, delivered=True)

    error = await send_error(telegram, CHAT, {"text": "late but there", **HTML})

    assert type(error) is MaybeSent and "may have been delivered" in error.reason
    (message,) = await fake_telegram.wait_for_messages(CHAT, 1)
    assert message.text == "late but there"
    # The client is not poisoned by the timeout: the next send goes through.
    assert await telegram.send(CHAT, {"text": "next", **HTML}) == "2"


async def test_telegram_a_hang_that_never_delivers_is_still_maybe_sent(
        fake_telegram: FakeTelegram, telegram: TelegramChannel) -> None:
    # From the client's side there is no telling the two apart: only "no answer" is known.
    fake_telegram.hang(CHAT, seconds=5.0)
    error = await send_error(telegram, CHAT, {"text": "lost", **HTML})
    assert type(error) is MaybeSent


async def test_telegram_a_slow_answer_within_the_send_timeout_is_a_success(fake_telegram: FakeTelegram) -> None:
    # Other calls keep the short read timeout; sendMessage waits its own, longer one.
    channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake_telegram.base_url, updates="off"),
                              read_timeout=0.2, send_timeout=5.0)
    try:
        fake_telegram.hang(CHAT, seconds=0.6, delivered=True)
        assert await channel.send(CHAT, {"text": "slow", **HTML}) == "1"
        assert fake_telegram.texts(CHAT) == ["slow"]
    finally:
        await channel.stop()


async def test_telegram_a_refused_connection_is_transient(
        fake_telegram: FakeTelegram, telegram: TelegramChannel) -> None:
    assert await telegram.send(CHAT, {"text": "first", **HTML}) == "1"
    await fake_telegram.stop()

    error = await send_error(telegram, CHAT, {"text": "nobody listens", **HTML})

    assert type(error) is TransientError and "not sent" in error.reason


async def test_telegram_a_connect_timeout_is_transient(
        fake_telegram: FakeTelegram, telegram: TelegramChannel) -> None:
    assert await telegram.send(CHAT, {"text": "first", **HTML}) == "1"
    port = fake_telegram.port
    await fake_telegram.stop()      # closes the kept-alive connection: the next send must connect again
    with unanswered_port(port):
        error = await send_error(telegram, CHAT, {"text": "never connected", **HTML})
    assert type(error) is TransientError and "ConnectTimeout" in error.reason


# -- Slack --------------------------------------------------------------------------------------

@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(rate_period=0.1) as server:
        yield server


def slack_channel(fake: FakeSlack, **timeouts: float) -> SlackChannel:
    settings = SlackSettings(token=fake.token, signing_secret="test-signing-secret", base_url=fake.base_url)
    return SlackChannel(settings, commands=None, store=MemoryStore(), rate_limit=SlackRateLimit().scaled(10),
                        **timeouts)


def message(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


@pytest.fixture
async def slack(fake_slack: FakeSlack) -> AsyncIterator[SlackChannel]:
    channel = slack_channel(fake_slack, request_timeout=0.5, connect_timeout=0.2)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def test_slack_no_answer_after_the_request_went_out_is_maybe_sent(
        fake_slack: FakeSlack, slack: SlackChannel) -> None:
    fake_slack.stall(CHANNEL, 0.8)

    error = await send_error(slack, CHANNEL, message("late but there"))

    assert type(error) is MaybeSent and "after the request went out" in error.reason
    await fake_slack.wait_until(lambda: len(fake_slack.posts[CHANNEL]) == 1)
    assert fake_slack.posts[CHANNEL][0]["text"] == "late but there"


async def test_slack_a_slow_answer_within_the_request_timeout_is_a_success(fake_slack: FakeSlack) -> None:
    channel = slack_channel(fake_slack, request_timeout=5.0)
    await channel.start()
    try:
        fake_slack.stall(CHANNEL, 0.6)
        assert await channel.send(CHANNEL, message("slow"))
        assert [post["text"] for post in fake_slack.posts[CHANNEL]] == ["slow"]
    finally:
        await channel.stop()


async def test_slack_a_refused_connection_is_transient(slack: SlackChannel) -> None:
    slack.client.base_url = f"http://127.0.0.1:{free_port()}/api/"
    error = await send_error(slack, CHANNEL, message("nobody listens"))
    assert type(error) is TransientError and "not sent" in error.reason


async def test_slack_a_connect_timeout_is_transient(slack: SlackChannel) -> None:
    with unanswered_port() as port:
        slack.client.base_url = f"http://127.0.0.1:{port}/api/"
        error = await send_error(slack, CHANNEL, message("never connected"))
    assert type(error) is TransientError and "ConnectionTimeoutError" in error.reason


async def test_slack_a_connection_dropped_before_the_answer_is_maybe_sent(slack: SlackChannel) -> None:
    # A server that reads the whole request and hangs up without a word.
    requests = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        slack.client.base_url = f"http://127.0.0.1:{port}/api/"
        error = await send_error(slack, CHANNEL, message("gone with the connection"))
    finally:
        server.close()
        await server.wait_closed()
    assert requests == 1
    assert type(error) is MaybeSent and "ServerDisconnectedError" in error.reason
