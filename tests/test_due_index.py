"""The due index: one parse per schedule, targets made only for what is due, subscriptions kept up with the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import corrections, due_index
from bot.command_model import CommandContext, always_admin
from bot.config import ChannelSettings, DeliverySettings, DigestSettings, Settings
from bot.delivery import Deliverer, Target
from bot.digest.categories import Categorizer
from bot.digest.sources import open_source
from bot.due_index import REFRESH_SECONDS, DueIndex
from bot.platforms.console import ConsoleChannel
from bot.render import text as text_renderer
from bot.schedule import Schedule
from bot.scheduler import Scheduler
from bot.store import open_store
from bot.store.base import DeliveryKey, Store, Subscription
from bot.subscribing import SubscriptionCommands
from tests.digests import write_digest

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 2, 9, 59, tzinfo=UTC)        # a Monday, one minute before the first slot
PLATFORMS = ("console", "telegram")


def index(*configured: ChannelSettings) -> DueIndex:
    return DueIndex(configured, UTC, "09:30", PLATFORMS)


def chats(count: int, schedule: str, timezone: str | None = None, prefix: str = "c") -> list[Subscription]:
    return [Subscription("console", f"{prefix}{n:05d}", schedule, timezone) for n in range(count)]


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many targets the index made, and how many schedules it parsed."""
    counts: Counter[str] = Counter()
    real_parse = Schedule.parse.__func__    # type: ignore[attr-defined]

    def target(*args: Any) -> Target:
        counts["targets"] += 1
        return Target(*args)

    def parse(cls: type[Schedule], expr: str, tz: ZoneInfo) -> Schedule:
        counts["parses"] += 1
        schedule: Schedule = real_parse(cls, expr, tz)
        return schedule

    monkeypatch.setattr(due_index, "Target", target)
    monkeypatch.setattr(Schedule, "parse", classmethod(parse))
    return counts


# -- groups ------------------------------------------------------------------------------------
def test_channels_on_one_schedule_share_one_parsed_schedule(made: Counter[str]) -> None:
    found = index(ChannelSettings("news", "console", "n", "10:00"))
    made.clear()
    found.load(chats(300, "10:00") + chats(300, "10:00", "UTC", prefix="u") + chats(300, "9:30", "Asia/Shanghai",
                                                                                   prefix="s")
               + chats(300, "0 10 * * 1-5", "America/New_York", prefix="w") + chats(5, "09:30", "Asia/Shanghai", "z"))
    assert made["parses"] == 4, "one parse per schedule as written, not per channel"
    assert found.groups == 3, "10:00 UTC (configured and subscribed alike), 09:30 Shanghai, weekdays in New York"
    assert made["targets"] == 0, "loading makes no target"
    schedules = {channel.target.name: channel.schedule for channel in found.channels()}
    assert schedules["news"] is schedules["console:c00000"] is schedules["console:u00299"]
    assert schedules["console:s00000"] is schedules["console:s00299"]
    assert len({id(schedule) for schedule in schedules.values()}) == 3


def test_a_configured_channel_wins_over_a_subscription_of_the_same_chat() -> None:
    found = index(ChannelSettings("desk", "console", "c00001", "10:00"))
    found.load(chats(3, "22:00"))
    assert [channel.target.name for channel in found.channels()] == ["desk", "console:c00000", "console:c00002"]
    desk = found.find("desk")
    assert desk is not None and desk.schedule.expr == "10:00" and not desk.subscribed
    assert found.find("console:c00001") is None


def test_subscriptions_of_platforms_that_cannot_deliver_are_left_out() -> None:
    found = index()
    found.load([Subscription("slack", "C01", "10:00"), Subscription("console", "me", "10:00")])
    assert [channel.target.name for channel in found.channels()] == ["console:me"]


def test_unusable_schedules_and_time_zones_are_skipped_with_one_warning_each(
        caplog: pytest.LogCaptureFixture) -> None:
    found = index()
    broken = (chats(50, "25:00", prefix="t") + chats(50, "10:00", "Mars/Olympus", prefix="m")
              + chats(50, "10:00", "Asia", prefix="a"))        # a folder of zones, which reads as OSError
    with caplog.at_level(logging.WARNING, logger="bot.due_index"):
        found.load(broken + chats(2, "10:00"))
    assert [channel.target.name for channel in found.channels()] == ["console:c00000", "console:c00001"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3 and all(message.startswith("ignoring 50 subscription(s)") for message in warnings)


def test_a_subscribed_chat_is_found_by_its_name_whatever_order_the_store_gave() -> None:
    found = index()
    found.load([Subscription("telegram", "-5", "10:00", topic="7", categories=("Hardware",)),
                Subscription("console", "b", "11:00"), Subscription("console", "a", "10:00")])
    channel = found.find("telegram:-5")
    assert channel is not None and channel.subscribed
    assert channel.target == Target("telegram:-5", "telegram", "-5", ("Hardware",), channel.target.options)
    assert channel.target.options.topic == "7"
    assert [name for name in ("console:a", "console:b", "console:c") if found.find(name)] == ["console:a",
                                                                                              "console:b"]
    assert len(found) == 3


# -- due times ---------------------------------------------------------------------------------
def test_a_tick_makes_targets_only_for_the_channels_due(made: Counter[str]) -> None:
    found = index()
    found.load(chats(2000, "22:00") + chats(7, "10:00", prefix="due"))
    catch_up = dt.timedelta(hours=1)
    assert found.advance(START, catch_up) == []
    assert made["targets"] == 0
    due = found.advance(START + dt.timedelta(minutes=1, seconds=30), catch_up)
    assert sorted(channel.target.name for channel, _ in due) == [f"console:due{n:05d}" for n in range(7)]
    assert {when for _, when in due} == {START + dt.timedelta(minutes=1)}
    assert made["targets"] == 7
    for seconds in range(120, 3600, 60):
        assert found.advance(START + dt.timedelta(seconds=seconds), catch_up) == []
    assert made["targets"] == 7, "quiet ticks make nothing"


def test_next_due_is_the_earliest_schedule_and_moves_on() -> None:
    found = index()
    found.load(chats(10, "22:00") + chats(10, "10:00", prefix="b") + chats(3, "0 12 * * 1", prefix="m"))
    assert found.next_due() is None, "nothing before the start-up tick"
    found.advance(START, dt.timedelta(hours=1))
    assert found.next_due() == START + dt.timedelta(minutes=1)
    found.advance(START + dt.timedelta(minutes=2), dt.timedelta(hours=1))
    assert found.next_due() == dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    found.advance(dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC), dt.timedelta(hours=1))
    assert found.next_due() == dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def test_start_up_catches_up_within_the_window_only(made: Counter[str]) -> None:
    found = index()
    found.load(chats(5, "09:00", prefix="recent") + chats(500, "02:00", prefix="old"))
    due = found.advance(START, dt.timedelta(hours=6))
    assert sorted(channel.target.name for channel, _ in due) == [f"console:recent{n:05d}" for n in range(5)]
    assert made["targets"] == 5


def test_what_was_handed_out_is_not_handed_out_again_after_a_reload_or_a_clock_going_back() -> None:
    found = index()
    subscriptions = chats(3, "10:00")
    found.load(subscriptions)
    found.advance(START, dt.timedelta(hours=1))
    assert len(found.advance(START + dt.timedelta(minutes=5), dt.timedelta(hours=1))) == 3
    found.load([*subscriptions, Subscription("console", "late", "10:00"), Subscription("console", "x", "10:07")])
    assert found.advance(START + dt.timedelta(minutes=3), dt.timedelta(hours=1)) == [], "the clock went back"
    due = found.advance(START + dt.timedelta(minutes=10), dt.timedelta(hours=1))
    assert [channel.target.name for channel, _ in due] == ["console:x"]


# -- keeping up with the store -------------------------------------------------------------------
class Harness:
    """A scheduler over a store, counting how often it read every subscription."""

    def __init__(self, tmp_path: Path, store: Store) -> None:
        self.store = store
        self.reads = 0
        self.settings = Settings(timezone="UTC", digests=DigestSettings(source=str(tmp_path / "digests")),
                                 store="memory://", channels=(), base_dir=tmp_path,
                                 delivery=DeliverySettings(lease_ttl=5.0, corrections="off"))
        self.out = io.StringIO()
        self.now = START
        real = store.subscriptions

        async def counted() -> list[Subscription]:
            self.reads += 1
            return await real()

        store.subscriptions = counted      # type: ignore[method-assign]
        deliverer = Deliverer(store, {"console": ConsoleChannel(self.out)}, self.settings.delivery)
        self.scheduler = Scheduler(self.settings, open_source(self.settings, Categorizer(())), store, deliverer,
                                   {"console": text_renderer}, clock=lambda: self.now)

    async def at(self, moment: dt.datetime) -> None:
        self.now = moment
        await self.scheduler.step(moment)
        await self.scheduler.drain()

    def served(self) -> set[str]:
        return {channel.target.name for channel in self.scheduler.index.channels()}


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def two_handles(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two handles on the same data, as two replicas have (the memory store has no other process)."""
    if request.param == "memory":
        store = open_store("memory://", tmp_path)
        handles = (store, store)
    else:
        url = "sqlite:///shared.db" if request.param == "sqlite" else request.getfixturevalue("redis_url")
        prefix = "digestbot:" if request.param == "sqlite" else request.getfixturevalue("redis_prefix")
        handles = (open_store(url, tmp_path, prefix=prefix), open_store(url, tmp_path, prefix=prefix))
    yield handles
    if request.param == "redis":
        await handles[0].unsubscribe("console", "theirs")
        await handles[0].unsubscribe("console", "other")
    for handle in {id(handle): handle for handle in handles}.values():
        await handle.close()


async def test_a_subscription_made_by_another_replica_shows_within_the_refresh_interval_and_is_read_once(
        tmp_path: Path, two_handles: tuple[Store, Store]) -> None:
    mine, theirs = two_handles
    write_digest(tmp_path / "digests", START.date())
    h = Harness(tmp_path, mine)
    await h.at(START)
    assert h.reads == 1
    await theirs.subscribe(Subscription("console", "theirs", "10:00"))
    await h.at(START + dt.timedelta(seconds=20))
    assert h.served() == set() and h.reads == 1, "not looked at again within the interval"
    await h.at(START + dt.timedelta(seconds=20 + REFRESH_SECONDS))
    assert h.served() == {"console:theirs"} and h.reads == 2
    await h.at(START + dt.timedelta(minutes=1, seconds=5))
    assert h.out.getvalue().count(f"Test digest {START.date().isoformat()}") == 1
    for minutes in range(2, 10):
        await h.at(START + dt.timedelta(minutes=minutes))
    assert h.reads == 2, "an unchanged version is not followed by reading every subscription"
    await theirs.unsubscribe("console", "theirs")
    await h.at(START + dt.timedelta(minutes=11))
    assert h.served() == set() and h.reads == 3


async def test_a_scheduler_tick_costs_what_is_due_not_what_is_subscribed(tmp_path: Path, store: Store,
                                                                         made: Counter[str]) -> None:
    for subscription in chats(1500, "22:00") + chats(4, "10:00", prefix="due"):
        await store.subscribe(subscription)
    write_digest(tmp_path / "digests", START.date())
    h = Harness(tmp_path, store)
    await h.at(START)
    assert made["targets"] == 0
    await h.at(START + dt.timedelta(minutes=1, seconds=30))
    assert made["targets"] == 4
    assert h.out.getvalue().count("Test digest") == 4
    for seconds in range(100, 1000, 45):
        await h.at(START + dt.timedelta(seconds=seconds))
    assert made["targets"] == 4 and h.reads == 1


async def test_what_this_process_subscribes_is_scheduled_at_once(tmp_path: Path, store: Store) -> None:
    write_digest(tmp_path / "digests", START.date())
    h = Harness(tmp_path, store)
    commands = SubscriptionCommands(store, "10:00", Categorizer(()), open_source(h.settings, Categorizer(())))
    commands.listeners.append(h.scheduler.subscriptions_changed)
    await h.at(START)
    await store.subscribe(Subscription("console", "other", "10:00"))     # as if by another process
    await commands.subscribe(["10:00"], False, _context("mine"), "en")
    await h.at(START + dt.timedelta(seconds=1))
    assert h.served() == {"console:mine", "console:other"}
    await h.at(START + dt.timedelta(minutes=1))
    assert h.out.getvalue().count("Test digest") == 2
    await commands.unsubscribe([], False, _context("mine"), "en")
    await h.at(START + dt.timedelta(minutes=1, seconds=2))
    assert h.served() == {"console:other"}


def _context(chat: str) -> CommandContext:
    return CommandContext(platform="console", chat=chat, user="u1", is_group=False, language="en", timezone=UTC,
                          is_admin=always_admin, now=START)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store("memory://", tmp_path)
    yield opened
    await opened.close()


async def test_a_store_that_cannot_be_read_keeps_the_subscriptions_last_loaded(tmp_path: Path, store: Store) -> None:
    await store.subscribe(Subscription("console", "kept", "22:00"))
    h = Harness(tmp_path, store)
    await h.at(START)

    async def broken() -> str:
        raise OSError("store down")

    store.subscriptions_version = broken      # type: ignore[method-assign]
    h.scheduler.subscriptions_changed()
    await h.at(START + dt.timedelta(seconds=1))
    assert h.served() == {"console:kept"}


# -- corrections -------------------------------------------------------------------------------
async def test_the_corrections_sweep_looks_only_at_finished_deliveries(tmp_path: Path, store: Store) -> None:
    for subscription in chats(400, "22:00"):
        await store.subscribe(subscription)
    await store.finish(DeliveryKey(START.date(), "console:c00007"))
    await store.finish(DeliveryKey(START.date(), "gone-channel"))
    h = Harness(tmp_path, store)
    looked_at: list[DeliveryKey] = []
    real: Callable[[DeliveryKey], Any] = store.delivery_history

    async def history(key: DeliveryKey) -> Any:
        looked_at.append(key)
        return await real(key)

    store.delivery_history = history       # type: ignore[method-assign]
    await h.scheduler.index.refresh(store, START)
    await h.scheduler._sweep.run(h.scheduler._locate, h.scheduler.index.timezones(), START)
    assert looked_at == [DeliveryKey(START.date(), "console:c00007")]


async def test_the_corrections_sweep_fingerprints_a_digest_once_for_all_channels_that_post_it_alike(
        tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    made = Counter[str]()
    real_of = corrections.Fingerprint.of.__func__      # type: ignore[attr-defined]

    def of(cls: type[corrections.Fingerprint], digest: Any, payloads: Any) -> corrections.Fingerprint:
        made["fingerprints"] += 1
        fingerprint: corrections.Fingerprint = real_of(cls, digest, payloads)
        return fingerprint

    monkeypatch.setattr(corrections.Fingerprint, "of", classmethod(of))
    write_digest(tmp_path / "digests", START.date())
    for subscription in chats(30, "10:00"):
        await store.subscribe(subscription)
    h = Harness(tmp_path, store)
    await h.at(START)
    await h.at(START + dt.timedelta(minutes=1))
    assert h.out.getvalue().count("Test digest") == 30
    # The 30 deliveries and the sweep after them share the one fingerprint the scheduler prepared.
    await h.scheduler._sweep.run(h.scheduler._locate, h.scheduler.index.timezones(), START + dt.timedelta(minutes=2))
    assert made["fingerprints"] == 1
    # Nothing changed, so nothing was posted again.
    assert h.out.getvalue().count("Test digest") == 30


async def test_a_reload_is_built_off_the_event_loop_which_keeps_turning_meanwhile(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    for subscription in chats(20_000, "10:00"):
        await store.subscribe(subscription)
    idx = index()
    turns = 0
    building = False
    turns_while_building: list[int] = []
    real_build = idx._build

    def build(subscriptions: Any) -> Any:
        nonlocal building
        building = True
        started = turns
        try:
            return real_build(subscriptions)
        finally:
            building = False
            turns_while_building.append(turns - started)

    idx._build = build      # type: ignore[method-assign]

    async def turning() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    ticker = asyncio.ensure_future(turning())
    try:
        await idx.refresh(store, START)
    finally:
        ticker.cancel()
    assert len(idx) == 20_000
    assert not building
    # Built on the loop, no other task could have run until it returned.
    assert turns_while_building[0] > 0
    await store.close()
