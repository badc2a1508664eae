"""Feishu's sender against the fake open platform over real HTTP: signatures, bytes, pace, codes, masking."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.platforms.base import ChatGone, RateLimited, RenderingDefect, Unauthorized
from bot.platforms.feishu.limits import PACE
from bot.platforms.feishu.sender import FeishuSender
from bot.platforms.feishu.signing import sign
from tests.fakes.fake_feishu import FakeFeishu, expected_sign
from tests.fakes.fake_robots import Fault

SPEED = 10.0


def card(text: str) -> dict[str, Any]:
    return {"msg_type": "interactive",
            "card": {"header": {"title": {"tag": "plain_text", "content": "日报"}},
                     "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(scale=SPEED) as server:
        yield server


@pytest.fixture
async def sender() -> AsyncIterator[FeishuSender]:
    # Sped up, the second's allowance leaves in bursts (a throughput window) that network jitter could
    # push into the fake's next window; unscaled it leaves one post every 0.2 s and cannot.
    sender = FeishuSender(PACE.scaled(SPEED * 0.8), request_timeout=0.5, connect_timeout=0.5)
    yield sender
    await sender.close()


def test_the_signature_is_feishus() -> None:
    assert sign("secret-x", 1_700_000_000) == expected_sign("secret-x", "1700000000")


async def test_signed_cards_arrive_in_order_within_five_a_second(fake: FakeFeishu, sender: FeishuSender) -> None:
    chat = sender.add_webhook(fake.add_robot(secret="signing-secret"), {"secret": "signing-secret"})
    for number in range(30):
        await sender.send(chat, card(f"**{number}** 条"))
    [credential] = fake.robots
    posts = fake.messages(credential)
    assert [post["card"]["elements"][0]["text"]["content"] for post in posts] == [f"**{n}** 条" for n in range(30)]
    assert all(set(post) == {"timestamp", "sign", "msg_type", "card"} for post in posts)
    assert fake.rate_limited[credential] == 0


async def test_configuration_errors_name_their_fix(fake: FakeFeishu, sender: FeishuSender) -> None:
    url = fake.add_robot(secret="the-right-one")
    with pytest.raises(Unauthorized, match=r"19021.*`secret`"):
        await sender.send(sender.add_webhook(url), card("unsigned"))
    keyworded = sender.add_webhook(fake.add_robot(keywords=("日报",)))
    await sender.send(keyworded, card("fine"))      # the title holds the keyword
    with pytest.raises(Unauthorized, match=r"19024.*keyword"):
        await sender.send(keyworded, {"msg_type": "interactive", "card": {"elements": []}})


async def test_too_fast_is_waited_and_bad_webhooks_are_gone(fake: FakeFeishu, sender: FeishuSender,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    chat = sender.add_webhook(fake.add_robot())
    [credential] = fake.robots
    fake.fail(credential, Fault(code=9499, message="too many request"), Fault(code=11232, message="frequency"))
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            with pytest.raises(RateLimited):
                await sender.send(chat, card("x"))
        with pytest.raises(RenderingDefect):
            await sender.send(chat, card("大" * 7000))
        fake.remove_robot(credential)
        with pytest.raises(ChatGone, match="19001") as gone:
            await sender.send(chat, card("x"))
    assert credential not in caplog.text and credential not in str(gone.value)
    assert credential not in sender.webhook(chat).masked


async def test_lark_is_the_same_path_on_its_own_host() -> None:
    sender = FeishuSender()
    chat = sender.add_webhook("https://open.larksuite.com/open-apis/bot/v2/hook/abc-123-def")
    assert sender.webhook(chat).masked == "https://open.larksuite.com/open-apis/bot/v2/hook/***"
