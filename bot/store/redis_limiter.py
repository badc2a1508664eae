"""Rate limits shared by every replica on one Redis: a sliding window per key, granted atomically by a script."""

from __future__ import annotations

import hashlib
import itertools
import logging
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.ratelimit import GrantedChain, Limiter, LimiterChain, Window

log = logging.getLogger(__name__)

# Every window that applies is trimmed to its last `period` and counted on Redis's own clock (one
# clock for all replicas); only when every one has room is the grant stamped in all of them, at
# the same microsecond, so no window records a message before it may leave.
# KEYS: one sorted set per window. ARGV: a member unique to this grant (a retried call whose reply
# was lost stamps the same member again, not a second one), then each window's count and period (µs).
# Answers {0, 0} when granted, else {µs until the narrowest full window has room, its index (1-based)}:
# the caller waits for that one before it takes a place in the line of any wider one.
_GRANT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
for i, key in ipairs(KEYS) do
    local count, period = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local held = redis.call('ZCARD', key)
    if held >= count then
        local oldest = redis.call('ZRANGE', key, held - count, held - count, 'WITHSCORES')
        return {math.max(1, math.ceil(tonumber(oldest[2]) + period - now)), i}
    end
end
for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[1])
    redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1]) / 1000) + 1000)
end
return {0, 0}
"""


def key_digest(key: str) -> str:
    # Keys name chats and, for webhook platforms, their URLs, which are credentials: Redis keeps a digest.
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


class RedisLimiters:
    """Limiters whose windows live in Redis under the store's prefix: one limit for all replicas."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._script = client.register_script(_GRANT)
        self._prefix = prefix
        self._members = itertools.count()
        self._process = uuid.uuid4().hex[:12]
        self._offline = False

    def chain(self, name: str, windows: Sequence[Window]) -> Limiter:
        return SharedChain(self, f"{self._prefix}rate:{name}:", windows)

    def member(self) -> str:
        return f"{self._process}:{next(self._members)}"

    async def grant(self, keys: list[str], arguments: list[str | int | float]) -> tuple[float, int]:
        """Seconds to wait (0: granted) and the 0-based index of the narrowest window blocking."""
        wait_us, blocked = await self._script(keys=keys, args=arguments)
        if self._offline:
            self._offline = False
            log.warning("shared rate limits are back in Redis")
        return int(wait_us) / 1e6, int(blocked) - 1

    def went_offline(self) -> None:
        if not self._offline:
            self._offline = True
            log.warning("Redis cannot be reached: keeping the rate limits in this process until it can")


class SharedChain:
    """A platform's chained windows kept in Redis; while Redis cannot be reached, kept in this process."""

    def __init__(self, limiters: RedisLimiters, key_prefix: str, windows: Sequence[Window]) -> None:
        self._limiters = limiters
        self._key_prefix = key_prefix
        self._kept = [window.kept() for window in windows]
        self._local = LimiterChain([(window.limiter(), window.scope) for window in windows])
        self._chain = GrantedChain(windows, self._grant)

    async def acquire(self, chat: str) -> None:
        await self._chain.acquire(chat)

    async def _grant(self, chat: str, applicable: Sequence[tuple[int, str]]) -> tuple[float, int]:
        keys: list[str] = []
        arguments: list[str | int | float] = [self._limiters.member()]
        for index, key in applicable:
            count, period = self._kept[index]
            keys.append(f"{self._key_prefix}{index}:{key_digest(key)}")
            arguments += [count, round(period * 1e6)]
        try:
            return await self._limiters.grant(keys, arguments)
        except RedisError:
            # The store's own retries have ridden out what they could; sending must not stop with
            # Redis, and this process's windows are still the platform's.
            self._limiters.went_offline()
            await self._local.acquire(chat)
            return 0.0, -1
