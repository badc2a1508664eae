"""Per-chat categories: a channel or a /subscribe'd chat gets only its categories' items, over the fake Telegram."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from bot.config import ChannelSettings
from bot.delivery import Kind
from bot.store.base import Subscription
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.scheduled_telegram import SCALE, TOKEN, open_state, run_day, write_day

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

EVERYTHING, HARDWARE, TOOLS = "-1001000000001", "-1001000000002", "-1001000000003"
CHANNELS = (ChannelSettings("all", "telegram", EVERYTHING, "09:00"),
            ChannelSettings("hw", "telegram", HARDWARE, "09:00", categories=("Hardware",)))
ITEMS = [("A phone chip", "https://news.example.com/1", "Small models on a chip."),
         ("An SDK for agents", "https://news.example.com/2", "A toolkit."),
         ("国产芯片量产", "https://news.example.com/3", "新一代芯片。")]
QUIET_ITEMS = [("An SDK release", "https://news.example.com/4", "Version two.")]


async def test_a_filtered_channel_gets_exactly_its_categories_items(tmp_path: Path) -> None:
    day = dt.date(2025, 10, 7)
    write_day(tmp_path, day, ITEMS)
    store = open_state(tmp_path)
    await store.subscribe(Subscription("telegram", TOOLS, "09:00", "Asia/Shanghai", categories=("Developer Tools",)))
    await store.close()
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        results = await run_day(tmp_path, fake, day, CHANNELS)
        assert {result.target.name: result.kind for result in results} == {
            "all": Kind.DELIVERED, "hw": Kind.DELIVERED, f"telegram:{TOOLS}": Kind.DELIVERED}
        everything = "\n".join(fake.texts(EVERYTHING))
        hardware = "\n".join(fake.texts(HARDWARE))
        tools = "\n".join(fake.texts(TOOLS))
    assert all(f"{n}. " in everything for n in (1, 2, 3))
    # Original numbers kept, so /item 3 still names the same item; title, intro and commentary stay.
    assert "1. A phone chip" in hardware and "3. 国产芯片量产" in hardware and "SDK" not in hardware
    assert "2. An SDK for agents" in tools and "chip" not in tools
    for text in (hardware, tools):
        assert f"Brief {day}" in text and "Opening remarks" in text and "A short closing note." in text


async def test_a_day_without_matching_items_posts_nothing_and_says_so(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    day = dt.date(2025, 10, 8)
    write_day(tmp_path, day, QUIET_ITEMS)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        with caplog.at_level(logging.INFO, logger="bot.scheduler"):
            results = await run_day(tmp_path, fake, day, CHANNELS)
            again = await run_day(tmp_path, fake, day, CHANNELS)
        assert fake.texts(HARDWARE) == []
        assert len(fake.texts(EVERYTHING)) == 1
    by_name = {result.target.name: result for result in results}
    assert by_name["hw"].kind is Kind.EMPTY and by_name["hw"].ok
    assert [result.kind for result in again if result.target.name == "hw"] == [Kind.EMPTY]
    assert any("nothing to post to hw" in record.getMessage() and "Hardware" in record.getMessage()
               for record in caplog.records)
