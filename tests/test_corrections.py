"""Corrections in place over the fake Telegram and Slack: edits of exactly the changed parts, once; else one notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ChannelSettings, DeliverySettings, SlackSettings
from bot.corrections import Corrector, Fingerprint, corrections_made
from bot.delivery import Deliverer, Target
from bot.digest.parse import parse_digest
from bot.platforms.base import Channel
from bot.platforms.discord import embeds as discord
from bot.platforms.slack import SlackChannel, SlackRateLimit
from bot.platforms.slack import blocks as render_slack
from bot.platforms.telegram import html
from bot.render import Payload, Renderer
from bot.store import Store, open_store
from bot.store.base import DeliveryKey
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram
from tests.scheduled_telegram import SCALE, TOKEN, open_state, run_day
from tests.test_post_options import discord_channel
from tests.test_telegram_broadcast import DAY, long_digest

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT = "-1001000000021"
CHANNELS = (ChannelSettings("news", "telegram", CHAT, "09:00"),)


def write(tmp_path: Path, text: str) -> str:
    folder = tmp_path / "digests"
    folder.mkdir(exist_ok=True)
    (folder / "long.md").write_text(text, encoding="utf-8")
    return text


def corrected(text: str) -> str:
    """The publisher fixes a headline in the last item and a sentence in the first."""
    return (text.replace("[Headline 8]", "[Headline eight]")
                .replace("A **weighty** opening.", "A **weighty** start.", 1))


def part_texts(text: str) -> list[str]:
    from tests.fakes.tdparse import parse

    return [parse(payload["text"], payload["parse_mode"]).text
            for payload in html.render_digest(parse_digest(text, "long.md"))]


async def test_a_corrected_digest_edits_only_the_changed_parts_then_nothing(tmp_path: Path) -> None:
    original = write(tmp_path, long_digest())
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        await run_day(tmp_path, fake, DAY, CHANNELS)
        assert fake.texts(CHAT) == part_texts(original) and fake.edits == []
        fixed = write(tmp_path, corrected(original))
        before, after = part_texts(original), part_texts(fixed)
        changed = [n for n, (was, now) in enumerate(zip(before, after, strict=True)) if was != now]
        assert 0 < len(changed) < len(before)

        await run_day(tmp_path, fake, DAY, CHANNELS)
        assert fake.texts(CHAT) == after                        # the chat now shows the fixed digest
        ids = [message.message_id for message in fake.sent[CHAT]]
        assert sorted(ids.index(edit.message_id) for edit in fake.edits) == changed
        sent = len(fake.sent[CHAT])

        await run_day(tmp_path, fake, DAY, CHANNELS)            # a restart: nothing edited twice
        assert len(fake.edits) == len(changed) and len(fake.sent[CHAT]) == sent
    store = open_state(tmp_path)
    recorded = Fingerprint.loads(await store.fingerprint(DeliveryKey(DAY, "news")))
    await store.close()
    now = parse_digest(fixed, "long.md")
    assert recorded.parts == Fingerprint.of(now, html.render_digest(now)).parts


async def test_items_added_or_removed_get_one_notice_naming_them(tmp_path: Path) -> None:
    original = write(tmp_path, long_digest())
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        await run_day(tmp_path, fake, DAY, CHANNELS)
        write(tmp_path, _drop_last_item(original))
        await run_day(tmp_path, fake, DAY, CHANNELS)
        await run_day(tmp_path, fake, DAY, CHANNELS)
        texts = fake.texts(CHAT)
    assert fake.edits == []
    assert texts[:-1] == part_texts(original)
    assert texts[-1] == f"更正：{DAY.isoformat()} 的速递在发出后有改动（第 8 条）。"      # in the config's language


def _drop_last_item(text: str) -> str:
    start = text.index("8.  [Headline 8]")
    end = text.index("---", start)
    return text[:start] + text[end:]


async def test_corrections_notice_forces_a_notice_and_off_does_nothing(tmp_path: Path) -> None:
    original = write(tmp_path, long_digest())
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        await run_day(tmp_path, fake, DAY, CHANNELS)
        write(tmp_path, corrected(original))
        await run_day(tmp_path, fake, DAY, CHANNELS, corrections="off")
        assert fake.texts(CHAT) == part_texts(original)
        await run_day(tmp_path, fake, DAY, CHANNELS, corrections="notice")
        await run_day(tmp_path, fake, DAY, CHANNELS, corrections="notice")
        texts = fake.texts(CHAT)
    assert fake.edits == []
    assert texts[:-1] == part_texts(original)
    assert texts[-1].endswith("（第 1、8 条）。")


async def test_a_filtered_channel_is_told_only_of_changes_to_its_own_items(tmp_path: Path) -> None:
    original = write(tmp_path, long_digest())
    only_eight = (ChannelSettings("eight", "telegram", CHAT, "09:00", categories=("Hardware",)),)
    eighth = original.replace("8.  [Headline 8](https://news.example.com/8)",
                              "8.  [Headline 8](https://news.example.com/8)\n\n    <!-- categories: Hardware -->")
    write(tmp_path, eighth)
    async with FakeTelegram(TOKEN, limits=FakeLimits(scale=SCALE)) as fake:
        await run_day(tmp_path, fake, DAY, only_eight, corrections="notice")
        posted = fake.texts(CHAT)
        assert "Headline 8" in posted[0] and "Headline 1" not in "\n".join(posted)
        write(tmp_path, eighth.replace("[Headline 1]", "[Headline one]"))        # not this channel's item
        await run_day(tmp_path, fake, DAY, only_eight, corrections="notice")
        assert fake.texts(CHAT) == posted
        write(tmp_path, eighth.replace("[Headline 8]", "[Headline eight]"))
        await run_day(tmp_path, fake, DAY, only_eight, corrections="notice")
        assert fake.texts(CHAT)[len(posted):] == [f"更正：{DAY.isoformat()} 的速递在发出后有改动（第 8 条）。"]


async def deliver_then_correct(store: Store, channel: Channel, target: Target,
                               renderer: Renderer) -> tuple[list[Payload], list[Payload]]:
    """Deliver the long digest, fix it, correct it twice (the second time finds nothing to do)."""
    original = parse_digest(long_digest(), "long.md")
    fixed = parse_digest(corrected(long_digest()), "long.md")
    key = DeliveryKey(DAY, target.name)
    deliverer = Deliverer(store, {target.platform: channel}, DeliverySettings())
    corrector = Corrector(deliverer, store, DeliverySettings(), "en")
    payloads = renderer.render_digest(original)
    # What the scheduler hands a delivery: the fingerprint its closing step keeps.
    await deliverer.deliver(key, target, payloads, Fingerprint.of(original, payloads).dumps())
    new_payloads = renderer.render_digest(fixed)
    assert await corrector.correct(key, target, fixed, new_payloads, renderer) == "edited"
    assert await corrector.correct(key, target, fixed, new_payloads, renderer) == "same"
    # What `digestbot status` shows in its corrections column.
    assert corrections_made(await store.fingerprint(key)) == 1
    return payloads, new_payloads


def test_a_fingerprint_counts_its_corrections_and_an_old_or_unreadable_one_counts_none() -> None:
    fingerprint = Fingerprint(("a", "b"), {1: "x"}, corrections=2)
    assert Fingerprint.loads(fingerprint.dumps()) == fingerprint
    assert corrections_made(fingerprint.dumps()) == 2
    assert corrections_made('{"parts": ["a"], "items": {"1": "x"}, "noticed": ""}') == 0     # written before
    assert corrections_made("") == corrections_made("{not json") == corrections_made("[]") == 0


def changed_parts(before: list[Payload], after: list[Payload]) -> list[int]:
    return [n for n, (was, now) in enumerate(zip(before, after, strict=True)) if was != now]


async def test_slack_parts_are_corrected_with_chat_update(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    async with FakeSlack(rate_limit=100) as fake:
        channel = SlackChannel(SlackSettings(token=fake.token, base_url=fake.base_url), commands=None, store=store,
                               rate_limit=SlackRateLimit().scaled(50.0))
        await channel.start()
        try:
            before, after = await deliver_then_correct(store, channel, Target("news", "slack", "C0NEWS001"),
                                                       render_slack)
        finally:
            await channel.stop()
    assert [update["ts"] for update in fake.updates] == [fake.post_ts["C0NEWS001"][n]
                                                         for n in changed_parts(before, after)]
    assert [post["text"] for post in fake.posts["C0NEWS001"]] == [payload["text"] for payload in after]


async def test_discord_parts_are_corrected_with_a_webhook_patch(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    async with FakeDiscord() as fake:
        channel, url, webhook = discord_channel(fake, "1000000000000000021")
        try:
            before, after = await deliver_then_correct(store, channel, Target("news", "discord", url), discord)
        finally:
            await channel.stop()
    assert fake.edits == [(webhook, fake.message_ids[webhook][n]) for n in changed_parts(before, after)]
    assert fake.posts[webhook] == after


async def test_a_replica_whose_digest_is_behind_the_source_leaves_the_chat_alone(tmp_path: Path) -> None:
    store = open_store("memory://", tmp_path)
    target = Target("news", "slack", "C0NEWS002")
    original = parse_digest(long_digest(), "long.md")
    fixed = parse_digest(corrected(long_digest()), "long.md")
    async with FakeSlack(rate_limit=100) as fake:
        channel = SlackChannel(SlackSettings(token=fake.token, base_url=fake.base_url), commands=None, store=store,
                               rate_limit=SlackRateLimit().scaled(50.0))
        await channel.start()
        try:
            deliverer = Deliverer(store, {"slack": channel}, DeliverySettings())
            corrector = Corrector(deliverer, store, DeliverySettings(), "en")
            key = DeliveryKey(DAY, target.name)
            payloads = render_slack.render_digest(original)
            await deliverer.deliver(key, target, payloads, Fingerprint.of(original, payloads).dumps())
            new_payloads = render_slack.render_digest(fixed)

            async def behind() -> bool:
                return False        # another replica already knows a newer digest than this one

            async def current() -> bool:
                return True

            assert await corrector.correct(key, target, fixed, new_payloads, render_slack,
                                           still_current=behind) == "stale"
            assert fake.updates == [] and corrections_made(await store.fingerprint(key)) == 0
            assert await corrector.correct(key, target, fixed, new_payloads, render_slack,
                                           still_current=current) == "edited"
            assert len(fake.updates) == len(changed_parts(payloads, new_payloads)) > 0
        finally:
            await channel.stop()
    await store.close()
