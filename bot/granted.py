"""Rate-limit windows granted (by a shared store, or in this process by the same rules) and waited for:
the chain of grants, and what this process's own grants already tell."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Protocol

from bot import metrics
from bot.keyed_locks import KeyedLocks


class WindowView(Protocol):
    """What of a rate-limit window (bot/ratelimit.py's Window, which builds on this module) is read here."""

    @property
    def count(self) -> int: ...
    @property
    def per_seconds(self) -> float: ...
    @property
    def throughput(self) -> bool: ...
    def scope(self, chat: str) -> Hashable | None: ...
    def kept(self) -> tuple[int, float]: ...


# Asks for one grant in every window that applies to a chat (window index and key, narrowest first),
# stamped at one instant when all have room. Answers (seconds, index): index -1 when granted, the
# seconds then being how long until the slot granted (a throughput window hands out its next free
# slot ahead, and never refuses); else the seconds until the narrowest full window has room, and
# its index into those windows.
Grant = Callable[[str, Sequence[tuple[int, str]]], Awaitable[tuple[float, int]]]


# A slot granted ahead in a throughput window must be used within this share of the window: its
# neighbours in the line go out on time, and a message later than this reaches the platform
# bunched with the ones after it, which a platform counting arrivals sees as a window overfilled.
LATE_SHARE = 0.02


class GrantedChain:
    """Chained windows granted elsewhere in one step (a shared store), waited for here without polling.

    The pacing windows that apply are entered narrowest first through local per-key locks, so this
    process's messages for one key ask in arrival order and only one at a time asks for each key.
    A refusal names the narrowest window that is full and how long until it has room: the locks of
    wider windows are let go meanwhile, so a message waiting for its own chat holds no place in the
    overall line. A throughput window takes no lock: it grants a slot ahead instead of refusing, so
    messages may ask it all at once (one at a time, a process could ask only once a round trip).
    The slot is waited for with every lock let go; one in a line longer than LATE_SHARE of the
    window and woken later than that (a stalled process) is given up, and the message asks again.
    """

    def __init__(self, windows: Sequence[WindowView], grant: Grant, name: str = "") -> None:
        self._scopes = [window.scope for window in windows]
        self._locks = [None if window.throughput else KeyedLocks() for window in windows]
        self._own = [None if window.throughput else OwnGrants(*window.kept()) for window in windows]
        self._grant = grant
        self._late = min((window.per_seconds * LATE_SHARE for window in windows if window.throughput),
                         default=float("inf"))
        self.slots_given_up = 0
        self._given_up = metrics.SLOTS_GIVEN_UP.labels(name or "unnamed")

    async def acquire(self, chat: str) -> None:
        applicable = [(index, str(key)) for index, scope in enumerate(self._scopes)
                      if (key := scope(chat)) is not None]
        loop = asyncio.get_running_loop()
        while True:
            slot_in, due = await self._granted(chat, applicable)
            if slot_in <= 0:
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            # A short line means a window with room to spare: nothing to bunch with.
            if slot_in <= self._late or loop.time() - due <= self._late:
                return
            self.slots_given_up += 1
            self._given_up.inc()

    async def _granted(self, chat: str, applicable: list[tuple[int, str]]) -> tuple[float, float]:
        """Once every window has granted one: the seconds until the slot, and when it is due by the
        loop's clock (the middle of the round trip stands for the moment the grant was counted)."""
        loop = asyncio.get_running_loop()
        held: list[contextlib.AsyncExitStack] = []
        try:
            while True:
                while len(held) < len(applicable):
                    index, key = applicable[len(held)]
                    stack = contextlib.AsyncExitStack()
                    if (locks := self._locks[index]) is not None:
                        await stack.enter_async_context(locks.hold(key))
                    held.append(stack)
                    # This process's own grants alone may already fill the window: asking before
                    # it has room would only be refused, a round trip spent for nothing.
                    own = self._own[index]
                    if own is not None and (room_in := own.room_at(key) - loop.time()) > 0:
                        await asyncio.sleep(room_in)
                asked = loop.time()
                wait, blocked = await self._grant(chat, applicable)
                if blocked < 0:
                    answered = loop.time()
                    for index, key in applicable:
                        if (own := self._own[index]) is not None:
                            own.granted(key, answered + wait)
                    return wait, (asked + answered) / 2 + wait
                while len(held) > blocked + 1:
                    await held.pop().aclose()
                await asyncio.sleep(wait)
        finally:
            while held:
                await held.pop().aclose()


class OwnGrants:
    """The grants this process took in one pacing window, per key: a lower bound on when the shared
    window has room again, since other processes' grants can only make it later.

    Each is noted at or after the instant the shared store stamped it (its answer came later), so
    a key never looks free here before it is free there.
    """

    def __init__(self, count: int, period: float) -> None:
        self._count = count
        self._period = period
        self._stamps: dict[str, deque[float]] = {}
        self._prune_at = 1024

    def room_at(self, key: str) -> float:
        stamps = self._stamps.get(key)
        if stamps is None or len(stamps) < self._count:
            return 0.0
        return stamps[0] + self._period

    def granted(self, key: str, at: float) -> None:
        stamps = self._stamps.get(key)
        if stamps is None:
            if len(self._stamps) >= self._prune_at:
                self._prune(at)
            stamps = self._stamps[key] = deque(maxlen=self._count)
        stamps.append(at)

    def _prune(self, now: float) -> None:
        # Keys whose grants have all left the window tell nothing more: a long-running process
        # forgets them rather than keep one entry for every chat it ever wrote to.
        self._stamps = {key: stamps for key, stamps in self._stamps.items() if stamps[-1] + self._period > now}
        self._prune_at = max(1024, 2 * len(self._stamps))

    def __len__(self) -> int:
        return len(self._stamps)


def kept_for_grants(window: WindowView) -> tuple[int, float, bool]:
    """The (count, period in seconds, ahead) a grant keeps for `window`, in this process or in Redis.

    A throughput window is kept as one slot every 1/count of its period, handed out ahead: its slots
    are stamped where they free, so keeping them apart loses nothing, and evenly spaced messages
    reach the platform evenly instead of in bursts whose spread on the way varies from one to the
    next. A pacing window is kept as it is.
    """
    if window.throughput:
        return 1, window.per_seconds / window.count, True
    count, period = window.kept()
    return count, period, False


class LocalGrant:
    """The grant of bot/store/redis_limiter.py's script, made in this process (SQLite and memory stores,
    where one process sends): the same rules, so both keep the platform's windows alike.

    A pacing window is a sliding log per key that must have room now. A throughput window is one
    slot every 1/count of its period, handed out ahead and stamped where it frees: messages reach
    the platform evenly spaced. Kept as bursts of a tenth of the window (SlidingWindowLimiter), a
    burst's messages arrived bunched, and a burst slowed on its way then shared a second with the
    tenth one after it: 35 × 429 in 15,000 messages at Telegram's ceiling, against none this way.
    """

    def __init__(self, windows: Sequence[WindowView], clock: Callable[[], float] | None = None) -> None:
        self._kept = [kept_for_grants(window) for window in windows]
        self._stamps: list[dict[str, deque[float]]] = [{} for _ in windows]
        self._clock = clock
        self._prune_at = 1024

    async def __call__(self, chat: str, applicable: Sequence[tuple[int, str]]) -> tuple[float, int]:
        now = self._clock() if self._clock is not None else asyncio.get_running_loop().time()
        at = now
        for position, (index, key) in enumerate(applicable):
            count, period, ahead = self._kept[index]
            stamps = self._stamps[index].get(key)
            free = now
            if stamps:
                while stamps and stamps[0] <= now - period:
                    stamps.popleft()
                if stamps:
                    free = max(free, stamps[-1])
                    if len(stamps) >= count:
                        free = max(free, stamps[-count] + period)
            if free > now and not ahead:
                return free - now, position
            at = max(at, free)
        for index, key in applicable:
            windows = self._stamps[index]
            stamps = windows.get(key)
            if stamps is None:
                if len(windows) >= self._prune_at:
                    self._prune(now)
                stamps = windows[key] = deque()
            stamps.append(at)
        return at - now, -1

    def _prune(self, now: float) -> None:
        # Keys whose stamps have all left their window tell nothing more: a long-running process
        # forgets them rather than keep one entry for every chat it ever wrote to.
        self._stamps = [{key: stamps for key, stamps in windows.items() if stamps and stamps[-1] + period > now}
                        for windows, (_, period, _) in zip(self._stamps, self._kept, strict=True)]
        self._prune_at = max(1024, 2 * max(len(windows) for windows in self._stamps))

    def __len__(self) -> int:
        return sum(len(windows) for windows in self._stamps)
