"""A scheduled digest to many Feishu, WeCom and DingTalk robots through the Deliverer, over real HTTP:
every part once, in order, through too-fast answers, 5xx, DingTalk's ten-minute throttle and gone robots."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import Deliverer, DeliveryResult, Outcome, Target
from bot.digest.parse import parse_digest
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.feishu.sender import FeishuSender
from bot.platforms.webhook_sender import WebhookSender
from bot.platforms.wecom.sender import WeComSender
from bot.platforms.wecom.text import text_messages
from bot.settings import DeliverySettings
from bot.store import open_store
from bot.store.base import DeliveryKey
from tests.fakes.fake_dingtalk import FakeDingTalk
from tests.fakes.fake_feishu import FakeFeishu
from tests.fakes.fake_robots import FakeRobots, Fault
from tests.fakes.fake_wecom import FakeWeCom
from tests.test_render_robots import chinese_items
from tests.test_sources import digest_text

DAY = dt.date(2025, 10, 3)
ROBOTS = 24
GONE = {3, 11, 19}
FLAKY = {1: 2, 8: 1, 15: 3}     # robot number -> 502s before it behaves
SECRETS = {number for number in range(ROBOTS) if number % 2}


@dataclass(frozen=True)
class Case:
    platform: str
    fake: Callable[[], FakeRobots]
    sender: Callable[[], WebhookSender]
    gone_code: int
    signed: bool


CASES = [
    Case("feishu", lambda: FakeFeishu(scale=10.0, seed=3),
         lambda: FeishuSender(FeishuSender.default_pace.scaled(10.0)), 19001, True),
    Case("wecom", lambda: FakeWeCom(scale=100.0, seed=4),
         lambda: WeComSender(WeComSender.default_pace.scaled(100.0)), 93000, False),
    # The fake throttles for ten minutes at a thousandth of the time, as does the sender's wait.
    Case("dingtalk", lambda: FakeDingTalk(scale=1000.0, seed=5),
         lambda: DingTalkSender(DingTalkSender.default_pace.scaled(1000.0)), 300001, True),
]


def renderer(platform: str) -> Any:
    from bot.platforms import registry

    return registry.load_renderer(registry.by_name(platform))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.platform)
async def test_every_robot_gets_every_part_once_in_order(case: Case, tmp_path: Path) -> None:
    digest = parse_digest(digest_text(DAY.isoformat(), "周五长报", chinese_items(30)), "long.md")
    payloads = renderer(case.platform).render_digest(digest)
    assert len(payloads) >= 3, "the broadcast must carry several parts per robot"
    fake = await case.fake().start()
    sender = case.sender()
    store = open_store("memory://", tmp_path)
    try:
        chats = []
        for number in range(ROBOTS):
            secret = f"SEC-robot-{number}" if case.signed and number in SECRETS else ""
            url = fake.add_robot(secret=secret, credential=f"robot{number:04d}")
            sender.add_webhook(url, {"secret": secret} if secret else {})
            chats.append(url)
        for number in GONE:
            fake.remove_robot(f"robot{number:04d}")
        for number, times in FLAKY.items():
            fake.fail(f"robot{number:04d}", *[Fault(status=502)] * times)
        fake.fail("robot0005", Fault(code=fake.rate_limited_code, message="too fast"))
        fake.chaos(p_rate_limited=0.05, p_server_error=0.03)
        deliverer = Deliverer(store, {case.platform: sender}, DeliverySettings(
            lease_ttl=30.0, max_attempts=8, backoff_base=0.005, backoff_max=0.05))

        async def deliver_all() -> list[DeliveryResult]:
            return await asyncio.gather(*(
                deliverer.deliver(DeliveryKey(DAY, f"robot-{index}"), Target(f"robot-{index}", case.platform, chat),
                                  payloads)
                for index, chat in enumerate(chats)))

        results = await deliver_all()
        for number, result in enumerate(results):
            credential = f"robot{number:04d}"
            if number in GONE:
                assert result.outcome is Outcome.INACTIVE and str(case.gone_code) in result.reason, result
                assert fake.messages(credential) == []
            else:
                assert result.outcome is Outcome.DELIVERED, result
                received = [{key: post[key] for key in payloads[0]} for post in fake.messages(credential)]
                assert received == payloads
        assert sum(fake.rate_limited.values()) > 0
        # A restart (or another replica) sends nothing new.
        before = {credential: len(posts) for credential, posts in fake.posts.items()}
        again = await deliver_all()
        assert {result.outcome for result in again} == {Outcome.ALREADY, Outcome.INACTIVE}
        assert {credential: len(posts) for credential, posts in fake.posts.items()} == before
    finally:
        await sender.close()
        await store.close()
        await fake.stop()


async def test_a_throttled_dingtalk_robot_waits_the_throttle_out_and_repeats_nothing(tmp_path: Path) -> None:
    digest = parse_digest(digest_text(DAY.isoformat(), "周五长报", chinese_items(30)), "long.md")
    payloads = renderer("dingtalk").render_digest(digest)
    # The robot takes fewer posts a minute than DingTalk promises: it will throttle the bot mid-digest.
    fake = await FakeDingTalk(windows=((2, 60.0),), scale=1000.0, throttle_seconds=600.0).start()
    sender = DingTalkSender(DingTalkSender.default_pace.scaled(1000.0))
    store = open_store("memory://", tmp_path)
    try:
        chat = fake.add_robot(credential="throttled")
        sender.add_webhook(chat)
        deliverer = Deliverer(store, {"dingtalk": sender}, DeliverySettings(lease_ttl=30.0, max_attempts=3,
                                                                           backoff_base=0.005, backoff_max=0.05))
        result = await deliverer.deliver(DeliveryKey(DAY, "dd"), Target("dd", "dingtalk", chat), payloads)
        assert result.outcome is Outcome.DELIVERED, result
        assert fake.messages("throttled") == payloads
        assert fake.rate_limited["throttled"] >= 1
    finally:
        await sender.close()
        await store.close()
        await fake.stop()


async def test_a_text_format_wecom_robot_gets_each_part_as_text_in_order(tmp_path: Path) -> None:
    digest = parse_digest(digest_text(DAY.isoformat(), "周五长报", chinese_items(12)), "long.md")
    payloads = renderer("wecom").render_digest(digest)
    fake = await FakeWeCom(scale=100.0).start()
    sender = WeComSender(WeComSender.default_pace.scaled(100.0))
    store = open_store("memory://", tmp_path)
    try:
        chat = fake.add_robot(credential="wechat")
        sender.add_webhook(chat, {"format": "text"})
        deliverer = Deliverer(store, {"wecom": sender}, DeliverySettings(backoff_base=0.005, backoff_max=0.05))
        result = await deliverer.deliver(DeliveryKey(DAY, "wc"), Target("wc", "wecom", chat), payloads)
        assert result.outcome is Outcome.DELIVERED, result
        expected = [message for payload in payloads for message in text_messages(payload)]
        assert fake.messages("wechat") == expected
        assert all(post["msgtype"] == "text" for post in expected)
    finally:
        await sender.close()
        await store.close()
        await fake.stop()
