"""Per-chat categories: a channel or a /subscribe'd chat gets only its categories' items, over the fake Telegram."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ChannelSettings, DeliverySettings, DigestSettings, Settings, TelegramSettings
from bot.delivery import Deliverer, DeliveryResult, Kind
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import open_source
from bot.platforms import registry
from bot.platforms.telegram import TelegramChannel, TelegramRateLimits
from bot.scheduler import Scheduler
from bot.store import open_store
from bot.store.base import Subscription
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.test_sources import digest_text

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456789:AAHk-categories-test-token-0123456789ab"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = {"Hardware": {"aliases": ["hw"], "keywords": ["chip", "芯片"]}, "Developer Tools": {"keywords": ["SDK"]}}
EVERYTHING, HARDWARE, TOOLS = "-1001000000001", "-1001000000002", "-1001000000003"
ITEMS = [("A phone chip", "https://news.example.com/1", "Small models on a chip."),
         ("An SDK for agents", "https://news.example.com/2", "A toolkit."),
         ("国产芯片量产", "https://news.example.com/3", "新一代芯片。")]
QUIET_ITEMS = [("An SDK release", "https://news.example.com/4", "Version two.")]


async def run_day(tmp_path: Path, fake: FakeTelegram, day: dt.date) -> list[DeliveryResult]:
    rules = rules_from_mapping(RULES)
    channels = (ChannelSettings("all", "telegram", EVERYTHING, "09:00"),
                ChannelSettings("hw", "telegram", HARDWARE, "09:00", categories=("Hardware",)))
    settings = Settings(digests=DigestSettings(source=str(tmp_path / "digests")), categories=rules,
                        channels=channels, telegram=TelegramSettings(token=TOKEN, base_url=fake.base_url,
                                                                     updates="off"),
                        delivery=DeliverySettings(lease_ttl=5.0))
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)
    channel = TelegramChannel(settings.telegram, rate_limits=TelegramRateLimits().scaled(50.0))
    results: list[DeliveryResult] = []
    now = dt.datetime.combine(day, dt.time(9, 0), SHANGHAI)
    scheduler = Scheduler(settings, open_source(settings, Categorizer(rules)), store,
                          Deliverer(store, {"telegram": channel}, settings.delivery), registry.load_renderers(),
                          clock=lambda: now, on_result=lambda result, due: results.append(result))
    try:
        await scheduler.step(now)
        await scheduler.drain()
    finally:
        await channel.stop()
        await store.close()
    return results


def write_day(tmp_path: Path, day: dt.date, items: list[tuple[str, str, str]]) -> None:
    folder = tmp_path / "digests"
    folder.mkdir(exist_ok=True)
    (folder / f"{day.isoformat()}.md").write_text(digest_text(day.isoformat(), f"Brief {day}", items),
                                                  encoding="utf-8")


async def test_a_filtered_channel_gets_exactly_its_categories_items(tmp_path: Path) -> None:
    day = dt.date(2025, 10, 7)
    write_day(tmp_path, day, ITEMS)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=50.0)) as fake:
        tools_subscription = Subscription("telegram", TOOLS, "09:00", "Asia/Shanghai", categories=("Developer Tools",))
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)
        await store.subscribe(tools_subscription)
        await store.close()
        results = await run_day(tmp_path, fake, day)
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
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=50.0)) as fake:
        with caplog.at_level(logging.INFO, logger="bot.scheduler"):
            results = await run_day(tmp_path, fake, day)
            again = await run_day(tmp_path, fake, day)
        assert fake.texts(HARDWARE) == []
        assert len(fake.texts(EVERYTHING)) == 1
    by_name = {result.target.name: result for result in results}
    assert by_name["hw"].kind is Kind.EMPTY and by_name["hw"].ok
    assert [result.kind for result in again if result.target.name == "hw"] == [Kind.EMPTY]
    assert any("nothing to post to hw" in record.getMessage() and "Hardware" in record.getMessage()
               for record in caplog.records)
