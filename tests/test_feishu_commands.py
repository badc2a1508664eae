"""Feishu app-bot commands end to end: events POSTed to /feishu/events, answered by the real command
logic, replies checked at the fake open platform (url_verification, tokens, encryption, repeats)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.commands import Commands
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import FolderSource
from bot.platforms.feishu.channel import FeishuChannel
from bot.platforms.feishu.settings import FeishuSettings
from bot.store import Store, open_store
from tests.fakes.fake_feishu import FakeFeishu, encrypt
from tests.test_slack_http import RULES, TODAY_ITEMS, write_digests

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = dt.datetime(2025, 10, 7, 1, 0, tzinfo=dt.UTC)
TOKEN = "verify-token"
ENCRYPT_KEY = "an-encrypt-key-of-the-app"


class Bot:
    """The channel under test behind a real aiohttp server, and the fake platform it talks to."""

    def __init__(self, fake: FakeFeishu, channel: FeishuChannel, client: TestClient[Any, Any]) -> None:
        self.fake, self.channel, self.client = fake, channel, client

    async def event(self, body: dict[str, Any]) -> tuple[int, Any]:
        response = await self.client.post("/feishu/events", data=json.dumps(body))
        text = await response.text()
        return response.status, (json.loads(text) if text.startswith("{") else text)

    async def ask(self, text: str, **options: Any) -> list[dict[str, Any]]:
        """Send a message event and wait for every reply part; the cards replied with."""
        body = self.fake.message_event(text, token=TOKEN, **options)
        status, _ = await self.event(body)
        assert status == 200
        await self.channel.drain()
        message_id = body["event"]["message"]["message_id"]
        return [json.loads(reply["content"]) for reply in self.fake.replies.get(message_id, [])]


def card_text(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def start_bot(tmp_path: Path, settings: dict[str, str] | None = None, **options: Any) -> tuple[Bot, Store]:
    fake = await FakeFeishu().start()
    store = open_store("memory://", tmp_path)
    categorizer = Categorizer(rules_from_mapping(RULES))
    commands = Commands(FolderSource(write_digests(tmp_path / "digests"), categorizer, SHANGHAI), store, categorizer)
    values = {"app_id": fake.app_id, "app_secret": fake.app_secret, "verification_token": TOKEN,
              "base_url": fake.url, **(settings or {})}
    channel = FeishuChannel(FeishuSettings(**values), commands=commands, store=store, language="en",
                            timezone=SHANGHAI, now=lambda: MORNING, **options)
    app = web.Application()
    app.add_routes(channel.routes())
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await channel.start()
    return Bot(fake, channel, client), store


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    running, store = await start_bot(tmp_path)
    yield running
    await running.channel.stop()
    await running.client.close()
    await running.fake.stop()
    await store.close()


async def test_url_verification_answers_the_challenge_and_a_wrong_token_is_refused(bot: Bot) -> None:
    status, answer = await bot.event({"type": "url_verification", "challenge": "ch-42", "token": TOKEN})
    assert (status, answer) == (200, {"challenge": "ch-42"})
    status, _ = await bot.event({"type": "url_verification", "challenge": "ch-42", "token": "guess"})
    assert status == 401
    forged = bot.fake.message_event("/today", token="guess")
    status, _ = await bot.event(forged)
    assert status == 401
    await bot.channel.drain()
    assert bot.fake.replies == {}


async def test_commands_in_a_group_after_a_mention_and_plain_in_private(bot: Bot) -> None:
    today = await bot.ask("/today")
    assert today and "Tuesday brief" in card_text(today[0])
    assert all(TODAY_ITEMS[0][0] not in card_text(card) or "news.example.com/1" in card_text(card) for card in today)
    item = await bot.ask("item 2", chat_type="p2p", mention=False, chat="oc_private")
    assert len(item) == 1 and TODAY_ITEMS[1][0] in card_text(item[0])
    category = await bot.ask("/category hw")
    assert any(TODAY_ITEMS[0][0] in card_text(card) for card in category)
    # In a group, a message that does not mention the bot is not for it.
    assert await bot.ask("/today", mention=False) == []


async def test_a_retried_event_is_answered_once(bot: Bot) -> None:
    body = bot.fake.message_event("/item 1", token=TOKEN, event_id="ev-repeat")
    for _ in range(3):
        status, _ = await bot.event(body)
        assert status == 200
    await bot.channel.drain()
    assert len(bot.fake.replies[body["event"]["message"]["message_id"]]) == 1


async def test_the_tenant_token_is_cached_and_renewed(bot: Bot) -> None:
    await bot.ask("/item 1")
    await bot.ask("/item 2")
    assert len(bot.fake.tokens_issued) == 1        # fetched at start, reused since
    bot.fake.expire_tokens()                        # revoked early: refused once, fetched again, replied
    assert len(await bot.ask("/item 3")) == 1
    assert len(bot.fake.tokens_issued) == 2


async def test_a_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    now = [1000.0]
    running, store = await start_bot(tmp_path, token_clock=lambda: now[0], token_margin=300.0)
    try:
        await running.ask("/item 1")
        assert len(running.fake.tokens_issued) == 1
        now[0] += 7200 - 301            # still a little before the renewal point
        await running.ask("/item 2")
        assert len(running.fake.tokens_issued) == 1
        now[0] += 2                     # within five minutes of expiry: renewed before replying
        await running.ask("/item 3")
        assert len(running.fake.tokens_issued) == 2
    finally:
        await running.channel.stop()
        await running.client.close()
        await running.fake.stop()
        await store.close()


async def test_encrypted_events_are_decrypted(tmp_path: Path) -> None:
    running, store = await start_bot(tmp_path, {"encrypt_key": ENCRYPT_KEY})
    try:
        status, answer = await running.event(encrypt(ENCRYPT_KEY, {"type": "url_verification",
                                                                    "challenge": "c1", "token": TOKEN}))
        assert (status, answer) == (200, {"challenge": "c1"})
        status, _ = await running.event(encrypt("another-key", {"type": "url_verification", "token": TOKEN}))
        assert status == 400
        body = running.fake.message_event("/item 1", token=TOKEN)
        status, _ = await running.event(encrypt(ENCRYPT_KEY, body))
        await running.channel.drain()
        assert status == 200 and len(running.fake.replies[body["event"]["message"]["message_id"]]) == 1
    finally:
        await running.channel.stop()
        await running.client.close()
        await running.fake.stop()
        await store.close()
