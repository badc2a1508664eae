"""DingTalk's sender against the fake custom robot over real HTTP: signatures, bytes, throttling, masking."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.platforms.base import ChatGone, RateLimited, RenderingDefect, Unauthorized
from bot.platforms.dingtalk.limits import PACE
from bot.platforms.dingtalk.sender import DingTalkSender
from bot.platforms.dingtalk.signing import sign
from tests.fakes.fake_dingtalk import FakeDingTalk, expected_sign

SPEED = 200.0


def markdown(text: str, title: str = "日报") -> dict[str, object]:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    async with FakeDingTalk(windows=((20, 60.0),), scale=SPEED, throttle_seconds=600.0) as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[DingTalkSender]:
    sender = DingTalkSender(PACE.scaled(SPEED), request_timeout=0.5, connect_timeout=0.5)
    yield sender
    await sender.close()


def test_the_signature_is_dingtalks() -> None:
    assert sign("SECabc", 1_700_000_000_000) == expected_sign("SECabc", "1700000000000")


async def test_signed_posts_arrive_and_a_wrong_secret_says_how_to_fix_it(fake: FakeDingTalk,
                                                                         sender: DingTalkSender) -> None:
    url = fake.add_robot(secret="SEC-right-secret")
    good = sender.add_webhook(url, {"secret": "SEC-right-secret"})
    await sender.send(good, markdown("## 今日 🚀"))
    other = DingTalkSender(PACE.scaled(SPEED))
    try:
        bad = other.add_webhook(url, {"secret": "SEC-wrong-secret"})
        with pytest.raises(Unauthorized, match=r"310000.*`secret`"):
            await other.send(bad, markdown("x"))
    finally:
        await other.close()
    [credential] = fake.robots
    assert [post["markdown"]["text"] for post in fake.messages(credential)] == ["## 今日 🚀"]


async def test_a_missing_keyword_is_a_configuration_error(fake: FakeDingTalk, sender: DingTalkSender) -> None:
    chat = sender.add_webhook(fake.add_robot(keywords=("日报",)))
    await sender.send(chat, markdown("日报 来了"))
    with pytest.raises(Unauthorized, match="keyword"):
        await sender.send(chat, markdown("nothing here", title="news"))


async def test_throttled_robot_is_held_for_the_whole_wait() -> None:
    speed = 2000.0      # ten minutes of throttling in 0.3 s
    # The robot allows fewer posts than the bot's pace expects.
    async with FakeDingTalk(windows=((3, 60.0),), scale=speed, throttle_seconds=600.0) as fake:
        sender = DingTalkSender(PACE.scaled(speed))
        try:
            chat = sender.add_webhook(fake.add_robot())
            [credential] = fake.robots
            for number in range(3):
                await sender.send(chat, markdown(f"part {number}"))
            with pytest.raises(RateLimited, match="130101") as limited:
                await sender.send(chat, markdown("part 3"))
            assert limited.value.retry_after == pytest.approx(600.0 / speed)
            # The next post waits for the hold, by which time DingTalk lets the robot speak again.
            fake.windows = ((20, 60.0),)
            await sender.send(chat, markdown("part 3"))
            texts = [post["markdown"]["text"] for post in fake.messages(credential)]
            assert texts == [f"part {n}" for n in range(4)]
            assert fake.rate_limited[credential] == 1
        finally:
            await sender.close()


async def test_sizes_gone_robots_and_masking(fake: FakeDingTalk, sender: DingTalkSender,
                                             caplog: pytest.LogCaptureFixture) -> None:
    chat = sender.add_webhook(fake.add_robot(secret="SEC-masked-secret"), {"secret": "SEC-masked-secret"})
    [credential] = fake.robots
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RenderingDefect, match="460101"):
            await sender.send(chat, markdown("字" * 6700))
        fake.remove_robot(credential)
        with pytest.raises(ChatGone, match="300001") as gone:
            await sender.send(chat, markdown("x"))
    for secret in (credential, "SEC-masked-secret"):
        assert secret not in caplog.text and secret not in str(gone.value) and secret not in chat
