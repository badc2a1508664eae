"""Which rate limiters a store's users share: every replica's on Redis, this process's own on any other store."""

from __future__ import annotations

import sys

from bot.ratelimit import LOCAL, Limiters
from bot.store.base import Store


def shared_limiters(store: Store) -> Limiters:
    """The limiters every process on `store` shares; this process's own unless the store is Redis."""
    # Looked up, not imported: a store that is not Redis must not load the Redis client.
    redis_store = sys.modules.get("bot.store.redis")
    if redis_store is None or not isinstance(store, redis_store.RedisStore):
        return LOCAL
    from bot.store.redis_limiter import RedisLimiters

    # The limiters ride on the store's connections and its retries.
    return RedisLimiters(store.lane, store.prefix)
