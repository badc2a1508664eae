"""Client-side rate limits: no window ever holds more grants than its limit, across chained limits."""

from __future__ import annotations

import asyncio
import time

from bot.ratelimit import LimiterChain, SlidingWindowLimiter


def max_in_any_window(stamps: list[float], period: float) -> int:
    # Stamps are read a moment after each grant; a window a tenth shorter absorbs that jitter.
    period *= 0.9
    stamps = sorted(stamps)
    best = 0
    start = 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_single_limiter_never_overfills_a_window() -> None:
    limiter = SlidingWindowLimiter(3, 0.2)
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire("chat")
        stamps.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(10)))
    assert len(stamps) == 10
    assert max_in_any_window(stamps, 0.2) <= 3


async def test_chained_limits_hold_for_every_key_at_the_moment_of_sending() -> None:
    per_chat = SlidingWindowLimiter(1, 0.1)
    per_group = SlidingWindowLimiter(2, 0.3)
    overall = SlidingWindowLimiter(4, 0.1)
    chain = LimiterChain([
        (per_chat, lambda chat: chat),
        (per_group, lambda chat: chat if chat.startswith("-") else None),
        (overall, lambda chat: "all"),
    ])
    sent: dict[str, list[float]] = {}

    async def send(chat: str) -> None:
        await chain.acquire(chat)
        sent.setdefault(chat, []).append(time.monotonic())

    chats = ["-1", "-2", "3", "4", "5"] * 4
    await asyncio.gather(*(send(chat) for chat in chats))
    everything = [stamp for stamps in sent.values() for stamp in stamps]
    assert len(everything) == len(chats)
    # Stamps are taken after acquire returns, so a grant recorded too early would show as a window
    # holding one message more than its limit.
    assert max_in_any_window(everything, 0.1) <= 4
    for chat, stamps in sent.items():
        assert max_in_any_window(stamps, 0.1) <= 1, chat
        if chat.startswith("-"):
            assert max_in_any_window(stamps, 0.3) <= 2, chat


async def test_waiters_are_served_in_arrival_order() -> None:
    limiter = SlidingWindowLimiter(1, 0.05)
    order: list[int] = []

    async def one(index: int) -> None:
        await limiter.acquire("chat")
        order.append(index)

    tasks = []
    for index in range(6):
        tasks.append(asyncio.create_task(one(index)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_keyed_locks_serialise_one_key_and_forget_it_when_free() -> None:
    from bot.ratelimit import KeyedLocks

    locks = KeyedLocks()
    inside: list[str] = []
    overlaps = 0

    async def use(key: str) -> None:
        nonlocal overlaps
        async with locks.hold(key):
            if key in inside:
                overlaps += 1
            inside.append(key)
            await asyncio.sleep(0.01)
            inside.remove(key)

    await asyncio.gather(*(use(key) for key in ["a", "b", "a", "a", "b"]))
    assert overlaps == 0
    assert len(locks) == 0


def test_one_scaled_for_every_platforms_windows() -> None:
    from bot.platforms.slack import SlackRateLimit
    from bot.platforms.telegram import TelegramRateLimits
    from bot.ratelimit import RateLimits, Window, whole_bot

    # Declared the way a webhook platform would: 5 per 2 s per webhook, 30 a minute per channel.
    limits = RateLimits((Window(5, 2.0), Window(30, 60.0, whole_bot)))
    assert limits.scaled(4).windows == (Window(5, 0.5), Window(30, 15.0, whole_bot))
    # A throughput window takes more messages instead, in bursts that divide it.
    assert Window(30, 1.0, whole_bot, throughput=True).scaled(2) == Window(60, 1.0, whole_bot, throughput=True)
    assert Window(60, 1.0, throughput=True).burst() == 6
    assert TelegramRateLimits().scaled(3).windows == tuple(window.scaled(3) for window in TelegramRateLimits().windows)
    assert isinstance(SlackRateLimit().scaled(2), SlackRateLimit)
    assert SlackRateLimit().scaled(2).windows == (Window(1, 0.5),)
    for factor in (0, -1.0, float("nan")):
        try:
            limits.scaled(factor)
        except ValueError:
            continue
        raise AssertionError(f"scaled({factor}) was accepted")
