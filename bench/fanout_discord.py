"""Discord's side of bench/fanout.py: webhook URLs as chats, the bare aiohttp webhook loop, the allowed rate."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

# Webhook ids of the benchmark's channels; the fake takes any id and token.
FIRST_ID = 1_200_000_000_000_000_000


def webhook_chats(base: str, count: int) -> list[str]:
    """`count` webhook URLs on the fake Discord at `base`, as channel entries name them."""
    return [f"{base}/api/webhooks/{FIRST_ID + number}/bench-token-{number}" for number in range(count)]


async def bare_discord(payloads: list[dict[str, Any]], chats: list[str], options: dict[str, Any],
                       fanout: Callable[[Callable[[str, dict[str, Any]], Awaitable[None]], str], Awaitable[Any]]
                       ) -> Any:
    """The bare loop: POST each payload to `WEBHOOK?wait=true` with the same client-side windows, a 429
    waited out by its retry_after; no ledger, no headers read, no error mapping."""
    import aiohttp

    from bot.platforms.discord.limits import DiscordRateLimit

    limiter = DiscordRateLimit().scaled(options["scale"]).chain()
    async with aiohttp.ClientSession() as session:
        async def send(chat: str, payload: dict[str, Any]) -> None:
            while True:
                await limiter.acquire(chat)
                async with session.post(f"{chat}?wait=true", json=payload) as response:
                    answer = await response.json(content_type=None)
                    if response.status != 429:
                        response.raise_for_status()
                        return
                await asyncio.sleep(float(answer.get("retry_after", 1)))

        return await fanout(send, f"{chats[0].split('/api/')[0]}/api/webhooks/1/warm")


def allowed_discord(elapsed: float, scale: float, channels: int, parts: int, concurrency: int) -> float:
    """What the per-webhook window lets through: each delivery in progress sends `parts` posts, at most
    `count` per window, so it waits ceil(parts / count) - 1 windows."""
    from bot.platforms.discord.limits import DiscordRateLimit

    window = DiscordRateLimit().scaled(scale).windows[0]
    waits = math.ceil(parts / window.count) - 1
    if waits < 1:
        return math.inf      # a delivery fits one window: nothing spaces its posts out
    # `concurrency` deliveries at once: the channels take ⌈channels / concurrency⌉ of them in turn.
    shortest = math.ceil(channels / concurrency) * waits * window.per_seconds
    return channels * parts * elapsed / shortest
