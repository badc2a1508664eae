"""Discord's rate-limit buckets as its X-RateLimit-* headers describe them, kept before a 429 comes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Buckets untouched this long are forgotten, so a long-running process does not keep one per
# interaction token it ever answered.
FORGET_AFTER = 600.0
SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Bucket:
    remaining: int
    resets_at: float          # on the bucket's clock
    name: str = ""            # X-RateLimit-Bucket: Discord's id for the limit this key shares


class Buckets:
    """Per key (a webhook id), what Discord said is left of its window, and Discord-wide pauses.

    Before each request `reserve` waits while the key's bucket is empty (or a global 429 is being
    waited out) and takes one request from it, so several requests in flight never spend the same
    slot; after each answer `update` takes the headers as the truth.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._global_until = 0.0
        self._updates = 0

    def bucket_name(self, key: str) -> str:
        bucket = self._buckets.get(key)
        return bucket.name if bucket is not None else ""

    async def reserve(self, key: str) -> None:
        """Wait until `key` may send, then count the request against its bucket."""
        while True:
            now = self.clock()
            wait = self._global_until - now
            bucket = self._buckets.get(key)
            if bucket is not None and now >= bucket.resets_at:
                # The window Discord described is over: the next answer describes the new one.
                del self._buckets[key]
                bucket = None
            if bucket is not None and bucket.remaining <= 0:
                wait = max(wait, bucket.resets_at - now)
            if wait <= 0:
                if bucket is not None:
                    bucket.remaining -= 1
                return
            await asyncio.sleep(wait)

    def update(self, key: str, headers: Mapping[str, str]) -> None:
        """Take what an answer's headers say about `key`'s bucket (nothing when they say nothing)."""
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset_after = _number(headers.get("X-RateLimit-Reset-After"))
        if remaining is None or reset_after is None:
            return
        now = self.clock()
        self._buckets[key] = _Bucket(int(remaining), now + reset_after, headers.get("X-RateLimit-Bucket", ""))
        self._updates += 1
        if self._updates % SWEEP_EVERY == 0:
            self._sweep(now)

    def limited(self, key: str, seconds: float, *, is_global: bool) -> None:
        """A 429 came: nothing more to `key` (or to Discord at all) for `seconds`."""
        until = self.clock() + seconds
        if is_global:
            self._global_until = max(self._global_until, until)
            return
        bucket = self._buckets.get(key)
        name = bucket.name if bucket is not None else ""
        self._buckets[key] = _Bucket(0, max(until, bucket.resets_at if bucket is not None else until), name)

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        self._buckets = {key: bucket for key, bucket in self._buckets.items()
                         if bucket.resets_at + FORGET_AFTER > now}


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 and number != float("inf") else None
