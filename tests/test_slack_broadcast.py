"""A scheduled digest to 50 Slack channels through the Deliverer, with gone channels, 5xx and 429s."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.config import DeliverySettings, SlackSettings
from bot.delivery import Deliverer, DeliveryResult, Outcome, Target
from bot.digest.parse import parse_digest
from bot.platforms import slack as render
from bot.platforms.slack import SlackChannel, SlackRateLimit
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.fakes.fake_slack import CHANNEL_ERRORS, FakeSlack
from tests.test_slack_http import long_items
from tests.test_sources import digest_text

DAY = dt.date(2025, 10, 3)
CHANNELS = [f"C{number:04d}" for number in range(50)]
# Every kind of gone channel, twice over; the channel ids are spread across the list.
GONE = {CHANNELS[number]: CHANNEL_ERRORS[index % len(CHANNEL_ERRORS)]
        for index, number in enumerate(range(3, 50, 6))}
# Channels whose next posts fail with a 5xx a few times (fewer than max_attempts).
FLAKY = {CHANNELS[number]: times for number, times in ((1, 2), (10, 1), (22, 3), (41, 2))}
# Both the fake's window and the client's pacing run this many times faster than Slack's.
SPEED = 25.0


async def test_fifty_channels_get_every_part_once_in_order_and_gone_ones_are_marked(tmp_path: Path) -> None:
    digest = parse_digest(digest_text(DAY.isoformat(), "A long Friday", long_items()), "long.md")
    payloads = render.render_digest(digest)
    assert len(payloads) >= 2, "the broadcast must carry several parts per channel"

    fake = FakeSlack(rate_limit=2, rate_period=1.0, seed=20251003)
    fake.scale(SPEED)
    await fake.start()
    store = open_store("memory://", tmp_path)
    channel = SlackChannel(SlackSettings(token=fake.token, base_url=fake.base_url), commands=None, store=store,
                           rate_limit=SlackRateLimit().scaled(SPEED))
    await channel.start()
    try:
        for chat, error in GONE.items():
            fake.fail_channel(chat, error)
        for chat, times in FLAKY.items():
            fake.fail_server(chat, times, status=502)
        fake.chaos(p_rate_limited=0.08, p_server_error=0.04)
        deliverer = Deliverer(store, {"slack": channel}, DeliverySettings(
            lease_ttl=30.0, max_attempts=8, backoff_base=0.005, backoff_max=0.05))

        async def deliver_all() -> list[DeliveryResult]:
            return await asyncio.gather(*(
                deliverer.deliver(DeliveryKey(DAY, f"slack-{chat}"), Target(f"slack-{chat}", "slack", chat), payloads)
                for chat in CHANNELS))

        results = {result.target.chat: result for result in await deliver_all()}

        expected = [(payload["text"], payload["blocks"]) for payload in payloads]
        for chat in CHANNELS:
            result = results[chat]
            if chat in GONE:
                assert result.outcome is Outcome.INACTIVE and result.reason == GONE[chat], result
                assert await store.inactive_reason("slack", chat) == GONE[chat]
                assert fake.posts[chat] == []
            else:
                assert result.outcome is Outcome.DELIVERED, result
                assert result.parts_sent == len(payloads)
                assert [(post["text"], post["blocks"]) for post in fake.posts[chat]] == expected
                assert all(post["unfurl_links"] is False for post in fake.posts[chat])
        assert await store.inactive_chats() == {("slack", chat): error for chat, error in GONE.items()}
        # The weather really was bad, and every 429 was waited out rather than dropped.
        assert sum(fake.rate_limited.values()) > 0
        assert {chat for chat, _ in fake.refused} == set(GONE)

        # A second run (a restart, another replica) sends nothing new.
        posted_before = {chat: len(fake.posts[chat]) for chat in CHANNELS}
        again = await deliver_all()
        assert {result.outcome for result in again} == {Outcome.ALREADY, Outcome.INACTIVE}
        assert {chat: len(fake.posts[chat]) for chat in CHANNELS} == posted_before
        assert await store.finished_deliveries(DAY) == {f"slack-{chat}" for chat in CHANNELS if chat not in GONE}
    finally:
        await channel.stop()
        await store.close()
        await fake.stop()
