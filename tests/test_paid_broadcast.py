"""`telegram.paid_broadcast`: sendMessage carries allow_paid_broadcast and the overall ceiling is 1,000 a second."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from bot.commands import Commands
from bot.config import TelegramSettings
from bot.platforms.registry import Surroundings, by_name, open_channel
from bot.platforms.telegram import TelegramChannel
from bot.platforms.telegram.limits import PAID_BROADCAST_PER_SECOND
from bot.store.memory import MemoryStore
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_config import BASE, config_error, problem_at, write
from tests.test_config import load_config as load

TOKEN = "123456789:AAHk-paid-broadcast-token-0123456789abcd"
PAYLOAD = {"text": "<b>digest</b> part", "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN) as server:
        yield server


def paid_flags(fake: FakeTelegram) -> set[Any]:
    return {message.params.get("allow_paid_broadcast") for messages in fake.sent.values() for message in messages}


def test_the_config_key_is_a_boolean_and_off_by_default(tmp_path: Path) -> None:
    assert load(write(tmp_path, BASE), env={}).telegram.paid_broadcast is False
    on = write(tmp_path, BASE + "telegram: {token: '', paid_broadcast: '${PAID}'}\n")
    assert load(on, env={"PAID": "true"}).telegram.paid_broadcast is True
    assert problem_at(config_error(on, env={"PAID": "sometimes"}), "telegram.paid_broadcast")


async def test_a_paying_bot_sends_a_second_of_more_than_thirty_messages_without_a_429(fake: FakeTelegram) -> None:
    settings = TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off", paid_broadcast=True)
    # Built the way the app builds it; with updates off, nothing here answers commands.
    around = Surroundings(commands=cast(Commands, None), store=MemoryStore(), language="en", timezone=ZoneInfo("UTC"),
                          now=lambda: dt.datetime.now(dt.UTC), out=sys.stdout)
    channel = open_channel(by_name("telegram"), settings, around)
    assert isinstance(channel, TelegramChannel)
    assert channel.rate_limits.overall_limit == PAID_BROADCAST_PER_SECOND
    try:
        # Sixty chats at once: over the free 30 a second, within the paid ceiling, so nothing waits.
        await asyncio.gather(*(channel.send(str(1000 + index), PAYLOAD) for index in range(60)))
    finally:
        await channel.stop()
    assert fake.total_sent() == 60
    assert fake.rate_limited == []
    assert paid_flags(fake) <= {True, "true", "True"}


async def test_a_bot_that_does_not_pay_never_asks_for_paid_broadcasts(fake: FakeTelegram) -> None:
    channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, updates="off"))
    assert channel.rate_limits.overall_limit == 30
    try:
        await channel.send("1000", PAYLOAD)
    finally:
        await channel.stop()
    assert paid_flags(fake) == {None}
