"""A digest fanned out to 200 Telegram chats through the Deliverer, with blocked, migrating and flaky chats."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.config import DeliverySettings, TelegramSettings
from bot.delivery import Deliverer, DeliveryResult, Outcome, Target
from bot.digest.parse import parse_digest
from bot.platforms.telegram import TelegramChannel, TelegramRateLimits, render_digest
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.fakes.tdparse import parse

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "777000222:AAB-broadcast-test-token-abcdefghijklmno"
DAY = dt.date(2025, 10, 12)
SCALE = 20.0
CHATS = 200


def long_digest() -> str:
    lines = ["---", 'title: "Broadcast test digest"', f"date: {DAY.isoformat()}", "categories: [Hardware]", "---",
             "", "Opening words for everyone.", "", "---", ""]
    for number in range(1, 9):
        lines += [f"{number}.  [Headline {number}](https://news.example.com/{number})", "",
                  f"    A **weighty** opening. {'Then a plain sentence about this story. ' * 25}", ""]
    lines += ["---", "", "### Remarks", "", "That is all for today.", ""]
    return "\n".join(lines)


def chat_ids() -> list[str]:
    """Half private chats, a quarter supergroups, a quarter basic groups (the kind that migrate)."""
    chats: list[str] = []
    for n in range(CHATS):
        if n % 2 == 0:
            chats.append(str(100_000 + n))
        elif n % 4 == 1:
            chats.append(str(-1_002_000_000_000 - n))
        else:
            chats.append(str(-300_000 - n))
    return chats


async def test_a_digest_reaches_every_active_chat_once_in_order(tmp_path: Path) -> None:
    payloads = render_digest(parse_digest(long_digest(), "broadcast.md"))
    assert len(payloads) >= 3
    expected = [parse(payload["text"], payload["parse_mode"]).text for payload in payloads]
    chats = chat_ids()
    # 5%: blocked users and kicked bots, of every kind of chat.
    forbidden = {chats[20 * n + n % 4] for n in range(CHATS // 20)}
    basic_groups = [chat for chat in chats if chat.startswith("-3") and chat not in forbidden]
    migrating = {basic_groups[0]: "-1009900000001", basic_groups[1]: "-1009900000002"}
    assert not forbidden & set(migrating) and len(forbidden) == CHATS // 20

    store = open_store("memory://", tmp_path)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        for chat in forbidden:
            fake.forbid(chat)
        for old, new in migrating.items():
            fake.migrate(old, new)
        fake.chaos(seed=20251012, rate_429=0.02, rate_5xx=0.02, retry_after=0.05)
        channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off"),
                                  rate_limits=TelegramRateLimits().scaled(SCALE))
        deliverer = Deliverer(store, {"telegram": channel},
                              DeliverySettings(max_attempts=6, backoff_base=0.01, backoff_max=0.1))
        targets = [Target(f"chat-{chat}", "telegram", chat) for chat in chats]
        try:
            results = await asyncio.gather(
                *(deliverer.deliver(DeliveryKey(DAY, target.name), target, payloads) for target in targets))
            again = await asyncio.gather(
                *(deliverer.deliver(DeliveryKey(DAY, target.name), target, payloads) for target in targets))
        finally:
            await channel.stop()

        by_chat: dict[str, DeliveryResult] = {result.target.chat: result for result in results}
        for chat in chats:
            result = by_chat[chat]
            if chat in forbidden:
                assert result.outcome is Outcome.INACTIVE
                assert "forbidden" in result.reason.lower()
                reason = await store.inactive_reason("telegram", chat)
                assert reason is not None and ("blocked" in reason or "kicked" in reason)
                assert fake.texts(chat) == []
            elif chat in migrating:
                new = migrating[chat]
                assert (result.outcome, result.chat) == (Outcome.DELIVERED, new)
                assert fake.texts(chat) == []
                assert fake.texts(new) == expected
                assert await store.resolve_chat("telegram", chat) == new
            else:
                assert result.outcome is Outcome.DELIVERED, (chat, result)
                assert fake.texts(chat) == expected, chat
        delivered = {f"chat-{chat}" for chat in chats if chat not in forbidden}
        assert await store.finished_deliveries(DAY) == delivered

        # The second round finds everything done: nothing is sent twice.
        assert {result.outcome for result in again} == {Outcome.ALREADY, Outcome.INACTIVE}
        assert fake.total_sent() == len(delivered) * len(payloads)

        # The flaky server really was flaky, and the bot's own pacing never tripped the flood limits.
        chaos_429s = [chat for chat, kind in fake.rate_limited if kind == "chaos"]
        server_errors = [chat for chat, status, _ in fake.refused if status == 502]
        assert chaos_429s and server_errors
        assert [kind for _, kind in fake.rate_limited if kind != "chaos"] == []
    await store.close()
