"""A scheduled digest to 100 Discord webhooks through the Deliverer and a real SQLite store, with deleted
webhooks, 5xx, 429s (one of them global) and slow answers: every part once, in order, everywhere."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.delivery import Deliverer, DeliveryResult, Outcome, Target
from bot.delivery_settings import DeliverySettings
from bot.digest.parse import parse_digest
from bot.platforms.discord.channel import DiscordChannel
from bot.platforms.discord.embeds import render_digest
from bot.platforms.discord.limits import DiscordRateLimit
from bot.platforms.discord.settings import DiscordSettings
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.fakes.fake_discord import FakeDiscord
from tests.test_slack_http import long_items
from tests.test_sources import digest_text

DAY = dt.date(2025, 10, 3)
COUNT = 100
# Both the fake's windows and the bot's own run this many times faster than Discord's.
SPEED = 25.0
GONE = set(range(4, COUNT, 17))
FLAKY = {1: 2, 12: 1, 30: 3, 77: 2}         # webhook number -> 5xx answers before it recovers
LIMITED = {3: 2, 50: 1, 99: 3}              # webhook number -> 429s injected before the bucket says so
SLOW = {8: 2, 60: 1}                         # webhook number -> answers that come late, but in time
GLOBAL = 40                                  # its first post gets a global 429: every webhook waits


async def test_a_hundred_webhooks_get_every_part_once_in_order(tmp_path: Path) -> None:
    digest = parse_digest(digest_text(DAY.isoformat(), "A long Friday", long_items()), "long.md")
    payloads = render_digest(digest)
    assert len(payloads) >= 3, "the broadcast must carry several parts per webhook"

    fake = FakeDiscord(seed=20251003)
    fake.scale(SPEED)
    await fake.start()
    store = open_store("sqlite:///./ledger.db", tmp_path)
    channel = DiscordChannel(DiscordSettings(base_url=fake.base_url), rate_limit=DiscordRateLimit().scaled(SPEED),
                             request_timeout=3.0)
    urls = [fake.webhook(f"{1_000_000_000_000_000 + number}") for number in range(COUNT)]
    ids = [channel.add_webhook(url) for url in urls]
    try:
        for number in GONE:
            fake.delete_webhook(ids[number])
        for number, times in FLAKY.items():
            fake.fail_server(ids[number], times, status=502)
        for number, times in LIMITED.items():
            fake.limit_next(ids[number], times, retry_after=0.05)
        for number, times in SLOW.items():
            fake.slow_answer(ids[number], 0.3, times=times)
        fake.limit_next(ids[GLOBAL], retry_after=0.1, is_global=True)
        fake.chaos(p_rate_limited=0.05, p_server_error=0.03)
        deliverer = Deliverer(store, {"discord": channel}, DeliverySettings(
            lease_ttl=30.0, max_attempts=8, backoff_base=0.005, backoff_max=0.05))

        async def deliver_all() -> list[DeliveryResult]:
            # The channel entries name their webhook URLs, as a config does.
            return await asyncio.gather(*(
                deliverer.deliver(DeliveryKey(DAY, f"dc-{number}"), Target(f"dc-{number}", "discord", url), payloads)
                for number, url in enumerate(urls)))

        results = await deliver_all()
        for number, (webhook, result) in enumerate(zip(ids, results, strict=True)):
            if number in GONE:
                assert result.outcome is Outcome.INACTIVE, result
                assert result.reason == "Unknown Webhook (10015)"
                assert fake.posts[webhook] == []
            else:
                assert result.outcome is Outcome.DELIVERED, result
                assert result.parts_sent == len(payloads)
                assert fake.posts[webhook] == payloads, f"webhook {number}: parts missing, repeated or out of order"
        # The weather really was bad, every 429 was waited out rather than dropped, and nobody was pinged.
        assert sum(fake.rate_limited.values()) > 0 and fake.pinged == []

        # A second run (a restart, another replica) sends nothing new.
        posted = {webhook: len(fake.posts[webhook]) for webhook in ids}
        again = await deliver_all()
        assert {result.outcome for result in again} == {Outcome.ALREADY, Outcome.INACTIVE}
        assert {webhook: len(fake.posts[webhook]) for webhook in ids} == posted
        # The ledger kept Discord's message ids (wait=true), in order.
        entry = await store.ledger(DeliveryKey(DAY, "dc-0"))
        assert [entry.sent[part] for part in range(len(payloads))] == fake.message_ids[ids[0]]
    finally:
        await channel.stop()
        await store.close()
        await fake.stop()
