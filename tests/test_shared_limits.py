"""Rate limits shared through Redis: two processes together never put more in a window than its count."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.granted import GrantedChain, LocalGrant
from bot.ratelimit import LOCAL, RateLimits, Window, limiters_in_use, per_chat, whole_bot
from bot.store.limiters import shared_limiters
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore
from bot.store.redis_limiter import RedisLimiters, kept_in_redis
from tests.conftest import RedisServer
from tests.procs import drop_keys
from tests.shared_limit_worker import THROUGHPUT_WINDOWS, WINDOWS
from tests.test_ratelimit import max_in_any_window

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 15


@pytest.fixture
async def shared_prefix(redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    try:
        yield redis_prefix
    finally:
        await drop_keys(redis_url, redis_prefix)


async def run_worker(redis_url: str, prefix: str, start_at: float, *,
                     throughput: bool = False) -> list[tuple[str, float]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.shared_limit_worker", redis_url, prefix, str(start_at), str(MESSAGES),
        *(["throughput"] if throughput else []),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return [(chat, at) for chat, at in json.loads(out)]


@pytest.mark.redis
async def test_two_processes_sharing_a_redis_limit_never_overfill_a_window(redis_url: str, shared_prefix: str) -> None:
    # Both start at one moment after their imports, so they compete for the same windows.
    start_at = time.time() + 3.0
    results = await asyncio.gather(*(run_worker(redis_url, shared_prefix, start_at) for _ in range(2)))
    grants = [grant for result in results for grant in result]
    assert len(grants) == 2 * MESSAGES
    chat_window, overall = WINDOWS
    assert max_in_any_window([at for _, at in grants], overall.per_seconds) <= overall.count
    for chat in {chat for chat, _ in grants}:
        stamps = [at for name, at in grants if name == chat]
        assert max_in_any_window(stamps, chat_window.per_seconds) <= chat_window.count, chat
    # Each process alone would have allowed a full window of its own: the limit was one, shared.
    assert all(len(result) == MESSAGES for result in results)


@pytest.mark.redis
async def test_chain_takes_the_limiters_in_use(redis_url: str, shared_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=shared_prefix)
    try:
        limits = RateLimits((Window(1, 60.0, per_chat),))
        with limiters_in_use(shared_limiters(store)):
            first = limits.chain()
        second = shared_limiters(store).chain("RateLimits", limits.windows)
        await first.acquire("chat")
        # The second limiter sees the first one's grant: asking again would wait the whole minute.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(second.acquire("chat"), 0.3)
        await asyncio.wait_for(second.acquire("other chat"), 5)
    finally:
        await store.close()
    # Outside the block, and on any other store: this process's own windows, granted by the same rules.
    own = limits.chain()
    assert isinstance(own, GrantedChain) and isinstance(own._grant, LocalGrant)
    assert shared_limiters(MemoryStore()) is LOCAL


@pytest.mark.redis
async def test_a_message_waiting_for_its_chat_holds_no_place_in_the_overall_line(
        redis_url: str, shared_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=shared_prefix)
    chain = shared_limiters(store).chain("LineTest", (Window(1, 60.0, per_chat), Window(1, 0.2, whole_bot)))
    try:
        await chain.acquire("busy")
        waiting = asyncio.create_task(chain.acquire("busy"))
        # Other chats pass the overall window one after another while "busy" waits its minute.
        for chat in ("a", "b", "c"):
            await asyncio.wait_for(chain.acquire(chat), 10)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    finally:
        await store.close()


@pytest.mark.redis
async def test_a_throughput_window_hands_out_evenly_spaced_slots_ahead_and_never_refuses(
        redis_url: str, shared_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=shared_prefix)
    limiters = RedisLimiters(store.lane, shared_prefix)
    overall = f"{shared_prefix}overall"
    # A chat's window (1 a minute, must have room now), then the overall one: a slot every second,
    # far longer than the few round trips below take.
    chat_count, chat_period, chat_ahead = kept_in_redis(Window(1, 60.0, per_chat))
    count, period, ahead = kept_in_redis(Window(10, 10.0, whole_bot, throughput=True))
    assert (count, period, ahead) == (1, 1_000_000, 1)

    async def grant(chat: str) -> tuple[float, int]:
        return await limiters.grant([f"{shared_prefix}chat:{chat}", overall],
                                    [limiters.member(), chat_count, chat_period, chat_ahead, count, period, ahead])

    try:
        replies = [await grant(chat) for chat in ("a", "b", "c", "d")]
        # Every chat is granted, each a slot further ahead; the same chat again is refused by its
        # own window (index 0), which its slot ahead already counts.
        assert [blocked for _, blocked in replies] == [-1, -1, -1, -1]
        assert replies[0][0] == 0.0 and all(wait > 0 for wait, _ in replies[1:])
        assert (await grant("d"))[1] == 0
        slots = [score for _, score in await store._client.zrange(overall, 0, -1, withscores=True)]
        assert len(slots) == 4
        # Stamped where each slot frees, to the microsecond: no gap wider than the spacing is lost.
        assert [round(later - earlier) for earlier, later in itertools.pairwise(slots)] == [period] * 3
    finally:
        await store.close()


@pytest.mark.redis
async def test_two_processes_sharing_a_throughput_window_never_overfill_it(redis_url: str, shared_prefix: str) -> None:
    start_at = time.time() + 3.0
    results = await asyncio.gather(*(run_worker(redis_url, shared_prefix, start_at, throughput=True)
                                     for _ in range(2)))
    grants = [grant for result in results for grant in result]
    assert len(grants) == 2 * MESSAGES
    chat_window, overall = THROUGHPUT_WINDOWS
    assert max_in_any_window([at for _, at in grants], overall.per_seconds) <= overall.count
    for chat in {chat for chat, _ in grants}:
        stamps = [at for name, at in grants if name == chat]
        assert max_in_any_window(stamps, chat_window.per_seconds) <= chat_window.count, chat


@pytest.mark.redis
async def test_while_redis_cannot_be_reached_the_same_windows_are_kept_in_this_process(
        private_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore(private_redis.url, prefix="offline:", retries=1, backoff_base=0.01, backoff_cap=0.02)
    windows = (Window(1, 0.3, per_chat), Window(10, 1.0, whole_bot, throughput=True))
    chain = RedisLimiters(store.lane, store.prefix).chain("OfflineLimits", windows)
    try:
        await chain.acquire("warm")                 # through Redis
        private_redis.stop()
        sent: dict[str, list[float]] = {}

        async def send(chat: str) -> None:
            await chain.acquire(chat)
            sent.setdefault(chat, []).append(time.monotonic())

        await asyncio.wait_for(asyncio.gather(*(send(chat) for chat in ["a", "b", "a", "c", "a"])), 30)
    finally:
        await store.close()
    stamps = [at for times in sent.values() for at in times]
    assert len(stamps) == 5
    assert max_in_any_window(stamps, 1.0) <= 10
    # The chat's own window holds: three posts in "a" are at least a window apart each.
    assert max_in_any_window(sent["a"], 0.3) <= 1
    assert "keeping the rate limits in this process" in caplog.text
