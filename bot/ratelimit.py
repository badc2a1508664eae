"""Client-side rate limits: wait before the platform has to answer 429."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Sequence


class SlidingWindowLimiter:
    """At most `limit` acquisitions per `period` seconds for each key, granted in arrival order.

    A sliding log rather than a token bucket: platform limits such as "20 messages per minute per
    group" are counted over a window, and a bucket would allow a burst of 20 right after a full
    minute of 20.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        self._grants: dict[Hashable, deque[float]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def acquire(self, key: Hashable = None) -> None:
        async with self.room(key) as record:
            record(self.clock())

    @contextlib.asynccontextmanager
    async def room(self, key: Hashable = None) -> AsyncIterator[Callable[[float], None]]:
        """Wait, holding the key's place in line, until a grant fits; yield how to record it.

        Recording is left to the caller so several limits can stamp one grant at the same instant.
        """
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            grants = self._grants.setdefault(key, deque())
            while True:
                now = self.clock()
                while grants and now - grants[0] >= self.period:
                    grants.popleft()
                if len(grants) < self.limit:
                    break
                await asyncio.sleep(grants[0] + self.period - now)
            yield grants.append


class LimiterChain:
    """Acquire several limits in order: the narrowest first, so a message waiting on its chat's
    limit does not hold a slot of the global one."""

    def __init__(
        self, limits: Sequence[tuple[SlidingWindowLimiter, Callable[[str], Hashable | None]]]
    ) -> None:
        # Each entry: the limiter and how a chat maps to its key (None: the limit does not apply).
        self._limits = list(limits)

    async def acquire(self, chat: str) -> None:
        # Every applicable window is entered narrowest first and held; a held window only gains room
        # while we wait for the wider ones, so once the widest has room all do, and the grant is
        # stamped in all of them at one instant. Stamping each as soon as it had room would record
        # a message in its chat's window seconds before it is sent, and the platform, which counts
        # arrivals, would see the window overfilled.
        async with contextlib.AsyncExitStack() as stack:
            records: list[Callable[[float], None]] = []
            clock: Callable[[], float] | None = None
            for limiter, key_of in self._limits:
                key = key_of(chat)
                if key is not None:
                    records.append(await stack.enter_async_context(limiter.room(key)))
                    clock = limiter.clock
            if clock is not None:
                now = clock()
                for record in records:
                    record(now)


class KeyedLocks:
    """One asyncio lock per key, created on demand and dropped when nobody holds or awaits it, so a
    long-running process does not keep a lock for every chat it ever wrote to."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
