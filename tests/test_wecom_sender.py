"""WeCom's sender against the fake group robot over real HTTP: bytes, pace, errcodes, faults, masking."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.platforms.base import ChatGone, MaybeSent, RateLimited, RenderingDefect, TransientError
from bot.platforms.wecom.limits import PACE
from bot.platforms.wecom.sender import WeComSender
from tests.fakes.fake_robots import Fault
from tests.fakes.fake_wecom import FakeWeCom, content

SPEED = 200.0


def markdown(text: str) -> dict[str, object]:
    return {"msgtype": "markdown", "markdown": {"content": text}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    async with FakeWeCom(windows=((20, 60.0),), scale=SPEED) as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[WeComSender]:
    sender = WeComSender(PACE.scaled(SPEED), request_timeout=0.5, connect_timeout=0.5)
    yield sender
    await sender.close()


async def test_posts_arrive_in_order_within_twenty_a_minute(fake: FakeWeCom, sender: WeComSender) -> None:
    url = fake.add_robot()
    chat = sender.add_webhook(url)
    for number in range(45):
        await sender.send(chat, markdown(f"**第{number}条** 新闻"))
    [credential] = fake.robots
    assert [content(post) for post in fake.messages(credential)] == [f"**第{n}条** 新闻" for n in range(45)]
    assert fake.rate_limited[credential] == 0


async def test_answers_map_to_send_errors(fake: FakeWeCom, sender: WeComSender) -> None:
    chat = sender.add_webhook(fake.add_robot())
    [credential] = fake.robots
    fake.fail(credential, Fault(code=45009, message="api freq out of limit"), Fault(status=502),
              Fault(stall=1.0, posted=True))
    with pytest.raises(RateLimited) as limited:
        await sender.send(chat, markdown("a"))
    assert limited.value.retry_after == PACE.scaled(SPEED).refused_wait
    with pytest.raises(TransientError):
        await sender.send(chat, markdown("b"))
    with pytest.raises(MaybeSent):
        await sender.send(chat, markdown("c"))
    with pytest.raises(RenderingDefect, match="40058"):
        await sender.send(chat, markdown("长" * 1366))     # 4,098 bytes
    await sender.send(chat, markdown("长" * 1365))         # 4,095 bytes: in
    fake.remove_robot(credential)
    with pytest.raises(ChatGone, match="93000"):
        await sender.send(chat, markdown("d"))
    assert [content(post)[:1] for post in fake.messages(credential)] == ["c", "长"]


async def test_the_key_never_shows_in_errors_or_logs(fake: FakeWeCom, sender: WeComSender,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    url = fake.add_robot()
    chat = sender.add_webhook(url)
    [credential] = fake.robots
    assert credential not in chat and credential not in repr(sender.webhook(chat))
    assert credential not in sender.webhook(chat).masked
    fake.fail(credential, Fault(code=45009), Fault(status=502))
    reasons = []
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            try:
                await sender.send(chat, markdown("x"))
            except (RateLimited, TransientError) as error:
                reasons.append(str(error))
        fake.remove_robot(credential)
        with pytest.raises(ChatGone) as gone:
            await sender.send(chat, markdown("x"))
    assert len(reasons) == 2
    assert all(credential not in text for text in [*reasons, str(gone.value), caplog.text])


async def test_a_url_that_is_no_robot_is_refused_without_quoting_it() -> None:
    sender = WeComSender()
    with pytest.raises(ValueError) as refused:
        sender.add_webhook("https://qyapi.weixin.qq.com/cgi-bin/other?key=sekrit-key-123")
    assert "sekrit" not in str(refused.value)
