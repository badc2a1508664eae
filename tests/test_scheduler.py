"""Scheduled delivery with a controllable clock: daily and cron, DST, late digests, catch-up, restarts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ChannelSettings, DeliverySettings, DigestSettings, Settings
from bot.delivery import Deliverer, DeliveryResult, Kind
from bot.digest.categories import Categorizer
from bot.digest.parse import parse_file
from bot.digest.sources import open_source
from bot.platforms.base import (
    ChatGone,
    Gate,
    MaybeSent,
    RenderingDefect,
    SendError,
    TransientError,
    Unauthorized,
)
from bot.platforms.console import ConsoleChannel
from bot.render import Payload
from bot.render import text as text_renderer
from bot.scheduler import RETRY_BY_KIND, Scheduler
from bot.store import open_store
from bot.store.base import Store
from tests.digests import write_digest

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment


class Harness:
    """A scheduler over real parts (folder source, memory or sqlite store, console channel)."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.out = io.StringIO()
        self.results: list[DeliveryResult] = []
        self.scheduler: Scheduler | None = None

    def start(self) -> Scheduler:
        """A fresh process: new scheduler, deliverer and source over the same store."""
        source = open_source(self.settings, Categorizer(()))
        deliverer = Deliverer(self.store, {"console": ConsoleChannel(self.out)}, self.settings.delivery)
        self.scheduler = Scheduler(self.settings, source, self.store, deliverer, {"console": text_renderer},
                                   clock=self.clock, on_result=lambda result, due: self.results.append(result))
        return self.scheduler

    async def at(self, moment: dt.datetime) -> None:
        assert self.scheduler is not None
        self.clock.set(moment)
        await self.scheduler.step(moment)
        await self.scheduler.drain()

    def deliveries_of(self, date: dt.date) -> int:
        return self.out.getvalue().count(f"Test digest {date.isoformat()}")


def make_settings(folder: Path, channels: list[ChannelSettings], **digests: float) -> Settings:
    return Settings(timezone="Asia/Shanghai", digests=DigestSettings(source=str(folder), **digests),
                    store="memory://", channels=tuple(channels), base_dir=folder,
                    delivery=DeliverySettings(lease_ttl=5.0))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store("memory://", tmp_path)
    yield store
    await store.close()


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def harness(tmp_path: Path, store: Store) -> HarnessFactory:
    def build(channels: list[ChannelSettings], start: dt.datetime, **digests: float) -> Harness:
        return Harness(make_settings(tmp_path / "digests", channels, **digests), store, Clock(start))

    return build


def at(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


async def test_daily_schedule_posts_once_at_the_time(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 1)
    write_digest(tmp_path / "digests", day)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 1, 9, 0))
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 1, 9, 0))          # start-up before the time: no catch-up due today
    assert h.deliveries_of(day) == 0
    await h.at(at(SHANGHAI, 2025, 10, 1, 9, 29))
    assert h.deliveries_of(day) == 0
    await h.at(at(SHANGHAI, 2025, 10, 1, 9, 30))
    assert h.deliveries_of(day) == 1
    await h.at(at(SHANGHAI, 2025, 10, 1, 12, 0))
    assert h.deliveries_of(day) == 1


async def test_late_digest_is_polled_until_it_appears(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 2)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 2, 9, 0),
                poll_interval=300.0, poll_deadline=3600.0)
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 0))
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 30))
    assert h.deliveries_of(day) == 0
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 33))       # before the next poll: nothing new is tried
    write_digest(tmp_path / "digests", day)
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 34))
    assert h.deliveries_of(day) == 0
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 35))       # the next poll finds it
    assert h.deliveries_of(day) == 1


async def test_late_digest_is_given_up_after_the_deadline(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 2)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 2, 9, 0),
                poll_interval=600.0, poll_deadline=1800.0)
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 30))
    for minute in (40, 50, 59):
        await h.at(at(SHANGHAI, 2025, 10, 2, 9, minute))
    write_digest(tmp_path / "digests", day)
    await h.at(at(SHANGHAI, 2025, 10, 2, 10, 30))
    assert h.deliveries_of(day) == 0


async def test_a_digest_published_in_the_last_interval_is_still_delivered(tmp_path: Path,
                                                                          harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 2)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 2, 9, 0),
                poll_interval=600.0, poll_deadline=1800.0)
    h.start()
    for minute in (30, 40, 50):
        await h.at(at(SHANGHAI, 2025, 10, 2, 9, minute))
    write_digest(tmp_path / "digests", day)             # 5 minutes before the deadline
    await h.at(at(SHANGHAI, 2025, 10, 2, 9, 55))
    assert h.deliveries_of(day) == 0
    await h.at(at(SHANGHAI, 2025, 10, 2, 10, 0))        # the last poll, at the deadline itself
    assert h.deliveries_of(day) == 1


async def test_catch_up_after_downtime_within_the_window(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 3)
    write_digest(tmp_path / "digests", day)
    channels = [ChannelSettings("terminal", "console", schedule="09:30")]
    h = harness(channels, at(SHANGHAI, 2025, 10, 3, 14, 0), catch_up=6 * 3600.0)
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 3, 14, 0))       # down at 09:30, up at 14:00: 4.5 h late
    assert h.deliveries_of(day) == 1


async def test_no_catch_up_outside_the_window(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 3)
    write_digest(tmp_path / "digests", day)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 3, 16, 0),
                catch_up=6 * 3600.0)
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 3, 16, 0))       # 6.5 h late
    assert h.deliveries_of(day) == 0


async def test_restart_on_the_same_day_does_not_post_twice(tmp_path: Path, harness: HarnessFactory) -> None:
    day = dt.date(2025, 10, 3)
    write_digest(tmp_path / "digests", day)
    h = harness([ChannelSettings("terminal", "console", schedule="09:30")], at(SHANGHAI, 2025, 10, 3, 9, 0))
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 3, 9, 0))
    await h.at(at(SHANGHAI, 2025, 10, 3, 9, 30))
    assert h.deliveries_of(day) == 1
    h.start()                                           # a restart: new process state, same store
    await h.at(at(SHANGHAI, 2025, 10, 3, 10, 0))
    assert h.deliveries_of(day) == 1
    assert [r.outcome.value for r in h.results] == ["delivered", "already"]


@pytest.mark.parametrize(
    ("tz", "transition_day"),
    [(NEW_YORK, dt.date(2026, 3, 8)), (NEW_YORK, dt.date(2026, 11, 1)),
     (BERLIN, dt.date(2026, 3, 29)), (BERLIN, dt.date(2026, 10, 25))],
)
async def test_daily_schedule_across_a_dst_change(tmp_path: Path, harness: HarnessFactory, tz: ZoneInfo,
                                                  transition_day: dt.date) -> None:
    days = [transition_day + dt.timedelta(days=offset) for offset in (-1, 0, 1)]
    for day in days:
        write_digest(tmp_path / "digests", day)
    start = dt.datetime.combine(days[0], dt.time(0, 0), tz)
    h = harness([ChannelSettings("terminal", "console", schedule="08:00", timezone=tz.key)], start)
    h.start()
    await h.at(start)
    delivered_at: list[dt.datetime] = []
    moment = start
    while moment < start + dt.timedelta(days=3):
        moment += dt.timedelta(minutes=30)
        before = len(h.results)
        await h.at(moment)
        delivered_at += [moment] * (len(h.results) - before)
    assert [m.astimezone(tz).strftime("%H:%M") for m in delivered_at] == ["08:00"] * 3
    assert [m.astimezone(tz).date() for m in delivered_at] == days
    assert all(h.deliveries_of(day) == 1 for day in days)


async def test_cron_schedule_in_another_time_zone_across_dst(tmp_path: Path, harness: HarnessFactory) -> None:
    # Weekdays at 10:00 New York time, around the spring-forward Sunday 2026-03-08.
    days = [dt.date(2026, 3, 6) + dt.timedelta(days=offset) for offset in range(5)]  # Fri..Tue
    for day in days:
        write_digest(tmp_path / "digests", day)
    start = dt.datetime(2026, 3, 6, 0, 0, tzinfo=NEW_YORK)
    h = harness([ChannelSettings("us", "console", schedule="0 10 * * 1-5", timezone="America/New_York")], start)
    h.start()
    await h.at(start)
    utc_times: list[dt.datetime] = []
    moment = start
    while moment < start + dt.timedelta(days=5):
        moment += dt.timedelta(minutes=15)
        before = len(h.results)
        await h.at(moment)
        utc_times += [moment.astimezone(dt.UTC)] * (len(h.results) - before)
    # Friday 10:00 EST = 15:00 UTC; Monday and Tuesday 10:00 EDT = 14:00 UTC; nothing at the weekend.
    assert [t.strftime("%m-%d %H:%M") for t in utc_times] == ["03-06 15:00", "03-09 14:00", "03-10 14:00"]


async def test_today_is_the_date_in_the_channels_time_zone(tmp_path: Path, harness: HarnessFactory) -> None:
    # 08:00 in New York on 2 Oct is already 20:00 in Shanghai on 2 Oct; 23:30 in Honolulu on 1 Oct is
    # 2 Oct elsewhere: each channel gets the digest of its own date.
    for day in (dt.date(2025, 10, 1), dt.date(2025, 10, 2)):
        write_digest(tmp_path / "digests", day)
    channels = [ChannelSettings("honolulu", "console", schedule="23:30", timezone="Pacific/Honolulu")]
    start = dt.datetime(2025, 10, 1, 23, 0, tzinfo=ZoneInfo("Pacific/Honolulu"))
    h = harness(channels, start)
    h.start()
    await h.at(start)
    await h.at(start + dt.timedelta(minutes=30))
    assert h.deliveries_of(dt.date(2025, 10, 1)) == 1
    assert h.deliveries_of(dt.date(2025, 10, 2)) == 0


async def test_subscriptions_are_scheduled_like_configured_channels(tmp_path: Path, store: Store,
                                                                   harness: HarnessFactory) -> None:
    from bot.store.base import Subscription

    day = dt.date(2025, 10, 1)
    write_digest(tmp_path / "digests", day)
    h = harness([], at(SHANGHAI, 2025, 10, 1, 7, 0))
    await store.subscribe(Subscription("console", "me", schedule="07:15"))
    h.start()
    await h.at(at(SHANGHAI, 2025, 10, 1, 7, 0))
    await h.at(at(SHANGHAI, 2025, 10, 1, 7, 15))
    assert h.deliveries_of(day) == 1
    assert h.results[0].target.name == "console:me"



async def test_a_subscribed_group_that_migrates_is_not_sent_the_digest_again_after_a_restart(
        tmp_path: Path, store: Store) -> None:
    from bot.config import TelegramSettings
    from bot.platforms.telegram import TelegramChannel, TelegramRateLimits
    from bot.platforms.telegram import html as telegram_renderer
    from bot.store.base import Subscription
    from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

    token = "123456789:AAF-scheduler-migration-test-token-xyz"
    day = dt.date(2025, 10, 1)
    write_digest(tmp_path / "digests", day, items=12, summary_sentences=40)
    settings = make_settings(tmp_path / "digests", [])
    old_chat, new_chat = "-300001", "-1009900000001"
    await store.subscribe(Subscription("telegram", old_chat, schedule="09:30"))
    async with FakeTelegram(token, limits=FakeLimits(scale=20)) as fake:
        fake.migrate(old_chat, new_chat)
        channel = TelegramChannel(TelegramSettings(token=token, base_url=fake.base_url, updates="off"),
                                  rate_limits=TelegramRateLimits().scaled(20))
        try:
            for start in (at(SHANGHAI, 2025, 10, 1, 9, 31), at(SHANGHAI, 2025, 10, 1, 10, 0)):  # run, restart
                scheduler = Scheduler(settings, open_source(settings, Categorizer(())), store,
                                      Deliverer(store, {"telegram": channel}, settings.delivery),
                                      {"telegram": telegram_renderer}, clock=Clock(start))
                await scheduler.step(start)
                await scheduler.drain()
        finally:
            await channel.stop()
        parts = len(telegram_renderer.render_digest(parse_file(next((tmp_path / "digests").iterdir()))))
        assert parts > 1
        assert len(fake.sent.get(new_chat, [])) == parts
        assert fake.sent.get(old_chat, []) == []
    assert [s.chat for s in await store.subscriptions()] == [new_chat]


async def test_a_corrupt_subscription_list_does_not_stop_configured_channels(
        tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as redis

    day = dt.date(2025, 10, 1)
    write_digest(tmp_path / "digests", day)
    store = open_store(redis_url, tmp_path, prefix=redis_prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        await client.hset(f"{redis_prefix}subscriptions", "telegram:-1001", "{not json")
        h = Harness(make_settings(tmp_path / "digests", [ChannelSettings("terminal", "console", schedule="09:30")]),
                    store, Clock(at(SHANGHAI, 2025, 10, 1, 9, 0)))
        h.start()
        await h.at(at(SHANGHAI, 2025, 10, 1, 9, 0))
        await h.at(at(SHANGHAI, 2025, 10, 1, 9, 30))
        assert h.deliveries_of(day) == 1
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await store.close()


# -- retries follow the kind of outcome, never its wording ---------------------------------------
def test_every_kind_of_outcome_has_a_retry_rule() -> None:
    assert set(RETRY_BY_KIND) == set(Kind)


class CountingChannel:
    """A console-platform channel that answers every send with `error` (or accepts it), counting sends."""

    platform = "console"

    def __init__(self, error: SendError | None) -> None:
        self.error = error
        self.sends = 0

    async def send(self, chat: str, payload: Payload, gate: Gate | None = None) -> str:
        self.sends += 1
        if self.error is not None:
            raise self.error
        return str(self.sends)


# Reasons worded to fool any matching of text: the kind alone decides.
@pytest.mark.parametrize(("error", "retried"), [
    (RenderingDefect("message is too long"), False),
    (TransientError("rendering defect, said the proxy"), True),
    (Unauthorized("rendering defect: Unauthorized"), True),
    (ChatGone("Forbidden: bot was kicked"), False),
    (MaybeSent("rendering defect? no answer"), False),
])
async def test_a_failed_delivery_is_retried_by_its_kind(tmp_path: Path, store: Store, error: SendError,
                                                       retried: bool) -> None:
    day = dt.date(2025, 10, 1)
    write_digest(tmp_path / "digests", day)
    settings = dataclasses.replace(
        make_settings(tmp_path / "digests", [ChannelSettings("terminal", "console", schedule="09:30")],
                      poll_interval=600.0, poll_deadline=3600.0),
        delivery=DeliverySettings(lease_ttl=5.0, max_attempts=1))
    channel = CountingChannel(error)
    results: list[DeliveryResult] = []
    clock = Clock(at(SHANGHAI, 2025, 10, 1, 9, 0))
    scheduler = Scheduler(settings, open_source(settings, Categorizer(())), store,
                          Deliverer(store, {"console": channel}, settings.delivery), {"console": text_renderer},
                          clock=clock, on_result=lambda result, due: results.append(result))
    for moment in (at(SHANGHAI, 2025, 10, 1, 9, 0), at(SHANGHAI, 2025, 10, 1, 9, 30),
                   at(SHANGHAI, 2025, 10, 1, 9, 41), at(SHANGHAI, 2025, 10, 1, 9, 52)):
        clock.set(moment)
        await scheduler.step(moment)
        await scheduler.drain()
    sends_per_attempt = 2 if isinstance(error, MaybeSent) else 1     # a timed-out part is resent once
    assert len(results) == (3 if retried else 1), results
    assert channel.sends == len(results) * sends_per_attempt
    assert {scheduler.retry_in(result) is not None for result in results} == {retried}
