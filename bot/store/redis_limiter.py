"""Rate limits shared by every replica on one Redis: a sliding window per key, granted atomically by a script."""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import uuid
from collections.abc import Sequence

from redis.exceptions import RedisError

from bot.granted import GrantedChain, LocalGrant, kept_for_grants
from bot.ratelimit import Limiter, Window
from bot.store.redis_lane import ScriptLane

log = logging.getLogger(__name__)

# Every window that applies is trimmed to its last `period` and counted on Redis's own clock (one
# clock for all replicas). A grant is stamped in all of them at one instant, appended after every
# stamp a window already holds, so the window ending at it is the only one it joins and no window
# ever records a message before it may leave.
# A pacing window (`ahead` 0) must have room now. A throughput window (`ahead` 1) hands out its next
# free slot however far ahead, stamped where it frees to the microsecond: the window stays full
# whatever the caller's wake-up lateness and round trip (asking again once a slot had freed lost
# both each time, ~3 % of a window kept in tenths of a second), and since it never refuses, every
# message asks it once. Only once every narrower window has room is a slot taken, so a message
# waiting for its own chat holds no place in the overall line.
# KEYS: one sorted set per window. ARGV: a member unique to this grant (a retried call whose reply
# was lost stamps the same member again, not a second one), then each window's count, period (µs)
# and ahead. Answers {µs until the granted slot, 0} when granted, else {µs until the narrowest full
# window has room, its index (1-based)}: the caller waits for that one before it takes a place in
# the line of any wider one.
_GRANT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local at = now
for i, key in ipairs(KEYS) do
    local count, period = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local held = redis.call('ZCARD', key)
    local free = now
    if held > 0 then
        free = math.max(free, tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]))
    end
    if held >= count then
        local oldest = redis.call('ZRANGE', key, held - count, held - count, 'WITHSCORES')
        free = math.max(free, tonumber(oldest[2]) + period)
    end
    if free > now and ARGV[3 * i + 1] == '0' then
        return {free - now, i}
    end
    at = math.max(at, free)
end
for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, at, ARGV[1])
    redis.call('PEXPIRE', key, math.ceil((at - now + tonumber(ARGV[3 * i])) / 1000) + 1000)
end
return {at - now, 0}
"""


def key_digest(key: str) -> str:
    # Keys name chats and, for webhook platforms, their URLs, which are credentials: Redis keeps a digest.
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


class RedisLimiters:
    """Limiters whose windows live in Redis under the store's prefix: one limit for all replicas."""

    def __init__(self, lane: ScriptLane, prefix: str) -> None:
        self._script = lane.script(_GRANT)
        self._prefix = prefix
        self._members = itertools.count()
        self._process = uuid.uuid4().hex[:12]
        self._offline = False

    def chain(self, name: str, windows: Sequence[Window]) -> Limiter:
        return SharedChain(self, name, f"{self._prefix}rate:{name}:", windows)

    def member(self) -> str:
        return f"{self._process}:{next(self._members)}"

    async def grant(self, keys: list[str], arguments: list[str | int | float]) -> tuple[float, int]:
        """Seconds to wait and the 0-based index of the narrowest window refusing; -1 when granted,
        the seconds then being the time until the granted slot."""
        wait_us, blocked = await self._script(keys=keys, args=arguments)
        if self._offline:
            self._offline = False
            log.warning("shared rate limits are back in Redis")
        return int(wait_us) / 1e6, int(blocked) - 1

    def went_offline(self) -> None:
        if not self._offline:
            self._offline = True
            log.warning("Redis cannot be reached: keeping the rate limits in this process until it can")


def kept_in_redis(window: Window) -> tuple[int, int, int]:
    """The (count, period in µs, ahead) the grant script keeps for `window` (granted.kept_for_grants).
    Periods round up: a window may not hold more."""
    count, period, ahead = kept_for_grants(window)
    return count, math.ceil(period * 1e6), int(ahead)


class SharedChain:
    """A platform's chained windows kept in Redis; while Redis cannot be reached, kept in this process."""

    def __init__(self, limiters: RedisLimiters, name: str, key_prefix: str, windows: Sequence[Window]) -> None:
        self._limiters = limiters
        self._key_prefix = key_prefix
        self._kept = [kept_in_redis(window) for window in windows]
        # While Redis cannot be reached: the same grants, made in this process.
        self._local = LocalGrant(windows)
        self._chain = GrantedChain(windows, self._grant, name)

    async def acquire(self, chat: str) -> None:
        await self._chain.acquire(chat)

    async def _grant(self, chat: str, applicable: Sequence[tuple[int, str]]) -> tuple[float, int]:
        keys: list[str] = []
        arguments: list[str | int | float] = [self._limiters.member()]
        for index, key in applicable:
            count, period, ahead = self._kept[index]
            keys.append(f"{self._key_prefix}{index}:{key_digest(key)}")
            arguments += [count, period, ahead]
        try:
            return await self._limiters.grant(keys, arguments)
        except RedisError:
            # The store's own retries have ridden out what they could; sending must not stop with
            # Redis, and this process's windows are still the platform's.
            self._limiters.went_offline()
            return await self._local(chat, applicable)
