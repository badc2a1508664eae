"""One scheduled day over the fake Telegram: real scheduler, deliverer, folder source and sqlite store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import ChannelSettings, DeliverySettings, DigestSettings, Settings, TelegramSettings
from bot.delivery import Deliverer, DeliveryResult
from bot.digest.categories import Categorizer, rules_from_mapping
from bot.digest.sources import open_source
from bot.platforms import registry
from bot.platforms.telegram import TelegramChannel, TelegramRateLimits
from bot.scheduler import Scheduler
from bot.store import Store, open_store
from tests.fakes.fake_telegram import FakeTelegram
from tests.test_sources import digest_text

TOKEN = "123456789:AAHk-scheduled-test-token-0123456789ab"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = {"Hardware": {"aliases": ["hw"], "keywords": ["chip", "芯片"]}, "Developer Tools": {"keywords": ["SDK"]}}
SCALE = 50.0


def open_state(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)


def write_day(tmp_path: Path, day: dt.date, items: list[tuple[str, str, str]]) -> None:
    folder = tmp_path / "digests"
    folder.mkdir(exist_ok=True)
    (folder / f"{day.isoformat()}.md").write_text(digest_text(day.isoformat(), f"Brief {day}", items),
                                                  encoding="utf-8")


async def run_day(tmp_path: Path, fake: FakeTelegram, day: dt.date, channels: tuple[ChannelSettings, ...],
                  corrections: str = "edit") -> list[DeliveryResult]:
    """A fresh process delivering what is due at 09:00 on `day` (channels scheduled then), to the end,
    then looking once more a poll interval later (when corrections are swept again)."""
    rules = rules_from_mapping(RULES)
    settings = Settings(digests=DigestSettings(source=str(tmp_path / "digests")), categories=rules,
                        channels=channels, telegram=TelegramSettings(token=TOKEN, base_url=fake.base_url,
                                                                     updates="off"),
                        delivery=DeliverySettings(lease_ttl=5.0, corrections=corrections))
    store = open_state(tmp_path)
    channel = TelegramChannel(settings.telegram, rate_limits=TelegramRateLimits().scaled(SCALE))
    results: list[DeliveryResult] = []
    now = dt.datetime.combine(day, dt.time(9, 0), SHANGHAI)
    scheduler = Scheduler(settings, open_source(settings, Categorizer(rules)), store,
                          Deliverer(store, {"telegram": channel}, settings.delivery), registry.load_renderers(),
                          clock=lambda: now, on_result=lambda result, due: results.append(result))
    try:
        for moment in (now, now + dt.timedelta(seconds=settings.digests.poll_interval)):
            await scheduler.step(moment)
            await scheduler.drain()
    finally:
        await channel.stop()
        await store.close()
    return results
