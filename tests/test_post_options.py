"""A channel's post options over the fake Telegram: silent posts, forum topics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import ChannelSettings, DeliverySettings
from bot.delivery import Deliverer, Kind, Outcome, Target
from bot.digest.parse import parse_digest
from bot.platforms.discord import DiscordChannel, DiscordRateLimit
from bot.platforms.discord import embeds as discord
from bot.platforms.discord.limits import SUPPRESS_NOTIFICATIONS
from bot.platforms.discord.settings import DiscordSettings
from bot.platforms.telegram import html
from bot.platforms.telegram.html import render_digest
from bot.render.options import PLAIN, PostOptions
from bot.render.options import apply_options as with_options
from bot.store import open_store
from bot.store.base import DeliveryKey, Subscription
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.scheduled_telegram import SCALE, TOKEN, open_state, run_day
from tests.test_telegram_broadcast import long_digest

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

LOUD, QUIET, FORUM, OTHER_FORUM = "-1001000000011", "-1001000000012", "-1001000000013", "-1001000000014"
DAY = dt.date(2025, 10, 12)


def write_long_day(tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    folder.mkdir(exist_ok=True)
    (folder / "long.md").write_text(long_digest(), encoding="utf-8")


async def test_a_silent_channel_posts_every_part_without_a_notification(tmp_path: Path) -> None:
    write_long_day(tmp_path)
    channels = (ChannelSettings("loud", "telegram", LOUD, "09:00"),
                ChannelSettings("quiet", "telegram", QUIET, "09:00", silent=True))
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        results = await run_day(tmp_path, fake, DAY, channels)
        assert {result.kind for result in results} == {Kind.DELIVERED}
        quiet, loud = fake.sent[QUIET], fake.sent[LOUD]
    assert len(quiet) == len(loud) >= 3
    assert all(message.silent for message in quiet)
    assert not any(message.silent for message in loud)
    assert [message.text for message in quiet] == [message.text for message in loud]
    assert all("disable_notification" not in message.params for message in loud)   # golden payloads unchanged


async def test_a_topic_channel_and_a_subscription_made_in_a_topic_post_every_part_there(tmp_path: Path) -> None:
    write_long_day(tmp_path)
    store = open_state(tmp_path)
    await store.subscribe(Subscription("telegram", OTHER_FORUM, "09:00", "Asia/Shanghai", topic="8"))
    await store.close()
    channels = (ChannelSettings("topic", "telegram", FORUM, "09:00", topic="5"),)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        fake.make_forum(FORUM, 5)
        fake.make_forum(OTHER_FORUM, 8)
        results = await run_day(tmp_path, fake, DAY, channels)
        assert {result.kind for result in results} == {Kind.DELIVERED} and len(results) == 2
        configured, subscribed = fake.sent[FORUM], fake.sent[OTHER_FORUM]
    assert len(configured) >= 3 and [message.thread for message in configured] == [5] * len(configured)
    assert [message.thread for message in subscribed] == [8] * len(configured)
    assert [message.text for message in subscribed] == [message.text for message in configured]


async def test_a_topic_that_is_not_there_is_refused_like_telegram_does(tmp_path: Path) -> None:
    write_long_day(tmp_path)
    channels = (ChannelSettings("topic", "telegram", FORUM, "09:00", topic="404"),)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        fake.make_forum(FORUM, 5)
        (result,) = await run_day(tmp_path, fake, DAY, channels)
        assert fake.sent.get(FORUM) is None
    assert not result.ok and "thread not found" in result.reason


def discord_channel(fake: FakeDiscord, webhook_id: str) -> tuple[DiscordChannel, str, str]:
    """The bot's Discord channel for a new webhook of the fake: the channel, the webhook's URL and its id."""
    url = fake.webhook(webhook_id)
    channel = DiscordChannel(DiscordSettings(base_url=fake.base_url), rate_limit=DiscordRateLimit().scaled(SCALE))
    return channel, url, channel.add_webhook(url)


async def test_a_silent_discord_channel_posts_with_the_silent_flag(tmp_path: Path) -> None:
    payloads = with_options(discord, discord.render_digest(parse_digest(long_digest(), "long.md")),
                            PostOptions(silent=True))
    store = open_store("memory://", tmp_path)
    async with FakeDiscord() as fake:
        channel, url, webhook = discord_channel(fake, "1000000000000000031")
        try:
            result = await Deliverer(store, {"discord": channel}, DeliverySettings()).deliver(
                DeliveryKey(DAY, "quiet"), Target("quiet", "discord", url), payloads)
        finally:
            await channel.stop()
    assert result.outcome is Outcome.DELIVERED and len(fake.posts[webhook]) == len(payloads) >= 2
    assert all(post["flags"] & SUPPRESS_NOTIFICATIONS for post in fake.posts[webhook])


def test_plain_options_leave_a_payload_as_rendered() -> None:
    payloads = render_digest(parse_digest(long_digest(), "long.md"))
    assert with_options(object(), payloads, PostOptions(silent=True)) == payloads     # a platform without the hook
    assert with_options(html, payloads, PLAIN) == payloads
    assert with_options(html, payloads[:1], PostOptions(silent=True)) == [{**payloads[0], "disable_notification": True}]
    assert with_options(html, payloads[:1], PostOptions(topic="5")) == [{**payloads[0], "message_thread_id": 5}]
