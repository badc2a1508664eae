"""Posting to Discord webhooks through the real sender against the fake Discord API over real HTTP:
message ids, X-RateLimit-* buckets, 429s waited out, errors mapped, timeouts, and webhook URLs masked."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import Deliverer, Outcome, Target
from bot.logs import setup_logging
from bot.platforms.base import (
    ChatGone,
    MaybeSent,
    RateLimited,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.discord.limits import DiscordRateLimit
from bot.platforms.discord.sender import DiscordSender
from bot.platforms.discord.webhooks import mask_webhook, parse_webhook
from bot.secrets import forget_secrets
from bot.settings import DeliverySettings
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.conftest import free_port
from tests.fakes.fake_discord import FakeDiscord
from tests.test_send_timeouts_channels import unanswered_port

# Windows a hundred times shorter than Discord's, on both sides.
SPEED = 100.0
# Lets every post through at once, so that only Discord's headers (and its 429s) pace the sender.
DAY = dt.date(2025, 10, 1)
UNPACED = DiscordRateLimit(per_webhook=1000, webhook_period=0.001, per_channel=1000, channel_period=0.001)


def body(text: str) -> dict[str, Any]:
    return {"content": text, "embeds": [], "allowed_mentions": {"parse": []}, "flags": 4}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(seed=7)
    server.scale(SPEED)
    async with server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[DiscordSender]:
    client = DiscordSender(rate_limit=UNPACED, request_timeout=2.0, connect_timeout=0.5)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    yield
    forget_secrets()


async def test_a_post_returns_the_message_id_and_the_chat_is_the_webhook_id(fake: FakeDiscord,
                                                                          sender: DiscordSender) -> None:
    chat = sender.add_webhook(fake.webhook("1234567890"))
    assert chat == "1234567890"
    message_id = await sender.send(chat, body("hello"))
    assert fake.message_ids[chat] == [message_id]
    assert fake.posts[chat] == [body("hello")]


async def test_headers_pace_a_burst_so_discord_never_has_to_say_429(fake: FakeDiscord,
                                                                   sender: DiscordSender) -> None:
    chat = sender.add_webhook(fake.webhook())
    for number in range(3 * fake.rate_limit):
        await sender.send(chat, body(f"part {number}"))
    assert [post["content"] for post in fake.posts[chat]] == [f"part {n}" for n in range(3 * fake.rate_limit)]
    assert fake.rate_limited[chat] == 0
    assert sender.buckets.bucket_name(chat).startswith("bucket-")


async def test_concurrent_posts_share_one_bucket_without_overfilling_it(fake: FakeDiscord,
                                                                       sender: DiscordSender) -> None:
    chat = sender.add_webhook(fake.webhook())
    await sender.send(chat, body("first"))      # the headers describe the bucket from here on
    await asyncio.gather(*(sender.send(chat, body(f"p{n}")) for n in range(12)))
    assert len(fake.posts[chat]) == 13
    assert fake.rate_limited[chat] == 0


async def test_a_429_is_raised_with_its_fractional_retry_after_and_the_next_post_waits_it_out(
        fake: FakeDiscord, sender: DiscordSender) -> None:
    chat = sender.add_webhook(fake.webhook())
    fake.limit_next(chat, retry_after=0.15)
    with pytest.raises(RateLimited) as limited:
        await sender.send(chat, body("one"))
    assert limited.value.retry_after == pytest.approx(0.15)
    assert limited.value.reason == "rate limited (this webhook)"
    await sender.send(chat, body("one"))         # resent at once: the sender itself waits
    assert fake.too_early[chat] == 0
    assert [post["content"] for post in fake.posts[chat]] == ["one"]


async def test_a_global_429_holds_every_webhook(fake: FakeDiscord, sender: DiscordSender) -> None:
    first, second = sender.add_webhook(fake.webhook()), sender.add_webhook(fake.webhook())
    fake.limit_next(first, retry_after=0.2, is_global=True)
    with pytest.raises(RateLimited) as limited:
        await sender.send(first, body("a"))
    assert limited.value.reason == "rate limited (global)"
    await sender.send(second, body("b"))
    assert fake.too_early[second] == 0 and fake.posts[second] == [body("b")]


@pytest.mark.parametrize(("inject", "error_type", "reason"), [
    (lambda fake, chat: fake.delete_webhook(chat), ChatGone, "Unknown Webhook (10015)"),
    (lambda fake, chat: fake.refuse_body(chat), RenderingDefect, "Invalid Form Body (50035)"),
    (lambda fake, chat: fake.fail_server(chat, 1, status=502), TransientError, "HTTP 502"),
])
async def test_refusals_map_to_the_send_error_family(fake: FakeDiscord, sender: DiscordSender, inject: Any,
                                                    error_type: type[SendError], reason: str) -> None:
    chat = sender.add_webhook(fake.webhook())
    inject(fake, chat)
    with pytest.raises(error_type) as raised:
        await sender.send(chat, body("x"))
    assert raised.value.reason.startswith(reason)
    assert fake.posts[chat] == []


async def test_a_wrong_webhook_token_is_unauthorized_not_gone(fake: FakeDiscord, sender: DiscordSender) -> None:
    url = fake.webhook()
    chat = sender.add_webhook(url.rsplit("/", 1)[0] + "/not-the-token")
    with pytest.raises(Unauthorized) as raised:
        await sender.send(chat, body("x"))
    assert raised.value.reason == "Invalid Webhook Token (50027)"


async def test_an_unknown_chat_is_unauthorized_and_names_no_url(sender: DiscordSender) -> None:
    with pytest.raises(Unauthorized, match="no webhook is configured for discord chat 42"):
        await sender.send("42", body("x"))


async def test_no_answer_after_sending_is_maybe_sent_and_the_message_is_there(fake: FakeDiscord) -> None:
    sender = DiscordSender(rate_limit=UNPACED, request_timeout=0.3, connect_timeout=0.3)
    try:
        chat = sender.add_webhook(fake.webhook())
        fake.slow_answer(chat, 2.0, times=1)
        with pytest.raises(MaybeSent):
            await sender.send(chat, body("late"))
        assert fake.posts[chat] == [body("late")]
    finally:
        await sender.close()


async def test_a_connection_that_never_came_about_is_transient() -> None:
    with unanswered_port() as port:
        sender = DiscordSender(rate_limit=UNPACED, request_timeout=2.0, connect_timeout=0.2)
        try:
            chat = sender.add_webhook(f"http://127.0.0.1:{port}/api/webhooks/77/tok-en")
            with pytest.raises(TransientError, match="not sent"):
                await sender.send(chat, body("x"))
        finally:
            await sender.close()


async def test_refused_connection_is_transient() -> None:
    sender = DiscordSender(rate_limit=UNPACED, request_timeout=1.0, connect_timeout=0.5)
    try:
        chat = sender.add_webhook(f"http://127.0.0.1:{free_port()}/api/webhooks/78/tok-en")
        with pytest.raises(TransientError):
            await sender.send(chat, body("x"))
    finally:
        await sender.close()


async def test_the_deliverer_gets_every_part_through_faults_once_in_order(fake: FakeDiscord, tmp_path: Path) -> None:
    sender = DiscordSender(rate_limit=DiscordRateLimit().scaled(SPEED), request_timeout=0.5, connect_timeout=0.5)
    store = open_store("memory://", tmp_path)
    try:
        chat = sender.add_webhook(fake.webhook())
        fake.limit_next(chat, 2, retry_after=0.05)
        fake.fail_server(chat, 2, status=503, after=3)
        fake.slow_answer(chat, 1.5, times=1)
        deliverer = Deliverer(store, {"discord": sender}, DeliverySettings(
            lease_ttl=30.0, max_attempts=5, backoff_base=0.01, backoff_max=0.05))
        parts = [body(f"part {number}") for number in range(8)]
        result = await deliverer.deliver(DeliveryKey(DAY, "dc"),
                                         Target("dc", "discord", chat), parts)
        assert result.outcome is Outcome.DELIVERED, result
        contents = [post["content"] for post in fake.posts[chat]]
        # The slow answer's part arrived and was resent once (it may have been there): never more.
        assert sorted(set(contents), key=contents.index) == [f"part {n}" for n in range(8)]
        assert len(contents) <= 9
        assert fake.too_early[chat] == 0
    finally:
        await store.close()
        await sender.close()


async def test_a_deleted_webhook_marks_the_channel_gone_with_the_reason(fake: FakeDiscord, tmp_path: Path) -> None:
    sender = DiscordSender(rate_limit=UNPACED, request_timeout=2.0)
    store = open_store("memory://", tmp_path)
    try:
        chat = sender.add_webhook(fake.webhook())
        fake.delete_webhook(chat)
        deliverer = Deliverer(store, {"discord": sender}, DeliverySettings(lease_ttl=30.0))
        result = await deliverer.deliver(DeliveryKey(DAY, "dc"),
                                         Target("dc", "discord", chat), [body("x")])
        assert result.outcome is Outcome.INACTIVE
        assert await store.inactive_reason("discord", chat) == "Unknown Webhook (10015)"
    finally:
        await store.close()
        await sender.close()


def test_webhook_urls_are_masked_and_parsed() -> None:
    url = "https://discord.com/api/webhooks/123456789012345678/AbC-def_GhI.jkl?thread_id=9"
    webhook = parse_webhook(url)
    assert (webhook.id, webhook.token) == ("123456789012345678", "AbC-def_GhI.jkl")
    assert mask_webhook(url) == "https://discord.com/api/webhooks/123456789012345678/***?…"
    assert "thread_id=9" in webhook.execute_url() and webhook.execute_url().endswith("wait=true")
    assert "AbC" not in repr(webhook)
    for bad in ("https://discord.com/api/channels/1/messages", "ftp://discord.com/api/webhooks/1/x", "nonsense"):
        with pytest.raises(ValueError) as raised:
            parse_webhook(bad)
        assert "x" not in str(raised.value).split()[-1] or bad == "nonsense"


async def test_no_webhook_token_reaches_a_log_line_or_an_error(fake: FakeDiscord) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging("DEBUG", json_lines=True, stream=stream)
    sender = DiscordSender(rate_limit=UNPACED, request_timeout=0.3, connect_timeout=0.3)
    reasons: list[str] = []
    try:
        urls = [fake.webhook() for _ in range(4)]
        chats = [sender.add_webhook(url) for url in urls]
        fake.delete_webhook(chats[0])
        fake.limit_next(chats[1], retry_after=0.01, is_global=False)
        fake.slow_answer(chats[2], 1.0, times=1)
        fake.refuse_body(chats[3])
        for chat in chats:
            try:
                await sender.send(chat, body("x"))
            except SendError as error:
                reasons.append(error.reason)
                logging.getLogger("bot.test").warning("sending via %s failed: %r", urls[chats.index(chat)], error)
    finally:
        await sender.close()
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    output = stream.getvalue()
    assert len(reasons) == 4 and "sending via" in output
    for url in urls:
        token = parse_webhook(url).token
        assert token not in output
        assert all(token not in reason for reason in reasons)
