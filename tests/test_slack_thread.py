"""Slack threads: the first part in the channel, the rest as replies in its thread, also across a SIGKILL."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest

from bot.config import DeliverySettings, SlackSettings
from bot.delivery import Deliverer, Outcome, Target
from bot.digest.parse import parse_file
from bot.platforms.slack import blocks as render_slack
from bot.platforms.slack.channel import SlackChannel
from bot.platforms.slack.limits import SlackRateLimit
from bot.render.options import PostOptions
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.digests import write_digest
from tests.fakes.fake_slack import FakeSlack
from tests.procs import (
    BotGroup,
    ChannelSpec,
    Fakes,
    bot_config,
    eventually,
    schedule_just_passed,
    wait_until,
    write_config,
)

CHAT = "C0THREAD1"
DAY = dt.date(2025, 10, 12)


def long_slack_digest(folder: Path, day: dt.date) -> list[str]:
    """A digest in `folder` that takes at least four Slack messages; the text of each part."""
    digest = parse_file(write_digest(folder, day, items=100, summary_sentences=6))
    texts = [str(payload["text"]) for payload in render_slack.render_digest(digest)]
    assert len(texts) >= 4
    return texts


def check_one_thread(fake: FakeSlack, expected: list[str]) -> None:
    """One post in the channel, the first part, and every other part once, in order, in its thread."""
    roots, replies = fake.thread(CHAT)
    assert [root["text"] for root in roots] == expected[:1]
    header_ts = fake.post_ts[CHAT][0]
    assert list(replies) == [header_ts]
    texts = [str(reply["text"]) for reply in replies[header_ts]]
    assert list(dict.fromkeys(texts)) == expected[1:]


async def test_a_threaded_channel_posts_one_header_and_the_rest_as_replies(tmp_path: Path) -> None:
    digest = parse_file(write_digest(tmp_path / "digests", DAY, items=60, summary_sentences=5))
    payloads = render_slack.render_digest(digest)
    store = open_store("memory://", tmp_path)
    target = Target("threaded", "slack", CHAT, options=PostOptions(thread=True))
    plain = Target("plain", "slack", "C0PLAIN01")
    async with FakeSlack(rate_limit=100) as fake:
        channel = SlackChannel(SlackSettings(token=fake.token, base_url=fake.base_url), commands=None, store=store,
                               rate_limit=SlackRateLimit().scaled(50.0))
        await channel.start()
        deliverer = Deliverer(store, {"slack": channel}, DeliverySettings())
        try:
            first = await deliverer.deliver(DeliveryKey(DAY, target.name), target, payloads)
            again = await deliverer.deliver(DeliveryKey(DAY, target.name), target, payloads)
            await deliverer.deliver(DeliveryKey(DAY, plain.name), plain, payloads)
        finally:
            await channel.stop()
        assert (first.outcome, again.outcome) == (Outcome.DELIVERED, Outcome.ALREADY)
        check_one_thread(fake, [str(payload["text"]) for payload in payloads])
        assert all("thread_ts" not in post for post in fake.posts["C0PLAIN01"])
        ledger = await store.ledger(DeliveryKey(DAY, target.name))
        assert ledger.sent[0] == fake.post_ts[CHAT][0]          # the ledger keeps the header's ts


@pytest.mark.slow
async def test_a_thread_resumes_under_the_same_header_after_a_sigkill(tmp_path: Path) -> None:
    schedule, day = schedule_just_passed("UTC")
    expected = long_slack_digest(tmp_path / "digests", day)
    spec = ChannelSpec("threaded", "slack", CHAT)
    store_url = "sqlite:///./digestbot.db"
    async with Fakes(scale=1.0) as fakes, BotGroup(tmp_path) as bots:
        config = bot_config(tmp_path, store=store_url, channels=[spec], schedule=schedule, fakes=fakes, scale=1.0)
        config["channels"][0]["thread"] = True
        path = write_config(tmp_path / "digestbot.yaml", config)
        first = await bots.start("run", path)
        await header_recorded(tmp_path, store_url, day)
        first.kill()
        assert await first.wait_exit() == -signal.SIGKILL
        assert len(fakes.slack.posts[CHAT]) < len(expected), "the thread was complete before the kill"

        second = await bots.start("run", path)
        await wait_until(lambda: len(set(map(str, (p["text"] for p in fakes.slack.posts[CHAT])))) == len(expected),
                         within=60, what="every part of the thread", processes=[second])
        second.terminate()
        assert await second.wait_exit() == 0
        check_one_thread(fakes.slack, expected)


async def header_recorded(tmp_path: Path, store_url: str, day: dt.date) -> None:
    """Wait until the ledger holds the header's ts (so a kill now falls inside the thread)."""
    store = open_store(store_url, tmp_path)

    async def recorded() -> bool:
        return 0 in (await store.ledger(DeliveryKey(day, "threaded"))).sent

    try:
        await eventually(recorded, within=60, what="the header in the ledger", interval=0.02)
    finally:
        await store.close()
