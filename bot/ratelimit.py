"""Client-side rate limits: wait before the platform has to answer 429, and cap command answers."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol, Self

from bot.granted import GrantedChain, LocalGrant


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


Scope = Callable[[str], Hashable | None]


def per_chat(chat: str) -> Hashable:
    return chat


def whole_bot(chat: str) -> Hashable:
    return "all"


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` messages per `per_seconds`, counted for each key `scope` maps a chat to (None:
    the window does not apply to that chat).

    A `throughput` window (many messages a second for the whole bot) is kept in small bursts: a
    full second's allowance sent at once reaches the server spread over the time it takes to carry
    and process it, and part of it is then counted in the next second, which is 429.
    """

    count: int
    per_seconds: float
    scope: Scope = per_chat
    throughput: bool = False

    def scaled(self, factor: float) -> Window:
        """The same window `factor` times faster: more messages for a throughput window (its bursts
        must still divide it), a shorter window for a pacing one."""
        if self.throughput:
            return replace(self, count=max(1, round(self.count * factor)))
        return replace(self, per_seconds=self.per_seconds / factor)

    def burst(self) -> int:
        """How many messages may leave together: for a throughput window a tenth of the count that
        divides it exactly, so any full window still holds at most the count; else the count."""
        if not self.throughput:
            return self.count
        target = max(1, self.count // 10)
        return max(size for size in range(1, target + 1) if self.count % size == 0)

    def kept(self) -> tuple[int, float]:
        """The (count, seconds) window actually kept: a throughput window as its bursts."""
        if not self.throughput:
            return self.count, self.per_seconds
        burst = self.burst()
        return burst, self.per_seconds * burst / self.count


@dataclass(frozen=True, slots=True)
class RateLimits:
    """A platform's posting limits as data, kept before the platform has to answer 429: its
    windows, narrowest first (a message waiting for its own chat must not hold a slot of a wider
    window)."""

    windows: tuple[Window, ...]

    def scaled(self, factor: float) -> Self:
        """Every window `factor` times faster (a local API server, tests against a sped-up fake)."""
        if not factor > 0:
            raise ValueError("a rate limit scale factor must be positive")
        scaled = object.__new__(type(self))
        # Set directly: a platform's subclass may take its own numbers in its constructor.
        object.__setattr__(scaled, "windows", tuple(window.scaled(factor) for window in self.windows))
        return scaled

    def chain(self) -> Limiter:
        """The limiter that keeps these windows, from the limiters in use (see `limiters_in_use`):
        this process's own, or the ones every replica shares."""
        return _IN_USE.get().chain(type(self).__name__, self.windows)


class Limiter(Protocol):
    async def acquire(self, chat: str) -> None: ...


class Limiters(Protocol):
    """Where a platform's windows are counted: in this process, or once for every replica."""

    def chain(self, name: str, windows: Sequence[Window]) -> Limiter:
        """A limiter keeping `windows` (narrowest first); `name` tells one platform's windows from another's."""
        ...


class LocalLimiters:
    """Windows counted in this process alone (the SQLite and memory stores: one process sends), by the
    rules the shared ones keep (bot/granted.py)."""

    def chain(self, name: str, windows: Sequence[Window]) -> Limiter:
        return GrantedChain(windows, LocalGrant(windows), name)


LOCAL = LocalLimiters()
_IN_USE: ContextVar[Limiters] = ContextVar("limiters", default=LOCAL)


@contextlib.contextmanager
def limiters_in_use(limiters: Limiters) -> Iterator[None]:
    """`RateLimits.chain()` builds its limiters from `limiters` within the block (a channel being built)."""
    token = _IN_USE.set(limiters)
    try:
        yield
    finally:
        _IN_USE.reset(token)


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    period: float        # seconds


class Verdict(enum.Enum):
    ANSWER = enum.auto()
    NOTICE = enum.auto()     # over the cap, and not yet told so lately: say it once
    SILENT = enum.auto()     # over the cap and already told: send nothing at all


# Command answers get half of a chat's platform budget, so a scheduled digest (which waits for room
# in the same window) always keeps the other half. Telegram allows 20 messages a minute in a group:
# 10 go to commands, and 5 to any one person, so that two busy users cannot take even that half
# alone. A private chat has about one message a second (60 a minute) of its own: 30 for commands.
PER_USER_IN_GROUP = Limit(5, 60.0)
PER_GROUP = Limit(10, 60.0)
PER_PRIVATE_CHAT = Limit(30, 60.0)
# Idle keys are swept once this many are kept, and again each time the number kept doubles.
SWEEP_AT = 1024


class CommandThrottle:
    """Caps the answers to commands per user in a group, per group and per private chat, by the
    caller's clock.

    Nothing waits here: a command over a cap is not answered. The first one over a cap gets a
    notice, at most once per period of that cap, so a flood gets one notice and then silence until
    the window has room again. A notice is itself a message in the chat, so it counts in the group's
    window. Keys whose windows are empty and whose notice is old are dropped, so memory follows the
    number of people active in the last period, not everyone ever seen.
    """

    def __init__(self, per_user_in_group: Limit = PER_USER_IN_GROUP, per_group: Limit = PER_GROUP,
                 per_private_chat: Limit = PER_PRIVATE_CHAT) -> None:
        self.per_user_in_group = per_user_in_group
        self.per_group = per_group
        self.per_private_chat = per_private_chat
        self._longest = max(per_user_in_group.period, per_group.period, per_private_chat.period)
        self._stamps: dict[Hashable, deque[float]] = {}
        self._noticed: dict[Hashable, float] = {}       # key -> when its last notice was given
        self._sweep_at = SWEEP_AT

    def __len__(self) -> int:
        """Entries kept (windows and notice times): what memory grows with."""
        return len(self._stamps) + len(self._noticed)

    def check(self, user: Hashable, group: Hashable | None, now: float) -> tuple[Verdict, float]:
        """The verdict for a command by `user` in `group` (None: a private chat), and the seconds until
        the full window has room (0 when answered)."""
        if len(self) >= self._sweep_at:
            self._sweep(now)
        limits: list[tuple[Hashable, Limit]] = (
            [(user, self.per_private_chat)] if group is None
            else [(user, self.per_user_in_group), (group, self.per_group)])
        for key, limit in limits:
            stamps = self._window(key, limit, now)
            if len(stamps) >= limit.count:
                return self._refuse(key, limit, group, now), stamps[0] + limit.period - now
        for key, _ in limits:
            self._stamps.setdefault(key, deque()).append(now)
        return Verdict.ANSWER, 0.0

    def _window(self, key: Hashable, limit: Limit, now: float) -> deque[float]:
        stamps = self._stamps.get(key, deque())
        while stamps and now - stamps[0] >= limit.period:
            stamps.popleft()
        return stamps

    def _refuse(self, key: Hashable, limit: Limit, group: Hashable | None, now: float) -> Verdict:
        noticed = self._noticed.get(key)
        if noticed is not None and now - noticed < limit.period:
            return Verdict.SILENT
        self._noticed[key] = now
        if group is not None:
            self._stamps.setdefault(group, deque()).append(now)
        return Verdict.NOTICE

    def _sweep(self, now: float) -> None:
        self._stamps = {key: stamps for key, stamps in self._stamps.items()
                        if stamps and now - stamps[-1] < self._longest}
        self._noticed = {key: at for key, at in self._noticed.items() if now - at < self._longest}
        self._sweep_at = max(SWEEP_AT, 2 * len(self))
