"""Client-side rate limits: no window ever holds more grants than its limit, across chained limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from bot import metrics
from bot.granted import LATE_SHARE, GrantedChain, LocalGrant, OwnGrants
from bot.ratelimit import (
    SlidingWindowLimiter,
    Window,
    per_chat,
    whole_bot,
)


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
    windows = (Window(1, 0.1, per_chat), Window(2, 0.3, lambda chat: chat if chat.startswith("-") else None),
               Window(4, 0.1, whole_bot))
    chain = GrantedChain(windows, LocalGrant(windows))
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
    from bot.keyed_locks import KeyedLocks

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



class ScriptedGrant:
    """A Grant answering from a script of replies; counts the calls and how many were pending at once.

    `stall_after` blocks the event loop that long right after the first reply, as a stalled process.
    """

    def __init__(self, replies: Sequence[tuple[float, int]] = (), gate: asyncio.Event | None = None,
                 stall_after: float = 0.0) -> None:
        self.replies = list(replies)
        self.gate = gate
        self.stall_after = stall_after
        self.calls: list[str] = []
        self.pending = 0
        self.most_pending = 0

    async def __call__(self, chat: str, applicable: Sequence[tuple[int, str]]) -> tuple[float, int]:
        self.calls.append(chat)
        self.pending += 1
        self.most_pending = max(self.most_pending, self.pending)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.stall_after and len(self.calls) == 1:
                # Runs once the caller is waiting for its slot.
                asyncio.get_running_loop().call_soon(time.sleep, self.stall_after)
            return self.replies.pop(0) if self.replies else (0.0, -1)
        finally:
            self.pending -= 1


def chat_and_overall(overall_seconds: float = 1.0) -> tuple[Window, Window]:
    return Window(1, 1.0, per_chat), Window(30, overall_seconds, whole_bot, throughput=True)


async def test_a_throughput_window_is_asked_by_every_chat_at_once_and_a_chat_by_one_at_a_time() -> None:
    gate = asyncio.Event()
    grant = ScriptedGrant(gate=gate)
    chain = GrantedChain(chat_and_overall(), grant)
    tasks = [asyncio.create_task(chain.acquire(chat)) for chat in ["a", "b", "c", "d", "a", "a"]]
    for _ in range(5):
        await asyncio.sleep(0)
    # The overall window grants ahead instead of refusing: no lock keeps one chat behind another's
    # round trip. A chat's own window still has one message of this process asking at a time.
    assert grant.most_pending == 4
    assert sorted(grant.calls) == ["a", "b", "c", "d"]
    gate.set()
    await asyncio.gather(*tasks)
    assert len(grant.calls) == 6


# A ten-second window: late means 0.2 s late, far beyond a calm event loop's wake-up.
LATE = 10.0 * LATE_SHARE


async def test_a_slot_woken_for_too_late_is_given_up_and_the_message_asks_again() -> None:
    grant = ScriptedGrant([(LATE * 1.5, -1), (0.0, -1)], stall_after=LATE * 3.5)
    chain = GrantedChain(chat_and_overall(10.0), grant, "StalledLimits")
    exported = metrics.REGISTRY.get_sample_value("digestbot_rate_limit_slots_given_up_total",
                                                 {"limits": "StalledLimits"}) or 0.0
    await chain.acquire("a")
    assert grant.calls == ["a", "a"]
    assert chain.slots_given_up == 1
    assert metrics.REGISTRY.get_sample_value("digestbot_rate_limit_slots_given_up_total",
                                             {"limits": "StalledLimits"}) == exported + 1


async def test_a_slot_used_in_time_or_in_a_short_line_is_kept() -> None:
    on_time = ScriptedGrant([(LATE * 1.5, -1)])
    chain = GrantedChain(chat_and_overall(10.0), on_time)
    await chain.acquire("a")
    # A slot granted at once, or barely ahead, had room around it: lateness bunches nothing.
    short_line = ScriptedGrant([(LATE / 2, -1)], stall_after=LATE * 2)
    stalled = GrantedChain(chat_and_overall(10.0), short_line)
    await stalled.acquire("b")
    assert (on_time.calls, short_line.calls) == (["a"], ["b"])
    assert chain.slots_given_up == stalled.slots_given_up == 0


class WindowGrant:
    """A store's grant for one pacing window of `count` per `period` on the loop's clock, counting the
    asks it refuses."""

    def __init__(self, count: int, period: float) -> None:
        self.count, self.period = count, period
        self.stamps: dict[str, list[float]] = {}
        self.refused = self.granted = 0

    async def __call__(self, chat: str, applicable: Sequence[tuple[int, str]]) -> tuple[float, int]:
        now = asyncio.get_running_loop().time()
        recent = [at for at in self.stamps.get(chat, []) if at > now - self.period]
        if len(recent) >= self.count:
            self.refused += 1
            return recent[-self.count] + self.period - now, 0
        self.stamps[chat] = [*recent, now]
        self.granted += 1
        return 0.0, -1


async def test_a_chat_paced_by_this_process_alone_is_not_asked_for_before_it_has_room() -> None:
    grant = WindowGrant(2, 0.1)
    chain = GrantedChain([Window(2, 0.1, per_chat)], grant)
    for _ in range(6):
        await chain.acquire("a")
    await chain.acquire("b")
    assert grant.refused == 0, "the process's own grants told it when the window had room"
    assert grant.granted == 7


async def test_grants_of_other_processes_still_hold_a_message_back() -> None:
    grant = WindowGrant(1, 0.1)
    grant.stamps["a"] = [asyncio.get_running_loop().time()]      # another replica just posted there
    chain = GrantedChain([Window(1, 0.1, per_chat)], grant)
    await chain.acquire("a")
    assert (grant.refused, grant.granted) == (1, 1)


def test_own_grants_forget_keys_whose_grants_left_the_window() -> None:
    own = OwnGrants(1, 1.0)
    for index in range(2000):
        own.granted(f"chat-{index}", float(index))
    assert own.room_at("chat-1999") == 2000.0 and own.room_at("chat-0") == 0.0
    assert len(own) < 1100, "keys a second old and more were dropped as new ones came"


# -- this process's own grants, by the shared script's rules ------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def telegram_like() -> tuple[Window, Window, Window]:
    return (Window(1, 1.0, per_chat), Window(20, 60.0, lambda chat: chat if chat.startswith("-") else None),
            Window(30, 1.0, whole_bot, throughput=True))


async def test_a_local_grant_refuses_a_full_pacing_window_with_the_wait_and_which_window() -> None:
    clock = Clock()
    grant = LocalGrant(telegram_like(), clock)
    assert await grant("a", [(0, "a"), (2, "all")]) == (0.0, -1)
    clock.now += 0.25
    wait, blocked = await grant("a", [(0, "a"), (2, "all")])
    assert blocked == 0 and wait == pytest.approx(0.75)
    # A group's minute: 20 posts, then the 21st waits for the first to leave it.
    for n in range(20):
        clock.now += 1.0
        assert (await grant("-g", [(0, "-g"), (1, "-g"), (2, "all")]))[1] == -1, n
    clock.now += 1.0
    wait, blocked = await grant("-g", [(0, "-g"), (1, "-g"), (2, "all")])
    assert blocked == 1 and wait == pytest.approx(60.0 - 20.0)


async def test_a_local_throughput_window_hands_out_evenly_spaced_slots_ahead_and_never_refuses() -> None:
    clock = Clock()
    grant = LocalGrant(telegram_like(), clock)
    answers = [await grant(f"c{n}", [(0, f"c{n}"), (2, "all")]) for n in range(90)]
    assert [blocked for _, blocked in answers] == [-1] * 90
    assert [wait for wait, _ in answers] == pytest.approx([n / 30 for n in range(90)])
    # A chat refused for its own window takes no slot in the overall line.
    _, blocked = await grant("c0", [(0, "c0"), (2, "all")])
    assert blocked == 0
    assert (await grant("fresh", [(0, "fresh"), (2, "all")]))[0] == pytest.approx(90 / 30)


async def test_local_grants_through_the_chain_never_overfill_a_window() -> None:
    windows = (Window(1, 0.1, per_chat), Window(8, 0.1, whole_bot, throughput=True))
    chain = GrantedChain(windows, LocalGrant(windows), "Test")
    sent: dict[str, list[float]] = {}

    async def send(chat: str) -> None:
        await chain.acquire(chat)
        sent.setdefault(chat, []).append(time.monotonic())

    await asyncio.gather(*(send(f"c{n % 6}") for n in range(36)))
    stamps = [at for chat in sent.values() for at in chat]
    assert len(stamps) == 36
    assert max_in_any_window(stamps, 0.1) <= 8
    for chat, times in sent.items():
        assert max_in_any_window(times, 0.1) <= 1, chat


def test_local_grants_forget_keys_whose_stamps_left_their_window() -> None:
    clock = Clock()
    grant = LocalGrant((Window(1, 1.0, per_chat),), clock)

    async def many(start: int, count: int) -> None:
        for n in range(start, start + count):
            await grant(f"c{n}", [(0, f"c{n}")])

    asyncio.run(many(0, 1500))
    clock.now += 2.0
    asyncio.run(many(1500, 1500))
    # The first 1,500 left their window before the pruning that the 2,048th key set off.
    assert len(grant) < 2000
