"""The robot platforms (Feishu, WeCom, DingTalk) in bench/fanout.py: their fakes, chats, bare loop and bound.

A robot is a webhook of its own, so each chat is a robot and nothing limits the whole bot: each
delivery's parts go out as fast as its robot's narrowest window lets consecutive posts leave.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

ROBOTS = ("feishu", "wecom", "dingtalk")
CREDENTIAL = "CREDENTIAL"


async def start_fakes(stack: AsyncExitStack, scale: float) -> dict[str, Any]:
    """The three fake robot servers, taking any credential; by platform, with their robot URL template."""
    from tests.fakes.fake_dingtalk import FakeDingTalk
    from tests.fakes.fake_feishu import FakeFeishu
    from tests.fakes.fake_wecom import FakeWeCom

    fakes = {"feishu": FakeFeishu(scale=scale, any_robot=True), "wecom": FakeWeCom(scale=scale, any_robot=True),
             "dingtalk": FakeDingTalk(scale=scale, any_robot=True)}
    for fake in fakes.values():
        await stack.enter_async_context(fake)
    return fakes


def urls(fakes: dict[str, Any]) -> dict[str, str]:
    return {name: fake.robot_url(CREDENTIAL) for name, fake in fakes.items()}


def stats(fakes: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, fake in fakes.items():
        found[f"{name}_sent"] = fake.total_sent()
        found[f"{name}_429"] = sum(fake.rate_limited.values())
    return found


def chats(template: str, count: int) -> list[str]:
    """One robot per chat: its webhook URL is the chat."""
    return [template.replace(CREDENTIAL, f"bench{number:06d}") for number in range(count)]


def config(platform: str, template: str, count: int, scale: float) -> dict[str, Any]:
    """The config keys that give the app one channel per robot, paced `scale` times faster."""
    entries = [{"name": f"bench-{number}", "platform": platform, "webhook": url}
               for number, url in enumerate(chats(template, count))]
    return {platform: {"rate_limit_scale": scale}, "channels": entries}


_SENDERS = {"feishu": "bot.platforms.feishu.sender:FeishuSender", "wecom": "bot.platforms.wecom.sender:WeComSender",
            "dingtalk": "bot.platforms.dingtalk.sender:DingTalkSender"}


def sender(platform: str, scale: float) -> Any:
    """The platform's sender at its own pace `scale` times faster (only its pace is used here)."""
    module, _, name = _SENDERS[platform].partition(":")
    found = getattr(importlib.import_module(module), name)
    return found(found.default_pace.scaled(scale))


async def bare(platform: str, payloads: list[dict[str, Any]], robots: list[str], scale: float,
               fanout: Callable[[Callable[[str, dict[str, Any]], Awaitable[None]], str], Awaitable[dict[str, Any]]],
               ) -> dict[str, Any]:
    """A bare aiohttp loop: the same pace and the same body bytes, no ledger, no error mapping beyond
    waiting out a too-fast answer."""
    import asyncio

    import aiohttp

    from bot.platforms.webhook import wire_body

    pace = sender(platform, scale).pace
    limiter = pace.chain()
    too_fast = {"feishu": (9499, 11232), "wecom": (45009,), "dingtalk": (130101,)}[platform]
    async with aiohttp.ClientSession() as session:
        async def send(url: str, payload: dict[str, Any]) -> None:
            while True:
                await limiter.acquire(url)
                async with session.post(url, data=wire_body(payload),
                                        headers={"Content-Type": "application/json"}) as response:
                    answer = await response.json(content_type=None)
                code = answer.get("code", answer.get("errcode")) if isinstance(answer, dict) else None
                if code not in too_fast:
                    return
                await asyncio.sleep(pace.refused_wait)

        return await fanout(send, robots[0].replace("bench000000", "warmup"))


def allowed(platform: str, elapsed: float, scale: float, channels: int, parts: int, concurrency: int) -> float:
    """The most the robots' windows let through in `elapsed`: each delivery in progress sends its parts
    as fast as its robot's narrowest window spaces consecutive posts."""
    pace = sender(platform, scale).pace
    window = pace.limits.windows[0]
    burst = window.burst()
    if parts < 2 or burst >= parts:
        return math.inf      # all parts fit one burst: nothing spaces them out
    # `burst` posts may leave together, the next `burst` one limiter window later.
    spacing = window.per_seconds * burst / window.count
    # `concurrency` deliveries at once: the channels take ⌈channels / concurrency⌉ of them in turn.
    shortest = math.ceil(channels / concurrency) * (math.ceil(parts / burst) - 1) * spacing
    return float(channels * parts * elapsed / shortest)
